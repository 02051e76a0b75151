// The participation module through the real gateway, with real tokens for each role: exact
// support counts and poll tallies under concurrency, and who may do what.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <set>
#include <thread>

#include "civitas/participation/v1/participation.grpc.pb.h"
#include "tests/integration/gateway_process.h"

namespace civitas::testing {
namespace {

namespace pb = civitas::participation::v1;

constexpr char kConfig[] = R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: jwks.json
logging:
  access_log: false
cities:
  - id: unna
    modules:
      - id: civitas.participation
        config:
          writes_per_minute: 1000
)";

class ParticipationIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir("gw");
    keys_ = std::make_unique<TestKeys>(dir_);
    gw_ = GatewayProcess::Start(dir_, kConfig);
    ASSERT_NE(gw_, nullptr);
    stub_ = pb::ParticipationService::NewStub(gw_->channel());
  }
  std::string Token(const std::string& subject, std::vector<std::string> roles = {}) {
    return keys_->Mint(subject, "unna", roles);
  }
  pb::Idea NewIdea(const std::string& token) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "unna", token);
    pb::CreateIdeaRequest req;
    req.mutable_idea()->set_title("Trinkbrunnen am Markt");
    req.mutable_idea()->set_body("Im Sommer fehlt in der Innenstadt Trinkwasser.");
    req.mutable_idea()->set_author_display_name("Anna K.");
    pb::Idea out;
    grpc::Status s = stub_->CreateIdea(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  std::string dir_;
  std::unique_ptr<TestKeys> keys_;
  std::unique_ptr<GatewayProcess> gw_;
  std::unique_ptr<pb::ParticipationService::Stub> stub_;
};

TEST_F(ParticipationIntegrationTest, SupportCountsAreExactUnderConcurrency) {
  const pb::Idea idea = NewIdea(Token("anna"));
  constexpr int kUsers = 200, kCalls = 1000, kThreads = 16;
  std::vector<std::string> tokens;
  for (int i = 0; i < kUsers; ++i) tokens.push_back(Token("user" + std::to_string(i)));
  std::atomic<int> ok{0}, duplicate{0}, next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i; (i = next++) < kCalls;) {
        // Every user supports at least once; the rest are random repeats.
        const int user = i < kUsers ? i : static_cast<int>(rng() % kUsers);
        grpc::ClientContext ctx;
        Prepare(&ctx, "unna", tokens[user]);
        pb::SupportIdeaRequest req;
        req.set_name(idea.name());
        pb::Idea out;
        grpc::Status s = stub_->SupportIdea(&ctx, req, &out);
        if (s.ok()) {
          ++ok;
        } else if (s.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
          ++duplicate;
        } else {
          ADD_FAILURE() << s.error_code() << ": " << s.error_message();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, kUsers);
  EXPECT_EQ(ok + duplicate, kCalls);
  grpc::ClientContext ctx;
  Prepare(&ctx, "unna");
  pb::GetIdeaRequest get;
  get.set_name(idea.name());
  pb::Idea seen;
  ASSERT_TRUE(stub_->GetIdea(&ctx, get, &seen).ok());
  EXPECT_EQ(seen.support_count(), kUsers);

  // Parallel supports by one user count once.
  const std::string one = Token("eilig");
  std::atomic<int> ones{0};
  std::vector<std::thread> same;
  for (int i = 0; i < 8; ++i) {
    same.emplace_back([&] {
      grpc::ClientContext c;
      Prepare(&c, "unna", one);
      pb::SupportIdeaRequest req;
      req.set_name(idea.name());
      pb::Idea out;
      if (stub_->SupportIdea(&c, req, &out).ok()) ++ones;
    });
  }
  for (auto& t : same) t.join();
  EXPECT_EQ(ones, 1);
  grpc::ClientContext again;
  Prepare(&again, "unna");
  ASSERT_TRUE(stub_->GetIdea(&again, get, &seen).ok());
  EXPECT_EQ(seen.support_count(), kUsers + 1);
}

TEST_F(ParticipationIntegrationTest, TalliesEqualTheStoredBallotsUnderConcurrentVotes) {
  grpc::ClientContext create_ctx;
  Prepare(&create_ctx, "unna", Token("stadt", {"editor"}));
  pb::CreatePollRequest create;
  create.mutable_poll()->set_title("Name für den neuen Platz");
  auto* q = create.mutable_poll()->add_questions();
  q->set_text("Welcher Name?");
  for (const char* o : {"Hansaplatz", "Lindenplatz", "Platz der Vielfalt"})
    q->add_options()->set_text(o);
  create.mutable_poll()->mutable_close_time()->set_seconds(absl::ToUnixSeconds(absl::Now()) + 3600);
  create.mutable_poll()->set_ballots_changeable(true);
  pb::Poll poll;
  ASSERT_TRUE(stub_->CreatePoll(&create_ctx, create, &poll).ok());
  constexpr int kVoters = 60;
  std::vector<std::thread> threads;
  std::vector<int> final_choice(kVoters);
  for (int v = 0; v < kVoters; ++v) {
    threads.emplace_back([&, v] {
      const std::string token = Token("voter" + std::to_string(v));
      // Each voter votes three times (changing their mind), the last vote counts.
      for (int round = 0; round < 3; ++round) {
        grpc::ClientContext ctx;
        Prepare(&ctx, "unna", token);
        pb::CastBallotRequest req;
        req.set_poll(poll.name());
        const int choice = (v + round) % 3;
        req.add_answers()->add_options(choice);
        pb::Ballot out;
        grpc::Status s = stub_->CastBallot(&ctx, req, &out);
        ASSERT_TRUE(s.ok()) << s.error_message();
        final_choice[v] = choice;
      }
    });
  }
  for (auto& t : threads) t.join();
  std::vector<int> expected(3);
  for (int c : final_choice) ++expected[c];
  grpc::ClientContext ctx;
  Prepare(&ctx, "unna");
  pb::GetPollRequest get;
  get.set_name(poll.name());
  pb::Poll seen;
  ASSERT_TRUE(stub_->GetPoll(&ctx, get, &seen).ok());
  EXPECT_EQ(seen.ballot_count(), kVoters);
  for (int o = 0; o < 3; ++o) EXPECT_EQ(seen.questions(0).options(o).votes(), expected[o]) << o;
}

TEST_F(ParticipationIntegrationTest, EachRoleMayDoOnlyItsPart) {
  const std::string anna = Token("anna"), ben = Token("ben");
  const std::string moderator = Token("mod", {"moderator"}), admin = Token("root", {"admin"});
  const pb::Idea idea = NewIdea(anna);
  grpc::ClientContext c1;
  Prepare(&c1, "unna", anna);
  pb::CreateCommentRequest comment;
  comment.set_parent(idea.name());
  comment.mutable_comment()->set_body("Unbedingt!");
  comment.mutable_comment()->set_author_display_name("Anna");
  pb::Comment annas;
  ASSERT_TRUE(stub_->CreateComment(&c1, comment, &annas).ok());

  auto code = [&](const std::string& token, auto&& call) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "unna", token);
    return call(&ctx).error_code();
  };
  using grpc::StatusCode;
  // Ben cannot change or delete Anna's comment, nor see her subject or her contributions.
  pb::UpdateCommentRequest edit;
  edit.mutable_comment()->set_name(annas.name());
  edit.mutable_comment()->set_body("gefälscht");
  pb::Comment cout;
  EXPECT_EQ(code(ben, [&](auto* c) { return stub_->UpdateComment(c, edit, &cout); }),
            StatusCode::PERMISSION_DENIED);
  pb::DeleteCommentRequest del;
  del.set_name(annas.name());
  google::protobuf::Empty e;
  EXPECT_EQ(code(ben, [&](auto* c) { return stub_->DeleteComment(c, del, &e); }),
            StatusCode::PERMISSION_DENIED);
  pb::ListMyContributionsResponse mine;
  ASSERT_EQ(code(ben,
                 [&](auto* c) {
                   return stub_->ListMyContributions(c, pb::ListMyContributionsRequest(), &mine);
                 }),
            StatusCode::OK);
  EXPECT_EQ(mine.ideas_size() + mine.comments_size(), 0);
  pb::GetIdeaRequest get;
  get.set_name(idea.name());
  pb::Idea seen;
  ASSERT_EQ(code(ben, [&](auto* c) { return stub_->GetIdea(c, get, &seen); }), StatusCode::OK);
  EXPECT_TRUE(seen.author().empty());
  // Citizens cannot answer ideas, moderate or read the audit trail; anonymous callers cannot write.
  pb::AnswerIdeaRequest answer;
  answer.set_name(idea.name());
  answer.set_status(pb::Idea::ACCEPTED);
  EXPECT_EQ(code(ben, [&](auto* c) { return stub_->AnswerIdea(c, answer, &seen); }),
            StatusCode::PERMISSION_DENIED);
  pb::ModerateContentRequest moderate;
  moderate.set_item(annas.name());
  moderate.set_hide(true);
  moderate.set_reason("Beleidigung");
  pb::AuditEntry entry;
  EXPECT_EQ(code(ben, [&](auto* c) { return stub_->ModerateContent(c, moderate, &entry); }),
            StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(code("", [&](auto* c) { return stub_->CreateIdea(c, pb::CreateIdeaRequest(), &seen); }),
            StatusCode::UNAUTHENTICATED);
  pb::ListAuditEntriesResponse audit;
  EXPECT_EQ(code(ben,
                 [&](auto* c) {
                   return stub_->ListAuditEntries(c, pb::ListAuditEntriesRequest(), &audit);
                 }),
            StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(code("",
                 [&](auto* c) {
                   return stub_->ListAuditEntries(c, pb::ListAuditEntriesRequest(), &audit);
                 }),
            StatusCode::UNAUTHENTICATED);
  // A moderator hides the comment; its text is gone for citizens; the admin reads the audit.
  EXPECT_EQ(code(moderator, [&](auto* c) { return stub_->ModerateContent(c, moderate, &entry); }),
            StatusCode::OK);
  pb::ListCommentsRequest list;
  list.set_parent(idea.name());
  pb::ListCommentsResponse comments;
  ASSERT_EQ(code(ben, [&](auto* c) { return stub_->ListComments(c, list, &comments); }),
            StatusCode::OK);
  ASSERT_EQ(comments.comments_size(), 1);
  EXPECT_TRUE(comments.comments(0).hidden());
  EXPECT_TRUE(comments.comments(0).body().empty());
  ASSERT_EQ(code(admin,
                 [&](auto* c) {
                   return stub_->ListAuditEntries(c, pb::ListAuditEntriesRequest(), &audit);
                 }),
            StatusCode::OK);
  ASSERT_EQ(audit.entries_size(), 1);
  EXPECT_EQ(audit.entries(0).moderator(), "mod");
  EXPECT_EQ(audit.entries(0).reason(), "Beleidigung");
  // Moderators read the trail too (who hid what, when, why).
  pb::ListAuditEntriesResponse seen_by_moderator;
  ASSERT_EQ(code(moderator,
                 [&](auto* c) {
                   return stub_->ListAuditEntries(c, pb::ListAuditEntriesRequest(),
                                                  &seen_by_moderator);
                 }),
            StatusCode::OK);
  ASSERT_EQ(seen_by_moderator.entries_size(), 1);
  EXPECT_EQ(seen_by_moderator.entries(0).action(), pb::AuditEntry::HIDE);
  pb::ListAuditEntriesRequest too_big;
  too_big.set_page_size(101);
  EXPECT_EQ(code(moderator,
                 [&](auto* c) { return stub_->ListAuditEntries(c, too_big, &seen_by_moderator); }),
            StatusCode::INVALID_ARGUMENT);
}

TEST_F(ParticipationIntegrationTest, PollsAreListedAndAnEditorClosesOneEarly) {
  const std::string editor = Token("redaktion", {"editor"}), anna = Token("anna");
  auto code = [&](const std::string& token, auto&& call) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "unna", token);
    return call(&ctx).error_code();
  };
  using grpc::StatusCode;
  std::vector<std::string> names;
  for (int i = 0; i < 3; ++i) {
    pb::CreatePollRequest create;
    create.mutable_poll()->set_title("Umfrage Nummer " + std::to_string(i));
    create.mutable_poll()->set_results_hidden_until_close(true);
    pb::Question* q = create.mutable_poll()->add_questions();
    q->set_text("Ja oder nein?");
    q->add_options()->set_text("Ja");
    q->add_options()->set_text("Nein");
    create.mutable_poll()->mutable_close_time()->set_seconds(absl::ToUnixSeconds(absl::Now()) +
                                                             86400);
    pb::Poll poll;
    ASSERT_EQ(code(editor, [&](auto* c) { return stub_->CreatePoll(c, create, &poll); }),
              StatusCode::OK);
    names.push_back(poll.name());
    absl::SleepFor(absl::Milliseconds(2));
  }
  // Anyone lists them, newest first, page by page.
  pb::ListPollsRequest list;
  list.set_page_size(2);
  pb::ListPollsResponse page;
  ASSERT_EQ(code("", [&](auto* c) { return stub_->ListPolls(c, list, &page); }), StatusCode::OK);
  ASSERT_EQ(page.polls_size(), 2);
  EXPECT_EQ(page.polls(0).name(), names[2]);
  EXPECT_EQ(page.polls(1).name(), names[1]);
  list.set_page_token(page.next_page_token());
  pb::ListPollsResponse rest;
  ASSERT_EQ(code("", [&](auto* c) { return stub_->ListPolls(c, list, &rest); }), StatusCode::OK);
  ASSERT_EQ(rest.polls_size(), 1);
  EXPECT_EQ(rest.polls(0).name(), names[0]);
  EXPECT_TRUE(rest.next_page_token().empty());
  list.set_page_token("");
  list.set_page_size(101);
  EXPECT_EQ(code("", [&](auto* c) { return stub_->ListPolls(c, list, &rest); }),
            StatusCode::INVALID_ARGUMENT);

  // Anna votes; only an editor closes the poll; then nobody votes and the results show.
  pb::CastBallotRequest vote;
  vote.set_poll(names[0]);
  vote.add_answers()->add_options(0);
  pb::Ballot ballot;
  ASSERT_EQ(code(anna, [&](auto* c) { return stub_->CastBallot(c, vote, &ballot); }),
            StatusCode::OK);
  pb::ClosePollRequest close;
  close.set_name(names[0]);
  pb::Poll closed;
  EXPECT_EQ(code("", [&](auto* c) { return stub_->ClosePoll(c, close, &closed); }),
            StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(code(anna, [&](auto* c) { return stub_->ClosePoll(c, close, &closed); }),
            StatusCode::PERMISSION_DENIED);
  ASSERT_EQ(code(editor, [&](auto* c) { return stub_->ClosePoll(c, close, &closed); }),
            StatusCode::OK);
  EXPECT_LE(closed.close_time().seconds(), absl::ToUnixSeconds(absl::Now()));
  EXPECT_EQ(code(editor, [&](auto* c) { return stub_->ClosePoll(c, close, &closed); }),
            StatusCode::FAILED_PRECONDITION)
      << "closed already";
  EXPECT_EQ(code(Token("ben"), [&](auto* c) { return stub_->CastBallot(c, vote, &ballot); }),
            StatusCode::FAILED_PRECONDITION);
  pb::GetPollRequest get;
  get.set_name(names[0]);
  pb::Poll seen;
  ASSERT_EQ(code("", [&](auto* c) { return stub_->GetPoll(c, get, &seen); }), StatusCode::OK);
  EXPECT_TRUE(seen.results_visible()) << "hidden until the close, which has come";
  EXPECT_EQ(seen.ballot_count(), 1);
  EXPECT_EQ(seen.questions(0).options(0).votes(), 1);
  close.set_name("polls/0000000000000000");
  EXPECT_EQ(code(editor, [&](auto* c) { return stub_->ClosePoll(c, close, &closed); }),
            StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace civitas::testing
