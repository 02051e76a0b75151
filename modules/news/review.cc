// Four-eyes review (ApproveArticle and the check before publishing) and the article's history
// (ListArticleHistory and the entry every write appends).
#include "civitas/content.h"
#include "history.h"
#include "news.h"

namespace news {

using civitas::InvalidArgument;
using civitas::OkStatus;
using civitas::Status;

Status Newsroom::RecordHistory(civitas::Transaction& txn, pb::ArticleHistoryEntry::Action action,
                               std::string_view actor, const std::vector<std::string>& fields,
                               const pb::Article& after, int64_t now) const {
  const std::string id = after.name().substr(9);  // "articles/<id>"
  return txn.Put(HistoryKey(id, now, civitas::NewResourceId().substr(0, 4)),
                 HistoryEntry(action, actor, fields, after, now).SerializeAsString());
}

Status Newsroom::CheckReviewed(const pb::Article& before, const pb::Article& after,
                               bool content_changed) const {
  if (!config_.review_required || after.state() != pb::Article::PUBLISHED ||
      after.has_approve_time()) {
    return OkStatus();
  }
  // An article published before the city turned review on may still be pinned or archived.
  if (before.state() == pb::Article::PUBLISHED && !content_changed) return OkStatus();
  std::string why = "this city publishes an article only once a second editor approved it: '" +
                    after.name() + "' is not approved";
  if (before.state() == pb::Article::PUBLISHED) {
    why +=
        " since this change of its content; save the change as a draft (state DRAFT) and "
        "have another editor approve it (ApproveArticle)";
  } else {
    why += "; another editor approves it with ApproveArticle, then it can be published";
  }
  return civitas::FailedPrecondition(why).WithReason("ARTICLE_NOT_APPROVED");
}

Status Newsroom::ApproveArticle(civitas::Call& call, const pb::ApproveArticleRequest& request,
                                pb::Article* response) {
  std::string id;
  if (Status s = civitas::IdFromName("articles", request.name(), &id); !s.ok()) return s;
  if (!config_.review_required) {
    return civitas::FailedPrecondition(
        "this city publishes articles without review (module config review_required is false): "
        "there is nothing to approve");
  }
  const std::string subject(call.subject());
  const int64_t now = city_.NowMicros();
  pb::Article after;
  bool was_visible = false;
  bool wrote = false;
  std::lock_guard<std::mutex> order(order_mu_);  // until announced
  Status s = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    wrote = false;
    pb::Article before;
    if (Status l = Load(id, &before, &txn, /*for_update=*/true); !l.ok()) return l;
    if (Status e = civitas::CheckEtag(request.etag(), before.etag(), "article"); !e.ok()) return e;
    if (!before.author().empty() && before.author() == subject) {
      return civitas::PermissionDenied(
          "the author of an article cannot approve it: another editor must");
    }
    if (!before.last_editor().empty() && before.last_editor() == subject) {
      return civitas::PermissionDenied(
          "you changed this article's content last, so you cannot approve it: another editor "
          "must");
    }
    after = before;
    if (before.has_approve_time()) return OkStatus();  // approved already: nothing to write
    after.set_approver(subject);
    civitas::SetMicros(now, after.mutable_approve_time());
    was_visible = Visible(before, now);
    wrote = true;
    if (Status w = Save(txn, &before, &after, now); !w.ok()) return w;
    return RecordHistory(txn, pb::ArticleHistoryEntry::APPROVED, subject, {}, after, now);
  });
  if (!s.ok()) return s;
  if (wrote) Announce({{was_visible, after}}, now);
  *response = EditorView(after, now);
  return OkStatus();
}

Status Newsroom::ListArticleHistory(civitas::Call&, const pb::ListArticleHistoryRequest& request,
                                    pb::ListArticleHistoryResponse* response) {
  std::string id;
  if (Status s = civitas::IdFromName("articles", request.parent(), &id); !s.ok()) {
    return InvalidArgument("parent: " + std::string(s.message()));
  }
  if (Status s = civitas::CheckPageSize(request.page_size(), 100); !s.ok()) return s;
  const std::string& token = request.page_token();
  if (!token.empty() && !IsHistoryPageToken(token)) {
    return InvalidArgument("page_token is not one this server issued for this query");
  }
  pb::Article article;
  if (Status s = Load(id, &article); !s.ok()) return s;
  const uint32_t size = request.page_size() == 0 ? 50 : request.page_size();
  civitas::ScanOptions scan;
  scan.prefix = HistoryPrefix(id);
  scan.limit = size + 1;
  if (!token.empty()) scan.start = scan.prefix + token + '\x01';
  std::string last;
  bool corrupt = false;
  Status s = city_.store().Scan(scan, [&](std::string_view key, std::string_view value) {
    if (static_cast<uint32_t>(response->entries_size()) == size) {
      response->set_next_page_token(last);
      return false;
    }
    if (!response->add_entries()->ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      corrupt = true;
      return false;
    }
    last = std::string(key.substr(scan.prefix.size()));
    return true;
  });
  if (!s.ok()) return s;
  if (corrupt) return civitas::Internal("stored history entry is corrupt");
  return OkStatus();
}

}  // namespace news
