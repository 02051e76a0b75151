#include "news.h"

#include <cinttypes>
#include <cstdio>
#include <random>
#include <set>
#include <utility>

#include "article_fields.h"
#include "civitas/config.h"
#include "civitas/content.h"
#include "civitas/json.h"
#include "civitas/text.h"
#include "feed.h"
#include "history.h"
#include "index_entry.h"

namespace news {
namespace {

using civitas::CheckEtag;
using civitas::CheckHttpUrl;
using civitas::CheckPageSize;
using civitas::Hex16;
using civitas::InvalidArgument;
using civitas::IsLowerHex;
using civitas::NextEtag;
using civitas::OkStatus;
using civitas::ParseHex;
using civitas::SetMicros;
using civitas::Status;

int64_t Micros(const google::protobuf::Timestamp& t) { return civitas::ToMicros(t); }

Status IdFromName(const std::string& name, std::string* id) {
  return civitas::IdFromName("articles", name, id);
}

constexpr char kTopic[] = "articles";
constexpr size_t kTailLength = IndexEntry::kTailLength;  // <P><inv><id>
constexpr int kMaxPage = 100;
constexpr int kDefaultPage = 20;

pb::Article::State EffectiveState(const pb::Article& a, int64_t now) {
  if (a.state() != pb::Article::PUBLISHED) return a.state();
  if (a.has_publish_time() && Micros(a.publish_time()) > now) return pb::Article::SCHEDULED;
  if (a.has_expire_time() && Micros(a.expire_time()) <= now) return pb::Article::ARCHIVED;
  return pb::Article::PUBLISHED;
}

// <P><inv publish><id>: the position of a published article in lists.
std::string Tail(const pb::Article& a, const std::string& id) {
  IndexEntry entry;
  entry.pinned = a.pinned();
  entry.publish_micros = a.has_publish_time() ? Micros(a.publish_time()) : 0;
  entry.id = id;
  return entry.EncodeTail();
}

// What lists show of an article (the BASIC view): everything but the bodies, with a teaser made
// from the body where the article has none.
pb::Article Summary(const pb::Article& a) {
  pb::Article s = a;
  if (s.teaser().empty()) s.set_teaser(civitas::TruncateUtf8(a.body(), 300));
  s.clear_body();
  for (pb::Localization& l : *s.mutable_localizations()) {
    if (l.teaser().empty()) l.set_teaser(civitas::TruncateUtf8(l.body(), 300));
    l.clear_body();
  }
  return s;
}

// Index value: expire micros (16 hex, 0 = never), the article's languages, comma-separated, then
// '\n' and its Summary, so that a list page is read from the index alone.
std::string IndexValue(const pb::Article& a) {
  IndexEntry entry;
  entry.expire_micros = a.has_expire_time() ? Micros(a.expire_time()) : 0;
  entry.languages.push_back(civitas::PrimaryLanguage(a.language_code()));
  for (const pb::Localization& l : a.localizations()) {
    entry.languages.push_back(civitas::PrimaryLanguage(l.language_code()));
  }
  entry.summary = Summary(a).SerializeAsString();
  return entry.EncodeValue();
}

std::vector<std::string> IndexKeys(const pb::Article& a, const std::string& id) {
  std::vector<std::string> keys;
  if (a.state() != pb::Article::PUBLISHED) return keys;
  const std::string tail = Tail(a, id);
  keys.push_back("p/" + tail);
  for (const std::string& c : a.categories()) keys.push_back("c/" + c + "/" + tail);
  for (const std::string& t : a.tags()) keys.push_back("g/" + t + "/" + tail);
  return keys;
}

std::string UpdateKey(const pb::Article& a, const std::string& id) {
  return "u/" + Hex16(static_cast<uint64_t>(INT64_MAX - Micros(a.update_time()))) + id;
}

// The default categories of a German city's news, used when the city configures none.
std::vector<civitas::Categories::Category> DefaultCategories() {
  return {{"rathaus", {{"de", "Rathaus"}, {"en", "City hall"}}},
          {"verkehr", {{"de", "Verkehr"}, {"en", "Traffic"}}},
          {"kultur", {{"de", "Kultur"}, {"en", "Culture"}}},
          {"umwelt", {{"de", "Umwelt"}, {"en", "Environment"}}},
          {"soziales", {{"de", "Soziales"}, {"en", "Social affairs"}}},
          {"bildung", {{"de", "Bildung"}, {"en", "Education"}}},
          {"sport", {{"de", "Sport"}, {"en", "Sports"}}},
          {"wirtschaft", {{"de", "Wirtschaft"}, {"en", "Economy"}}}};
}

// Text as it is stored: HTML removed from every field; Markdown links made safe.
void Sanitize(pb::Article* a) {
  a->set_title(civitas::StripHtml(a->title()));
  a->set_teaser(civitas::StripHtml(a->teaser()));
  const bool markdown = a->body_format() == pb::Article::MARKDOWN;
  a->set_body(markdown ? civitas::SafeMarkdown(a->body()) : civitas::StripHtml(a->body()));
  for (pb::Localization& l : *a->mutable_localizations()) {
    l.set_title(civitas::StripHtml(l.title()));
    l.set_teaser(civitas::StripHtml(l.teaser()));
    l.set_body(markdown ? civitas::SafeMarkdown(l.body()) : civitas::StripHtml(l.body()));
  }
  for (pb::Image& i : *a->mutable_images()) {
    i.set_alt_text(civitas::StripHtml(i.alt_text()));
    i.set_copyright(civitas::StripHtml(i.copyright()));
  }
}

}  // namespace

bool Visible(const pb::Article& a, int64_t now) {
  if (a.state() != pb::Article::PUBLISHED) return false;
  if (a.has_publish_time() && Micros(a.publish_time()) > now) return false;
  return !(a.has_expire_time() && Micros(a.expire_time()) <= now);
}

Status ParseConfig(const std::string& json, const std::string& city_id, Config* config) {
  civitas::ConfigReader reader;
  if (Status s = civitas::ConfigReader::Parse(json, &reader); !s.ok()) return s;
  config->default_language = "de";
  config->feed_title = "News " + city_id;
  config->feed_description.clear();
  config->site_url.clear();
  config->review_required = false;
  reader.String("default_language", &config->default_language, 35)
      .String("feed_title", &config->feed_title, 500)
      .String("feed_description", &config->feed_description, 5000)
      .String("site_url", &config->site_url, 2000)
      .Bool("review_required", &config->review_required);
  if (!civitas::IsLanguageTag(config->default_language)) {
    return InvalidArgument("default_language '" + config->default_language +
                           "' is not a language tag like 'de' or 'en-GB'");
  }
  while (!config->site_url.empty() && config->site_url.back() == '/') config->site_url.pop_back();
  if (Status s = civitas::Categories::Parse(reader, config->default_language, DefaultCategories(),
                                            &config->categories);
      !s.ok()) {
    return s;
  }
  return reader.Finish();
}

Status Newsroom::Create(civitas::City city, std::unique_ptr<Newsroom>* out) {
  Config config;
  if (Status s = ParseConfig(city.ConfigJson(), std::string(city.id()), &config); !s.ok()) {
    return s;
  }
  config.default_language = civitas::PrimaryLanguage(config.default_language);
  *out = std::make_unique<Newsroom>(city, std::move(config));
  (*out)->announced_until_ = city.NowMicros();
  return OkStatus();
}

Status Newsroom::Load(const std::string& id, pb::Article* article, civitas::Transaction* txn,
                      bool for_update) const {
  std::string bytes;
  Status s = txn ? txn->Get("a/" + id, &bytes, for_update) : city_.store().Get("a/" + id, &bytes);
  if (s.code() == CIVITAS_NOT_FOUND) {
    return civitas::NotFound("article 'articles/" + id + "' does not exist");
  }
  if (!s.ok()) return s;
  if (!article->ParseFromString(bytes)) return civitas::Internal("stored article is corrupt");
  return OkStatus();
}

pb::Article Newsroom::PublicView(const pb::Article& stored, const std::string& language,
                                 int64_t now, bool keep_localizations) const {
  pb::Article out = EditorView(stored, now);
  out.clear_author();
  out.clear_approver();
  out.clear_approve_time();
  out.clear_last_editor();
  out.clear_review_required();
  if (keep_localizations) return out;
  // The language asked for, else the city's, else the article's own. A translation that lacks
  // a field (a teaser nobody translated) shows that field from the article's own text, so the
  // result is never emptier than the original; language_code names the translation used.
  const std::string wanted[] = {civitas::PrimaryLanguage(language), config_.default_language};
  for (const std::string& w : wanted) {
    if (w.empty()) continue;
    if (civitas::PrimaryLanguage(stored.language_code()) == w) break;
    bool found = false;
    for (const pb::Localization& l : stored.localizations()) {
      if (civitas::PrimaryLanguage(l.language_code()) == w) {
        out.set_language_code(l.language_code());
        out.set_title(l.title());
        if (!l.teaser().empty()) out.set_teaser(l.teaser());
        if (!l.body().empty()) out.set_body(l.body());
        found = true;
        break;
      }
    }
    if (found) break;
  }
  out.clear_localizations();
  return out;
}

pb::Article Newsroom::EditorView(const pb::Article& stored, int64_t now) const {
  pb::Article out = stored;
  out.set_state(EffectiveState(stored, now));
  out.set_review_required(config_.review_required);
  out.add_available_languages(stored.language_code());
  for (const pb::Localization& l : stored.localizations()) {
    out.add_available_languages(l.language_code());
  }
  return out;
}

Status Newsroom::Validate(const pb::Article& a) const {
  Status s;
  if (s = civitas::CheckText("article.title", a.title(), 1, 200); !s.ok()) return s;
  if (s = civitas::CheckText("article.teaser", a.teaser(), 0, 500); !s.ok()) return s;
  if (s = civitas::CheckText("article.body", a.body(), 0, 50000); !s.ok()) return s;
  if (s = civitas::CheckText("article.department", a.department(), 0, 100); !s.ok()) return s;
  if (!pb::Article::BodyFormat_IsValid(a.body_format())) {
    return InvalidArgument("article.body_format has an unknown value " +
                           std::to_string(a.body_format()));
  }
  if (a.language_code().empty() || !civitas::IsLanguageTag(a.language_code())) {
    return InvalidArgument("article.language_code '" + a.language_code() +
                           "' is not a language tag like 'de' or 'en-GB'");
  }
  std::set<std::string> languages = {civitas::PrimaryLanguage(a.language_code())};
  if (a.localizations_size() > 20) {
    return InvalidArgument("article.localizations has at most 20 entries, got " +
                           std::to_string(a.localizations_size()));
  }
  for (int i = 0; i < a.localizations_size(); ++i) {
    const pb::Localization& l = a.localizations(i);
    const std::string where = "article.localizations[" + std::to_string(i) + "]";
    if (!civitas::IsLanguageTag(l.language_code())) {
      return InvalidArgument(where + ".language_code '" + l.language_code() +
                             "' is not a language tag like 'de' or 'en-GB'");
    }
    if (!languages.insert(civitas::PrimaryLanguage(l.language_code())).second) {
      return InvalidArgument(where + ".language_code '" + l.language_code() +
                             "' is already used by the article or another localization");
    }
    if (s = civitas::CheckText(where + ".title", l.title(), 1, 200); !s.ok()) return s;
    if (s = civitas::CheckText(where + ".teaser", l.teaser(), 0, 500); !s.ok()) return s;
    if (s = civitas::CheckText(where + ".body", l.body(), 0, 50000); !s.ok()) return s;
  }
  if (a.images_size() > 10) {
    return InvalidArgument("article.images has at most 10 entries, got " +
                           std::to_string(a.images_size()));
  }
  for (int i = 0; i < a.images_size(); ++i) {
    const pb::Image& img = a.images(i);
    const std::string where = "article.images[" + std::to_string(i) + "]";
    if (img.url().empty()) return InvalidArgument(where + ".url is required");
    if (s = CheckHttpUrl(where + ".url", img.url()); !s.ok()) return s;
    if (s = civitas::CheckText(where + ".alt_text", img.alt_text(), 1, 300); !s.ok()) return s;
    if (s = civitas::CheckText(where + ".copyright", img.copyright(), 0, 200); !s.ok()) return s;
  }
  if (a.categories_size() > 5) {
    return InvalidArgument("article.categories has at most 5 entries, got " +
                           std::to_string(a.categories_size()));
  }
  std::set<std::string> seen;
  for (const std::string& c : a.categories()) {
    if (!config_.categories.Find(c)) {
      return InvalidArgument("article.categories: unknown category '" + c +
                             "'; ListCategories shows this city's categories");
    }
    if (!seen.insert(c).second)
      return InvalidArgument("article.categories lists '" + c + "' twice");
  }
  if (a.tags_size() > 20) {
    return InvalidArgument("article.tags has at most 20 entries, got " +
                           std::to_string(a.tags_size()));
  }
  seen.clear();
  for (const std::string& t : a.tags()) {
    if (s = civitas::CheckText("article.tags", t, 1, 40); !s.ok()) return s;
    for (char c : t) {
      if (c == '/' || static_cast<unsigned char>(c) < 0x20) {
        return InvalidArgument("article.tags: '" + t + "' contains '/' or a control character");
      }
    }
    if (!seen.insert(t).second) return InvalidArgument("article.tags lists '" + t + "' twice");
  }
  if (s = CheckHttpUrl("article.link", a.link()); !s.ok()) return s;
  for (const auto* t : {&a.publish_time(), &a.expire_time()}) {
    if (t->nanos() < 0 || t->nanos() > 999999999 || t->seconds() < 0 ||
        t->seconds() > 253402300799) {
      return InvalidArgument("article times must lie between 1970 and 9999");
    }
  }
  if (a.has_publish_time() && a.has_expire_time() &&
      Micros(a.expire_time()) <= Micros(a.publish_time())) {
    return InvalidArgument("article.expire_time must be after article.publish_time");
  }
  return OkStatus();
}

Status Newsroom::Save(civitas::Transaction& txn, const pb::Article* before,
                      const pb::Article* after, int64_t now) const {
  const std::string id = before ? before->name().substr(9) : after->name().substr(9);
  Status s;
  if (before) {
    if (s = FollowArticlePush(txn, id, after, now); !s.ok()) return s;
    for (const std::string& k : IndexKeys(*before, id)) {
      if (s = txn.Delete(k); !s.ok()) return s;
    }
    if (s = txn.Delete(UpdateKey(*before, id)); !s.ok()) return s;
  }
  std::initializer_list<int64_t> none = {};
  if (!after) {
    if (s = txn.Delete("a/" + id); !s.ok()) return s;
    if (!before->source().empty()) {
      if (s = txn.Delete("x/" + before->source() + '\0' + before->external_id()); !s.ok()) return s;
    }
    return changes_.Record(txn, id, now, none);
  }
  if (s = txn.Put("a/" + id, after->SerializeAsString()); !s.ok()) return s;
  const std::string value = IndexValue(*after);
  for (const std::string& k : IndexKeys(*after, id)) {
    if (s = txn.Put(k, value); !s.ok()) return s;
  }
  if (s = txn.Put(UpdateKey(*after, id), ""); !s.ok()) return s;
  const int64_t publish = after->has_publish_time() ? Micros(after->publish_time()) : 0;
  const int64_t expire = after->has_expire_time() ? Micros(after->expire_time()) : 0;
  return changes_.Record(txn, id, now, {publish, expire});
}

void Newsroom::AnnounceDue(int64_t now) const {
  const int64_t next = next_due_.load();
  if (next > now) return;  // nothing due yet (0: unknown, so look)
  std::unique_lock<std::mutex> lock(due_mu_, std::try_to_lock);
  if (!lock.owns_lock()) return;  // another request is announcing
  std::lock_guard<std::mutex> order(order_mu_);
  int64_t found_next = 0;
  std::vector<std::string> ids;
  if (!changes_
           .Due(
               city_.store(), announced_until_, now,
               [&](std::string_view id, int64_t) { ids.emplace_back(id); }, &found_next)
           .ok()) {
    return;
  }
  announced_until_ = now;  // the events below carry the position after them
  const std::string token = ResumeToken();
  for (const std::string& id : ids) {
    pb::Article a;
    if (!Load(id, &a).ok()) continue;
    pb::ArticleEvent event;
    event.set_resume_token(token);
    if (Visible(a, now)) {
      event.set_type(pb::ArticleEvent::PUBLISHED);
      *event.mutable_article() = PublicView(a, "", now, /*keep_localizations=*/true);
    } else {
      event.set_type(pb::ArticleEvent::REMOVED);
      event.mutable_article()->set_name(a.name());
    }
    (void)city_.Publish(kTopic, event);
  }
  next_due_ = found_next == 0 ? INT64_MAX : found_next;
}

std::string Newsroom::ResumeToken() const {
  std::string token;
  // On a read error the event carries no token; a client that resumes without one catches up
  // with ListChanges.
  (void)changes_.Head(city_.store(), announced_until_.load(), &token);
  return token;
}

void Newsroom::Announce(const std::vector<Written>& writes, int64_t now) const {
  pages_.Invalidate();                      // called after every committed write
  next_due_ = 0;                            // the write may have scheduled something: look again
  const std::string token = ResumeToken();  // the writes are one transaction
  for (const Written& w : writes) {
    const bool visible = !w.article.name().empty() && Visible(w.article, now);
    if (!visible && !w.was_visible) continue;
    pb::ArticleEvent event;
    event.set_resume_token(token);
    if (visible) {
      event.set_type(w.was_visible ? pb::ArticleEvent::CHANGED : pb::ArticleEvent::PUBLISHED);
      *event.mutable_article() = PublicView(w.article, "", now, /*keep_localizations=*/true);
    } else {
      event.set_type(pb::ArticleEvent::REMOVED);
      event.mutable_article()->set_name(w.article.name());
    }
    (void)city_.Publish(kTopic, event);
  }
}

Status Newsroom::ListVisible(const std::string& category, const std::string& tag,
                             const std::string& language, const std::string& after, int size,
                             bool by_date, bool full, std::vector<pb::Article>* out,
                             std::string* next) const {
  const int64_t now = city_.NowMicros();
  civitas::ScanOptions scan;
  scan.prefix = !category.empty() ? "c/" + category + "/" : !tag.empty() ? "g/" + tag + "/" : "p/";
  scan.limit = CIVITAS_SCAN_MAX_LIMIT;
  if (!after.empty()) scan.start = scan.prefix + after + '\x01';
  struct Hit {
    int64_t publish;
    std::string tail;
    std::string summary;  // serialized Summary(); empty for index entries written before it
  };
  std::vector<Hit> hits;
  Status s = city_.store().Scan(scan, [&](std::string_view key, std::string_view value) {
    std::string_view tail = key.substr(scan.prefix.size());
    IndexEntry entry;
    if (!IndexEntry::DecodeTail(tail, &entry) || !IndexEntry::DecodeValue(value, &entry)) {
      return true;
    }
    if (!entry.VisibleAt(now)) return true;
    // Every visible article is listed whatever the language asked for: PublicView shows it in
    // that language where a translation exists and falls back to the city's otherwise. (A
    // Turkish-speaking resident sees all the news, some of it in German, never an empty list.)
    hits.push_back(
        {entry.publish_micros, std::string(tail), full ? std::string() : std::move(entry.summary)});
    // By date (feeds), both pinned groups are merged afterwards: read them all.
    return by_date || static_cast<int>(hits.size()) <= size;
  });
  if (!s.ok()) return s;
  if (by_date) {
    std::stable_sort(hits.begin(), hits.end(),
                     [](const Hit& x, const Hit& y) { return x.publish > y.publish; });
  }
  for (size_t i = 0; i < hits.size() && static_cast<int>(i) < size; ++i) {
    pb::Article stored;
    if (!hits[i].summary.empty()) {
      if (!stored.ParseFromString(hits[i].summary))
        return civitas::Internal("index entry is corrupt");
    } else {
      s = Load(hits[i].tail.substr(kTailLength - IndexEntry::kIdLength), &stored);
      if (s.code() == CIVITAS_NOT_FOUND) continue;  // deleted between the scan and the read
      if (!s.ok()) return s;
    }
    out->push_back(PublicView(stored, language, now));
  }
  if (!by_date && static_cast<int>(hits.size()) > size) *next = "p" + hits[size - 1].tail;
  return OkStatus();
}

Status Newsroom::ListAll(const std::string& after, int size, std::vector<pb::Article>* out,
                         std::string* next) const {
  const int64_t now = city_.NowMicros();
  civitas::ScanOptions scan;
  scan.prefix = "u/";
  scan.limit = static_cast<uint32_t>(size) + 1;
  if (!after.empty()) scan.start = scan.prefix + after + '\x01';
  std::vector<std::string> tails;
  Status s = city_.store().Scan(scan, [&](std::string_view key, std::string_view) {
    tails.emplace_back(key.substr(2));
    return true;
  });
  if (!s.ok()) return s;
  for (size_t i = 0; i < tails.size() && static_cast<int>(i) < size; ++i) {
    pb::Article stored;
    s = Load(tails[i].substr(16), &stored);
    if (s.code() == CIVITAS_NOT_FOUND) continue;
    if (!s.ok()) return s;
    out->push_back(EditorView(stored, now));
  }
  if (static_cast<int>(tails.size()) > size) *next = "u" + tails[size - 1];
  return OkStatus();
}

Status Newsroom::ListArticles(civitas::Call& call, const pb::ListArticlesRequest& request,
                              pb::ListArticlesResponse* response) {
  AnnounceDue(city_.NowMicros());
  if (Status s = CheckPageSize(request.page_size(), kMaxPage); !s.ok()) return s;
  if (Status s = civitas::CheckLanguageTag("language_code", request.language_code()); !s.ok())
    return s;
  if (!request.category().empty() && !config_.categories.Find(request.category())) {
    return InvalidArgument("unknown category '" + request.category() +
                           "'; ListCategories shows this city's categories");
  }
  if (request.tag().find('/') != std::string::npos || request.tag().size() > 160) {
    return InvalidArgument("tag '" + request.tag() + "' cannot be an article tag");
  }
  const int size = request.page_size() == 0 ? kDefaultPage : request.page_size();
  const std::string& token = request.page_token();
  // Public pages are the same for every caller: serve them from the cache when fresh.
  const int64_t now = city_.NowMicros();
  const uint64_t generation = pages_.generation();
  const std::string cache_key = request.show_unpublished() ? "" : "l" + request.SerializeAsString();
  if (std::string cached; !cache_key.empty() && pages_.Get(cache_key, now, &cached)) {
    call.ReplySerialized(std::move(cached));
    return OkStatus();
  }
  std::vector<pb::Article> articles;
  std::string next;
  if (request.show_unpublished()) {
    if (!call.HasRole(civitas::Role::kEditor)) {
      return civitas::PermissionDenied("show_unpublished needs the editor role");
    }
    if (!token.empty() && (token.size() != 33 || token[0] != 'u' || !IsLowerHex(token.substr(1)))) {
      return InvalidArgument("page_token is not one this server issued for this query")
          .WithReason("PAGE_TOKEN_INVALID");
    }
    if (Status s = ListAll(token.empty() ? "" : token.substr(1), size, &articles, &next); !s.ok()) {
      return s;
    }
  } else {
    if (!token.empty() && (token.size() != kTailLength + 1 || token[0] != 'p' ||
                           (token[1] != '0' && token[1] != '1') || !IsLowerHex(token.substr(2)))) {
      return InvalidArgument("page_token is not one this server issued for this query")
          .WithReason("PAGE_TOKEN_INVALID");
    }
    Status s = ListVisible(request.category(), request.tag(), request.language_code(),
                           token.empty() ? "" : token.substr(1), size, false,
                           request.view() == pb::ArticleView::FULL, &articles, &next);
    if (!s.ok()) return s;
    if (!request.tag().empty() && !request.category().empty()) {
      // Two filters: the category index was read; keep those with the tag too.
      std::vector<pb::Article> both;
      for (pb::Article& a : articles) {
        for (const std::string& t : a.tags()) {
          if (t == request.tag()) {
            both.push_back(std::move(a));
            break;
          }
        }
      }
      articles = std::move(both);
    }
  }
  for (pb::Article& a : articles) *response->add_articles() = std::move(a);
  response->set_next_page_token(next);
  if (!cache_key.empty()) pages_.Put(cache_key, generation, now, response->SerializeAsString());
  return OkStatus();
}

Status Newsroom::GetArticle(civitas::Call& call, const pb::GetArticleRequest& request,
                            pb::Article* response) {
  AnnounceDue(city_.NowMicros());
  std::string id;
  if (Status s = IdFromName(request.name(), &id); !s.ok()) return s;
  if (Status s = civitas::CheckLanguageTag("language_code", request.language_code()); !s.ok())
    return s;
  pb::Article stored;
  if (Status s = Load(id, &stored); !s.ok()) return s;
  const int64_t now = city_.NowMicros();
  if (call.HasRole(civitas::Role::kEditor)) {
    *response = EditorView(stored, now);
    return OkStatus();
  }
  if (!Visible(stored, now)) {
    return civitas::NotFound("article '" + request.name() + "' does not exist");
  }
  *response = PublicView(stored, request.language_code(), now);
  return OkStatus();
}

Status Newsroom::CreateArticle(civitas::Call& call, const pb::CreateArticleRequest& request,
                               pb::Article* response) {
  if (!request.has_article()) return InvalidArgument("article is required");
  const int64_t now = city_.NowMicros();
  pb::Article a = request.article();
  a.clear_name();
  a.clear_author();
  a.clear_approver();
  a.clear_approve_time();
  a.clear_last_editor();
  a.clear_review_required();
  a.clear_source();
  a.clear_external_id();
  a.clear_create_time();
  a.clear_update_time();
  a.clear_etag();
  a.clear_available_languages();
  if (a.state() != pb::Article::STATE_UNSPECIFIED && a.state() != pb::Article::DRAFT &&
      a.state() != pb::Article::PUBLISHED) {
    return InvalidArgument("article.state may be DRAFT or PUBLISHED when creating, got " +
                           pb::Article::State_Name(a.state()));
  }
  if (a.state() == pb::Article::STATE_UNSPECIFIED) a.set_state(pb::Article::DRAFT);
  if (Status r = CheckReviewed(pb::Article(), a, true); !r.ok()) return r;
  if (a.state() == pb::Article::PUBLISHED && !a.has_publish_time()) {
    SetMicros(now, a.mutable_publish_time());
  }
  if (a.language_code().empty()) a.set_language_code(config_.default_language);
  if (Status s = Validate(a); !s.ok()) return s;
  Sanitize(&a);
  if (a.title().empty()) return InvalidArgument("article.title is empty once HTML is removed");
  const std::string id = civitas::NewResourceId();
  a.set_name("articles/" + id);
  a.set_author(std::string(call.subject()));
  a.set_last_editor(std::string(call.subject()));
  SetMicros(now, a.mutable_create_time());
  SetMicros(now, a.mutable_update_time());
  a.set_etag(NextEtag("", now));
  std::lock_guard<std::mutex> order(order_mu_);  // until announced
  Status s = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    std::string existing;
    if (txn.Get("a/" + id, &existing).ok()) return civitas::Aborted("id collision, retry");
    if (Status w = Save(txn, nullptr, &a, now); !w.ok()) return w;
    return RecordHistory(txn, pb::ArticleHistoryEntry::CREATED, call.subject(), {}, a, now);
  });
  if (!s.ok()) return s;
  Announce({{false, a}}, now);
  *response = EditorView(a, now);
  return OkStatus();
}

Status Newsroom::UpdateArticle(civitas::Call& call, const pb::UpdateArticleRequest& request,
                               pb::Article* response) {
  std::string id;
  if (Status s = IdFromName(request.article().name(), &id); !s.ok()) {
    return InvalidArgument("article." + std::string(s.message()));
  }
  std::vector<std::string> paths(request.update_mask().paths().begin(),
                                 request.update_mask().paths().end());
  if (paths.empty()) paths.assign(WritablePaths().begin(), WritablePaths().end());
  for (const std::string& p : paths) {
    if (!WritablePaths().count(p)) {
      return InvalidArgument("update_mask: '" + p + "' is not a writable field of Article");
    }
  }
  const pb::Article& in = request.article();
  const int64_t now = city_.NowMicros();
  Written written;
  std::lock_guard<std::mutex> order(order_mu_);  // until announced
  Status s = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    pb::Article before;
    if (Status l = Load(id, &before, &txn, /*for_update=*/true); !l.ok()) return l;
    if (Status e = CheckEtag(in.etag(), before.etag(), "article"); !e.ok()) return e;
    pb::Article after = before;
    for (const std::string& p : paths) CopyField(p, in, &after);
    if (after.state() == pb::Article::STATE_UNSPECIFIED ||
        after.state() == pb::Article::SCHEDULED) {
      return InvalidArgument(
          "article.state may be DRAFT, PUBLISHED or ARCHIVED; schedule with publish_time");
    }
    if (after.language_code().empty()) after.set_language_code(config_.default_language);
    if (after.state() == pb::Article::PUBLISHED && !after.has_publish_time()) {
      SetMicros(now, after.mutable_publish_time());
    }
    if (Status v = Validate(after); !v.ok()) return v;
    Sanitize(&after);
    if (after.title().empty())
      return InvalidArgument("article.title is empty once HTML is removed");
    const std::vector<std::string> changed = ChangedFields(before, after);
    const bool content = ChangesReviewedContent(changed);
    if (content) {
      after.clear_approver();
      after.clear_approve_time();
      after.set_last_editor(std::string(call.subject()));
    }
    if (Status r = CheckReviewed(before, after, content); !r.ok()) return r;
    SetMicros(now, after.mutable_update_time());
    after.set_etag(NextEtag(before.etag(), now));
    written = {Visible(before, now), after};
    if (Status w = Save(txn, &before, &after, now); !w.ok()) return w;
    if (changed.empty()) return OkStatus();  // saved as it was: nothing to tell
    return RecordHistory(txn, pb::ArticleHistoryEntry::UPDATED, call.subject(), changed, after,
                         now);
  });
  if (!s.ok()) return s;
  Announce({written}, now);
  *response = EditorView(written.article, now);
  return OkStatus();
}

Status Newsroom::DeleteArticle(civitas::Call&, const pb::DeleteArticleRequest& request,
                               google::protobuf::Empty*) {
  std::string id;
  if (Status s = IdFromName(request.name(), &id); !s.ok()) return s;
  const int64_t now = city_.NowMicros();
  Written written;
  std::lock_guard<std::mutex> order(order_mu_);  // until announced
  Status s = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    pb::Article before;
    if (Status l = Load(id, &before, &txn, /*for_update=*/true); !l.ok()) return l;
    if (Status e = CheckEtag(request.etag(), before.etag(), "article"); !e.ok()) return e;
    written.was_visible = Visible(before, now);
    written.article.set_name(before.name());
    // The history goes with the article. Read after the article is locked: no writer can add
    // an entry meanwhile.
    std::vector<std::string> entries;
    civitas::ScanOptions scan;
    scan.prefix = HistoryPrefix(id);
    scan.limit = CIVITAS_SCAN_MAX_LIMIT;
    for (bool more = true; more;) {
      const size_t before_page = entries.size();
      if (!entries.empty()) scan.start = entries.back() + '\x01';
      Status r = city_.store().Scan(
          scan,
          [&](std::string_view key, std::string_view) {
            entries.emplace_back(key);
            return true;
          },
          &txn);
      if (!r.ok()) return r;
      more = entries.size() - before_page == CIVITAS_SCAN_MAX_LIMIT;
    }
    for (const std::string& k : entries) {
      if (Status d = txn.Delete(k); !d.ok()) return d;
    }
    return Save(txn, &before, nullptr, now);
  });
  if (!s.ok()) return s;
  pages_.Invalidate();
  next_due_ = 0;
  // A REMOVED event carries the name only.
  if (written.was_visible) {
    pb::ArticleEvent event;
    event.set_resume_token(ResumeToken());
    event.set_type(pb::ArticleEvent::REMOVED);
    event.mutable_article()->set_name(written.article.name());
    (void)city_.Publish(kTopic, event);
  }
  return OkStatus();
}

Status Newsroom::PublishArticle(civitas::Call& call, const pb::PublishArticleRequest& request,
                                pb::Article* response) {
  std::string id;
  if (Status s = IdFromName(request.name(), &id); !s.ok()) return s;
  const int64_t now = city_.NowMicros();
  Written written;
  std::lock_guard<std::mutex> order(order_mu_);  // until announced
  Status s = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    pb::Article before;
    if (Status l = Load(id, &before, &txn, /*for_update=*/true); !l.ok()) return l;
    if (Status e = CheckEtag(request.etag(), before.etag(), "article"); !e.ok()) return e;
    pb::Article after = before;
    after.set_state(pb::Article::PUBLISHED);
    if (request.has_publish_time()) {
      *after.mutable_publish_time() = request.publish_time();
    } else {
      SetMicros(now, after.mutable_publish_time());
    }
    if (after.has_expire_time() && Micros(after.expire_time()) <= now &&
        !request.has_publish_time()) {
      after.clear_expire_time();  // republishing an expired article: it stays up now
    }
    if (Status v = Validate(after); !v.ok()) return v;
    if (Status r = CheckReviewed(before, after, false); !r.ok()) return r;
    SetMicros(now, after.mutable_update_time());
    after.set_etag(NextEtag(before.etag(), now));
    written = {Visible(before, now), after};
    if (request.notify()) {
      if (Status p = QueueArticlePush(txn, after, now); !p.ok()) return p;
    }
    if (Status w = Save(txn, &before, &after, now); !w.ok()) return w;
    const bool later = Micros(after.publish_time()) > now;
    return RecordHistory(
        txn, later ? pb::ArticleHistoryEntry::SCHEDULED : pb::ArticleHistoryEntry::PUBLISHED,
        call.subject(), ChangedFields(before, after), after, now);
  });
  if (!s.ok()) return s;
  Announce({written}, now);
  *response = EditorView(written.article, now);
  return OkStatus();
}

Status Newsroom::ListCategories(civitas::Call&, const pb::ListCategoriesRequest& request,
                                pb::ListCategoriesResponse* response) {
  if (Status s = civitas::CheckLanguageTag("language_code", request.language_code()); !s.ok())
    return s;
  const std::string wanted = civitas::PrimaryLanguage(request.language_code());
  for (const civitas::Categories::Category& c : config_.categories.list()) {
    pb::Category* out = response->add_categories();
    out->set_id(c.id);
    out->set_display_name(config_.categories.DisplayName(c.id, wanted));
  }
  return OkStatus();
}

Status Newsroom::WatchArticles(civitas::Call&, const pb::WatchArticlesRequest& request,
                               civitas::ServerWriter<pb::ArticleEvent>& writer) {
  if (request.resume_token().empty()) return writer.Follow(kTopic);
  // Follow first: whatever is published from now on comes after the catch-up below, and
  // nothing committed meanwhile is missed (a change may come twice).
  if (Status s = writer.Follow(kTopic); !s.ok()) return s;
  constexpr size_t kMaxCatchUp = 500;  // more: ListChanges, page by page
  struct Step {
    std::string id, token;
  };
  std::vector<Step> steps;
  const int64_t now = city_.NowMicros();
  std::string token = request.resume_token();
  for (bool more = true; more;) {
    civitas::ChangeLog::Page page;
    if (Status s = changes_.Read(city_.store(), token, now, 100, &page); !s.ok()) return s;
    if (steps.size() + page.ids.size() > kMaxCatchUp) {
      return civitas::FailedPrecondition(
                 "more than 500 articles changed since this resume_token; catch up with "
                 "ListChanges (sync_token = the resume_token), then watch again")
          .WithReason("RESYNC_REQUIRED");
    }
    // Each event resumes from its page's start, the page's last from the page's end: a client
    // that stops in the middle of a page gets the rest of it again, never less.
    for (size_t i = 0; i < page.ids.size(); ++i) {
      steps.push_back({page.ids[i], i + 1 == page.ids.size() ? page.next_token : token});
    }
    token = page.next_token;
    more = page.has_more;
  }
  for (const Step& step : steps) {
    pb::Article stored;
    Status s = Load(step.id, &stored);
    if (!s.ok() && s.code() != CIVITAS_NOT_FOUND) return s;
    pb::ArticleEvent event;
    event.set_resume_token(step.token);
    if (s.ok() && Visible(stored, now)) {
      event.set_type(pb::ArticleEvent::PUBLISHED);
      *event.mutable_article() = PublicView(stored, "", now, /*keep_localizations=*/true);
    } else {
      event.set_type(pb::ArticleEvent::REMOVED);
      event.mutable_article()->set_name("articles/" + step.id);
    }
    if (!writer.Write(event)) return OkStatus();  // the client is gone
  }
  return OkStatus();
}

Status Newsroom::ListChanges(civitas::Call&, const pb::ListChangesRequest& request,
                             pb::ListChangesResponse* response) {
  AnnounceDue(city_.NowMicros());
  if (Status s = CheckPageSize(request.page_size(), 500); !s.ok()) return s;
  if (Status s = civitas::CheckLanguageTag("language_code", request.language_code()); !s.ok())
    return s;
  const uint32_t size = request.page_size() == 0 ? 100 : request.page_size();
  const int64_t now = city_.NowMicros();
  civitas::ChangeLog::Page page;
  if (Status s = changes_.Read(city_.store(), request.sync_token(), now, size, &page); !s.ok()) {
    return s;
  }
  for (const std::string& id : page.ids) {
    pb::Article stored;
    Status s = Load(id, &stored);
    if (s.ok() && Visible(stored, now)) {
      *response->add_upserts() = PublicView(stored, request.language_code(), now);
    } else if (s.ok() || s.code() == CIVITAS_NOT_FOUND) {
      response->add_removed("articles/" + id);
    } else {
      return s;
    }
  }
  response->set_next_sync_token(page.next_token);
  response->set_has_more(page.has_more);
  return OkStatus();
}

Status Newsroom::ExportFeed(civitas::Call&, const pb::ExportFeedRequest& request,
                            google::api::HttpBody* response) {
  if (!pb::ExportFeedRequest::Format_IsValid(request.format())) {
    return InvalidArgument("format must be RSS or ATOM");
  }
  if (Status s = CheckPageSize(request.limit(), kMaxPage, "limit"); !s.ok()) return s;
  if (Status s = civitas::CheckLanguageTag("language_code", request.language_code()); !s.ok())
    return s;
  if (!request.category().empty() && !config_.categories.Find(request.category())) {
    return InvalidArgument("unknown category '" + request.category() +
                           "'; ListCategories shows this city's categories");
  }
  std::vector<pb::Article> articles;
  std::string unused;
  Status s = ListVisible(request.category(), "", request.language_code(), "",
                         request.limit() == 0 ? kDefaultPage : request.limit(), true, false,
                         &articles, &unused);
  if (!s.ok()) return s;
  const std::string city(city_.id());
  FeedChannel channel;
  channel.id = "urn:civitas:" + city + ":news";
  channel.title = config_.feed_title;
  channel.description = config_.feed_description;
  channel.link = config_.site_url;
  channel.language =
      request.language_code().empty() ? config_.default_language : request.language_code();
  std::vector<FeedItem> items;
  for (const pb::Article& a : articles) {
    FeedItem item;
    item.id = "urn:civitas:" + city + ":" + a.name();
    item.title = a.title();
    item.summary = !a.teaser().empty() ? a.teaser() : civitas::TruncateUtf8(a.body(), 300);
    item.link = !a.link().empty()           ? a.link()
                : !config_.site_url.empty() ? config_.site_url + "/" + a.name()
                                            : "";
    for (const std::string& c : a.categories()) {
      item.categories.push_back(config_.categories.DisplayName(c, config_.default_language));
    }
    item.published = Micros(a.publish_time());
    item.updated = Micros(a.update_time());
    channel.updated = std::max(channel.updated, item.updated);
    items.push_back(std::move(item));
  }
  if (channel.updated == 0) channel.updated = city_.NowMicros();
  if (request.format() == pb::ExportFeedRequest::ATOM) {
    response->set_content_type("application/atom+xml; charset=utf-8");
    response->set_data(RenderAtom(channel, items));
  } else {
    response->set_content_type("application/rss+xml; charset=utf-8");
    response->set_data(RenderRss(channel, items));
  }
  return OkStatus();
}

Status Newsroom::ImportFeed(civitas::Call& call, const pb::ImportFeedRequest& request,
                            pb::ImportFeedResponse* response) {
  if (request.document().empty()) return InvalidArgument("document is empty");
  if (!request.category().empty() && !config_.categories.Find(request.category())) {
    return InvalidArgument("unknown category '" + request.category() +
                           "'; ListCategories shows this city's categories");
  }
  if (Status s = civitas::CheckLanguageTag("language_code", request.language_code()); !s.ok())
    return s;
  FeedChannel channel;
  std::vector<FeedItem> items;
  std::string error;
  if (!ParseFeed(request.document(), &channel, &items, &error)) {
    return InvalidArgument("document: " + error);
  }
  std::string source = !request.source().empty() ? request.source()
                       : !channel.link.empty()   ? channel.link
                                                 : channel.id;
  if (source.empty()) {
    return InvalidArgument("source is required: the feed names neither its link nor its id");
  }
  if (Status e = civitas::CheckText("source", source, 1, 2048); !e.ok()) return e;
  if (source.find('\0') != std::string::npos) return InvalidArgument("source contains NUL");
  std::string language = !request.language_code().empty()           ? request.language_code()
                         : civitas::IsLanguageTag(channel.language) ? channel.language
                                                                    : config_.default_language;
  const int64_t now = city_.NowMicros();
  // Everything the feed says, as articles; checked before anything is written.
  std::vector<pb::Article> incoming;
  for (size_t i = 0; i < items.size(); ++i) {
    const FeedItem& item = items[i];
    const std::string where = "item " + std::to_string(i + 1);
    pb::Article a;
    a.set_external_id(!item.id.empty() ? item.id : item.link);
    if (a.external_id().empty()) {
      return InvalidArgument(where + " ('" + civitas::TruncateUtf8(item.title, 60) +
                             "') has no guid, id or link, so it cannot be imported idempotently");
    }
    if (a.external_id().size() > 2048 || a.external_id().find('\0') != std::string::npos) {
      return InvalidArgument(where + " has an id longer than 2048 bytes");
    }
    std::string title = !item.title.empty() ? item.title : civitas::TruncateUtf8(item.summary, 120);
    if (title.empty()) return InvalidArgument(where + " has neither a title nor a description");
    const std::string& text = !item.content.empty() ? item.content : item.summary;
    a.set_title(civitas::TruncateUtf8(title, 199));
    a.set_teaser(civitas::TruncateUtf8(!item.summary.empty() ? item.summary : text, 499));
    a.set_body(civitas::TruncateUtf8(text, 49999));
    a.set_body_format(pb::Article::PLAIN_TEXT);
    a.set_language_code(language);
    if (CheckHttpUrl("link", item.link).ok()) a.set_link(item.link);
    if (!request.category().empty()) a.add_categories(request.category());
    a.set_source(source);
    a.set_state(pb::Article::PUBLISHED);
    const int64_t published = item.published ? item.published : item.updated;
    if (published > 0) SetMicros(published, a.mutable_publish_time());
    if (Status v = Validate(a); !v.ok()) return InvalidArgument(where + ": " + v.message());
    incoming.push_back(std::move(a));
  }
  std::vector<Written> written;
  std::lock_guard<std::mutex> order(order_mu_);  // until announced
  Status s = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    written.clear();
    response->Clear();
    std::set<std::string> seen;
    for (pb::Article& a : incoming) {
      if (!seen.insert(a.external_id()).second) continue;  // a feed listing an item twice
      const std::string xkey = "x/" + source + '\0' + a.external_id();
      std::string id;
      Status found = txn.Get(xkey, &id, /*for_update=*/true);
      if (!found.ok() && found.code() != CIVITAS_NOT_FOUND) return found;
      pb::Article before;
      if (found.ok()) {
        if (Status l = Load(id, &before, &txn, true); !l.ok()) return l;
        pb::Article after = before;
        after.set_title(a.title());
        after.set_teaser(a.teaser());
        after.set_body(a.body());
        after.set_link(a.link());
        if (a.has_publish_time()) *after.mutable_publish_time() = a.publish_time();
        if (after.title() == before.title() && after.teaser() == before.teaser() &&
            after.body() == before.body() && after.link() == before.link() &&
            Micros(after.publish_time()) == Micros(before.publish_time())) {
          response->set_unchanged(response->unchanged() + 1);
          continue;
        }
        // An imported change is content like any other: in a city with review it takes the
        // article back to a draft until another editor approves it.
        after.clear_approver();
        after.clear_approve_time();
        after.set_last_editor(std::string(call.subject()));
        if (config_.review_required && after.state() == pb::Article::PUBLISHED) {
          after.set_state(pb::Article::DRAFT);
        }
        SetMicros(now, after.mutable_update_time());
        after.set_etag(NextEtag(before.etag(), now));
        if (Status w = Save(txn, &before, &after, now); !w.ok()) return w;
        if (Status w = RecordHistory(txn, pb::ArticleHistoryEntry::IMPORTED, call.subject(),
                                     ChangedFields(before, after), after, now);
            !w.ok()) {
          return w;
        }
        response->set_updated(response->updated() + 1);
        response->add_names(after.name());
        written.push_back({Visible(before, now), after});
        continue;
      }
      id = civitas::NewResourceId();
      a.set_name("articles/" + id);
      a.set_author(std::string(call.subject()));
      a.set_last_editor(std::string(call.subject()));
      // In a city with review, imported articles wait as drafts for another editor's approval.
      if (config_.review_required) a.set_state(pb::Article::DRAFT);
      if (!a.has_publish_time()) SetMicros(now, a.mutable_publish_time());
      SetMicros(now, a.mutable_create_time());
      SetMicros(now, a.mutable_update_time());
      a.set_etag(NextEtag("", now));
      if (Status w = txn.Put(xkey, id); !w.ok()) return w;
      if (Status w = Save(txn, nullptr, &a, now); !w.ok()) return w;
      if (Status w =
              RecordHistory(txn, pb::ArticleHistoryEntry::IMPORTED, call.subject(), {}, a, now);
          !w.ok()) {
        return w;
      }
      response->set_created(response->created() + 1);
      response->add_names(a.name());
      written.push_back({false, a});
    }
    return OkStatus();
  });
  if (!s.ok()) return s;
  Announce(written, now);
  return OkStatus();
}

namespace {

bool Names(const pb::Article& a, std::string_view subject) {
  return a.author() == subject || a.approver() == subject || a.last_editor() == subject;
}

// Every stored article that names `subject` (author, approver, last editor), as id -> article.
Status ArticlesBy(const civitas::City& city, std::string_view subject,
                  std::vector<std::pair<std::string, pb::Article>>* out) {
  if (subject.empty()) return InvalidArgument("subject must be non-empty");
  return city.store().ScanAll("a/", [&](std::string_view key, std::string_view value) {
    pb::Article a;
    if (a.ParseFromArray(value.data(), static_cast<int>(value.size())) && Names(a, subject)) {
      out->emplace_back(std::string(key.substr(2)), std::move(a));
    }
    return true;
  });
}

// Every history entry whose actor is `subject`, as key -> entry.
Status HistoryBy(const civitas::City& city, std::string_view subject,
                 std::vector<std::pair<std::string, pb::ArticleHistoryEntry>>* out) {
  return city.store().ScanAll(kHistoryRoot, [&](std::string_view key, std::string_view value) {
    pb::ArticleHistoryEntry e;
    if (e.ParseFromArray(value.data(), static_cast<int>(value.size())) && e.actor() == subject) {
      out->emplace_back(std::string(key), std::move(e));
    }
    return true;
  });
}

}  // namespace

Status Newsroom::ExportPersonalData(std::string_view subject, std::string* json) {
  std::vector<std::pair<std::string, pb::Article>> mine;
  if (Status s = ArticlesBy(city_, subject, &mine); !s.ok()) return s;
  std::vector<std::pair<std::string, pb::ArticleHistoryEntry>> changes;
  if (Status s = HistoryBy(city_, subject, &changes); !s.ok()) return s;
  *json = "{\"authored_articles\":[";
  bool first = true;
  for (const auto& [id, a] : mine) {
    if (a.author() != subject) continue;
    if (!first) *json += ",";
    first = false;
    *json += "{\"name\":" + civitas::JsonQuote(a.name()) +
             ",\"title\":" + civitas::JsonQuote(a.title()) + "}";
  }
  *json += "],\"approved_articles\":[";
  first = true;
  for (const auto& [id, a] : mine) {
    if (a.approver() != subject) continue;
    if (!first) *json += ",";
    first = false;
    *json += "{\"name\":" + civitas::JsonQuote(a.name()) +
             ",\"title\":" + civitas::JsonQuote(a.title()) + "}";
  }
  *json += "],\"article_changes\":[";
  for (size_t i = 0; i < changes.size(); ++i) {
    if (i > 0) *json += ",";
    const std::string& key = changes[i].first;  // h/<id>/...
    *json += "{\"name\":" + civitas::JsonQuote("articles/" + key.substr(2, 16)) + ",\"action\":" +
             civitas::JsonQuote(pb::ArticleHistoryEntry::Action_Name(changes[i].second.action())) +
             ",\"time_micros\":" + std::to_string(civitas::ToMicros(changes[i].second.time())) +
             "}";
  }
  *json += "]}";
  return OkStatus();
}

Status Newsroom::ErasePersonalData(std::string_view subject) {
  std::vector<std::pair<std::string, pb::Article>> mine;
  if (Status s = ArticlesBy(city_, subject, &mine); !s.ok()) return s;
  std::vector<std::pair<std::string, pb::ArticleHistoryEntry>> changes;
  if (Status s = HistoryBy(city_, subject, &changes); !s.ok()) return s;
  if (mine.empty() && changes.empty()) return OkStatus();
  // The author is in the stored article and in the list views of its index entries; Save
  // rewrites both. The etag and update time stay, as nothing a reader sees changed.
  const int64_t now = city_.NowMicros();
  std::lock_guard<std::mutex> order(order_mu_);  // until announced
  Status s = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    for (auto& [id, article] : mine) {
      pb::Article before;
      Status l = Load(id, &before, &txn, /*for_update=*/true);
      if (l.code() == CIVITAS_NOT_FOUND) continue;
      if (!l.ok()) return l;
      if (!Names(before, subject)) continue;
      pb::Article after = before;
      if (after.author() == subject) after.clear_author();
      if (after.approver() == subject) after.clear_approver();  // the approval itself stays
      if (after.last_editor() == subject) after.clear_last_editor();
      if (Status w = Save(txn, &before, &after, now); !w.ok()) return w;
    }
    // The history keeps what was done and when; who did it is removed.
    for (auto& [key, entry] : changes) {
      std::string current;
      Status g = txn.Get(key, &current, /*for_update=*/true);
      if (g.code() == CIVITAS_NOT_FOUND) continue;  // deleted with its article meanwhile
      if (!g.ok()) return g;
      entry.clear_actor();
      if (Status w = txn.Put(key, entry.SerializeAsString()); !w.ok()) return w;
    }
    return OkStatus();
  });
  if (s.ok()) pages_.Invalidate();
  return s;
}

}  // namespace news

CIVITAS_MODULE(
    civitas::ModuleBuilder<news::Newsroom>("civitas.news", "1.0.0", &news::Newsroom::Create)
        .Service("civitas.news.v1.NewsService")
        .Unary("ListArticles", civitas::Role::kAnonymous, &news::Newsroom::ListArticles)
        .Unary("GetArticle", civitas::Role::kAnonymous, &news::Newsroom::GetArticle)
        .Unary("CreateArticle", civitas::Role::kEditor, &news::Newsroom::CreateArticle)
        .Unary("UpdateArticle", civitas::Role::kEditor, &news::Newsroom::UpdateArticle)
        .Unary("DeleteArticle", civitas::Role::kEditor, &news::Newsroom::DeleteArticle)
        .Unary("PublishArticle", civitas::Role::kEditor, &news::Newsroom::PublishArticle)
        .Unary("ApproveArticle", civitas::Role::kEditor, &news::Newsroom::ApproveArticle)
        .Unary("ListArticleHistory", civitas::Role::kEditor, &news::Newsroom::ListArticleHistory)
        .Unary("ListCategories", civitas::Role::kAnonymous, &news::Newsroom::ListCategories)
        .ServerStream("WatchArticles", civitas::Role::kAnonymous, &news::Newsroom::WatchArticles)
        .Unary("ListChanges", civitas::Role::kAnonymous, &news::Newsroom::ListChanges)
        .Unary("ExportFeed", civitas::Role::kAnonymous, &news::Newsroom::ExportFeed)
        .Unary("ImportFeed", civitas::Role::kEditor, &news::Newsroom::ImportFeed)
        .PersonalData(&news::Newsroom::ExportPersonalData, &news::Newsroom::ErasePersonalData)
        .PushTopics(&news::Newsroom::PushTopics))
