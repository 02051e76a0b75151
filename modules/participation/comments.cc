// Comments on ideas: one level of replies, edits within a window, deletion as a placeholder.
#include <string>
#include <vector>

#include "civitas/text.h"
#include "participation.h"
#include "records.h"

namespace participation {

using civitas::CheckText;
using civitas::InvalidArgument;
using civitas::OkStatus;
using civitas::Status;

Status Participation::CreateComment(civitas::Call& call, const pb::CreateCommentRequest& request,
                                    pb::Comment* response) {
  std::string idea_id;
  if (Status s = civitas::IdFromName("ideas", request.parent(), &idea_id, "parent"); !s.ok()) {
    return s;
  }
  pb::Comment c = request.comment();
  c.set_body(civitas::StripHtml(c.body()));
  if (Status s = CheckText("comment.body", c.body(), 1, 2000); !s.ok()) return s;
  if (Status s = CheckDisplayName("comment.author_display_name", c.author_display_name());
      !s.ok()) {
    return s;
  }
  std::string parent_key;
  if (!c.parent_comment().empty()) {
    std::string pi, pc;
    if (!SplitItem(c.parent_comment(), &pi, &pc) || pc.empty() || pi != idea_id) {
      return InvalidArgument("comment.parent_comment must be a comment of '" + request.parent() +
                             "', got '" + c.parent_comment() + "'");
    }
    parent_key = keys::Comment(idea_id, pc);
  }
  const std::string subject(call.subject());
  int64_t now = city_.NowMicros();
  pb::Comment stored;
  Status s = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    pb::Idea idea;
    if (Status l = LoadIdea(idea_id, &idea, &txn); !l.ok()) return l;
    if (idea.hidden()) return civitas::NotFound("idea '" + request.parent() + "' does not exist");
    if (!parent_key.empty()) {
      std::string bytes;
      Status p = txn.Get(parent_key, &bytes);
      if (p.code() == CIVITAS_NOT_FOUND) {
        return civitas::NotFound("comment '" + c.parent_comment() + "' does not exist");
      }
      if (!p.ok()) return p;
      pb::Comment parent;
      parent.ParseFromString(bytes);
      if (!parent.parent_comment().empty()) {
        return InvalidArgument("replies go to comments, not to replies: answer '" +
                               parent.parent_comment() + "' instead");
      }
    }
    if (Status r = ChargeWrite(txn, subject, now); !r.ok()) return r;
    // Comment ids are creation micros: the first free one from now on.
    std::string key, unused;
    int64_t at = now;
    for (;; ++at) {
      key = keys::Comment(idea_id, keys::CommentId(at));
      Status e = txn.Get(key, &unused, true);
      if (e.code() == CIVITAS_NOT_FOUND) break;
      if (!e.ok()) return e;
    }
    stored = pb::Comment();
    stored.set_name(request.parent() + "/comments/" + keys::CommentId(at));
    stored.set_parent_comment(c.parent_comment());
    stored.set_body(c.body());
    stored.set_author_display_name(c.author_display_name());
    stored.set_author(subject);
    civitas::SetMicros(now, stored.mutable_create_time());
    civitas::SetMicros(now, stored.mutable_update_time());
    Status w = txn.Put(key, stored.SerializeAsString());
    if (w.ok()) {
      w = txn.Put(keys::Contribution(subject, ContributionKind::kComment, stored.name()), "");
    }
    return w;
  });
  if (!s.ok()) return s;
  *response = CommentView(stored, call);
  return OkStatus();
}

Status Participation::ListComments(civitas::Call& call, const pb::ListCommentsRequest& request,
                                   pb::ListCommentsResponse* response) {
  std::string idea_id;
  if (Status s = civitas::IdFromName("ideas", request.parent(), &idea_id, "parent"); !s.ok()) {
    return s;
  }
  if (Status s = civitas::CheckPageSize(request.page_size(), 200); !s.ok()) return s;
  const std::string& token = request.page_token();
  if (!token.empty() && !keys::IsCommentPageToken(token)) {
    return InvalidArgument("page_token is not one this server issued")
        .WithReason("PAGE_TOKEN_INVALID");
  }
  pb::Idea idea;
  if (Status s = LoadIdea(idea_id, &idea); !s.ok()) return s;
  if (idea.hidden() && !call.HasRole(civitas::Role::kModerator)) {
    return civitas::NotFound("idea '" + request.parent() + "' does not exist");
  }
  const uint32_t size = request.page_size() == 0 ? 50 : request.page_size();
  civitas::ScanOptions scan;
  scan.prefix = keys::CommentPrefix(idea_id);
  if (!token.empty()) scan.start = scan.prefix + token + '\x01';
  scan.limit = size + 1;
  std::vector<pb::Comment> found;
  Status s = city_.store().Scan(scan, [&](std::string_view, std::string_view value) {
    found.emplace_back();
    found.back().ParseFromArray(value.data(), static_cast<int>(value.size()));
    return true;
  });
  if (!s.ok()) return s;
  for (size_t i = 0; i < found.size() && i < size; ++i) {
    *response->add_comments() = CommentView(found[i], call);
  }
  if (found.size() > size) {
    const std::string& last = found[size - 1].name();
    response->set_next_page_token(last.substr(last.size() - 16));
  }
  return OkStatus();
}

Status Participation::UpdateComment(civitas::Call& call, const pb::UpdateCommentRequest& request,
                                    pb::Comment* response) {
  std::string key;
  if (Status s = ItemKey(request.comment().name(), &key); !s.ok() || !keys::IsCommentKey(key)) {
    return InvalidArgument("comment.name must be 'ideas/{id}/comments/{id}', got '" +
                           request.comment().name() + "'");
  }
  const std::string body = civitas::StripHtml(request.comment().body());
  if (Status s = CheckText("comment.body", body, 1, 2000); !s.ok()) return s;
  const int64_t now = city_.NowMicros();
  pb::Comment c;
  Status s = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    std::string bytes;
    Status g = txn.Get(key, &bytes, true);
    if (g.code() == CIVITAS_NOT_FOUND) {
      return civitas::NotFound("comment '" + request.comment().name() + "' does not exist");
    }
    if (!g.ok()) return g;
    c.ParseFromString(bytes);
    if (c.author() != call.subject()) {
      return civitas::PermissionDenied("only its author may edit a comment");
    }
    if (c.deleted()) return civitas::FailedPrecondition("the comment was deleted");
    if (now - civitas::ToMicros(c.create_time()) > config_.comment_edit_minutes * kMinute) {
      return civitas::FailedPrecondition("comments can be edited for " +
                                         std::to_string(config_.comment_edit_minutes) +
                                         " minutes after posting");
    }
    if (Status r = ChargeWrite(txn, std::string(call.subject()), now); !r.ok()) return r;
    c.set_body(body);
    civitas::SetMicros(now, c.mutable_update_time());
    return txn.Put(key, c.SerializeAsString());
  });
  if (!s.ok()) return s;
  *response = CommentView(c, call);
  return OkStatus();
}

Status Participation::DeleteComment(civitas::Call& call, const pb::DeleteCommentRequest& request,
                                    google::protobuf::Empty*) {
  std::string key;
  if (Status s = ItemKey(request.name(), &key); !s.ok() || !keys::IsCommentKey(key)) {
    return InvalidArgument("name must be 'ideas/{id}/comments/{id}', got '" + request.name() + "'");
  }
  const int64_t now = city_.NowMicros();
  return city_.store().RunTransaction([&](civitas::Transaction& txn) {
    std::string bytes;
    Status g = txn.Get(key, &bytes, true);
    if (g.code() == CIVITAS_NOT_FOUND) {
      return civitas::NotFound("comment '" + request.name() + "' does not exist");
    }
    if (!g.ok()) return g;
    pb::Comment c;
    c.ParseFromString(bytes);
    if (c.author() != call.subject()) {
      return civitas::PermissionDenied(
          "only its author may delete a comment; moderators hide it with ModerateContent");
    }
    // The comment stays as a placeholder so replies keep their parent.
    c.clear_body();
    c.set_deleted(true);
    civitas::SetMicros(now, c.mutable_update_time());
    return txn.Put(key, c.SerializeAsString());
  });
}

}  // namespace participation
