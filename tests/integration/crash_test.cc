// Durability under SIGKILL: with the default `sync` durability, every write the gateway
// acknowledged is there after a crash, and counters equal the writes that were acknowledged.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "civitas/events/v1/events.grpc.pb.h"
#include "civitas/news/v1/news.grpc.pb.h"
#include "civitas/noticeboard/v1/noticeboard.grpc.pb.h"
#include "civitas/participation/v1/participation.grpc.pb.h"
#include "civitas/testing/v1/places.grpc.pb.h"
#include "tests/integration/gateway_process.h"

namespace civitas::testing {
namespace {

namespace nb = civitas::noticeboard::v1;
namespace places = civitas::testing::v1;

constexpr char kConfig[] = R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: jwks.json
limits:
  # Write load as fast as the clients can: no write-rate limits.
  write_rate: {per_subject: {per_minute: 0}}
logging:
  access_log: false
cities:
  - id: bochum
    modules:
      - id: civitas.noticeboard
      - id: civitas.testing.places
        path: {fixtures}/civitas.testing.places.so
)";

TEST(CrashTest, AcknowledgedWritesSurviveSigkill) {
  const std::string dir = NewTempDir("gw");
  TestKeys keys(dir);
  const std::string token = keys.Mint("anna", "bochum", {});
  std::mt19937 rng(std::random_device{}());
  std::set<std::string> acknowledged_notices;
  int64_t acknowledged_increments = 0;
  int64_t acknowledged_thanks = 0;
  std::string thanked;  // one notice everyone thanks

  for (int round = 0; round < 8; ++round) {
    auto gw = GatewayProcess::Start(dir, kConfig);
    ASSERT_NE(gw, nullptr);
    auto board = nb::NoticeboardService::NewStub(gw->channel());
    auto counter = places::PlacesService::NewStub(gw->channel());

    // Everything acknowledged before this start must be here.
    std::set<std::string> present;
    std::string page;
    do {
      grpc::ClientContext ctx;
      Prepare(&ctx);
      nb::ListNoticesRequest req;
      req.set_page_size(100);
      req.set_page_token(page);
      nb::ListNoticesResponse resp;
      ASSERT_TRUE(board->ListNotices(&ctx, req, &resp).ok());
      for (const auto& n : resp.notices()) present.insert(n.name());
      page = resp.next_page_token();
    } while (!page.empty());
    for (const std::string& name : acknowledged_notices) {
      ASSERT_TRUE(present.count(name)) << "acknowledged notice lost: " << name;
    }
    if (!thanked.empty()) {
      grpc::ClientContext ctx;
      Prepare(&ctx);
      nb::GetNoticeRequest get;
      get.set_name(thanked);
      nb::Notice n;
      ASSERT_TRUE(board->GetNotice(&ctx, get, &n).ok());
      // Every acknowledged thank is counted; a thank that was in flight at the kill may be too.
      EXPECT_GE(n.thanks_count(), acknowledged_thanks);
      EXPECT_LE(n.thanks_count(), acknowledged_thanks + 2);
      acknowledged_thanks = n.thanks_count();
    } else {
      grpc::ClientContext ctx;
      Prepare(&ctx, "", token);
      nb::CreateNoticeRequest req;
      req.mutable_notice()->set_title("danke");
      nb::Notice n;
      ASSERT_TRUE(board->CreateNotice(&ctx, req, &n).ok());
      thanked = n.name();
      acknowledged_notices.insert(n.name());
    }
    {
      // The read-modify-write counter: its value is the number of acknowledged increments,
      // or one more if an increment was committed but its answer lost in the kill.
      grpc::ClientContext ctx;
      Prepare(&ctx);
      places::IncrementResponse resp;
      ASSERT_TRUE(counter->Increment(&ctx, places::IncrementRequest(), &resp).ok());
      EXPECT_GE(resp.value() - 1, acknowledged_increments);
      EXPECT_LE(resp.value() - 1, acknowledged_increments + 2);
      acknowledged_increments = resp.value();
    }

    // Write load from three clients, then SIGKILL at a random moment.
    std::atomic<bool> stop{false};
    std::mutex mu;
    std::vector<std::thread> writers;
    for (int w = 0; w < 3; ++w) {
      writers.emplace_back([&, w] {
        for (int i = 0; !stop.load(); ++i) {
          grpc::ClientContext ctx;
          Prepare(&ctx, "", token, absl::Seconds(5));
          grpc::Status s;
          if (w == 0) {
            nb::CreateNoticeRequest req;
            req.mutable_notice()->set_title("round " + std::to_string(round));
            nb::Notice n;
            s = board->CreateNotice(&ctx, req, &n);
            if (s.ok()) {
              std::lock_guard<std::mutex> lock(mu);
              acknowledged_notices.insert(n.name());
            }
          } else if (w == 1) {
            places::IncrementResponse resp;
            s = counter->Increment(&ctx, places::IncrementRequest(), &resp);
            if (s.ok()) {
              std::lock_guard<std::mutex> lock(mu);
              acknowledged_increments = std::max<int64_t>(acknowledged_increments, resp.value());
            }
          } else {
            nb::ThankNoticeRequest thank;
            thank.set_name(thanked);
            nb::Notice n;
            s = board->ThankNotice(&ctx, thank, &n);
            if (s.ok()) {
              std::lock_guard<std::mutex> lock(mu);
              acknowledged_thanks = std::max<int64_t>(acknowledged_thanks, n.thanks_count());
            }
          }
          if (!s.ok()) break;  // the gateway is gone
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 400));
    gw->Kill();
    stop = true;
    for (auto& t : writers) t.join();
  }
  EXPECT_GT(acknowledged_notices.size(), 8u) << "the load wrote something each round";
}

constexpr char kContentConfig[] = R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: jwks.json
limits:
  # Write load as fast as the clients can: no write-rate limits.
  write_rate: {per_subject: {per_minute: 0}}
logging:
  access_log: false
cities:
  - id: hamm
    modules:
      - id: civitas.news
      - id: civitas.events
      - id: civitas.participation
        config: {writes_per_minute: 10000}
)";

// Articles, registrations, supports and ballots under SIGKILL: every acknowledged write is there
// after the restart, and every count equals the records it counts.
TEST(CrashTest, ContentWritesSurviveSigkillAndCountsMatchTheirRecords) {
  namespace news = civitas::news::v1;
  namespace ev = civitas::events::v1;
  namespace part = civitas::participation::v1;
  const std::string dir = NewTempDir("gw");
  TestKeys keys(dir);
  const std::string editor = keys.Mint("redaktion", "hamm", {"editor"});
  constexpr int kUsers = 40;
  std::vector<std::string> users;
  for (int u = 0; u < kUsers; ++u) users.push_back(keys.Mint("u" + std::to_string(u), "hamm", {}));
  std::mt19937 rng(std::random_device{}());
  std::set<std::string> articles;
  std::set<int> registered, supported;  // users acknowledged
  std::map<int, int> voted;             // user -> option of the last acknowledged ballot
  std::string event, idea, poll;
  int64_t first_start = 0;
  for (int round = 0; round < 6; ++round) {
    auto gw = GatewayProcess::Start(dir, kContentConfig);
    ASSERT_NE(gw, nullptr);
    auto n = news::NewsService::NewStub(gw->channel());
    auto e = ev::EventsService::NewStub(gw->channel());
    auto p = part::ParticipationService::NewStub(gw->channel());
    auto ctx_for = [&](grpc::ClientContext* ctx, const std::string& token) {
      Prepare(ctx, "hamm", token, absl::Seconds(5));
    };
    if (round == 0) {
      grpc::ClientContext c1, c2, c3, c4;
      ctx_for(&c1, editor);
      ev::CreateEventRequest er;
      first_start = absl::ToUnixSeconds(absl::Now()) + 86400;
      er.mutable_event()->set_title("Stadtfest");
      er.mutable_event()->mutable_start_time()->set_seconds(first_start);
      er.mutable_event()->mutable_end_time()->set_seconds(first_start + 3600);
      er.mutable_event()->set_capacity(1000);
      er.mutable_event()->set_registration_open(true);
      ev::Event created_event;
      ASSERT_TRUE(e->CreateEvent(&c1, er, &created_event).ok());
      event = created_event.name();
      ctx_for(&c2, users[0]);
      part::CreateIdeaRequest ir;
      ir.mutable_idea()->set_title("Mehr Bäume");
      ir.mutable_idea()->set_body("Bäume für die Innenstadt, bitte.");
      ir.mutable_idea()->set_author_display_name("U0");
      part::Idea created_idea;
      ASSERT_TRUE(p->CreateIdea(&c2, ir, &created_idea).ok());
      idea = created_idea.name();
      ctx_for(&c3, editor);
      part::CreatePollRequest pr;
      pr.mutable_poll()->set_title("Welcher Baum?");
      auto* q = pr.mutable_poll()->add_questions();
      q->set_text("Baumart");
      for (const char* o : {"Linde", "Ahorn", "Eiche"}) q->add_options()->set_text(o);
      pr.mutable_poll()->mutable_close_time()->set_seconds(first_start);
      pr.mutable_poll()->set_ballots_changeable(true);
      part::Poll created_poll;
      ASSERT_TRUE(p->CreatePoll(&c3, pr, &created_poll).ok());
      poll = created_poll.name();
    }

    // Everything acknowledged is here, and counts equal their records.
    for (const std::string& a : articles) {
      grpc::ClientContext ctx;
      ctx_for(&ctx, editor);
      news::GetArticleRequest get;
      get.set_name(a);
      news::Article out;
      ASSERT_TRUE(n->GetArticle(&ctx, get, &out).ok()) << "acknowledged article lost: " << a;
    }
    int supporters = 0;
    std::map<int, int> tally_from_ballots;
    for (int u = 0; u < kUsers; ++u) {
      grpc::ClientContext c1;
      ctx_for(&c1, users[u]);
      ev::ListMyRegistrationsResponse regs;
      ASSERT_TRUE(e->ListMyRegistrations(&c1, ev::ListMyRegistrationsRequest(), &regs).ok());
      if (registered.count(u)) {
        EXPECT_EQ(regs.registrations_size(), 1) << "registration lost, user " << u;
      }
      if (regs.registrations_size() == 1) registered.insert(u);  // committed before the kill
      grpc::ClientContext c2;
      ctx_for(&c2, users[u]);
      part::ListMyContributionsResponse mine;
      ASSERT_TRUE(p->ListMyContributions(&c2, part::ListMyContributionsRequest(), &mine).ok());
      const bool supports = mine.supported_ideas_size() == 1;
      if (supported.count(u)) {
        EXPECT_TRUE(supports) << "support lost, user " << u;
      }
      if (supports) {
        supported.insert(u);
        ++supporters;
      }
      auto ballot = mine.ballots().find(poll);
      if (voted.count(u)) {
        ASSERT_NE(ballot, mine.ballots().end()) << "ballot lost, user " << u;
      }
      if (ballot != mine.ballots().end()) {
        const int option = ballot->second.answers(0).options(0);
        ++tally_from_ballots[option];
        voted[u] = option;
      }
    }
    {
      grpc::ClientContext ctx;
      ctx_for(&ctx, "");
      part::GetIdeaRequest get;
      get.set_name(idea);
      part::Idea out;
      ASSERT_TRUE(p->GetIdea(&ctx, get, &out).ok());
      EXPECT_EQ(out.support_count(), supporters) << "round " << round;
      grpc::ClientContext pctx;
      ctx_for(&pctx, editor);
      part::GetPollRequest gp;
      gp.set_name(poll);
      part::Poll seen;
      ASSERT_TRUE(p->GetPoll(&pctx, gp, &seen).ok());
      EXPECT_EQ(seen.ballot_count(), static_cast<int64_t>(voted.size())) << "round " << round;
      for (int o = 0; o < 3; ++o) {
        EXPECT_EQ(seen.questions(0).options(o).votes(), tally_from_ballots[o]) << "option " << o;
      }
      grpc::ClientContext lctx;
      ctx_for(&lctx, "");
      ev::ListEventsRequest le;
      le.mutable_start_time()->set_seconds(first_start - 10);
      ev::ListEventsResponse occ;
      ASSERT_TRUE(e->ListEvents(&lctx, le, &occ).ok());
      ASSERT_EQ(occ.occurrences_size(), 1);
      EXPECT_EQ(occ.occurrences(0).registered(), static_cast<int>(registered.size()));
    }

    // Write load from four clients, then SIGKILL at a random moment.
    std::atomic<bool> stop{false};
    std::mutex mu;
    std::vector<std::thread> writers;
    for (int w = 0; w < 4; ++w) {
      writers.emplace_back([&, w] {
        std::mt19937 local(rng());
        for (int i = 0; !stop.load(); ++i) {
          grpc::ClientContext ctx;
          grpc::Status s;
          const int u = static_cast<int>(local() % kUsers);
          if (w == 0) {
            ctx_for(&ctx, editor);
            news::CreateArticleRequest req;
            req.mutable_article()->set_title("Runde " + std::to_string(round));
            req.mutable_article()->set_state(news::Article::PUBLISHED);
            news::Article out;
            s = n->CreateArticle(&ctx, req, &out);
            if (s.ok()) {
              std::lock_guard<std::mutex> lock(mu);
              articles.insert(out.name());
            }
          } else if (w == 1) {
            ctx_for(&ctx, users[u]);
            ev::RegisterForEventRequest req;
            req.set_name(event);
            ev::Registration out;
            s = e->RegisterForEvent(&ctx, req, &out);
            if (s.ok()) {
              std::lock_guard<std::mutex> lock(mu);
              registered.insert(u);
            }
          } else if (w == 2) {
            ctx_for(&ctx, users[u]);
            part::SupportIdeaRequest req;
            req.set_name(idea);
            part::Idea out;
            s = p->SupportIdea(&ctx, req, &out);
            if (s.ok()) {
              std::lock_guard<std::mutex> lock(mu);
              supported.insert(u);
            }
          } else {
            ctx_for(&ctx, users[u]);
            part::CastBallotRequest req;
            req.set_poll(poll);
            const int option = static_cast<int>(local() % 3);
            req.add_answers()->add_options(option);
            part::Ballot out;
            s = p->CastBallot(&ctx, req, &out);
            if (s.ok()) {
              std::lock_guard<std::mutex> lock(mu);
              voted[u] = option;
            }
          }
          const grpc::StatusCode code = s.error_code();
          if (!s.ok() && code != grpc::StatusCode::ALREADY_EXISTS) break;  // the gateway is gone
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 350));
    gw->Kill();
    stop = true;
    for (auto& t : writers) t.join();
  }
  EXPECT_GT(articles.size(), 5u) << "the load wrote something each round";
  EXPECT_GT(supported.size(), 5u);
}

}  // namespace
}  // namespace civitas::testing
