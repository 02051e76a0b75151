// The participation module's keys, tested directly: what they look like, how they sort, and that
// every part a reader takes back out of a key (page tokens, ids, tallies, contributions) is what
// went in.
#include "records.h"

#include <gtest/gtest.h>

#include <set>

namespace participation {
namespace {

constexpr char kIdea[] = "0123456789abcdef";

TEST(RecordKeysTest, IdeaIndexIsNewestFirstAndGivesBackTokenAndId) {
  const std::string older = keys::IdeaIndex(1'000, kIdea);
  const std::string newer = keys::IdeaIndex(2'000, "fedcba9876543210");
  EXPECT_LT(newer, older) << "a forward scan reads the newest idea first";
  EXPECT_EQ(older.rfind(keys::kIdeaIndexPrefix, 0), 0u);
  EXPECT_EQ(keys::IdeaIdOfIndex(older), kIdea);
  const std::string token = keys::IdeaIndexToken(older);
  EXPECT_TRUE(keys::IsIdeaPageToken(token));
  EXPECT_EQ(keys::kIdeaIndexPrefix + token, older);
  EXPECT_GT(keys::IdeaIndexAfter(token), older) << "the next page starts after the token";
  EXPECT_LT(keys::IdeaIndexAfter(keys::IdeaIndexToken(newer)), older);
}

TEST(RecordKeysTest, PageTokensAreOnlyTheShapesTheServerIssues) {
  EXPECT_FALSE(keys::IsIdeaPageToken(""));
  EXPECT_FALSE(keys::IsIdeaPageToken(std::string(31, 'a')));
  EXPECT_FALSE(keys::IsIdeaPageToken(std::string(32, 'A')));
  EXPECT_TRUE(keys::IsCommentPageToken(keys::CommentId(1'790'000'000'000'000)));
  EXPECT_FALSE(keys::IsCommentPageToken("xyz"));
  EXPECT_TRUE(keys::IsAuditPageToken(std::string(20, '0')));
  EXPECT_FALSE(keys::IsAuditPageToken(std::string(16, '0')));
}

TEST(RecordKeysTest, CommentIdsSortByCreationTime) {
  EXPECT_LT(keys::Comment(kIdea, keys::CommentId(999)),
            keys::Comment(kIdea, keys::CommentId(1000)));
  EXPECT_EQ(keys::Comment(kIdea, "00000000000003e8").rfind(keys::CommentPrefix(kIdea), 0), 0u);
  EXPECT_TRUE(keys::IsCommentKey(keys::Comment(kIdea, "00000000000003e8")));
  EXPECT_FALSE(keys::IsCommentKey(keys::Idea(kIdea)));
}

TEST(RecordKeysTest, TalliesRoundTrip) {
  const std::string key = keys::Tally("p1", 3, 17);
  ASSERT_EQ(key.rfind(keys::TallyPrefix("p1"), 0), 0u);
  int q = -1, o = -1;
  ASSERT_TRUE(
      keys::ParseTally(std::string_view(key).substr(keys::TallyPrefix("p1").size()), &q, &o));
  EXPECT_EQ(q, 3);
  EXPECT_EQ(o, 17);
  EXPECT_FALSE(keys::ParseTally("03/1", &q, &o));
}

TEST(RecordKeysTest, AuditEntriesAreNewestFirst) {
  EXPECT_LT(keys::Audit(2, "aaaa"), keys::Audit(1, "aaaa"));
  EXPECT_TRUE(keys::IsAuditPageToken(keys::Audit(1, "abcd").substr(2)));
}

TEST(RecordKeysTest, EveryContributionKindRoundTripsAndHasItsOwnName) {
  std::set<std::string> names;
  for (ContributionKind kind : kContributionKinds) {
    const std::string key = keys::Contribution("anna", kind, "ideas/" + std::string(kIdea));
    const std::string prefix = keys::ContributionPrefix("anna");
    ASSERT_EQ(key.rfind(prefix, 0), 0u);
    ContributionKind parsed;
    std::string name;
    ASSERT_TRUE(
        keys::ParseContribution(std::string_view(key).substr(prefix.size()), &parsed, &name))
        << key;
    EXPECT_EQ(parsed, kind);
    EXPECT_EQ(name, "ideas/" + std::string(kIdea));
    EXPECT_TRUE(names.insert(std::string(KindName(kind))).second) << KindName(kind);
  }
  ContributionKind kind;
  std::string name;
  EXPECT_FALSE(keys::ParseContribution("medal:ideas/1", &kind, &name)) << "unknown kinds";
  // One subject's contributions never share a prefix with a longer subject's.
  EXPECT_NE(keys::Contribution("annabel", ContributionKind::kIdea, "x")
                .rfind(keys::ContributionPrefix("anna"), 0),
            0u);
}

TEST(RecordKeysTest, RecordsThatNameTheSubjectInTheKey) {
  for (const std::string& key : {keys::Support(kIdea, "anna"), keys::Ballot("p1", "anna"),
                                 keys::Flag("ideas/x", "anna"), keys::WriteWindow("anna")}) {
    EXPECT_NE(key.find("anna"), std::string::npos) << key;
  }
  EXPECT_NE(keys::Support(kIdea, "anna"), keys::Support(kIdea, "ben"));
}

TEST(RecordKeysTest, ItemNamesSplitIntoIdeaAndComment) {
  std::string idea, comment;
  EXPECT_TRUE(SplitItem("ideas/0123456789abcdef", &idea, &comment));
  EXPECT_EQ(idea, kIdea);
  EXPECT_TRUE(comment.empty());
  EXPECT_TRUE(SplitItem("ideas/0123456789abcdef/comments/00000000000003e8", &idea, &comment));
  EXPECT_EQ(comment, "00000000000003e8");
  EXPECT_FALSE(SplitItem("ideas/0123456789ABCDEF", &idea, &comment));
  EXPECT_FALSE(SplitItem("polls/0123456789abcdef", &idea, &comment));
  EXPECT_FALSE(SplitItem("ideas/0123456789abcdef/comments/1", &idea, &comment));
}

}  // namespace
}  // namespace participation
