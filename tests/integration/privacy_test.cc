// A citizen's export and erasure across every module, through the real gateway: one user writes
// into every module of the city, exports, erases, and then the city's whole RocksDB (every file,
// after a full compaction) is searched for every personal value that user entered.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "civitas/events/v1/events.grpc.pb.h"
#include "civitas/gateway/v1/privacy.grpc.pb.h"
#include "civitas/news/v1/news.grpc.pb.h"
#include "civitas/noticeboard/v1/noticeboard.grpc.pb.h"
#include "civitas/notify/v1/notify.grpc.pb.h"
#include "civitas/participation/v1/participation.grpc.pb.h"
#include "civitas/reports/v1/reports.grpc.pb.h"
#include "services/gateway/city_store.h"
#include "tests/integration/gateway_process.h"

namespace civitas::testing {
namespace {

namespace gw = civitas::gateway;
namespace nb = civitas::noticeboard::v1;

constexpr char kConfig[] = R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: jwks.json
logging:
  access_log: false
cities:
  - id: unna
    push:
      topics:
        - id: rathaus
          titles: {de: Rathaus}
    modules:
      - id: civitas.noticeboard
      - id: civitas.news
      - id: civitas.events
      - id: civitas.participation
      - id: civitas.reports
      - id: civitas.testing.counter
        path: {fixtures}/civitas.testing.counter.so
)";

// What the user enters: each must be gone from every file of the city's database afterwards.
constexpr char kSubject[] = "citizen-5f3a9c0e";
constexpr char kName[] = "Henrike Ostermann-Beispiel";
constexpr char kEmail[] = "henrike.ostermann@example.org";
constexpr char kPhone[] = "+49 2303 5550199";
constexpr char kDevice[] = "henrikes-telefon-a91b";
constexpr char kIdeaName[] = "Henrike aus Königsborn";
constexpr char kCommentName[] = "H. Ostermann";
constexpr char kNoticeName[] = "Henrike O. vom Markt";
// Her phone's push address (a public address literal: registration resolves nothing).
constexpr char kPushEndpoint[] = "https://93.184.216.34/wpush/v2/henrike-ostermann-7f3a";
// What stays (the city's record), so the search is shown to find what is there.
constexpr char kReportText[] = "Gehweg an der Bahnhofstraße abgesackt, Stolpergefahr";
constexpr char kIdeaTitle[] = "Trinkbrunnen auf dem Marktplatz";

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class PrivacyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir("gw");
    keys_ = std::make_unique<TestKeys>(dir_);
    gw_ = GatewayProcess::Start(dir_, kConfig);
    ASSERT_NE(gw_, nullptr);
    user_ = keys_->Mint(kSubject, "unna", {"editor"});  // an editor too: writes news
    other_ = keys_->Mint("someone-else", "unna", {});
    admin_ = keys_->Mint("it", "unna", {"admin"});
  }

  // The user writes into every module, and registers her phone for push notifications.
  void UseEveryModule() {
    {
      namespace nt = civitas::notify::v1;
      auto notify = nt::NotifyService::NewStub(gw_->channel());
      grpc::ClientContext ctx;
      Prepare(&ctx, "unna", user_);
      nt::RegisterDeviceRequest req;
      req.mutable_device()->set_platform(nt::Device::WEB_PUSH);
      req.mutable_device()->mutable_web_push()->set_endpoint(kPushEndpoint);
      req.mutable_device()->mutable_web_push()->set_p256dh(
          "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-"
          "AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4");
      req.mutable_device()->mutable_web_push()->set_auth("BTBZMqHH6r4Tts7J_aSIgg");
      nt::RegisterDeviceResponse out;
      grpc::Status s = notify->RegisterDevice(&ctx, req, &out);
      ASSERT_TRUE(s.ok()) << s.error_message();
      // As an editor she sends a push (to a topic her phone does not receive: nothing is sent
      // anywhere); the message keeps her subject as its sender until she is erased.
      grpc::ClientContext send_ctx;
      Prepare(&send_ctx, "unna", user_);
      nt::SendMessageRequest send;
      send.mutable_message()->set_topic("rathaus");
      nt::MessageText* text = send.mutable_message()->add_texts();
      text->set_language_code("de");
      text->set_title("Bürgerbüro heute geschlossen");
      nt::Message sent;
      s = notify->SendMessage(&send_ctx, send, &sent);
      ASSERT_TRUE(s.ok()) << s.error_message();
      EXPECT_EQ(sent.sender(), kSubject);
    }
    {
      auto board = nb::NoticeboardService::NewStub(gw_->channel());
      grpc::ClientContext ctx;
      Prepare(&ctx, "unna", user_);
      nb::CreateNoticeRequest req;
      req.mutable_notice()->set_title("Fahrradschloss gefunden");
      req.mutable_notice()->set_author_display_name(kNoticeName);
      nb::Notice out;
      ASSERT_TRUE(board->CreateNotice(&ctx, req, &out).ok());
    }
    {
      auto news = civitas::news::v1::NewsService::NewStub(gw_->channel());
      grpc::ClientContext ctx;
      Prepare(&ctx, "unna", user_);
      civitas::news::v1::CreateArticleRequest req;
      req.mutable_article()->set_title("Wochenmarkt zieht um");
      req.mutable_article()->set_body("Ab Montag auf dem Rathausplatz.");
      req.mutable_article()->set_state(civitas::news::v1::Article::PUBLISHED);
      civitas::news::v1::Article out;
      grpc::Status s = news->CreateArticle(&ctx, req, &out);
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
    {
      namespace ev = civitas::events::v1;
      auto events = ev::EventsService::NewStub(gw_->channel());
      ev::Event created;
      {
        grpc::ClientContext ctx;
        Prepare(&ctx, "unna", admin_);
        ev::CreateEventRequest req;
        req.mutable_event()->set_title("Stadtführung Unna");
        const int64_t start = absl::ToUnixSeconds(absl::Now() + absl::Hours(72));
        req.mutable_event()->mutable_start_time()->set_seconds(start);
        req.mutable_event()->mutable_end_time()->set_seconds(start + 5400);
        req.mutable_event()->set_capacity(20);
        req.mutable_event()->set_registration_open(true);
        grpc::Status s = events->CreateEvent(&ctx, req, &created);
        ASSERT_TRUE(s.ok()) << s.error_message();
      }
      grpc::ClientContext ctx;
      Prepare(&ctx, "unna", user_);
      ev::RegisterForEventRequest reg;
      reg.set_name(created.name());
      ev::Registration out;
      grpc::Status s = events->RegisterForEvent(&ctx, reg, &out);
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
    {
      namespace pp = civitas::participation::v1;
      auto part = pp::ParticipationService::NewStub(gw_->channel());
      pp::Idea idea;
      {
        grpc::ClientContext ctx;
        Prepare(&ctx, "unna", user_);
        pp::CreateIdeaRequest req;
        req.mutable_idea()->set_title(kIdeaTitle);
        req.mutable_idea()->set_body("Im Sommer fehlt Trinkwasser für alle auf dem Markt.");
        req.mutable_idea()->set_author_display_name(kIdeaName);
        grpc::Status s = part->CreateIdea(&ctx, req, &idea);
        ASSERT_TRUE(s.ok()) << s.error_message();
      }
      {
        grpc::ClientContext ctx;
        Prepare(&ctx, "unna", user_);
        pp::CreateCommentRequest req;
        req.set_parent(idea.name());
        req.mutable_comment()->set_body("Ich helfe gern beim Aufstellen.");
        req.mutable_comment()->set_author_display_name(kCommentName);
        pp::Comment out;
        grpc::Status s = part->CreateComment(&ctx, req, &out);
        ASSERT_TRUE(s.ok()) << s.error_message();
      }
      for (const std::string& token : {user_, other_}) {
        grpc::ClientContext ctx;
        Prepare(&ctx, "unna", token);
        pp::SupportIdeaRequest req;
        req.set_name(idea.name());
        pp::Idea out;
        grpc::Status s = part->SupportIdea(&ctx, req, &out);
        ASSERT_TRUE(s.ok()) << s.error_message();
      }
    }
    {
      namespace rp = civitas::reports::v1;
      auto reports = rp::ReportsService::NewStub(gw_->channel());
      {
        grpc::ClientContext ctx;
        Prepare(&ctx, "unna", admin_);
        rp::PutServiceRequest req;
        req.mutable_service()->set_name("services/gehweg");
        req.mutable_service()->set_display_name("Gehweg beschädigt");
        rp::Service out;
        grpc::Status s = reports->PutService(&ctx, req, &out);
        ASSERT_TRUE(s.ok()) << s.error_message();
      }
      grpc::ClientContext ctx;
      Prepare(&ctx, "unna", user_);
      rp::CreateReportRequest req;
      rp::Report* r = req.mutable_report();
      r->set_service("services/gehweg");
      r->set_description(kReportText);
      r->set_address("Bahnhofstraße 3");
      r->mutable_contact()->set_name(kName);
      r->mutable_contact()->set_email(kEmail);
      r->mutable_contact()->set_phone(kPhone);
      r->set_device_id(kDevice);
      rp::Report out;
      grpc::Status s = reports->CreateReport(&ctx, req, &out);
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
  }

  // Every file under the city's database folder, concatenated, after the gateway is gone and a
  // full compaction has dropped every overwritten or deleted version.
  std::string CompactedCityFiles() {
    EXPECT_EQ(gw_->Terminate(), 0) << gw_->log();
    const std::string db_dir = dir_ + "/data/cities/unna";
    {
      gw::StorageConfig config;
      gw::StorageEnvironment env(config);
      absl::StatusOr<std::unique_ptr<gw::CityStore>> store = gw::CityStore::Open(env, db_dir);
      EXPECT_TRUE(store.ok()) << store.status();
      if (!store.ok()) return "";
      rocksdb::CompactRangeOptions full;
      full.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
      rocksdb::Status s = (*store)->db()->CompactRange(full, nullptr, nullptr);
      EXPECT_TRUE(s.ok()) << s.ToString();
      EXPECT_TRUE((*store)->Close().ok());
    }
    std::string all;
    size_t files = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(db_dir)) {
      if (!entry.is_regular_file()) continue;
      // RocksDB's info logs hold no values, only what it did.
      if (entry.path().filename().string().rfind("LOG", 0) == 0) continue;
      all += ReadFile(entry.path());
      ++files;
    }
    EXPECT_GT(files, 2u);
    return all;
  }

  std::string dir_;
  std::unique_ptr<TestKeys> keys_;
  std::unique_ptr<GatewayProcess> gw_;
  std::string user_, other_, admin_;
};

TEST_F(PrivacyTest, ErasureLeavesNoPersonalValueInTheCitysDatabase) {
  UseEveryModule();
  auto privacy = gw::v1::PrivacyService::NewStub(gw_->channel());

  // Every module of ours says it can erase; the ABI 1.0 counter cannot.
  auto modules = ListModules(*gw_, "unna");
  for (const char* id : {"civitas.noticeboard", "civitas.news", "civitas.events",
                         "civitas.participation", "civitas.reports"}) {
    EXPECT_TRUE(modules[id].supports_personal_data()) << id;
  }
  EXPECT_FALSE(modules["civitas.testing.counter"].supports_personal_data());

  // The export holds what the user entered, module by module.
  gw::v1::ExportMyDataResponse exported;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "unna", user_);
    grpc::Status s = privacy->ExportMyData(&ctx, gw::v1::ExportMyDataRequest(), &exported);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(exported.subject(), kSubject);
  // The five modules and the gateway's push notifications (civitas.notify).
  ASSERT_EQ(exported.modules_size(), 6) << exported.DebugString();
  std::string everything;
  for (const auto& m : exported.modules()) everything += m.module_id() + ":" + m.data_json() + "\n";
  for (const char* value : {kName, kEmail, kPhone, kIdeaName, kCommentName, kNoticeName,
                            kPushEndpoint, "Stadtführung Unna", "Wochenmarkt zieht um"}) {
    EXPECT_NE(everything.find(value), std::string::npos) << value << " not in\n" << everything;
  }
  ASSERT_EQ(exported.unsupported_modules_size(), 1);
  EXPECT_EQ(exported.unsupported_modules(0), "civitas.testing.counter");

  // Nobody erases without confirming, and nobody erases anonymously.
  gw::v1::EraseMyDataResponse erased;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "unna", user_);
    EXPECT_EQ(privacy->EraseMyData(&ctx, gw::v1::EraseMyDataRequest(), &erased).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "unna");
    gw::v1::EraseMyDataRequest req;
    req.set_confirm("ERASE");
    EXPECT_EQ(privacy->EraseMyData(&ctx, req, &erased).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  // The same call over JSON/HTTP.
  std::string output;
  ASSERT_EQ(RunCommand({"curl", "-s", "-X", "POST", "-H", "authorization: Bearer " + user_, "-H",
                        "content-type: application/json", "-d", R"({"confirm": "ERASE"})",
                        absl::StrCat("http://127.0.0.1:", gw_->http_port(),
                                     "/cities/unna/v1/me:eraseData")},
                       &output),
            0)
      << output;
  EXPECT_NE(output.find(R"("erasedModules":["civitas.events","civitas.news",)"), std::string::npos)
      << output;
  EXPECT_NE(output.find(R"("unsupportedModules":["civitas.testing.counter"])"), std::string::npos)
      << output;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "unna", user_);
    gw::v1::EraseMyDataRequest req;
    req.set_confirm("ERASE");
    grpc::Status s = privacy->EraseMyData(&ctx, req, &erased);
    ASSERT_TRUE(s.ok()) << "a second erasure finds nothing more: " << s.error_message();
    EXPECT_EQ(erased.erased_modules_size(), 6);
  }

  const std::string files = CompactedCityFiles();
  for (const char* personal : {kSubject, kName, kEmail, kPhone, kDevice, kIdeaName, kCommentName,
                               kNoticeName, kPushEndpoint}) {
    EXPECT_EQ(files.find(personal), std::string::npos)
        << "'" << personal << "' is still stored in the city's database";
  }
  EXPECT_NE(files.find(kReportText), std::string::npos) << "the search reads what is stored";
  EXPECT_NE(files.find(kIdeaTitle), std::string::npos);
  EXPECT_NE(files.find("someone-else"), std::string::npos) << "other citizens keep their data";
}

TEST_F(PrivacyTest, ExportIsOnlyEverTheCallersOwn) {
  UseEveryModule();
  auto privacy = gw::v1::PrivacyService::NewStub(gw_->channel());
  gw::v1::ExportMyDataResponse exported;
  grpc::ClientContext ctx;
  Prepare(&ctx, "unna", other_);
  grpc::Status s = privacy->ExportMyData(&ctx, gw::v1::ExportMyDataRequest(), &exported);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(exported.subject(), "someone-else");
  for (const auto& m : exported.modules()) {
    EXPECT_EQ(m.data_json().find(kEmail), std::string::npos) << m.module_id();
    EXPECT_EQ(m.data_json().find(kIdeaName), std::string::npos) << m.module_id();
  }
  // Each export reads every module: a citizen who repeats it is slowed down.
  int refused = 0;
  for (int i = 0; i < 5; ++i) {
    grpc::ClientContext again;
    Prepare(&again, "unna", other_);
    grpc::Status s = privacy->ExportMyData(&again, gw::v1::ExportMyDataRequest(), &exported);
    if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++refused;
      EXPECT_EQ(again.GetServerTrailingMetadata().count("retry-after"), 1u);
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
  }
  EXPECT_EQ(refused, 3) << "three at once, then six a minute";
  grpc::ClientContext anonymous;
  Prepare(&anonymous, "unna");
  EXPECT_EQ(
      privacy->ExportMyData(&anonymous, gw::v1::ExportMyDataRequest(), &exported).error_code(),
      grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace civitas::testing
