// The events module through the real gateway: the last seats under many parallel registrations,
// roles, one registration per user, and calendar import between cities through civitasctl.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "civitas/events/v1/events.grpc.pb.h"
#include "tests/integration/gateway_process.h"

namespace civitas::testing {
namespace {

namespace pb = civitas::events::v1;

constexpr char kConfig[] = R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: jwks.json
logging:
  access_log: false
cities:
  - id: hagen
    time_zone: Europe/Berlin
    modules:
      - id: civitas.events
)";

class EventsIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir("gw");
    keys_ = std::make_unique<TestKeys>(dir_);
    gw_ = GatewayProcess::Start(dir_, kConfig);
    ASSERT_NE(gw_, nullptr);
    stub_ = pb::EventsService::NewStub(gw_->channel());
    editor_ = keys_->Mint("kulturbuero", "hagen", {"editor"});
  }

  pb::Event CreateEvent(int capacity, const std::string& rule = "") {
    grpc::ClientContext ctx;
    Prepare(&ctx, "hagen", editor_);
    pb::CreateEventRequest req;
    pb::Event* e = req.mutable_event();
    e->set_title("Führung durch das Freilichtmuseum");
    const int64_t start = absl::ToUnixSeconds(absl::Now() + absl::Hours(48));
    e->mutable_start_time()->set_seconds(start);
    e->mutable_end_time()->set_seconds(start + 7200);
    e->set_recurrence_rule(rule);
    e->set_capacity(capacity);
    e->set_registration_open(capacity > 0);
    pb::Event out;
    grpc::Status s = stub_->CreateEvent(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  std::string dir_;
  std::unique_ptr<TestKeys> keys_;
  std::unique_ptr<GatewayProcess> gw_;
  std::unique_ptr<pb::EventsService::Stub> stub_;
  std::string editor_;
};

TEST_F(EventsIntegrationTest, ParallelRegistrationsNeverExceedCapacity) {
  const pb::Event event = CreateEvent(5);
  constexpr int kUsers = 48;
  std::vector<std::string> tokens;
  for (int i = 0; i < kUsers; ++i)
    tokens.push_back(keys_->Mint("user" + std::to_string(i), "hagen", {}));
  std::atomic<int> ok{0}, full{0}, duplicate{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kUsers; ++i) {
    threads.emplace_back([&, i] {
      // Every user tries twice at once: one of the two must be refused as a duplicate or full.
      for (int attempt = 0; attempt < 2; ++attempt) {
        grpc::ClientContext ctx;
        Prepare(&ctx, "hagen", tokens[i]);
        pb::RegisterForEventRequest req;
        req.set_name(event.name());
        pb::Registration r;
        grpc::Status s = stub_->RegisterForEvent(&ctx, req, &r);
        if (s.ok()) {
          ++ok;
        } else if (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
          ++full;
        } else if (s.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
          ++duplicate;
        } else {
          ++other;
          ADD_FAILURE() << s.error_code() << " " << s.error_message();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 5);
  EXPECT_EQ(ok + full + duplicate, 2 * kUsers);
  EXPECT_EQ(other, 0);

  // The stored count agrees: the occurrence shows 5 registered, 0 left.
  grpc::ClientContext ctx;
  Prepare(&ctx, "hagen");
  pb::ListEventsRequest list;
  pb::ListEventsResponse resp;
  ASSERT_TRUE(stub_->ListEvents(&ctx, list, &resp).ok());
  ASSERT_EQ(resp.occurrences_size(), 1);
  EXPECT_EQ(resp.occurrences(0).registered(), 5);
  EXPECT_EQ(resp.occurrences(0).seats_left(), 0);
  // And every holder sees exactly one registration.
  int holders = 0;
  for (int i = 0; i < kUsers; ++i) {
    grpc::ClientContext c;
    Prepare(&c, "hagen", tokens[i]);
    pb::ListMyRegistrationsResponse mine;
    ASSERT_TRUE(stub_->ListMyRegistrations(&c, pb::ListMyRegistrationsRequest(), &mine).ok());
    ASSERT_LE(mine.registrations_size(), 1);
    holders += mine.registrations_size();
  }
  EXPECT_EQ(holders, 5);
}

TEST_F(EventsIntegrationTest, EditorsListWhoRegisteredOthersMayNot) {
  const pb::Event event = CreateEvent(10, "FREQ=WEEKLY;COUNT=3");
  std::vector<std::string> subjects = {"berta", "anton", "cem"};
  for (size_t i = 0; i < subjects.size(); ++i) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "hagen", keys_->Mint(subjects[i], "hagen", {}));
    pb::RegisterForEventRequest req;
    req.set_name(event.name());
    if (i == 2) {  // Cem takes the second date
      req.mutable_occurrence_start()->set_seconds(event.start_time().seconds() + 7 * 86400);
    }
    pb::Registration r;
    grpc::Status s = stub_->RegisterForEvent(&ctx, req, &r);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(r.registrant().empty()) << "a citizen's own answer names nobody";
  }
  auto list = [&](const std::string& token, pb::ListEventRegistrationsRequest req,
                  pb::ListEventRegistrationsResponse* out) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "hagen", token);
    return stub_->ListEventRegistrations(&ctx, req, out);
  };
  pb::ListEventRegistrationsRequest req;
  req.set_parent(event.name());
  pb::ListEventRegistrationsResponse out;
  // Registrants are personal data: editors only.
  EXPECT_EQ(list("", req, &out).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(list(keys_->Mint("anton", "hagen", {}), req, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(list(keys_->Mint("mod", "hagen", {"moderator"}), req, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  grpc::Status s = list(editor_, req, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(out.registrations_size(), 3);
  // By date, then by subject.
  EXPECT_EQ(out.registrations(0).registrant(), "anton");
  EXPECT_EQ(out.registrations(1).registrant(), "berta");
  EXPECT_EQ(out.registrations(2).registrant(), "cem");
  EXPECT_EQ(out.registrations(2).occurrence_start().seconds(),
            event.start_time().seconds() + 7 * 86400);
  // Pages of two; one date only.
  req.set_page_size(2);
  ASSERT_TRUE(list(editor_, req, &out).ok());
  ASSERT_EQ(out.registrations_size(), 2);
  ASSERT_FALSE(out.next_page_token().empty());
  req.set_page_token(out.next_page_token());
  pb::ListEventRegistrationsResponse rest;
  ASSERT_TRUE(list(editor_, req, &rest).ok());
  ASSERT_EQ(rest.registrations_size(), 1);
  EXPECT_EQ(rest.registrations(0).registrant(), "cem");
  EXPECT_TRUE(rest.next_page_token().empty());
  pb::ListEventRegistrationsRequest first;
  first.set_parent(event.name());
  *first.mutable_occurrence_start() = event.start_time();
  ASSERT_TRUE(list(editor_, first, &out).ok());
  EXPECT_EQ(out.registrations_size(), 2);
  // Bounds and garbage.
  req.set_page_token("");
  req.set_page_size(501);
  EXPECT_EQ(list(editor_, req, &out).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req.set_page_size(0);
  req.set_page_token("not-a-token");
  EXPECT_EQ(list(editor_, req, &out).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req.set_page_token("");
  req.set_parent("events/0000000000000000");
  EXPECT_EQ(list(editor_, req, &out).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(EventsIntegrationTest, RolesAreEnforced) {
  const pb::Event event = CreateEvent(3);
  const std::string citizen = keys_->Mint("anna", "hagen", {});
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "hagen", citizen);
    pb::CreateEventRequest req;
    *req.mutable_event() = event;
    pb::Event out;
    EXPECT_EQ(stub_->CreateEvent(&ctx, req, &out).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "hagen");
    pb::RegisterForEventRequest req;
    req.set_name(event.name());
    pb::Registration r;
    EXPECT_EQ(stub_->RegisterForEvent(&ctx, req, &r).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "hagen", citizen);
    pb::DeleteEventRequest req;
    req.set_name(event.name());
    google::protobuf::Empty e;
    EXPECT_EQ(stub_->DeleteEvent(&ctx, req, &e).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  // Deleting the event takes its registrations with it.
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "hagen", citizen);
    pb::RegisterForEventRequest req;
    req.set_name(event.name());
    pb::Registration r;
    ASSERT_TRUE(stub_->RegisterForEvent(&ctx, req, &r).ok());
    grpc::ClientContext del_ctx;
    Prepare(&del_ctx, "hagen", editor_);
    pb::DeleteEventRequest del;
    del.set_name(event.name());
    google::protobuf::Empty e;
    ASSERT_TRUE(stub_->DeleteEvent(&del_ctx, del, &e).ok());
    grpc::ClientContext mine_ctx;
    Prepare(&mine_ctx, "hagen", citizen);
    pb::ListMyRegistrationsResponse mine;
    ASSERT_TRUE(
        stub_->ListMyRegistrations(&mine_ctx, pb::ListMyRegistrationsRequest(), &mine).ok());
    EXPECT_EQ(mine.registrations_size(), 0);
  }
}

TEST_F(EventsIntegrationTest, CivitasctlImportsACalendarFileIdempotently) {
  const std::string ics = dir_ + "/kalender.ics";
  std::ofstream(ics) << "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Kreis//DE\r\n"
                        "BEGIN:VEVENT\r\nUID:kreis-1@kreis.example\r\nDTSTAMP:20260101T000000Z\r\n"
                        "DTSTART;TZID=Europe/Berlin:20270105T190000\r\nDURATION:PT2H\r\n"
                        "RRULE:FREQ=MONTHLY;BYDAY=1TU;COUNT=6\r\nSUMMARY:Kreistag\r\n"
                        "END:VEVENT\r\nEND:VCALENDAR\r\n";
  std::vector<std::string> argv = {CtlBinary(), "import",      "events",  "--city", "hagen",
                                   "--gateway", gw_->target(), "--token", editor_,  ics};
  std::string output;
  ASSERT_EQ(RunCommand(argv, &output), 0) << output;
  EXPECT_NE(output.find("created 1, updated 0, unchanged 0"), std::string::npos) << output;
  ASSERT_EQ(RunCommand(argv, &output), 0) << output;
  EXPECT_NE(output.find("created 0, updated 0, unchanged 1"), std::string::npos) << output;

  grpc::ClientContext ctx;
  Prepare(&ctx, "hagen");
  pb::ListEventsRequest list;
  list.mutable_start_time()->set_seconds(
      absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(2027, 1, 1), absl::UTCTimeZone())));
  list.mutable_end_time()->set_seconds(list.start_time().seconds() + 200 * 86400);
  pb::ListEventsResponse resp;
  ASSERT_TRUE(stub_->ListEvents(&ctx, list, &resp).ok());
  ASSERT_EQ(resp.occurrences_size(), 6);
  // First Tuesday of February 2027 at 19:00 local = 18:00 UTC.
  EXPECT_EQ(absl::FormatTime("%Y-%m-%d %H:%M",
                             absl::FromUnixSeconds(resp.occurrences(1).start_time().seconds()),
                             absl::UTCTimeZone()),
            "2027-02-02 18:00");
  EXPECT_EQ(resp.occurrences(0).end_time().seconds() - resp.occurrences(0).start_time().seconds(),
            7200);
}

}  // namespace
}  // namespace civitas::testing
