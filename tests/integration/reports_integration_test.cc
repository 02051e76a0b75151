// The reports module through the real gateway with real tokens for each role: who manages
// services, who sees contact data, the workflow and the reporter's live view.
#include <gtest/gtest.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "civitas/reports/v1/reports.grpc.pb.h"
#include "tests/integration/gateway_process.h"

namespace civitas::testing {
namespace {

namespace pb = civitas::reports::v1;

constexpr char kConfig[] = R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: jwks.json
logging:
  access_log: false
cities:
  - id: witten
    modules:
      - id: civitas.reports
        config:
          area: {min_latitude: 51.39, max_latitude: 51.48, min_longitude: 7.25, max_longitude: 7.43}
)";

class ReportsIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir("gw");
    keys_ = std::make_unique<TestKeys>(dir_);
    gw_ = GatewayProcess::Start(dir_, kConfig);
    ASSERT_NE(gw_, nullptr);
    stub_ = pb::ReportsService::NewStub(gw_->channel());
    admin_ = keys_->Mint("it", "witten", {"admin"});
    editor_ = keys_->Mint("bauhof", "witten", {"editor"});
    anna_ = keys_->Mint("anna", "witten", {});
    ben_ = keys_->Mint("ben", "witten", {});
  }
  grpc::Status PutService(const std::string& token) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "witten", token);
    pb::PutServiceRequest req;
    req.mutable_service()->set_name("services/laterne");
    req.mutable_service()->set_display_name("Laterne defekt");
    pb::Service out;
    return stub_->PutService(&ctx, req, &out);
  }
  pb::Report File(const std::string& token, grpc::Status* status, bool with_photo = false) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "witten", token);
    pb::CreateReportRequest req;
    pb::Report* r = req.mutable_report();
    r->set_service("services/laterne");
    r->set_description("Laterne vor der Post ist dunkel");
    r->mutable_location()->set_latitude(51.4436);
    r->mutable_location()->set_longitude(7.3353);
    r->mutable_contact()->set_phone("0170 1234567");
    if (token.empty()) r->set_device_id("device-42");
    // A whole 2 x 2 PNG: photos are checked as images, not by their first bytes.
    if (with_photo)
      r->add_photos()->set_data(
          std::string("\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00"
                      "\x02\x00\x00\x00\x02\x08\x02\x00\x00\x00\xfd\xd4\x9a\x73\x00\x00\x00\x0b\x49"
                      "\x44\x41\x54\x78\x9c\x63\x60\x40\x06\x00\x00\x0e\x00\x01\xa9\x91\x73\xb1\x00"
                      "\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82",
                      68));
    pb::Report out;
    *status = stub_->CreateReport(&ctx, req, &out);
    return out;
  }
  std::string dir_;
  std::unique_ptr<TestKeys> keys_;
  std::unique_ptr<GatewayProcess> gw_;
  std::unique_ptr<pb::ReportsService::Stub> stub_;
  std::string admin_, editor_, anna_, ben_;
};

TEST_F(ReportsIntegrationTest, RolesContactPrivacyAndWorkflow) {
  EXPECT_EQ(PutService(editor_).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(PutService("").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  ASSERT_TRUE(PutService(admin_).ok());
  grpc::Status s;
  const pb::Report mine = File(anna_, &s, /*with_photo=*/true);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const pb::Report anonymous = File("", &s);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(anonymous.reporter().empty());

  auto get = [&](const std::string& token, const std::string& name) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "witten", token);
    pb::GetReportRequest req;
    req.set_name(name);
    pb::Report out;
    EXPECT_TRUE(stub_->GetReport(&ctx, req, &out).ok());
    return out;
  };
  EXPECT_FALSE(get(ben_, mine.name()).has_contact()) << "a citizen reads another's contact";
  EXPECT_TRUE(get(ben_, anonymous.name()).device_id().empty());
  EXPECT_EQ(get(anna_, mine.name()).contact().phone(), "0170 1234567");
  EXPECT_EQ(get(editor_, anonymous.name()).device_id(), "device-42");

  // Citizens cannot move reports through the workflow; editors can, and the reporter watches.
  pb::UpdateReportStatusRequest update;
  update.set_name(mine.name());
  update.set_status(pb::Report::IN_PROGRESS);
  update.set_note("Auftrag an den Bauhof");
  pb::Report out;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "witten", anna_);
    EXPECT_EQ(stub_->UpdateReportStatus(&ctx, update, &out).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  grpc::ClientContext watch_ctx;
  Prepare(&watch_ctx, "witten", anna_, absl::Seconds(20));
  pb::WatchReportRequest watch;
  watch.set_name(mine.name());
  auto reader = stub_->WatchReport(&watch_ctx, watch);
  pb::Report seen;
  ASSERT_TRUE(reader->Read(&seen));
  EXPECT_EQ(seen.status(), pb::Report::SUBMITTED);
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "witten", editor_);
    ASSERT_TRUE(stub_->UpdateReportStatus(&ctx, update, &out).ok());
  }
  ASSERT_TRUE(reader->Read(&seen));
  EXPECT_EQ(seen.status(), pb::Report::IN_PROGRESS);
  EXPECT_EQ(seen.status_note(), "Auftrag an den Bauhof");
  EXPECT_FALSE(seen.has_contact()) << "followers get the public view";
  watch_ctx.TryCancel();

  grpc::ClientContext list_ctx;
  Prepare(&list_ctx, "witten", ben_);
  pb::ListReportsResponse bens;
  ASSERT_TRUE(stub_->ListMyReports(&list_ctx, pb::ListMyReportsRequest(), &bens).ok());
  EXPECT_EQ(bens.reports_size(), 0);
}

TEST_F(ReportsIntegrationTest, ARefusedReportLeavesNothingBehind) {
  ASSERT_TRUE(PutService(admin_).ok());
  grpc::ClientContext ctx;
  Prepare(&ctx, "witten", anna_);
  pb::CreateReportRequest req;
  pb::Report* r = req.mutable_report();
  r->set_service("services/laterne");
  r->set_description("Zwei Fotos, eines davon kaputt");
  r->set_address("Ruhrstraße 1");
  r->add_photos()->set_data(std::string(
      "\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x02\x00\x00\x00"
      "\x02\x08\x02\x00\x00\x00\xfd\xd4\x9a\x73\x00\x00\x00\x0b\x49\x44\x41\x54\x78\x9c\x63\x60\x40"
      "\x06\x00\x00\x0e\x00\x01\xa9\x91\x73\xb1\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82",
      68));
  r->add_photos()->set_data(std::string("\xFF\xD8\xFF", 3) + "only the first bytes of a JPEG");
  pb::Report out;
  grpc::Status s = stub_->CreateReport(&ctx, req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("report.photos[1] has a JPEG segment past the end"),
            std::string::npos)
      << s.error_message();
  grpc::ClientContext list_ctx;
  Prepare(&list_ctx, "witten");
  pb::ListReportsResponse all;
  ASSERT_TRUE(stub_->ListReports(&list_ctx, pb::ListReportsRequest(), &all).ok());
  EXPECT_EQ(all.reports_size(), 0);
}

}  // namespace
}  // namespace civitas::testing

namespace civitas::testing {
namespace {

// ClaimReport through the gateway: anonymous callers are refused before the module, a wrong
// secret claims nothing, guessing is stopped by the write limit, and the right secret works for
// the sender afterwards.
constexpr char kClaimConfig[] = R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: jwks.json
logging:
  access_log: false
limits:
  write_rate: {per_subject: {per_minute: 20, burst: 10}}
cities:
  - id: witten
    modules:
      - id: civitas.reports
        config:
          area: {min_latitude: 51.39, max_latitude: 51.48, min_longitude: 7.25, max_longitude: 7.43}
)";

TEST(ReportClaimTest, WrongCallersAndGuessersClaimNothing) {
  const std::string dir = NewTempDir("claim");
  TestKeys keys(dir);
  std::unique_ptr<GatewayProcess> gw = GatewayProcess::Start(dir, kClaimConfig);
  ASSERT_NE(gw, nullptr);
  auto stub = pb::ReportsService::NewStub(gw->channel());
  const std::string admin = keys.Mint("it", "witten", {"admin"});
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "witten", admin);
    pb::PutServiceRequest req;
    req.mutable_service()->set_name("services/laterne");
    req.mutable_service()->set_display_name("Laterne defekt");
    pb::Service out;
    ASSERT_TRUE(stub->PutService(&ctx, req, &out).ok());
  }
  pb::Report sent;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "witten");
    pb::CreateReportRequest req;
    req.mutable_report()->set_service("services/laterne");
    req.mutable_report()->set_description("Laterne am Bahnhof ist dunkel");
    req.mutable_report()->set_address("Bahnhofstraße 1");
    req.mutable_report()->set_device_id("phone-9");
    ASSERT_TRUE(stub->CreateReport(&ctx, req, &sent).ok());
  }
  ASSERT_FALSE(sent.claim_secret().empty());
  auto claim = [&](const std::string& token, const std::string& secret) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "witten", token);
    pb::ClaimReportRequest req;
    req.set_name(sent.name());
    req.set_claim_secret(secret);
    pb::Report out;
    return stub->ClaimReport(&ctx, req, &out);
  };
  EXPECT_EQ(claim("", sent.claim_secret()).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(claim(keys.Mint("ben", "witten", {}), std::string(65, 'a')).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // A guesser: refused every time, then stopped by the write limit.
  const std::string ben = keys.Mint("ben", "witten", {});
  int refused = 0, limited = 0;
  for (int i = 0; i < 40; ++i) {
    const grpc::StatusCode code =
        claim(ben, absl::StrCat(i, "0000000000000000000000000000000")).error_code();
    if (code == grpc::StatusCode::PERMISSION_DENIED) ++refused;
    if (code == grpc::StatusCode::RESOURCE_EXHAUSTED) ++limited;
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(limited, 0) << "guessing claim secrets is a write like any other";
  EXPECT_EQ(refused + limited, 40);
  // The sender, signed in, claims it; the guesser still cannot.
  ASSERT_TRUE(claim(keys.Mint("anna", "witten", {}), sent.claim_secret()).ok());
  EXPECT_NE(claim(ben, sent.claim_secret()).error_code(), grpc::StatusCode::OK);
}

}  // namespace
}  // namespace civitas::testing
