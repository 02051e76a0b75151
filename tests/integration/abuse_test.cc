// One caller must not be able to flood a city: write-rate limits per subject and per client
// address, enforced by the real gateway before any module handler runs.
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "civitas/gateway/v1/admin.grpc.pb.h"
#include "civitas/noticeboard/v1/noticeboard.grpc.pb.h"
#include "civitas/reports/v1/reports.grpc.pb.h"
#include "tests/integration/gateway_process.h"

namespace civitas::testing {
namespace {

namespace nb = civitas::noticeboard::v1;
namespace rp = civitas::reports::v1;

constexpr char kConfig[] = R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: jwks.json
limits:
  write_rate:
    per_subject: {per_minute: 60, burst: 10}
    anonymous_per_peer: {per_minute: 6, burst: 3}
logging:
  access_log: false
cities:
  - id: hamm
    modules:
      - id: civitas.noticeboard
      - id: civitas.reports
)";

class AbuseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir("gw");
    keys_ = std::make_unique<TestKeys>(dir_);
  }
  void Start(const char* config) {
    gw_ = GatewayProcess::Start(dir_, config);
    ASSERT_NE(gw_, nullptr);
    board_ = nb::NoticeboardService::NewStub(gw_->channel());
    reports_ = rp::ReportsService::NewStub(gw_->channel());
  }

  grpc::Status CreateNotice(const std::string& token, std::string* retry_after = nullptr,
                            const std::string& body = "", nb::Notice* created = nullptr) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "hamm", token);
    nb::CreateNoticeRequest req;
    req.mutable_notice()->set_title("Flohmarkt am Samstag");
    req.mutable_notice()->set_body(body);
    nb::Notice local;
    nb::Notice& out = created ? *created : local;
    grpc::Status s = board_->CreateNotice(&ctx, req, &out);
    if (retry_after) {
      auto it = ctx.GetServerTrailingMetadata().find("retry-after");
      *retry_after = it == ctx.GetServerTrailingMetadata().end()
                         ? ""
                         : std::string(it->second.data(), it->second.size());
    }
    return s;
  }

  grpc::Status CreateReport(const std::string& token) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "hamm", token);
    rp::CreateReportRequest req;
    req.mutable_report()->set_service("services/muell");
    req.mutable_report()->set_description("Sperrmüll an der Ecke Nordstraße");
    req.mutable_report()->set_address("Nordstraße 1");
    req.mutable_report()->set_device_id("geraet-1");
    rp::Report out;
    return reports_->CreateReport(&ctx, req, &out);
  }

  int CountNotices() {
    grpc::ClientContext ctx;
    Prepare(&ctx, "hamm");
    nb::ListNoticesRequest req;
    req.set_page_size(100);
    nb::ListNoticesResponse out;
    EXPECT_TRUE(board_->ListNotices(&ctx, req, &out).ok());
    return out.notices_size();
  }

  std::string dir_;
  std::unique_ptr<TestKeys> keys_;
  std::unique_ptr<GatewayProcess> gw_;
  std::unique_ptr<nb::NoticeboardService::Stub> board_;
  std::unique_ptr<rp::ReportsService::Stub> reports_;
};

TEST_F(AbuseTest, AFloodFromOneTokenIsCutAtItsRateWhileOthersStillWrite) {
  Start(kConfig);
  const std::string flooder = keys_->Mint("flooder", "hamm", {});
  const std::string neighbour = keys_->Mint("neighbour", "hamm", {});
  int accepted = 0, refused = 0;
  std::string retry_after, message;
  const absl::Time start = absl::Now();
  for (int i = 0; i < 200; ++i) {
    std::string retry;
    grpc::Status s = CreateNotice(flooder, &retry);
    if (s.ok()) {
      ++accepted;
    } else {
      ASSERT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
      ++refused;
      retry_after = retry;
      message = s.error_message();
    }
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  // The burst of 10, plus one a second while the flood lasted.
  EXPECT_GE(accepted, 10);
  EXPECT_LE(accepted, 10 + static_cast<int>(seconds) + 2) << "in " << seconds << " s";
  EXPECT_GT(refused, 150);
  EXPECT_EQ(retry_after, "1") << "one token a second";
  EXPECT_NE(message.find("this account may make 60 write calls a minute (10 at once)"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("retry in 1 s"), std::string::npos) << message;
  EXPECT_EQ(CountNotices(), accepted) << "a refused write leaves nothing behind";
  EXPECT_TRUE(CreateNotice(neighbour).ok()) << "another subject still writes";
  // Reads are not limited.
  for (int i = 0; i < 30; ++i) ASSERT_GT(CountNotices(), 0);
  // The bucket refills.
  absl::SleepFor(absl::Milliseconds(1100));
  EXPECT_TRUE(CreateNotice(flooder).ok());
}

TEST_F(AbuseTest, AnonymousWritesAreLimitedPerAddressAndSignedInOnesAreNot) {
  Start(kConfig);
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "hamm", keys_->Mint("it", "hamm", {"admin"}));
    rp::PutServiceRequest req;
    req.mutable_service()->set_name("services/muell");
    req.mutable_service()->set_display_name("Müll");
    rp::Service out;
    ASSERT_TRUE(reports_->PutService(&ctx, req, &out).ok());
  }
  int accepted = 0;
  grpc::Status last;
  for (int i = 0; i < 20; ++i) {
    grpc::Status s = CreateReport("");
    if (s.ok()) {
      ++accepted;
    } else {
      last = s;
    }
  }
  EXPECT_EQ(accepted, 3) << "the anonymous burst from one address";
  EXPECT_EQ(last.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(last.error_message().find("anonymous callers from this address"), std::string::npos)
      << last.error_message();
  EXPECT_TRUE(CreateReport(keys_->Mint("anwohnerin", "hamm", {})).ok())
      << "a signed-in citizen is limited by their own account";

  // Over JSON/HTTP the same limit is a 429 with Retry-After.
  std::string output;
  ASSERT_EQ(
      RunCommand({"curl", "-s", "-i", "-X", "POST", "-H", "content-type: application/json", "-d",
                  R"({"service": "services/muell", "description": "Sperrmüll am Kanal",)"
                  R"( "address": "Kanalstraße 2", "deviceId": "geraet-2"})",
                  absl::StrCat("http://127.0.0.1:", gw_->http_port(), "/cities/hamm/v1/reports")},
                 &output),
      0)
      << output;
  EXPECT_NE(output.find("HTTP/1.1 429"), std::string::npos) << output;
  EXPECT_NE(output.find("Retry-After: 10"), std::string::npos) << output;
}

constexpr char kByteBudgetConfig[] = R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: jwks.json
limits:
  write_rate:
    anonymous_per_peer: {per_minute: 600, burst: 600}
    anonymous_mib_per_peer_per_day: 1
logging:
  access_log: false
cities:
  - id: hamm
    modules:
      - id: civitas.reports
)";

TEST_F(AbuseTest, AnonymousBytesFromOneAddressHaveADailyBudget) {
  Start(kByteBudgetConfig);
  // 400 KB "photos" that are no images: the module refuses each, but its bytes were written to
  // the gateway by an anonymous caller and count against the address's budget all the same.
  auto upload = [&](std::string* retry_after) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "hamm", "");
    rp::CreateReportRequest req;
    req.mutable_report()->set_service("services/muell");
    req.mutable_report()->set_description("Sperrmüll an der Ecke Nordstraße");
    req.mutable_report()->set_device_id("geraet-1");
    req.mutable_report()->add_photos()->set_data(std::string(400'000, 'x'));
    rp::Report out;
    grpc::Status s = reports_->CreateReport(&ctx, req, &out);
    auto it = ctx.GetServerTrailingMetadata().find("retry-after");
    if (it != ctx.GetServerTrailingMetadata().end()) {
      *retry_after = std::string(it->second.data(), it->second.size());
    }
    return s;
  };
  std::string retry_after;
  EXPECT_NE(upload(&retry_after).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(upload(&retry_after).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  grpc::Status third = upload(&retry_after);
  EXPECT_EQ(third.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << third.error_message();
  EXPECT_NE(third.error_message().find("have written their 1 MiB for the day"), std::string::npos)
      << third.error_message();
  ASSERT_FALSE(retry_after.empty());
  EXPECT_GT(std::stoi(retry_after), 3600) << "about a fifth of a day until 400 KB are back";
  // A signed-in citizen from the same address is not charged.
  grpc::ClientContext ctx;
  Prepare(&ctx, "hamm", keys_->Mint("anwohnerin", "hamm", {}));
  rp::CreateReportRequest req;
  req.mutable_report()->set_service("services/muell");
  req.mutable_report()->add_photos()->set_data(std::string(400'000, 'x'));
  rp::Report out;
  EXPECT_NE(reports_->CreateReport(&ctx, req, &out).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
}

constexpr char kQuotaConfig[] = R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: jwks.json
storage:
  city_quota_mb: 2
limits:
  write_rate: {per_subject: {per_minute: 0}}
logging:
  access_log: false
cities:
  - id: hamm
    modules:
      - id: civitas.noticeboard
)";

TEST_F(AbuseTest, ACityThatReachesItsStorageQuotaRefusesNewDataButStillDeletes) {
  Start(kQuotaConfig);
  const std::string writer = keys_->Mint("vielschreiber", "hamm", {});
  const std::string body(1900, 'x');
  grpc::Status refused;
  nb::Notice first;
  int written = 0;
  for (int i = 0; i < 4000 && refused.ok(); ++i) {
    grpc::Status s = CreateNotice(writer, nullptr, body, i == 0 ? &first : nullptr);
    if (s.ok()) {
      ++written;
    } else {
      refused = s;
    }
  }
  ASSERT_FALSE(refused.ok()) << "2 MiB never filled after " << written << " notices";
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused.error_message().find("storage quota"), std::string::npos)
      << refused.error_message();
  EXPECT_GT(written, 100) << "the quota is the city's size, not a first-write accident";
  // The gauge the operator watches.
  std::string metrics;
  ASSERT_EQ(
      RunCommand({"curl", "-s", absl::StrCat("http://127.0.0.1:", gw_->metrics_port(), "/metrics")},
                 &metrics),
      0);
  EXPECT_NE(metrics.find("civitas_city_storage_bytes{city=\"hamm\"} "), std::string::npos)
      << metrics.substr(0, 2000);
  // Freeing space always works.
  grpc::ClientContext ctx;
  Prepare(&ctx, "hamm", writer);
  nb::DeleteNoticeRequest del;
  del.set_name(first.name());
  google::protobuf::Empty empty;
  grpc::Status deleted = board_->DeleteNotice(&ctx, del, &empty);
  EXPECT_TRUE(deleted.ok()) << deleted.error_message();
  EXPECT_TRUE(gw_->Terminate() == 0) << "the gateway keeps serving and stops cleanly";
}

constexpr char kAdminHttpConfig[] = R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: jwks.json
limits:
  max_request_bytes: 8192
logging:
  access_log: false
cities:
  - id: hamm
    modules:
      - id: civitas.noticeboard
)";

// AdminService's city routes over JSON/HTTP (the console's Modules and Backups screens): the
// right role or 401/403, bodies over limits.max_request_bytes 413, and a flood of writes from one
// admin account 429 with Retry-After (RESOURCE_EXHAUSTED over gRPC) while lists go on.
TEST_F(AbuseTest, AdminHttpRoutesCheckTheRoleTheSizeAndTheWriteRate) {
  Start(kAdminHttpConfig);
  const std::string admin = keys_->Mint("stadtadmin", "hamm", {"admin"});
  const std::string editor = keys_->Mint("redaktion", "hamm", {"editor"});
  const std::string base =
      absl::StrCat("http://127.0.0.1:", gw_->http_port(), "/cities/hamm/v1/cities/hamm");
  auto curl = [&](const std::string& method, const std::string& path, const std::string& token,
                  const std::string& body) {
    std::vector<std::string> argv = {
        "curl", "-s", "-i", "-X", method, "-H", "content-type: application/json"};
    if (!token.empty()) {
      argv.push_back("-H");
      argv.push_back("authorization: Bearer " + token);
    }
    if (!body.empty()) {
      argv.push_back("--data-binary");
      argv.push_back(body);
    }
    argv.push_back(base + path);
    std::string out;
    EXPECT_EQ(RunCommand(argv, &out), 0) << out;
    return out;
  };
  auto code = [](const std::string& out) {  // "HTTP/1.1 200 OK"
    return out.size() > 12 ? std::atoi(out.substr(9, 3).c_str()) : 0;
  };

  // The happy path; lists are reads and never limited.
  std::string out;
  for (int i = 0; i < 30; ++i) {
    out = curl("GET", "/modules", admin, "");
    ASSERT_EQ(code(out), 200) << out;
  }
  EXPECT_NE(out.find("civitas.noticeboard"), std::string::npos) << out;

  // The wrong role, or none.
  EXPECT_EQ(code(curl("GET", "/modules", editor, "")), 403);
  EXPECT_EQ(code(curl("POST", "/backups", editor, "{}")), 403);
  EXPECT_EQ(code(curl("POST", "/modules:install", "", "{}")), 401);

  // Too big: refused by the HTTP server before AdminService reads anything.
  out = curl(
      "POST", "/modules:install", admin,
      absl::StrCat(R"({"validateOnly": true, "bundlePath": ")", std::string(20000, 'a'), R"("})"));
  EXPECT_EQ(code(out), 413) << out;

  // A flood of writes from one admin account: the burst is answered, then 429.
  int answered = 0;
  for (int i = 0; i < 40; ++i) {
    out = curl("POST", "/backups/999:verify", admin, "{}");
    if (code(out) == 429) break;
    EXPECT_NE(code(out), 200) << "there is no backup 999: " << out;
    ++answered;
  }
  constexpr int kBurst = 20;  // AdminService::kAdminWriteBurst (30 a minute)
  EXPECT_GE(answered, kBurst);
  EXPECT_LE(answered, kBurst + 3) << "at most a few tokens refill while the flood runs";
  EXPECT_EQ(code(out), 429) << out;
  EXPECT_NE(out.find("Retry-After: "), std::string::npos) << out;
  EXPECT_NE(out.find("too many writes"), std::string::npos) << out;
  // The same account over gRPC is refused too; lists still answer; another admin still writes.
  auto stub = civitas::gateway::v1::AdminService::NewStub(gw_->channel());
  grpc::ClientContext ctx;
  Prepare(&ctx, "hamm", admin);
  civitas::gateway::v1::VerifyBackupRequest verify;
  verify.set_name("cities/hamm/backups/999");
  civitas::gateway::v1::Backup backup;
  EXPECT_EQ(stub->VerifyBackup(&ctx, verify, &backup).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(code(curl("GET", "/modules", admin, "")), 200);
  const std::string other = keys_->Mint("zweite-admin", "hamm", {"admin"});
  EXPECT_NE(code(curl("POST", "/backups/999:verify", other, "{}")), 429);
}

}  // namespace
}  // namespace civitas::testing
