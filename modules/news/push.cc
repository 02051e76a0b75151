// Articles published with a push notification (PublishArticleRequest.notify): the topics this
// module offers (every news, and one per category), and the push queued in the publish's own
// transaction, so the article and its notification commit together.
//
// Key: n/<id> -> "<send micros> <message name>", the article's push (one per article).
#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "civitas/text.h"
#include "news.h"

namespace news {

using civitas::OkStatus;
using civitas::Status;

namespace {

constexpr char kAllTopic[] = "all";
constexpr size_t kMaxPushTitleChars = 120;
constexpr size_t kMaxPushBodyChars = 300;

std::string PushKey(const std::string& id) { return "n/" + id; }

bool IsPushTopicId(const std::string& id) {
  if (id.empty() || id.size() > 48) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  }
  return true;
}

civitas::PushText TextOf(const std::string& language, const std::string& title,
                         const std::string& teaser) {
  return {language, civitas::TruncateUtf8(title, kMaxPushTitleChars),
          civitas::TruncateUtf8(civitas::StripHtml(teaser), kMaxPushBodyChars)};
}

}  // namespace

Status Newsroom::PushTopics(std::vector<civitas::PushTopic>* topics) {
  topics->push_back({kAllTopic, {{"de", "Alle Nachrichten"}, {"en", "All news"}}});
  for (const civitas::Categories::Category& c : config_.categories.list()) {
    if (!IsPushTopicId(c.id) || topics->size() >= 64) continue;
    civitas::PushTopic t{c.id, {}};
    for (const auto& [language, name] : c.names) t.titles[language] = name;
    if (t.titles.empty()) t.titles[config_.default_language] = c.id;
    topics->push_back(std::move(t));
  }
  return OkStatus();
}

namespace {

int64_t MicrosOf(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000000 + t.nanos() / 1000;
}

// The stored n/<id>: when the push goes (or went) and its message name.
struct StoredPush {
  int64_t send_micros = 0;
  std::string name;
};

Status ReadPush(civitas::Transaction& txn, const std::string& id, std::optional<StoredPush>* out) {
  std::string stored;
  Status found = txn.Get(PushKey(id), &stored, /*for_update=*/true);
  if (found.code() == CIVITAS_NOT_FOUND) return OkStatus();
  if (!found.ok()) return found;
  const size_t space = stored.find(' ');
  if (space == std::string::npos) return civitas::Internal("stored article push is corrupt");
  *out = StoredPush{std::strtoll(stored.c_str(), nullptr, 10), stored.substr(space + 1)};
  return OkStatus();
}

Status Cancel(civitas::Transaction& txn, const StoredPush& push) {
  Status c = txn.CancelPush(push.name);
  return c.code() == CIVITAS_NOT_FOUND ? OkStatus() : c;
}

}  // namespace

Status Newsroom::WritePush(civitas::Transaction& txn, const pb::Article& article,
                           int64_t now) const {
  civitas::PushMessage m;
  m.topic = kAllTopic;
  for (const std::string& c : article.categories()) {
    if (IsPushTopicId(c)) m.topic += "," + c;
  }
  m.texts.push_back(
      TextOf(article.language_code().empty() ? config_.default_language : article.language_code(),
             article.title(), article.teaser()));
  for (const pb::Localization& l : article.localizations()) {
    bool seen = false;
    for (const civitas::PushText& t : m.texts) {
      seen |=
          civitas::PrimaryLanguage(t.language_code) == civitas::PrimaryLanguage(l.language_code());
    }
    if (!seen && !l.title().empty() && m.texts.size() < 10) {
      m.texts.push_back(TextOf(l.language_code(), l.title(), l.teaser()));
    }
  }
  m.deep_link = "civitas://" + article.name();
  for (const pb::Image& image : article.images()) {
    if (m.image_url.empty() && image.url().rfind("https://", 0) == 0) m.image_url = image.url();
  }
  const int64_t at = std::max(MicrosOf(article.publish_time()), now);
  m.send_time_unix_micros = at > now ? at : 0;
  std::string name;
  if (Status s = txn.Push(m, &name); !s.ok()) return s;
  const std::string id = article.name().substr(sizeof("articles/") - 1);
  return txn.Put(PushKey(id), std::to_string(at) + " " + name);
}

Status Newsroom::QueueArticlePush(civitas::Transaction& txn, const pb::Article& article,
                                  int64_t now) const {
  std::optional<StoredPush> stored;
  if (Status r = ReadPush(txn, article.name().substr(sizeof("articles/") - 1), &stored); !r.ok()) {
    return r;
  }
  if (stored && stored->send_micros <= now) {
    return civitas::FailedPrecondition(
               "this article was already sent as a push notification; publish it without "
               "notify")
        .WithReason("ARTICLE_ALREADY_PUSHED");
  }
  if (stored) {
    if (Status c = Cancel(txn, *stored); !c.ok()) return c;  // the new time replaces it
  }
  return WritePush(txn, article, now);
}

Status Newsroom::FollowArticlePush(civitas::Transaction& txn, const std::string& id,
                                   const pb::Article* after, int64_t now) const {
  std::optional<StoredPush> stored;
  if (Status r = ReadPush(txn, id, &stored); !r.ok()) return r;
  if (!stored) return OkStatus();
  if (stored->send_micros <= now) {  // gone out; the record goes with a deleted article
    return after == nullptr ? txn.Delete(PushKey(id)) : OkStatus();
  }
  const bool still_due = after != nullptr && after->state() == pb::Article::PUBLISHED;
  if (still_due && std::max(MicrosOf(after->publish_time()), now) == stored->send_micros) {
    return OkStatus();
  }
  if (Status c = Cancel(txn, *stored); !c.ok()) return c;
  if (!still_due) return txn.Delete(PushKey(id));
  return WritePush(txn, *after, now);  // rescheduled: the push moves with it
}

}  // namespace news
