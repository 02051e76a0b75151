// The published-article index entry, tested directly: round trips, sort order, visibility and
// languages, and what an entry written before the summary was added still gives.
#include "index_entry.h"

#include <gtest/gtest.h>

namespace news {
namespace {

IndexEntry Entry(bool pinned, int64_t publish) {
  IndexEntry e;
  e.pinned = pinned;
  e.publish_micros = publish;
  e.id = "0123456789abcdef";
  e.expire_micros = 5'000;
  e.languages = {"de", "en"};
  e.summary = std::string("bytes\n\0with a newline", 21);
  return e;
}

TEST(IndexEntryTest, RoundTrips) {
  const IndexEntry e = Entry(true, 1'000);
  IndexEntry back;
  ASSERT_TRUE(IndexEntry::DecodeTail(e.EncodeTail(), &back));
  ASSERT_TRUE(IndexEntry::DecodeValue(e.EncodeValue(), &back));
  EXPECT_TRUE(back.pinned);
  EXPECT_EQ(back.publish_micros, 1'000);
  EXPECT_EQ(back.id, e.id);
  EXPECT_EQ(back.expire_micros, 5'000);
  EXPECT_EQ(back.languages, e.languages);
  EXPECT_EQ(back.summary, e.summary);
  EXPECT_EQ(e.EncodeTail().size(), IndexEntry::kTailLength);
}

TEST(IndexEntryTest, PinnedFirstThenNewestFirst) {
  EXPECT_LT(Entry(true, 1).EncodeTail(), Entry(false, 9).EncodeTail());
  EXPECT_LT(Entry(false, 9).EncodeTail(), Entry(false, 1).EncodeTail());
}

TEST(IndexEntryTest, VisibleBetweenPublishAndExpire) {
  IndexEntry e = Entry(false, 1'000);
  EXPECT_FALSE(e.VisibleAt(999));
  EXPECT_TRUE(e.VisibleAt(1'000));
  EXPECT_FALSE(e.VisibleAt(5'000));
  e.expire_micros = 0;
  EXPECT_TRUE(e.VisibleAt(INT64_MAX)) << "0: never expires";
}

TEST(IndexEntryTest, LanguagesAndOldEntries) {
  IndexEntry e;
  ASSERT_TRUE(IndexEntry::DecodeValue("0000000000000000de", &e)) << "written before the summary";
  EXPECT_EQ(e.languages, std::vector<std::string>{"de"});
  EXPECT_TRUE(e.summary.empty());
  EXPECT_FALSE(IndexEntry::DecodeValue("00", &e));
  EXPECT_FALSE(IndexEntry::DecodeTail("1abc", &e));
}

}  // namespace
}  // namespace news
