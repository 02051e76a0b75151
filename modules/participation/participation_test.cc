// Unit tests of the participation module against the SDK's fake host.
#include <gtest/gtest.h>

#include <set>

#include "civitas/json.h"
#include "civitas/participation/v1/participation.pb.h"
#include "civitas/testing/fake_host.h"
#include "records.h"

extern "C" const civitas_module_def* civitas_module_entry_v1(void);

namespace {

namespace pb = civitas::participation::v1;
using civitas::testing::Caller;
using civitas::testing::FakeHost;

constexpr char kService[] = "civitas.participation.v1.ParticipationService";
constexpr int64_t kNow = 1'790'000'000'000'000;
constexpr int64_t kMinute = 60'000'000;
const Caller kAnna = Caller::Citizen("anna");
const Caller kBen = Caller::Citizen("ben");
const Caller kEditor = Caller::WithRole("buergerbeteiligung", CIVITAS_ROLE_EDITOR);
const Caller kModerator = Caller::WithRole("mod", CIVITAS_ROLE_MODERATOR);
const Caller kAdmin = Caller::WithRole("admin", CIVITAS_ROLE_ADMIN);

class ParticipationTest : public ::testing::Test {
 protected:
  ParticipationTest()
      : host_(civitas_module_entry_v1(), "dortmund", R"({"writes_per_minute": 5})") {
    host_.SetNowMicros(kNow);
  }
  template <class Req, class Resp>
  int32_t Call(const char* method, const Req& req, Resp* resp, const Caller& caller,
               std::string* error = nullptr) {
    std::string e;
    int32_t rc = host_.Unary(kService, method, req, resp, caller, &e);
    if (error) *error = e;
    return rc;
  }
  pb::Idea NewIdea(const Caller& who, const std::string& title = "Mehr Bänke im Park") {
    pb::CreateIdeaRequest req;
    req.mutable_idea()->set_title(title);
    req.mutable_idea()->set_body("Am Westpark fehlen Sitzgelegenheiten für Ältere.");
    req.mutable_idea()->set_author_display_name(who.subject + " aus Hörde");
    pb::Idea out;
    std::string error;
    EXPECT_EQ(Call("CreateIdea", req, &out, who, &error), CIVITAS_OK) << error;
    return out;
  }
  pb::Comment NewComment(const Caller& who, const std::string& idea,
                         const std::string& parent = "") {
    pb::CreateCommentRequest req;
    req.set_parent(idea);
    req.mutable_comment()->set_body("Gute Idee!");
    req.mutable_comment()->set_author_display_name("Nachbarin");
    req.mutable_comment()->set_parent_comment(parent);
    pb::Comment out;
    std::string error;
    EXPECT_EQ(Call("CreateComment", req, &out, who, &error), CIVITAS_OK) << error;
    return out;
  }
  FakeHost host_;
};

TEST_F(ParticipationTest, IdeasAreSupportedOncePerUserAndAnsweredByEditors) {
  const pb::Idea idea = NewIdea(kAnna);
  EXPECT_EQ(idea.author(), "anna") << "authors see their own subject";
  pb::GetIdeaRequest get;
  get.set_name(idea.name());
  pb::Idea seen;
  ASSERT_EQ(Call("GetIdea", get, &seen, kBen), CIVITAS_OK);
  EXPECT_TRUE(seen.author().empty()) << "others see only the display name";
  EXPECT_EQ(seen.author_display_name(), "anna aus Hörde");

  pb::SupportIdeaRequest support;
  support.set_name(idea.name());
  pb::Idea after;
  ASSERT_EQ(Call("SupportIdea", support, &after, kBen), CIVITAS_OK);
  EXPECT_EQ(after.support_count(), 1);
  EXPECT_TRUE(after.supported_by_caller());
  EXPECT_EQ(Call("SupportIdea", support, &after, kBen), CIVITAS_ALREADY_EXISTS);
  ASSERT_EQ(Call("SupportIdea", support, &after, kAnna), CIVITAS_OK);
  EXPECT_EQ(after.support_count(), 2);
  pb::WithdrawSupportRequest withdraw;
  withdraw.set_name(idea.name());
  ASSERT_EQ(Call("WithdrawSupport", withdraw, &after, kBen), CIVITAS_OK);
  EXPECT_EQ(after.support_count(), 1);
  EXPECT_EQ(Call("WithdrawSupport", withdraw, &after, kBen), CIVITAS_NOT_FOUND);

  pb::AnswerIdeaRequest answer;
  answer.set_name(idea.name());
  answer.set_status(pb::Idea::REJECTED);
  std::string error;
  EXPECT_EQ(Call("AnswerIdea", answer, &after, kEditor, &error), CIVITAS_INVALID_ARGUMENT);
  EXPECT_NE(error.find("official_answer is required"), std::string::npos);
  answer.set_status(pb::Idea::ACCEPTED);
  answer.set_official_answer("Das Grünflächenamt stellt im Frühjahr zehn Bänke auf.");
  ASSERT_EQ(Call("AnswerIdea", answer, &after, kEditor), CIVITAS_OK);
  EXPECT_EQ(after.status(), pb::Idea::ACCEPTED);
  EXPECT_EQ(after.support_count(), 1);

  pb::ListIdeasRequest list;
  list.set_status(pb::Idea::ACCEPTED);
  pb::ListIdeasResponse page;
  ASSERT_EQ(Call("ListIdeas", list, &page, Caller::Anonymous()), CIVITAS_OK);
  ASSERT_EQ(page.ideas_size(), 1);
  list.set_status(pb::Idea::SUBMITTED);
  ASSERT_EQ(Call("ListIdeas", list, &page, Caller::Anonymous()), CIVITAS_OK);
  EXPECT_EQ(page.ideas_size(), 0);
}

TEST_F(ParticipationTest, CommentsHaveOneLevelOfRepliesAndOnlyAuthorsEditWithinTheWindow) {
  const pb::Idea idea = NewIdea(kAnna);
  const pb::Comment top = NewComment(kBen, idea.name());
  const pb::Comment reply = NewComment(kAnna, idea.name(), top.name());
  pb::CreateCommentRequest deeper;
  deeper.set_parent(idea.name());
  deeper.mutable_comment()->set_body("Antwort auf Antwort");
  deeper.mutable_comment()->set_author_display_name("Ben");
  deeper.mutable_comment()->set_parent_comment(reply.name());
  pb::Comment out;
  std::string error;
  EXPECT_EQ(Call("CreateComment", deeper, &out, kBen, &error), CIVITAS_INVALID_ARGUMENT);
  EXPECT_NE(error.find("not to replies"), std::string::npos) << error;

  pb::UpdateCommentRequest edit;
  edit.mutable_comment()->set_name(top.name());
  edit.mutable_comment()->set_body("Sehr gute Idee!");
  EXPECT_EQ(Call("UpdateComment", edit, &out, kAnna), CIVITAS_PERMISSION_DENIED);
  EXPECT_EQ(Call("UpdateComment", edit, &out, kModerator), CIVITAS_PERMISSION_DENIED);
  ASSERT_EQ(Call("UpdateComment", edit, &out, kBen), CIVITAS_OK);
  EXPECT_EQ(out.body(), "Sehr gute Idee!");
  host_.SetNowMicros(kNow + 16 * kMinute);
  EXPECT_EQ(Call("UpdateComment", edit, &out, kBen, &error), CIVITAS_FAILED_PRECONDITION);
  EXPECT_NE(error.find("15 minutes"), std::string::npos);

  pb::DeleteCommentRequest del;
  del.set_name(top.name());
  google::protobuf::Empty empty;
  EXPECT_EQ(Call("DeleteComment", del, &empty, kAnna), CIVITAS_PERMISSION_DENIED);
  ASSERT_EQ(Call("DeleteComment", del, &empty, kBen), CIVITAS_OK);
  pb::ListCommentsRequest list;
  list.set_parent(idea.name());
  pb::ListCommentsResponse comments;
  ASSERT_EQ(Call("ListComments", list, &comments, Caller::Anonymous()), CIVITAS_OK);
  ASSERT_EQ(comments.comments_size(), 2);
  EXPECT_TRUE(comments.comments(0).deleted());
  EXPECT_TRUE(comments.comments(0).body().empty());
  EXPECT_EQ(comments.comments(1).parent_comment(), top.name()) << "the reply keeps its parent";
}

TEST_F(ParticipationTest, BallotsTalliesAndHiddenResults) {
  pb::CreatePollRequest create;
  pb::Poll* poll = create.mutable_poll();
  poll->set_title("Neugestaltung Marktplatz");
  auto* q1 = poll->add_questions();
  q1->set_text("Mehr Grün?");
  q1->add_options()->set_text("Ja");
  q1->add_options()->set_text("Nein");
  auto* q2 = poll->add_questions();
  q2->set_text("Was fehlt?");
  q2->set_multiple_choice(true);
  for (const char* o : {"Bänke", "Bäume", "Brunnen"}) q2->add_options()->set_text(o);
  poll->mutable_close_time()->set_seconds(kNow / 1000000 + 3600);
  poll->set_ballots_changeable(true);
  poll->set_results_hidden_until_close(true);
  pb::Poll created;
  ASSERT_EQ(Call("CreatePoll", create, &created, kEditor), CIVITAS_OK);

  auto ballot = [&](const Caller& who, std::vector<std::vector<int>> answers,
                    std::string* error = nullptr) {
    pb::CastBallotRequest req;
    req.set_poll(created.name());
    for (const auto& a : answers) {
      auto* answer = req.add_answers();
      for (int o : a) answer->add_options(o);
    }
    pb::Ballot out;
    return Call("CastBallot", req, &out, who, error);
  };
  std::string error;
  EXPECT_EQ(ballot(kAnna, {{0, 1}, {0}}, &error), CIVITAS_INVALID_ARGUMENT);
  EXPECT_NE(error.find("allows one option"), std::string::npos) << error;
  EXPECT_EQ(ballot(kAnna, {{0}}, &error), CIVITAS_INVALID_ARGUMENT);
  EXPECT_EQ(ballot(kAnna, {{0}, {5}}, &error), CIVITAS_INVALID_ARGUMENT);
  EXPECT_NE(error.find("option 5 does not exist"), std::string::npos);
  ASSERT_EQ(ballot(kAnna, {{0}, {0, 2}}), CIVITAS_OK);
  ASSERT_EQ(ballot(kBen, {{1}, {1}}), CIVITAS_OK);
  ASSERT_EQ(ballot(kAnna, {{1}, {1, 2}}), CIVITAS_OK) << "changeable until close";

  pb::GetPollRequest get;
  get.set_name(created.name());
  pb::Poll seen;
  ASSERT_EQ(Call("GetPoll", get, &seen, kBen), CIVITAS_OK);
  EXPECT_FALSE(seen.results_visible());
  EXPECT_EQ(seen.questions(0).options(1).votes(), 0) << "hidden until close";
  EXPECT_EQ(seen.ballot_count(), 2);
  host_.SetNowMicros(kNow + 2 * 3600 * 1'000'000LL);
  ASSERT_EQ(Call("GetPoll", get, &seen, kBen), CIVITAS_OK);
  ASSERT_TRUE(seen.results_visible());
  EXPECT_EQ(seen.questions(0).options(0).votes(), 0);
  EXPECT_EQ(seen.questions(0).options(1).votes(), 2);
  EXPECT_EQ(seen.questions(1).options(0).votes(), 0);
  EXPECT_EQ(seen.questions(1).options(1).votes(), 2);
  EXPECT_EQ(seen.questions(1).options(2).votes(), 1);
  EXPECT_EQ(ballot(kBen, {{0}, {0}}, &error), CIVITAS_FAILED_PRECONDITION);
  EXPECT_NE(error.find("closed"), std::string::npos);
}

TEST_F(ParticipationTest, FlagsHideAutomaticallyAndModeratorsAreAudited) {
  const pb::Idea idea = NewIdea(kAnna);
  pb::FlagContentRequest flag;
  flag.set_item(idea.name());
  google::protobuf::Empty empty;
  for (const char* who : {"u1", "u2"})
    ASSERT_EQ(Call("FlagContent", flag, &empty, Caller::Citizen(who)), CIVITAS_OK);
  EXPECT_EQ(Call("FlagContent", flag, &empty, Caller::Citizen("u1")), CIVITAS_ALREADY_EXISTS);
  pb::GetIdeaRequest get;
  get.set_name(idea.name());
  pb::Idea seen;
  ASSERT_EQ(Call("GetIdea", get, &seen, kBen), CIVITAS_OK);
  ASSERT_EQ(Call("FlagContent", flag, &empty, Caller::Citizen("u3")), CIVITAS_OK);
  EXPECT_EQ(Call("GetIdea", get, &seen, kBen), CIVITAS_NOT_FOUND) << "hidden after 3 flags";
  ASSERT_EQ(Call("GetIdea", get, &seen, kModerator), CIVITAS_OK);
  EXPECT_TRUE(seen.hidden());

  pb::ListFlaggedContentResponse flagged;
  ASSERT_EQ(Call("ListFlaggedContent", pb::ListFlaggedContentRequest(), &flagged, kModerator),
            CIVITAS_OK);
  ASSERT_EQ(flagged.items_size(), 1);
  EXPECT_EQ(flagged.items(0).flag_count(), 3);
  EXPECT_TRUE(flagged.items(0).hidden());

  host_.SetNowMicros(kNow + kMinute);
  pb::ModerateContentRequest moderate;
  moderate.set_item(idea.name());
  moderate.set_hide(false);
  moderate.set_reason("Sachlich, kein Verstoß");
  pb::AuditEntry entry;
  ASSERT_EQ(Call("ModerateContent", moderate, &entry, kModerator), CIVITAS_OK);
  EXPECT_EQ(entry.moderator(), "mod");
  EXPECT_EQ(Call("GetIdea", get, &seen, kBen), CIVITAS_OK);
  pb::ListAuditEntriesResponse audit;
  ASSERT_EQ(Call("ListAuditEntries", pb::ListAuditEntriesRequest(), &audit, kAdmin), CIVITAS_OK);
  ASSERT_EQ(audit.entries_size(), 2);
  EXPECT_EQ(audit.entries(0).action(), pb::AuditEntry::UNHIDE);
  EXPECT_EQ(audit.entries(1).action(), pb::AuditEntry::AUTO_HIDE);
  ASSERT_EQ(Call("ListFlaggedContent", pb::ListFlaggedContentRequest(), &flagged, kModerator),
            CIVITAS_OK);
  EXPECT_EQ(flagged.items_size(), 0) << "the decision settles the flags";
}

TEST_F(ParticipationTest, ErasureAnonymizesButKeepsCountsAndContent) {
  const pb::Idea idea = NewIdea(kAnna);
  NewComment(kAnna, idea.name());
  pb::SupportIdeaRequest support;
  support.set_name(idea.name());
  pb::Idea after;
  ASSERT_EQ(Call("SupportIdea", support, &after, kAnna), CIVITAS_OK);
  ASSERT_EQ(Call("SupportIdea", support, &after, kBen), CIVITAS_OK);

  pb::ListMyContributionsResponse mine;
  ASSERT_EQ(Call("ListMyContributions", pb::ListMyContributionsRequest(), &mine, kAnna),
            CIVITAS_OK);
  EXPECT_EQ(mine.ideas_size(), 1);
  EXPECT_EQ(mine.comments_size(), 1);
  EXPECT_EQ(mine.supported_ideas_size(), 1);
  pb::ListMyContributionsResponse bens;
  ASSERT_EQ(Call("ListMyContributions", pb::ListMyContributionsRequest(), &bens, kBen), CIVITAS_OK);
  EXPECT_EQ(bens.ideas_size(), 0) << "each user sees only their own";

  pb::ErasePersonalDataRequest erase;
  pb::ErasePersonalDataResponse erased;
  EXPECT_EQ(Call("ErasePersonalData", erase, &erased, kAnna), CIVITAS_INVALID_ARGUMENT);
  erase.set_confirm("ERASE");
  ASSERT_EQ(Call("ErasePersonalData", erase, &erased, kAnna), CIVITAS_OK);
  EXPECT_EQ(erased.anonymized_items(), 2);
  EXPECT_EQ(erased.detached_records(), 1);

  pb::GetIdeaRequest get;
  get.set_name(idea.name());
  pb::Idea seen;
  ASSERT_EQ(Call("GetIdea", get, &seen, kModerator), CIVITAS_OK);
  EXPECT_EQ(seen.title(), idea.title()) << "content stays";
  EXPECT_EQ(seen.author_display_name(), "Gelöschtes Konto");
  EXPECT_TRUE(seen.author().empty());
  EXPECT_EQ(seen.support_count(), 2) << "supports keep counting";
  ASSERT_EQ(Call("ListMyContributions", pb::ListMyContributionsRequest(), &mine, kAnna),
            CIVITAS_OK);
  EXPECT_EQ(mine.ByteSizeLong(), 0u);
  for (const auto& [key, value] : host_.data()) {
    EXPECT_EQ(key.find("anna"), std::string::npos) << "a key still names the erased user: " << key;
    EXPECT_EQ(value.find("anna"), std::string::npos) << key;
  }
}

TEST_F(ParticipationTest, TheGatewaysExportAndErasureHooksDoWhatTheCitizenCallsDo) {
  const pb::Idea idea = NewIdea(kAnna);
  NewComment(kAnna, idea.name());
  pb::SupportIdeaRequest support;
  support.set_name(idea.name());
  pb::Idea after;
  ASSERT_EQ(Call("SupportIdea", support, &after, kBen), CIVITAS_OK);
  ASSERT_EQ(Call("SupportIdea", support, &after, kAnna), CIVITAS_OK);

  std::string json, error;
  ASSERT_EQ(host_.ExportPersonalData("anna", &json, &error), CIVITAS_OK) << error;
  civitas::JsonValue parsed;
  ASSERT_TRUE(civitas::ParseJson(json, &parsed, &error)) << error << ": " << json;
  EXPECT_NE(json.find(idea.name()), std::string::npos) << json;
  EXPECT_NE(json.find("anna aus Hörde"), std::string::npos) << json;
  EXPECT_NE(json.find("Gute Idee!"), std::string::npos) << json;
  ASSERT_EQ(host_.ExportPersonalData("ben", &json, &error), CIVITAS_OK) << error;
  EXPECT_EQ(json.find("anna aus Hörde"), std::string::npos) << "only the subject's: " << json;

  ASSERT_EQ(host_.ErasePersonalData("anna", &error), CIVITAS_OK) << error;
  ASSERT_EQ(host_.ErasePersonalData("anna", &error), CIVITAS_OK) << "idempotent: " << error;
  for (const auto& [key, value] : host_.data()) {
    for (const char* personal : {"anna", "anna aus Hörde"}) {
      EXPECT_EQ(key.find(personal), std::string::npos) << key;
      EXPECT_EQ(value.find(personal), std::string::npos) << personal << " in " << key;
    }
  }
  pb::GetIdeaRequest get;
  get.set_name(idea.name());
  pb::Idea seen;
  ASSERT_EQ(Call("GetIdea", get, &seen, kBen), CIVITAS_OK);
  EXPECT_EQ(seen.support_count(), 2) << "supports keep counting";
  EXPECT_EQ(host_.ErasePersonalData("", &error), CIVITAS_INVALID_ARGUMENT);
}

// Erasure reaches every kind of record that holds the subject: the citizen writes one record of
// every kind (the test fails when a kind is added to kContributionKinds and not written here),
// the families of keys that name them are exactly the known ones (a new family holding the
// subject fails here until erasure handles it), and after erasure no key or value names them.
TEST_F(ParticipationTest, ErasureReachesEveryRecordKindThatHoldsTheSubject) {
  const pb::Idea idea = NewIdea(kAnna);
  const pb::Idea bens = NewIdea(kBen, "Fahrradständer am Bahnhof");
  NewComment(kAnna, bens.name());
  pb::SupportIdeaRequest support;
  support.set_name(bens.name());
  pb::Idea after;
  ASSERT_EQ(Call("SupportIdea", support, &after, kAnna), CIVITAS_OK);
  pb::FlagContentRequest flag;
  flag.set_item(bens.name());
  flag.set_reason("doppelt eingereicht");
  google::protobuf::Empty empty;
  ASSERT_EQ(Call("FlagContent", flag, &empty, kAnna), CIVITAS_OK);
  pb::CreatePollRequest create;
  create.mutable_poll()->set_title("Neugestaltung Marktplatz");
  auto* question = create.mutable_poll()->add_questions();
  question->set_text("Mehr Grün?");
  question->add_options()->set_text("Ja");
  question->add_options()->set_text("Nein");
  create.mutable_poll()->mutable_close_time()->set_seconds(kNow / 1000000 + 3600);
  pb::Poll poll;
  ASSERT_EQ(Call("CreatePoll", create, &poll, kEditor), CIVITAS_OK);
  pb::CastBallotRequest cast;
  cast.set_poll(poll.name());
  cast.add_answers()->add_options(0);
  pb::Ballot ballot;
  ASSERT_EQ(Call("CastBallot", cast, &ballot, kAnna), CIVITAS_OK);

  std::set<participation::ContributionKind> written;
  std::set<std::string> families;
  const std::string prefix = participation::keys::ContributionPrefix("anna");
  for (const auto& [key, value] : host_.data()) {
    if (key.find("anna") == std::string::npos && value.find("anna") == std::string::npos) continue;
    families.insert(key.substr(0, key.find('/')));
    participation::ContributionKind kind;
    std::string name;
    if (key.rfind(prefix, 0) == 0 &&
        participation::keys::ParseContribution(std::string_view(key).substr(prefix.size()), &kind,
                                               &name)) {
      written.insert(kind);
    }
  }
  for (participation::ContributionKind kind : participation::kContributionKinds) {
    EXPECT_TRUE(written.count(kind)) << "this test writes no " << participation::KindName(kind);
  }
  EXPECT_EQ(families, (std::set<std::string>{"i", "c", "is", "pb", "f", "u", "r"}))
      << "the families of records that name the subject; erasure must handle each";

  std::string error;
  ASSERT_EQ(host_.ErasePersonalData("anna", &error), CIVITAS_OK) << error;
  for (const auto& [key, value] : host_.data()) {
    EXPECT_EQ(key.find("anna"), std::string::npos) << "a key still names the erased user: " << key;
    EXPECT_EQ(value.find("anna aus Hörde"), std::string::npos) << key;
    EXPECT_EQ(value.find("anna"), std::string::npos) << key;
  }
  pb::GetIdeaRequest get;
  get.set_name(idea.name());
  pb::Idea seen;
  ASSERT_EQ(Call("GetIdea", get, &seen, kModerator), CIVITAS_OK);
  EXPECT_TRUE(seen.author().empty());
  pb::GetPollRequest get_poll;
  get_poll.set_name(poll.name());
  ASSERT_EQ(Call("GetPoll", get_poll, &poll, kEditor), CIVITAS_OK);
  EXPECT_EQ(poll.ballot_count(), 1) << "the ballot keeps counting";
  EXPECT_EQ(poll.questions(0).options(0).votes(), 1);
}

TEST_F(ParticipationTest, WritesAreRateLimitedPerUser) {
  for (int i = 0; i < 5; ++i) NewIdea(kAnna, "Idee Nummer " + std::to_string(i));
  const auto before = host_.data();
  pb::CreateIdeaRequest req;
  req.mutable_idea()->set_title("Eine Idee zu viel");
  req.mutable_idea()->set_body("Diese Idee kommt zu schnell nach den anderen.");
  req.mutable_idea()->set_author_display_name("Anna");
  pb::Idea out;
  std::string error;
  EXPECT_EQ(Call("CreateIdea", req, &out, kAnna, &error), CIVITAS_RESOURCE_EXHAUSTED);
  EXPECT_NE(error.find("at most 5"), std::string::npos) << error;
  EXPECT_NE(error.find("retry in 60 s"), std::string::npos) << error;
  EXPECT_EQ(host_.data(), before) << "the refused write left nothing";
  EXPECT_EQ(Call("CreateIdea", req, &out, kBen), CIVITAS_OK) << "limits are per user";
  host_.SetNowMicros(kNow + kMinute);
  EXPECT_EQ(Call("CreateIdea", req, &out, kAnna), CIVITAS_OK) << "a new minute";
}

TEST_F(ParticipationTest, ValidatesWithPreciseMessages) {
  pb::CreateIdeaRequest req;
  req.mutable_idea()->set_title("Hi");
  pb::Idea out;
  std::string error;
  EXPECT_EQ(Call("CreateIdea", req, &out, kAnna, &error), CIVITAS_INVALID_ARGUMENT);
  EXPECT_NE(error.find("idea.title must have 5 to 120 characters, got 2"), std::string::npos);
  req.mutable_idea()->set_title("Radweg am Wall");
  req.mutable_idea()->set_body("Ein durchgehender Radweg.");
  req.mutable_idea()->set_author_display_name("Anna");
  req.mutable_idea()->set_category("weltraum");
  EXPECT_EQ(Call("CreateIdea", req, &out, kAnna, &error), CIVITAS_INVALID_ARGUMENT);
  EXPECT_NE(error.find("unknown category 'weltraum'"), std::string::npos);
  req.mutable_idea()->clear_category();
  req.mutable_idea()->mutable_location()->set_longitude(200);
  EXPECT_EQ(Call("CreateIdea", req, &out, kAnna, &error), CIVITAS_INVALID_ARGUMENT);
  EXPECT_NE(error.find("longitude in [-180, 180]"), std::string::npos);
  EXPECT_TRUE(host_.data().empty());
}

}  // namespace
