// The history of an article: who changed it, what and when. Entries are kept under the article's
// id, newest first:
//   h/<id>/<inv time><random>   ArticleHistoryEntry (<inv time>: 16 hex digits of
//                               INT64_MAX - micros; <random>: 4 hex digits, so two changes in the
//                               same microsecond keep both entries)
// Every history key is built here.
#ifndef CIVITAS_MODULES_NEWS_HISTORY_H_
#define CIVITAS_MODULES_NEWS_HISTORY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "civitas/news/v1/news.pb.h"

namespace news {

// "h/" : every history entry of every article.
inline constexpr char kHistoryRoot[] = "h/";

// "h/<id>/": the entries of one article.
std::string HistoryPrefix(std::string_view id);

// The key of an entry of article `id` made at `micros`; `random` is 4 hex digits.
std::string HistoryKey(std::string_view id, int64_t micros, std::string_view random);

// The part of a key after HistoryPrefix(id): the page token of ListArticleHistory.
bool IsHistoryPageToken(std::string_view token);

// An entry: `actor` did `action` at `now`, changing `fields`; `after` is the article as stored.
civitas::news::v1::ArticleHistoryEntry HistoryEntry(
    civitas::news::v1::ArticleHistoryEntry::Action action, std::string_view actor,
    const std::vector<std::string>& fields, const civitas::news::v1::Article& after, int64_t now);

}  // namespace news

#endif  // CIVITAS_MODULES_NEWS_HISTORY_H_
