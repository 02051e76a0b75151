// The city's app configuration through the real gateway: anonymous reads (the default, then the
// admin's version), who may change it, etags, each validation refusal naming its field, versions
// and restore, a restart, and GET /v1/appconfig over HTTP with ETag and If-None-Match.
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <functional>

#include "absl/strings/str_cat.h"
#include "civitas/appconfig/v1/appconfig.grpc.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "tests/integration/gateway_process.h"

namespace civitas::testing {
namespace {

namespace ac = civitas::appconfig::v1;

// soest serves news and reports; werl is only for the restart.
constexpr char kConfig[] = R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: jwks.json
logging:
  access_log: false
cities:
  - id: soest
    display_name: Soest
    default_language: de
    time_zone: Europe/Berlin
    modules:
      - id: civitas.news
      - id: civitas.reports
  - id: werl
    modules:
      - id: civitas.news
)";

// The ErrorInfo of a status: reason and metadata["field"].
std::pair<std::string, std::string> ReasonAndField(const grpc::Status& s) {
  google::rpc::Status details;
  if (!details.ParseFromString(s.error_details())) return {"(no details)", ""};
  for (const auto& any : details.details()) {
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&info)) {
      auto it = info.metadata().find("field");
      return {info.reason(), it == info.metadata().end() ? "" : it->second};
    }
  }
  return {"(no ErrorInfo)", ""};
}

class AppConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir("gw");
    keys_ = std::make_unique<TestKeys>(dir_);
    Start();
    admin_ = keys_->Mint("it-soest", "soest", {"admin"});
    editor_ = keys_->Mint("presse", "soest", {"editor"});
    citizen_ = keys_->Mint("anna", "soest", {});
  }

  void Start() {
    gw_ = GatewayProcess::Start(dir_, kConfig);
    ASSERT_NE(gw_, nullptr);
    stub_ = ac::AppConfigService::NewStub(gw_->channel());
  }

  ac::AppConfig Get(const std::string& city = "soest") {
    grpc::ClientContext ctx;
    Prepare(&ctx, city);
    ac::AppConfig out;
    grpc::Status s = stub_->GetAppConfig(&ctx, ac::GetAppConfigRequest(), &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  grpc::Status Update(const ac::AppConfig& config, ac::AppConfig* out,
                      const std::string& token = "", std::vector<std::string> mask = {}) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "soest", token.empty() ? admin_ : token);
    ac::UpdateAppConfigRequest req;
    *req.mutable_app_config() = config;
    for (const std::string& p : mask) req.mutable_update_mask()->add_paths(p);
    return stub_->UpdateAppConfig(&ctx, req, out);
  }

  // What the app team would send: German and English, tabs for news and reports, legal pages.
  static ac::AppConfig Sample(const std::string& etag) {
    ac::AppConfig c;
    c.set_etag(etag);
    c.set_display_name("Hansestadt Soest");
    c.set_default_language("de");
    c.add_languages("de");
    c.add_languages("en");
    c.set_time_zone("Europe/Berlin");
    c.set_deep_link_scheme("soest-app");
    c.mutable_theme()->set_primary_color("#9E1B32");
    auto* news = c.add_navigation();
    news->set_id("news");
    news->set_placement(ac::NavigationEntry::TAB);
    (*news->mutable_titles())["de"] = "Aktuelles";
    (*news->mutable_titles())["en"] = "News";
    news->mutable_screen()->set_module_id("civitas.news");
    news->mutable_screen()->set_screen("news.list");
    auto* report = c.add_navigation();
    report->set_id("report");
    report->set_placement(ac::NavigationEntry::TAB);
    (*report->mutable_titles())["de"] = "Mängel melden";
    (*report->mutable_titles())["en"] = "Report a problem";
    report->mutable_screen()->set_module_id("civitas.reports");
    report->mutable_screen()->set_screen("reports.new");
    auto* waste = c.add_navigation();
    waste->set_id("waste");
    waste->set_placement(ac::NavigationEntry::TILE);
    (*waste->mutable_titles())["de"] = "Abfallkalender";
    (*waste->mutable_titles())["en"] = "Waste calendar";
    waste->set_web_url("https://www.soest.example/abfall");
    c.mutable_legal()->set_imprint_url("https://www.soest.example/impressum");
    c.mutable_legal()->set_privacy_url("https://www.soest.example/datenschutz");
    c.mutable_legal()->set_accessibility_url("https://www.soest.example/barrierefreiheit");
    c.mutable_min_supported_version()->set_ios("1.2.0");
    return c;
  }

  std::string dir_;
  std::unique_ptr<TestKeys> keys_;
  std::unique_ptr<GatewayProcess> gw_;
  std::unique_ptr<ac::AppConfigService::Stub> stub_;
  std::string admin_, editor_, citizen_;
};

TEST_F(AppConfigTest, AnonymousReadersGetTheDefaultThenTheAdminsVersion) {
  ac::AppConfig first = Get();
  EXPECT_EQ(first.version(), 0);
  EXPECT_EQ(first.etag(), "W/\"0\"");
  EXPECT_EQ(first.display_name(), "Soest");
  EXPECT_EQ(first.default_language(), "de");
  EXPECT_EQ(first.time_zone(), "Europe/Berlin");
  // The modules the city serves, with versions and screens, filled in by the gateway.
  ASSERT_EQ(first.modules_size(), 2);
  EXPECT_EQ(first.modules(0).module_id(), "civitas.news");
  EXPECT_FALSE(first.modules(0).version().empty());
  EXPECT_EQ(first.modules(0).screens(0), "news.list");
  EXPECT_EQ(first.modules(0).services(0), "civitas.news.v1.NewsService");
  EXPECT_EQ(first.modules(1).module_id(), "civitas.reports");

  ac::AppConfig stored;
  grpc::Status s = Update(Sample(first.etag()), &stored);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(stored.version(), 1);
  EXPECT_EQ(stored.etag(), "W/\"1\"");
  EXPECT_TRUE(stored.has_update_time());
  ac::AppConfig read = Get();
  EXPECT_EQ(read.version(), 1);
  EXPECT_EQ(read.display_name(), "Hansestadt Soest");
  EXPECT_EQ(read.navigation(1).titles().at("de"), "Mängel melden");
  EXPECT_EQ(read.modules_size(), 2);
  // Another city is untouched.
  EXPECT_EQ(Get("werl").version(), 0);

  // PATCH-like: only the fields the mask names change.
  ac::AppConfig patch;
  patch.set_etag(read.etag());
  patch.mutable_theme()->set_primary_color("#123456");
  s = Update(patch, &stored, "", {"theme"});
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(stored.theme().primary_color(), "#123456");
  EXPECT_EQ(stored.navigation_size(), 3);
}

TEST_F(AppConfigTest, OnlyTheCitysAdminsChangeIt) {
  const ac::AppConfig sample = Sample("W/\"0\"");
  ac::AppConfig out;
  grpc::ClientContext anonymous;
  Prepare(&anonymous, "soest");
  ac::UpdateAppConfigRequest req;
  *req.mutable_app_config() = sample;
  grpc::Status s = stub_->UpdateAppConfig(&anonymous, req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  EXPECT_EQ(ReasonAndField(s).first, "SIGN_IN_REQUIRED");
  for (const std::string& token : {citizen_, editor_, keys_->Mint("it-werl", "werl", {"admin"})}) {
    s = Update(sample, &out, token);
    EXPECT_TRUE(s.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
                s.error_code() == grpc::StatusCode::UNAUTHENTICATED)
        << s.error_code() << " " << s.error_message();
  }
  // The version list and restore are the admins' too.
  grpc::ClientContext list_ctx;
  Prepare(&list_ctx, "soest", editor_);
  ac::ListAppConfigVersionsResponse list;
  s = stub_->ListAppConfigVersions(&list_ctx, ac::ListAppConfigVersionsRequest(), &list);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Get().version(), 0);
}

TEST_F(AppConfigTest, AdminWritesAreRateLimitedReadsAreNot) {
  // 30 a minute, 10 at once, per subject; refused writes count too (the limit comes first).
  ac::AppConfig out;
  grpc::Status s;
  int admitted = 0;
  for (int i = 0; i < 11; ++i) {
    s = Update(Sample(""), &out);
    if (s.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED) ++admitted;
  }
  EXPECT_EQ(admitted, 10);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_EQ(ReasonAndField(s).first, "WRITE_RATE_LIMITED");
  for (int i = 0; i < 20; ++i) EXPECT_EQ(Get().version(), 0);
  // Another admin has a bucket of its own.
  s = Update(Sample("W/\"0\""), &out, keys_->Mint("it-2", "soest", {"admin"}));
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(AppConfigTest, EtagsAreRequiredAndAStaleOneChangesNothing) {
  ac::AppConfig out;
  grpc::Status s = Update(Sample(""), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ReasonAndField(s),
            std::make_pair(std::string("ETAG_REQUIRED"), std::string("app_config.etag")));
  ASSERT_TRUE(Update(Sample("W/\"0\""), &out).ok());
  ac::AppConfig stale = Sample("W/\"0\"");
  stale.set_display_name("Zu spät");
  s = Update(stale, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED) << s.error_message();
  EXPECT_EQ(ReasonAndField(s).first, "ETAG_MISMATCH");
  const ac::AppConfig now = Get();
  EXPECT_EQ(now.version(), 1);
  EXPECT_EQ(now.display_name(), "Hansestadt Soest");
}

TEST_F(AppConfigTest, EachRefusalNamesTheField) {
  struct Case {
    const char* what;
    std::function<void(ac::AppConfig&)> change;
    grpc::StatusCode code;
    const char* reason;
    const char* field;
  };
  const std::vector<Case> cases = {
      {"a module the city does not serve",
       [](ac::AppConfig& c) {
         c.mutable_navigation(0)->mutable_screen()->set_module_id("civitas.events");
         c.mutable_navigation(0)->mutable_screen()->set_screen("events.list");
       },
       grpc::StatusCode::INVALID_ARGUMENT, "TARGET_NOT_ENABLED", "navigation[0].screen.module_id"},
      {"a title missing for a declared language", [](ac::AppConfig& c) { c.add_languages("fr"); },
       grpc::StatusCode::INVALID_ARGUMENT, "TITLE_MISSING", "navigation[0].titles.fr"},
      {"a javascript: URL",
       [](ac::AppConfig& c) { c.mutable_navigation(2)->set_web_url("javascript:alert(1)"); },
       grpc::StatusCode::INVALID_ARGUMENT, "URL_NOT_ALLOWED", "navigation[2].web_url"},
      {"a colour that is not #RRGGBB",
       [](ac::AppConfig& c) { c.mutable_theme()->set_primary_color("crimson"); },
       grpc::StatusCode::INVALID_ARGUMENT, "APP_CONFIG_INVALID", "theme.primary_color"},
      {"no accessibility statement",
       [](ac::AppConfig& c) { c.mutable_legal()->clear_accessibility_url(); },
       grpc::StatusCode::INVALID_ARGUMENT, "LEGAL_PAGE_MISSING", "legal.accessibility_url"},
      {"more than 256 KiB",
       [](ac::AppConfig& c) { c.mutable_contact()->set_address(std::string(300 * 1024, 'x')); },
       grpc::StatusCode::INVALID_ARGUMENT, "APP_CONFIG_TOO_LARGE", "app_config"},
  };
  for (const Case& c : cases) {
    ac::AppConfig config = Sample("W/\"0\"");
    c.change(config);
    ac::AppConfig out;
    grpc::Status s = Update(config, &out);
    EXPECT_EQ(s.error_code(), c.code) << c.what << ": " << s.error_message();
    EXPECT_EQ(ReasonAndField(s), std::make_pair(std::string(c.reason), std::string(c.field)))
        << c.what << ": " << s.error_message();
  }
  // Invalid UTF-8 never reaches the checks over gRPC: protobuf refuses to parse the request (the
  // checks' own UTF-8 refusal is tested in appconfig_rules_test).
  {
    ac::UpdateAppConfigRequest req;
    *req.mutable_app_config() = Sample("W/\"0\"");
    std::string wire = req.SerializeAsString();
    // AppConfig.display_name (field 2) again, with the bytes C3 28 (not UTF-8); the last value
    // of a field wins.
    std::string bad;
    bad.push_back(static_cast<char>((2 << 3) | 2));
    bad += "\x02\xc3\x28";
    const std::string inner = req.app_config().SerializeAsString() + bad;
    std::string outer;
    outer.push_back(static_cast<char>((1 << 3) | 2));
    size_t n = inner.size();
    while (n >= 0x80) {
      outer.push_back(static_cast<char>((n & 0x7f) | 0x80));
      n >>= 7;
    }
    outer.push_back(static_cast<char>(n));
    outer += inner;
    grpc::GenericStub generic(gw_->channel());
    grpc::ClientContext ctx;
    Prepare(&ctx, "soest", admin_);
    grpc::Slice slice(outer);
    grpc::ByteBuffer request(&slice, 1), response;
    grpc::CompletionQueue cq;
    auto call = generic.PrepareUnaryCall(
        &ctx, "/civitas.appconfig.v1.AppConfigService/UpdateAppConfig", request, &cq);
    call->StartCall();
    grpc::Status s;
    call->Finish(&response, &s, reinterpret_cast<void*>(1));
    void* tag;
    bool ok;
    ASSERT_TRUE(cq.Next(&tag, &ok));
    EXPECT_FALSE(s.ok());
    // gRPC 1.51's callback server answers a request it cannot parse with UNIMPLEMENTED and no
    // message (as for every service the gateway answers itself); the checks are never reached.
    EXPECT_FALSE(s.ok());
  }
  EXPECT_EQ(Get().version(), 0);  // nothing was stored
}

TEST_F(AppConfigTest, VersionsAreListedAndRestoredAndSurviveARestart) {
  ac::AppConfig v1, v2, v3;
  ASSERT_TRUE(Update(Sample("W/\"0\""), &v1).ok());
  ac::AppConfig second = Sample(v1.etag());
  second.set_display_name("Soest – Stadt der Kirchtürme");
  ASSERT_TRUE(Update(second, &v2).ok());
  EXPECT_EQ(v2.version(), 2);

  auto list = [&](int32_t page_size, const std::string& token,
                  ac::ListAppConfigVersionsResponse* out) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "soest", admin_);
    ac::ListAppConfigVersionsRequest req;
    req.set_page_size(page_size);
    req.set_page_token(token);
    return stub_->ListAppConfigVersions(&ctx, req, out);
  };
  ac::ListAppConfigVersionsResponse page;
  ASSERT_TRUE(list(1, "", &page).ok());
  ASSERT_EQ(page.versions_size(), 1);
  EXPECT_EQ(page.versions(0).name(), "appconfig/versions/2");
  EXPECT_FALSE(page.versions(0).has_app_config());
  ASSERT_FALSE(page.next_page_token().empty());
  ac::ListAppConfigVersionsResponse rest;
  ASSERT_TRUE(list(1, page.next_page_token(), &rest).ok());
  ASSERT_EQ(rest.versions_size(), 1);
  EXPECT_EQ(rest.versions(0).version(), 1);
  EXPECT_TRUE(rest.next_page_token().empty());
  grpc::Status s = list(101, "", &page);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  s = list(10, "v99", &page);
  EXPECT_EQ(ReasonAndField(s).first, "PAGE_TOKEN_INVALID");

  // One version with its contents.
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "soest", admin_);
    ac::GetAppConfigVersionRequest req;
    req.set_name("appconfig/versions/1");
    ac::AppConfigVersion one;
    ASSERT_TRUE(stub_->GetAppConfigVersion(&ctx, req, &one).ok());
    EXPECT_EQ(one.app_config().display_name(), "Hansestadt Soest");
  }

  // Restore version 1: a new version 3 with version 1's contents; a stale etag changes nothing.
  auto restore = [&](const std::string& name, const std::string& etag, ac::AppConfig* out) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "soest", admin_);
    ac::RestoreAppConfigVersionRequest req;
    req.set_name(name);
    req.set_etag(etag);
    return stub_->RestoreAppConfigVersion(&ctx, req, out);
  };
  s = restore("appconfig/versions/1", v1.etag(), &v3);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  s = restore("appconfig/versions/9", v2.etag(), &v3);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ReasonAndField(s).first, "APP_CONFIG_VERSION_NOT_FOUND");
  s = restore("appconfig/versions/1", v2.etag(), &v3);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(v3.version(), 3);
  EXPECT_EQ(v3.display_name(), "Hansestadt Soest");
  ASSERT_TRUE(list(0, "", &page).ok());
  ASSERT_EQ(page.versions_size(), 3);
  EXPECT_EQ(page.versions(0).restored_from(), 1);

  // After a restart everything is still there.
  EXPECT_EQ(gw_->Terminate(), 0);
  Start();
  const ac::AppConfig after = Get();
  EXPECT_EQ(after.version(), 3);
  EXPECT_EQ(after.display_name(), "Hansestadt Soest");
  EXPECT_EQ(after.modules_size(), 2);
}

TEST_F(AppConfigTest, HttpAnswersWithAnEtagAndNotModified) {
  const std::string url =
      absl::StrCat("http://127.0.0.1:", gw_->http_port(), "/cities/soest/v1/appconfig");
  std::string out;
  ASSERT_EQ(RunCommand({"curl", "-s", "-i", url}, &out), 0) << out;
  EXPECT_NE(out.find("HTTP/1.1 200"), std::string::npos) << out;
  EXPECT_NE(out.find("Cache-Control: public, max-age=60"), std::string::npos) << out;
  EXPECT_NE(out.find("\"displayName\":\"Soest\""), std::string::npos) << out;
  const size_t at = out.find("ETag: ");
  ASSERT_NE(at, std::string::npos) << out;
  const std::string etag = out.substr(at + 6, out.find('\r', at) - at - 6);
  ASSERT_EQ(RunCommand({"curl", "-s", "-i", "-H", "If-None-Match: " + etag, url}, &out), 0);
  EXPECT_NE(out.find("HTTP/1.1 304"), std::string::npos) << out;
  // An admin's change (over gRPC, then over HTTP: PATCH with the etag from the body) makes the
  // old ETag stale.
  ac::AppConfig stored;
  ASSERT_TRUE(Update(Sample("W/\"0\""), &stored).ok());
  ASSERT_EQ(RunCommand({"curl", "-s", "-X", "PATCH", "-H", "content-type: application/json", "-H",
                        "authorization: Bearer " + admin_, "-d",
                        R"js({"etag": "W/\"1\"", "displayName": "Soest (Westf.)"})js",
                        url + "?update_mask=display_name"},
                       &out),
            0);
  EXPECT_NE(out.find("\"version\":\"2\""), std::string::npos) << out;
  ASSERT_EQ(RunCommand({"curl", "-s", "-i", "-H", "If-None-Match: " + etag, url}, &out), 0);
  EXPECT_NE(out.find("HTTP/1.1 200"), std::string::npos) << out;
  EXPECT_NE(out.find("Soest (Westf.)"), std::string::npos) << out;
  // Titles per language are maps; their JSON is printed in key order, so the ETag is stable.
  const size_t at2 = out.find("ETag: ");
  ASSERT_NE(at2, std::string::npos) << out;
  const std::string etag2 = out.substr(at2 + 6, out.find('\r', at2) - at2 - 6);
  EXPECT_NE(etag2, etag);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(RunCommand({"curl", "-s", "-i", "-H", "If-None-Match: " + etag2, url}, &out), 0);
    EXPECT_NE(out.find("HTTP/1.1 304"), std::string::npos) << out;
  }
  // A refusal over HTTP: 400 with the field in the ErrorInfo.
  ASSERT_EQ(RunCommand({"curl", "-s", "-X", "PATCH", "-H", "content-type: application/json", "-H",
                        "authorization: Bearer " + admin_, "-d",
                        R"({"etag": "W/\"2\"", "theme": {"primaryColor": "red"}})",
                        url + "?update_mask=theme"},
                       &out),
            0);
  EXPECT_NE(out.find("\"field\":\"theme.primary_color\""), std::string::npos) << out;
}

}  // namespace
}  // namespace civitas::testing
