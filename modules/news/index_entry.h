// One entry of the news module's published-article index (p/, c/<category>/, g/<tag>/):
// its key tail says where the article sorts, its value what a list page needs, so a page is read
// from the index alone. The one place that writes or reads that format.
//
//   key tail: <P><inv publish><id>   P '0' pinned, '1' not; inv = 16 hex of INT64_MAX - publish
//   value:    <expire micros, 16 hex, 0 = never><languages, comma-separated>'\n'<Summary bytes>
#ifndef CIVITAS_MODULES_NEWS_INDEX_ENTRY_H_
#define CIVITAS_MODULES_NEWS_INDEX_ENTRY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace news {

struct IndexEntry {
  static constexpr size_t kIdLength = 16;
  static constexpr size_t kTailLength = 1 + 16 + kIdLength;

  // The key tail.
  bool pinned = false;
  int64_t publish_micros = 0;
  std::string id;
  // The value.
  int64_t expire_micros = 0;           // 0: never expires
  std::vector<std::string> languages;  // primary languages, the article's own first
  std::string summary;                 // serialized list view; empty in entries written before it

  std::string EncodeTail() const;
  std::string EncodeValue() const;
  // False if `tail` is not a tail EncodeTail() writes.
  static bool DecodeTail(std::string_view tail, IndexEntry* out);
  // False if `value` is too short to be one EncodeValue() writes.
  static bool DecodeValue(std::string_view value, IndexEntry* out);

  // Published and not expired at `now`.
  bool VisibleAt(int64_t now) const;
};

}  // namespace news

#endif  // CIVITAS_MODULES_NEWS_INDEX_ENTRY_H_
