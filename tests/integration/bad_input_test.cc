// Bad input against every method of every module, through the real gateway: random bytes,
// truncated and oversized messages, invalid UTF-8, absurd page sizes, unknown methods and cities,
// expired and forged tokens, wrong roles. Every answer is a proper gRPC status with a message, the
// gateway keeps serving, and nothing is left behind.
#include <google/protobuf/dynamic_message.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "civitas/events/v1/events.grpc.pb.h"
#include "civitas/news/v1/news.grpc.pb.h"
#include "civitas/noticeboard/v1/noticeboard.grpc.pb.h"
#include "civitas/participation/v1/participation.grpc.pb.h"
#include "civitas/reports/v1/reports.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/integration/gateway_process.h"

namespace civitas::testing {
namespace {

namespace gpb = google::protobuf;

constexpr char kConfig[] = R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: jwks.json
limits:
  max_request_bytes: 1048576
  # Every method is called many times from one address: no write-rate limits here (they have
  # their own test in abuse_test).
  write_rate: {per_subject: {per_minute: 0}, anonymous_per_peer: {per_minute: 0}}
logging:
  access_log: false
cities:
  - id: iserlohn
    modules:
      - id: civitas.noticeboard
      - id: civitas.news
      - id: civitas.events
      - id: civitas.participation
      - id: civitas.reports
)";

// The role each method requires (the modules' declarations, as documented in their READMEs):
// A anyone, C signed-in citizen, E editor, M moderator, D admin.
const std::map<std::string, char>& Roles() {
  static const std::map<std::string, char> roles = {
      {"NoticeboardService.ListNotices", 'A'},
      {"NoticeboardService.GetNotice", 'A'},
      {"NoticeboardService.CreateNotice", 'C'},
      {"NoticeboardService.DeleteNotice", 'C'},
      {"NoticeboardService.ThankNotice", 'C'},
      {"NoticeboardService.WatchNotices", 'A'},
      {"NewsService.ListArticles", 'A'},
      {"NewsService.GetArticle", 'A'},
      {"NewsService.CreateArticle", 'E'},
      {"NewsService.UpdateArticle", 'E'},
      {"NewsService.DeleteArticle", 'E'},
      {"NewsService.PublishArticle", 'E'},
      {"NewsService.ApproveArticle", 'E'},
      {"NewsService.ListArticleHistory", 'E'},
      {"NewsService.ListCategories", 'A'},
      {"NewsService.WatchArticles", 'A'},
      {"NewsService.ListChanges", 'A'},
      {"NewsService.ExportFeed", 'A'},
      {"NewsService.ImportFeed", 'E'},
      {"EventsService.ListEvents", 'A'},
      {"EventsService.GetEvent", 'A'},
      {"EventsService.CreateEvent", 'E'},
      {"EventsService.UpdateEvent", 'E'},
      {"EventsService.DeleteEvent", 'E'},
      {"EventsService.RegisterForEvent", 'C'},
      {"EventsService.CancelRegistration", 'C'},
      {"EventsService.ListEventRegistrations", 'E'},
      {"EventsService.ListMyRegistrations", 'C'},
      {"EventsService.ListCategories", 'A'},
      {"EventsService.WatchEvents", 'A'},
      {"EventsService.ListChanges", 'A'},
      {"EventsService.ExportCalendar", 'A'},
      {"EventsService.ImportCalendar", 'E'},
      {"ParticipationService.CreateIdea", 'C'},
      {"ParticipationService.GetIdea", 'A'},
      {"ParticipationService.ListIdeas", 'A'},
      {"ParticipationService.AnswerIdea", 'E'},
      {"ParticipationService.SupportIdea", 'C'},
      {"ParticipationService.WithdrawSupport", 'C'},
      {"ParticipationService.CreateComment", 'C'},
      {"ParticipationService.ListComments", 'A'},
      {"ParticipationService.UpdateComment", 'C'},
      {"ParticipationService.DeleteComment", 'C'},
      {"ParticipationService.CreatePoll", 'E'},
      {"ParticipationService.GetPoll", 'A'},
      {"ParticipationService.ListPolls", 'A'},
      {"ParticipationService.ClosePoll", 'E'},
      {"ParticipationService.CastBallot", 'C'},
      {"ParticipationService.FlagContent", 'C'},
      {"ParticipationService.ListFlaggedContent", 'M'},
      {"ParticipationService.ModerateContent", 'M'},
      {"ParticipationService.ListAuditEntries", 'M'},
      {"ParticipationService.ListMyContributions", 'C'},
      {"ParticipationService.ErasePersonalData", 'C'},
      {"ReportsService.ListServices", 'A'},
      {"ReportsService.GetService", 'A'},
      {"ReportsService.PutService", 'D'},
      {"ReportsService.DeleteService", 'D'},
      {"ReportsService.CreateReport", 'A'},
      {"ReportsService.GetReport", 'A'},
      {"ReportsService.ListReports", 'A'},
      {"ReportsService.ListMyReports", 'C'},
      {"ReportsService.ClaimReport", 'C'},
      {"ReportsService.WatchReport", 'A'},
      {"ReportsService.UpdateReportStatus", 'E'},
      {"ReportsService.GetReportPhoto", 'A'},
      {"ReportsService.GetOpen311", 'A'}};
  return roles;
}

std::vector<const gpb::ServiceDescriptor*> Services() {
  // Referencing one message of each file links the file (and its service) in.
  return {civitas::noticeboard::v1::Notice::descriptor()->file()->service(0),
          civitas::news::v1::Article::descriptor()->file()->service(0),
          civitas::events::v1::Event::descriptor()->file()->service(0),
          civitas::participation::v1::Idea::descriptor()->file()->service(0),
          civitas::reports::v1::Report::descriptor()->file()->service(0)};
}

bool Proper(grpc::StatusCode code) {
  return code != grpc::StatusCode::UNKNOWN && code != grpc::StatusCode::INTERNAL &&
         code != grpc::StatusCode::DATA_LOSS;
}

class BadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir("gw");
    keys_ = std::make_unique<TestKeys>(dir_);
    gw_ = GatewayProcess::Start(dir_, kConfig);
    ASSERT_NE(gw_, nullptr);
    stub_ = std::make_unique<grpc::GenericStub>(gw_->channel());
    staff_ = keys_->Mint("staff", "iserlohn", {"editor", "moderator", "admin"});
    citizen_ = keys_->Mint("anna", "iserlohn", {});
  }

  // One call; streams are read until they end (their deadline is short).
  grpc::Status Call(const std::string& path, const std::string& bytes, const std::string& token,
                    bool streaming, const std::string& city = "iserlohn") {
    grpc::ClientContext ctx;
    Prepare(&ctx, city, token, absl::Milliseconds(streaming ? 500 : 5000));
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1), response;
    if (!streaming) {
      grpc::CompletionQueue cq;
      auto call = stub_->PrepareUnaryCall(&ctx, path, request, &cq);
      call->StartCall();
      grpc::Status status;
      call->Finish(&response, &status, reinterpret_cast<void*>(1));
      void* tag;
      bool ok;
      cq.Next(&tag, &ok);
      return status;
    }
    grpc::CompletionQueue cq;
    auto call = stub_->PrepareCall(&ctx, path, &cq);
    void* tag;
    bool ok;
    call->StartCall(reinterpret_cast<void*>(1));
    cq.Next(&tag, &ok);
    call->Write(request, reinterpret_cast<void*>(2));
    cq.Next(&tag, &ok);
    call->WritesDone(reinterpret_cast<void*>(3));
    cq.Next(&tag, &ok);
    for (;;) {
      call->Read(&response, reinterpret_cast<void*>(4));
      cq.Next(&tag, &ok);
      if (!ok) break;
    }
    grpc::Status status;
    call->Finish(&status, reinterpret_cast<void*>(5));
    cq.Next(&tag, &ok);
    return status;
  }

  // Items each module holds, to show nothing was written by refused calls.
  std::string Census() {
    std::string out;
    for (const auto& [path, request] : std::vector<std::pair<std::string, std::string>>{
             {"/civitas.noticeboard.v1.NoticeboardService/ListNotices", ""},
             {"/civitas.news.v1.NewsService/ListChanges", ""},
             {"/civitas.events.v1.EventsService/ListChanges", ""},
             {"/civitas.participation.v1.ParticipationService/ListIdeas", ""},
             {"/civitas.reports.v1.ReportsService/ListServices", ""},
             {"/civitas.reports.v1.ReportsService/ListReports", ""}}) {
      grpc::ClientContext ctx;
      Prepare(&ctx, "iserlohn", staff_);
      grpc::Slice slice(request);
      grpc::ByteBuffer req(&slice, 1), resp;
      grpc::CompletionQueue cq;
      auto call = stub_->PrepareUnaryCall(&ctx, path, req, &cq);
      call->StartCall();
      grpc::Status status;
      call->Finish(&resp, &status, reinterpret_cast<void*>(1));
      void* tag;
      bool ok;
      cq.Next(&tag, &ok);
      EXPECT_TRUE(status.ok()) << path << ": " << status.error_message();
      out += path + "=" + std::to_string(resp.Length()) + ";";
    }
    return out;
  }

  std::string dir_;
  std::unique_ptr<TestKeys> keys_;
  std::unique_ptr<GatewayProcess> gw_;
  std::unique_ptr<grpc::GenericStub> stub_;
  std::string staff_, citizen_;
};

TEST_F(BadInputTest, EveryMethodAnswersBadInputProperlyAndKeepsServing) {
  const std::string before = Census();
  const std::string expired = keys_->Mint("staff", "iserlohn", {"editor", "admin"},
                                          absl::Seconds(1), absl::Now() - absl::Hours(3));
  const std::string forged = staff_.substr(0, staff_.size() - 6) + "AAAAAA";
  gpb::DynamicMessageFactory factory;
  std::mt19937 rng(20261127);
  int methods = 0, calls = 0;
  for (const gpb::ServiceDescriptor* service : Services()) {
    for (int m = 0; m < service->method_count(); ++m) {
      const gpb::MethodDescriptor* method = service->method(m);
      const std::string key = service->name() + "." + method->name();
      ASSERT_TRUE(Roles().count(key)) << key << " has no expected role in this test";
      const char role = Roles().at(key);
      const std::string path = "/" + service->full_name() + "/" + method->name();
      const bool streaming = method->server_streaming();
      auto expect = [&](const std::string& what, const std::string& bytes, const std::string& token,
                        std::optional<grpc::StatusCode> wanted) {
        grpc::Status s = Call(path, bytes, token, streaming);
        ++calls;
        if (getenv("CIVITAS_TEST_VERBOSE")) {
          std::cerr << key << " " << what << " -> " << s.error_code() << " " << s.error_message()
                    << "\n";
        }
        EXPECT_TRUE(Proper(s.error_code()))
            << key << " " << what << ": " << s.error_code() << " " << s.error_message();
        if (!s.ok()) {
          EXPECT_FALSE(s.error_message().empty()) << key << " " << what;
        }
        if (wanted) {
          EXPECT_EQ(s.error_code(), *wanted) << key << " " << what << ": " << s.error_message();
        }
      };
      ++methods;
      // Random bytes, as a caller who passes every role check.
      for (int i = 0; i < 3; ++i) {
        std::string junk(1 + rng() % 200, '\0');
        for (char& c : junk) c = static_cast<char>(rng());
        expect("random bytes", junk, staff_, std::nullopt);
      }
      // An empty request reaches the module's own checks.
      expect("empty request", "", staff_, std::nullopt);
      // A well-formed request, then truncated, with invalid UTF-8, with an absurd page size.
      std::unique_ptr<gpb::Message> req(factory.GetPrototype(method->input_type())->New());
      const gpb::Descriptor* d = method->input_type();
      const gpb::FieldDescriptor* text = nullptr;
      for (int f = 0; f < d->field_count(); ++f) {
        const gpb::FieldDescriptor* fd = d->field(f);
        if (fd->type() == gpb::FieldDescriptor::TYPE_STRING && !fd->is_repeated() && !text)
          text = fd;
      }
      if (text) {
        req->GetReflection()->SetString(req.get(), text, std::string(120, 'x'));
        const std::string full = req->SerializeAsString();
        expect("truncated", full.substr(0, full.size() / 2), staff_,
               grpc::StatusCode::INVALID_ARGUMENT);
        // Written by hand: tag of the string field, length 2, bytes C3 28 (not UTF-8).
        std::string wire;
        wire.push_back(static_cast<char>((text->number() << 3) | 2));
        wire += "\x02\xc3\x28";
        expect("invalid UTF-8", wire, staff_, grpc::StatusCode::INVALID_ARGUMENT);
      }
      if (const gpb::FieldDescriptor* page = d->FindFieldByName("page_size")) {
        std::unique_ptr<gpb::Message> huge(factory.GetPrototype(d)->New());
        huge->GetReflection()->SetInt32(huge.get(), page, 2147483647);
        expect("huge page_size", huge->SerializeAsString(), staff_,
               grpc::StatusCode::INVALID_ARGUMENT);
      }
      // Tokens and roles.
      expect("expired token", "", expired, grpc::StatusCode::UNAUTHENTICATED);
      expect("forged token", "", forged, grpc::StatusCode::UNAUTHENTICATED);
      if (role != 'A') expect("anonymous", "", "", grpc::StatusCode::UNAUTHENTICATED);
      if (role == 'E' || role == 'M' || role == 'D') {
        expect("citizen", "", citizen_, grpc::StatusCode::PERMISSION_DENIED);
      }
      // An unknown city.
      grpc::Status s = Call(path, "", staff_, streaming, "atlantis");
      EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << key;
    }
    // Per service: an unknown method and an oversized message.
    grpc::Status s = Call("/" + service->full_name() + "/NoSuchMethod", "", staff_, false);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED) << service->full_name();
    s = Call("/" + service->full_name() + "/" + service->method(0)->name(),
             std::string(2 << 20, 'x'), staff_, false);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << service->full_name();
  }
  EXPECT_EQ(methods, static_cast<int>(Roles().size())) << "every method was tried";
  EXPECT_GT(calls, 400);

  // Still serving, and nothing was written.
  auto health = grpc::health::v1::Health::NewStub(gw_->channel());
  grpc::ClientContext ctx;
  Prepare(&ctx);
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(health->Check(&ctx, grpc::health::v1::HealthCheckRequest(), &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_TRUE(gw_->running());
  EXPECT_EQ(Census(), before);
}

}  // namespace
}  // namespace civitas::testing
