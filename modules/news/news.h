// The news module: articles a city publishes, as a list, a live stream, a sync feed and RSS/Atom.
//
// Keys (inside the module's namespace; <id> is 16 hex digits, <P> is '0' for pinned, '1' not,
// <inv> is 16 hex digits of INT64_MAX - publish micros, so a page is one seek and N nexts):
//   a/<id>                     Article as stored (state DRAFT, PUBLISHED or ARCHIVED)
//   p/<P><inv><id>             every PUBLISHED article (scheduled and expired ones included;
//                              skipped by time when read). Value: IndexValue(), which carries
//                              the article's list view, so a page needs no further reads
//   c/<category>/<P><inv><id>  the same per category
//   g/<tag>/<P><inv><id>       the same per tag
//   u/<inv update><id>         every article, newest update first (editors' list)
//   x/<source>\0<external id>  id of an imported article
//   h/<id>/<inv time><random>  the article's history, newest first (history.h)
//   n/<id>                     "<send micros> <message name>": the article's push (push.cc)
//   ~...                       change log (civitas/changes.h)
#ifndef CIVITAS_MODULES_NEWS_NEWS_H_
#define CIVITAS_MODULES_NEWS_NEWS_H_

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "civitas/cache.h"
#include "civitas/changes.h"
#include "civitas/content.h"
#include "civitas/module.h"
#include "civitas/news/v1/news.pb.h"

namespace news {

namespace pb = ::civitas::news::v1;

struct Config {
  std::string default_language = "de";
  civitas::Categories categories;
  std::string feed_title;
  std::string feed_description;
  std::string site_url;  // links of exported items without their own: <site_url>/articles/<id>
  // Four-eyes review: an article is published or scheduled only once an editor other than its
  // author and its last editor approved its current content (ApproveArticle).
  bool review_required = false;
};

// Reads the module's config block; INVALID_ARGUMENT naming the bad key.
civitas::Status ParseConfig(const std::string& json, const std::string& city_id, Config* config);

// True if citizens see the article at `now`: published, its time come, not expired.
bool Visible(const pb::Article& a, int64_t now);

class Newsroom {
 public:
  static civitas::Status Create(civitas::City city, std::unique_ptr<Newsroom>* out);
  Newsroom(civitas::City city, Config config) : city_(city), config_(std::move(config)) {}

  civitas::Status ListArticles(civitas::Call& call, const pb::ListArticlesRequest& request,
                               pb::ListArticlesResponse* response);
  civitas::Status GetArticle(civitas::Call& call, const pb::GetArticleRequest& request,
                             pb::Article* response);
  civitas::Status CreateArticle(civitas::Call& call, const pb::CreateArticleRequest& request,
                                pb::Article* response);
  civitas::Status UpdateArticle(civitas::Call& call, const pb::UpdateArticleRequest& request,
                                pb::Article* response);
  civitas::Status DeleteArticle(civitas::Call& call, const pb::DeleteArticleRequest& request,
                                google::protobuf::Empty* response);
  civitas::Status PublishArticle(civitas::Call& call, const pb::PublishArticleRequest& request,
                                 pb::Article* response);
  civitas::Status ApproveArticle(civitas::Call& call, const pb::ApproveArticleRequest& request,
                                 pb::Article* response);
  civitas::Status ListArticleHistory(civitas::Call& call,
                                     const pb::ListArticleHistoryRequest& request,
                                     pb::ListArticleHistoryResponse* response);
  civitas::Status ListCategories(civitas::Call& call, const pb::ListCategoriesRequest& request,
                                 pb::ListCategoriesResponse* response);
  civitas::Status WatchArticles(civitas::Call& call, const pb::WatchArticlesRequest& request,
                                civitas::ServerWriter<pb::ArticleEvent>& writer);
  civitas::Status ListChanges(civitas::Call& call, const pb::ListChangesRequest& request,
                              pb::ListChangesResponse* response);
  civitas::Status ExportFeed(civitas::Call& call, const pb::ExportFeedRequest& request,
                             google::api::HttpBody* response);
  civitas::Status ImportFeed(civitas::Call& call, const pb::ImportFeedRequest& request,
                             pb::ImportFeedResponse* response);

  // The push topics (ABI 1.3, push.cc): "all" and one per category.
  civitas::Status PushTopics(std::vector<civitas::PushTopic>* topics);

  // A citizen's data (ABI 1.2): the articles an editor wrote (their authorship).
  civitas::Status ExportPersonalData(std::string_view subject, std::string* json);
  // Removes the subject as author of every article; the articles are the city's and stay.
  civitas::Status ErasePersonalData(std::string_view subject);

 private:
  struct Written {
    bool was_visible = false;
    pb::Article article;  // as stored after the write; empty name = deleted
  };

  civitas::Status Load(const std::string& id, pb::Article* article,
                       civitas::Transaction* txn = nullptr, bool for_update = false) const;
  // Visible articles in list order (pinned first unless `by_date`), starting after `after`.
  civitas::Status ListVisible(const std::string& category, const std::string& tag,
                              const std::string& language, const std::string& after, int size,
                              bool by_date, bool full, std::vector<pb::Article>* out,
                              std::string* next) const;
  civitas::Status ListAll(const std::string& after, int size, std::vector<pb::Article>* out,
                          std::string* next) const;
  // Checks a whole article (as it would be stored) against the limits and the city's config.
  civitas::Status Validate(const pb::Article& article) const;
  // Writes `after` (or deletes `before` if after is null) with its index entries and change log.
  civitas::Status Save(civitas::Transaction& txn, const pb::Article* before,
                       const pb::Article* after, int64_t now) const;
  // PublishArticle with notify (push.cc): queues the article's push at its publish time in the
  // publish's transaction. FAILED_PRECONDITION ARTICLE_ALREADY_PUSHED once it went out.
  civitas::Status QueueArticlePush(civitas::Transaction& txn, const pb::Article& article,
                                   int64_t now) const;
  // Every write (Save): a push still waiting follows its article: cancelled when the article is
  // deleted or no longer published, moved when its publish time moves.
  civitas::Status FollowArticlePush(civitas::Transaction& txn, const std::string& id,
                                    const pb::Article* after, int64_t now) const;
  civitas::Status WritePush(civitas::Transaction& txn, const pb::Article& article,
                            int64_t now) const;
  // Appends an entry to the article's history (history.h) in the write's own transaction.
  civitas::Status RecordHistory(civitas::Transaction& txn, pb::ArticleHistoryEntry::Action action,
                                std::string_view actor, const std::vector<std::string>& fields,
                                const pb::Article& after, int64_t now) const;
  // In a city with review_required: FAILED_PRECONDITION if `after` would be published (or
  // scheduled) without an approval of its content. `content_changed`: this write changed it.
  civitas::Status CheckReviewed(const pb::Article& before, const pb::Article& after,
                                bool content_changed) const;
  // Tells WatchArticles followers what a committed write changed.
  void Announce(const std::vector<Written>& writes, int64_t now) const;
  pb::Article PublicView(const pb::Article& stored, const std::string& language, int64_t now,
                         bool keep_localizations = false) const;
  pb::Article EditorView(const pb::Article& stored, int64_t now) const;

  civitas::City city_;
  Config config_;
  civitas::ChangeLog changes_{"~"};
  // Public list pages and feeds, for one second or until the next write: a scheduled article
  // appears at most a second after its publish time.
  mutable civitas::ResponseCache pages_{1'000'000};
  // Scheduled publications and expiries are announced to WatchArticles followers by the first
  // request after their time (AnnounceDue): nothing runs in the background.
  void AnnounceDue(int64_t now) const;
  mutable std::mutex due_mu_;
  // Instants up to here are announced (from the instance's start: what passed while the city was
  // down reaches a resuming client through its token, not live).
  mutable std::atomic<int64_t> announced_until_{0};
  mutable std::atomic<int64_t> next_due_{0};  // 0 = unknown, look
  // Held by every write from its transaction to its announcement, and while scheduled changes
  // are announced: events are published in the order of the change log, so each carries the
  // exact position to resume after (ResumeToken) and a resumed stream misses nothing.
  mutable std::mutex order_mu_;
  // The change log's position now (order_mu_ held).
  std::string ResumeToken() const;
};

}  // namespace news

#endif  // CIVITAS_MODULES_NEWS_NEWS_H_
