// RSS 2.0 and Atom 1.0: rendering the city's articles as a feed, and reading other feeds in.
#ifndef CIVITAS_MODULES_NEWS_FEED_H_
#define CIVITAS_MODULES_NEWS_FEED_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace news {

// One item of a feed, in either direction. Times are unix microseconds; 0 = unknown.
struct FeedItem {
  std::string id;       // export: stable id (guid / atom:id); import: guid, atom:id or link
  std::string title;    // plain text
  std::string summary;  // plain text
  std::string content;  // plain text of the full content, if the feed has it (import only)
  std::string link;
  std::vector<std::string> categories;
  int64_t published = 0;
  int64_t updated = 0;
};

struct FeedChannel {
  std::string id;  // Atom feed id
  std::string title;
  std::string link;
  std::string description;
  std::string language;
  std::string author;
  int64_t updated = 0;
};

std::string RenderRss(const FeedChannel& channel, const std::vector<FeedItem>& items);
std::string RenderAtom(const FeedChannel& channel, const std::vector<FeedItem>& items);

// Parses an RSS 2.0 (also 0.9x/1.0-style <item>s) or Atom 1.0 document. HTML in titles and
// descriptions is reduced to plain text. False with *error for anything that is not well-formed
// XML or not a feed. External entities are never loaded.
bool ParseFeed(std::string_view document, FeedChannel* channel, std::vector<FeedItem>* items,
               std::string* error);

// RFC 822 (RSS pubDate, with the usual zone names) and RFC 3339 (Atom); 0 if unparseable.
int64_t ParseFeedTime(std::string_view text);

}  // namespace news

#endif  // CIVITAS_MODULES_NEWS_FEED_H_
