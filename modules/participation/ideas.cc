// Ideas: create, read, list, the city's answer, and supports.
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

Status Participation::CreateIdea(civitas::Call& call, const pb::CreateIdeaRequest& request,
                                 pb::Idea* response) {
  pb::Idea idea = request.idea();
  idea.set_title(civitas::StripHtml(idea.title()));
  idea.set_body(civitas::StripHtml(idea.body()));
  Status s;
  if (s = CheckText("idea.title", idea.title(), 5, 120); !s.ok()) return s;
  if (s = CheckText("idea.body", idea.body(), 10, 5000); !s.ok()) return s;
  if (s = CheckDisplayName("idea.author_display_name", idea.author_display_name()); !s.ok())
    return s;
  if (!idea.category().empty()) {
    if (s = config_.categories.Check("idea.category", idea.category()); !s.ok()) return s;
  }
  if (idea.has_location()) {
    if (s = civitas::CheckCoordinates("idea.location", idea.location().latitude(),
                                      idea.location().longitude());
        !s.ok()) {
      return s;
    }
  }
  const int64_t now = city_.NowMicros();
  const std::string id = civitas::NewResourceId();
  const std::string subject(call.subject());
  pb::Idea stored;
  stored.set_name("ideas/" + id);
  stored.set_title(idea.title());
  stored.set_body(idea.body());
  stored.set_category(idea.category());
  if (idea.has_location()) *stored.mutable_location() = idea.location();
  stored.set_author_display_name(idea.author_display_name());
  stored.set_author(subject);
  stored.set_status(pb::Idea::SUBMITTED);
  civitas::SetMicros(now, stored.mutable_create_time());
  civitas::SetMicros(now, stored.mutable_update_time());
  s = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    if (Status r = ChargeWrite(txn, subject, now); !r.ok()) return r;
    Status w = txn.Put(keys::Idea(id), stored.SerializeAsString());
    if (w.ok()) w = txn.Put(keys::IdeaIndex(now, id), "");
    if (w.ok()) {
      w = txn.Put(keys::Contribution(subject, ContributionKind::kIdea, stored.name()), "");
    }
    return w;
  });
  if (!s.ok()) return s;
  *response = IdeaView(stored, call);
  return OkStatus();
}

Status Participation::GetIdea(civitas::Call& call, const pb::GetIdeaRequest& request,
                              pb::Idea* response) {
  std::string id;
  if (Status s = civitas::IdFromName("ideas", request.name(), &id); !s.ok()) return s;
  pb::Idea idea;
  if (Status s = LoadIdea(id, &idea); !s.ok()) return s;
  if (idea.hidden() && !call.HasRole(civitas::Role::kModerator) &&
      idea.author() != call.subject()) {
    return civitas::NotFound("idea '" + request.name() + "' does not exist");
  }
  *response = IdeaView(idea, call);
  return OkStatus();
}

Status Participation::ListIdeas(civitas::Call& call, const pb::ListIdeasRequest& request,
                                pb::ListIdeasResponse* response) {
  if (Status s = civitas::CheckPageSize(request.page_size(), 100); !s.ok()) return s;
  if (!request.category().empty()) {
    if (Status s = config_.categories.Check("category", request.category()); !s.ok()) return s;
  }
  if (!pb::Idea::Status_IsValid(request.status())) return InvalidArgument("status is unknown");
  const std::string& token = request.page_token();
  if (!token.empty() && !keys::IsIdeaPageToken(token)) {
    return InvalidArgument("page_token is not one this server issued")
        .WithReason("PAGE_TOKEN_INVALID");
  }
  const int size = request.page_size() == 0 ? 20 : request.page_size();
  const bool moderator = call.HasRole(civitas::Role::kModerator);
  civitas::ScanOptions scan;
  scan.prefix = keys::kIdeaIndexPrefix;
  if (!token.empty()) scan.start = keys::IdeaIndexAfter(token);
  scan.limit = CIVITAS_SCAN_MAX_LIMIT;
  std::string last;
  Status failure;
  bool more = false;
  Status s = city_.store().Scan(scan, [&](std::string_view key, std::string_view) {
    pb::Idea idea;
    Status l = LoadIdea(keys::IdeaIdOfIndex(key), &idea);
    if (!l.ok()) {
      if (l.code() != CIVITAS_NOT_FOUND) failure = l;
      return l.code() == CIVITAS_NOT_FOUND;
    }
    if ((idea.hidden() && !moderator) ||
        (!request.category().empty() && idea.category() != request.category()) ||
        (request.status() != pb::Idea::STATUS_UNSPECIFIED && idea.status() != request.status())) {
      return true;
    }
    if (response->ideas_size() == size) {
      more = true;
      return false;
    }
    *response->add_ideas() = IdeaView(idea, call);
    last = keys::IdeaIndexToken(key);
    return true;
  });
  if (!failure.ok()) return failure;
  if (!s.ok()) return s;
  if (more) response->set_next_page_token(last);
  return OkStatus();
}

Status Participation::AnswerIdea(civitas::Call& call, const pb::AnswerIdeaRequest& request,
                                 pb::Idea* response) {
  std::string id;
  if (Status s = civitas::IdFromName("ideas", request.name(), &id); !s.ok()) return s;
  if (request.status() == pb::Idea::STATUS_UNSPECIFIED ||
      !pb::Idea::Status_IsValid(request.status())) {
    return InvalidArgument(
        "status must be SUBMITTED, UNDER_REVIEW, ACCEPTED, REJECTED or IMPLEMENTED");
  }
  if (Status s = CheckText("official_answer", request.official_answer(), 0, 5000); !s.ok())
    return s;
  if (request.status() == pb::Idea::REJECTED && request.official_answer().empty()) {
    return InvalidArgument("official_answer is required when rejecting an idea");
  }
  const int64_t now = city_.NowMicros();
  pb::Idea idea;
  Status s = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    if (Status l = LoadIdea(id, &idea, &txn, true); !l.ok()) return l;
    idea.set_status(request.status());
    idea.set_official_answer(civitas::StripHtml(request.official_answer()));
    civitas::SetMicros(now, idea.mutable_update_time());
    pb::Idea stored = idea;
    stored.clear_support_count();
    return txn.Put(keys::Idea(id), stored.SerializeAsString());
  });
  if (!s.ok()) return s;
  *response = IdeaView(idea, call);
  return OkStatus();
}

Status Participation::SupportIdea(civitas::Call& call, const pb::SupportIdeaRequest& request,
                                  pb::Idea* response) {
  std::string id;
  if (Status s = civitas::IdFromName("ideas", request.name(), &id); !s.ok()) return s;
  const std::string subject(call.subject());
  pb::Idea idea;
  Status s = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    if (Status l = LoadIdeaRecord(id, &idea, &txn); !l.ok()) return l;
    if (idea.hidden()) return civitas::NotFound("idea '" + request.name() + "' does not exist");
    std::string marker;
    Status held = txn.Get(keys::Support(id, subject), &marker, /*for_update=*/true);
    if (held.ok()) {
      return civitas::AlreadyExists("you already support '" + request.name() + "'")
          .WithReason("ALREADY_SUPPORTED");
    }
    if (held.code() != CIVITAS_NOT_FOUND) return held;
    Status w = txn.Put(keys::Support(id, subject), "");
    if (w.ok()) w = txn.AddU64(keys::SupportCount(id), 1);
    if (w.ok()) {
      w = txn.Put(keys::Contribution(subject, ContributionKind::kSupport, request.name()), "");
    }
    return w;
  });
  if (!s.ok()) return s;
  // The idea as read in the transaction; the count as it is now, this support included.
  ReadSupportCount(id, &idea);
  *response = IdeaView(idea, call, /*supported_by_caller=*/true);
  return OkStatus();
}

Status Participation::WithdrawSupport(civitas::Call& call,
                                      const pb::WithdrawSupportRequest& request,
                                      pb::Idea* response) {
  std::string id;
  if (Status s = civitas::IdFromName("ideas", request.name(), &id); !s.ok()) return s;
  const std::string subject(call.subject());
  Status s = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    std::string marker;
    Status held = txn.Get(keys::Support(id, subject), &marker, /*for_update=*/true);
    if (held.code() == CIVITAS_NOT_FOUND) {
      return civitas::NotFound("you do not support '" + request.name() + "'");
    }
    if (!held.ok()) return held;
    Status w = txn.Delete(keys::Support(id, subject));
    if (w.ok()) w = txn.AddU64(keys::SupportCount(id), -1);
    if (w.ok()) {
      w = txn.Delete(keys::Contribution(subject, ContributionKind::kSupport, request.name()));
    }
    return w;
  });
  if (!s.ok()) return s;
  pb::Idea idea;
  if (s = LoadIdea(id, &idea); !s.ok()) return s;
  *response = IdeaView(idea, call);
  return OkStatus();
}

}  // namespace participation
