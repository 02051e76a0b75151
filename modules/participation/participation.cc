#include "participation.h"

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "civitas/json.h"
#include "civitas/text.h"

namespace participation {
namespace {

using civitas::CheckText;
using civitas::InvalidArgument;
using civitas::OkStatus;
using civitas::Status;

constexpr int64_t kMinute = 60'000'000;

std::string Hex(int64_t v) { return civitas::Hex16(static_cast<uint64_t>(v)); }

Status CheckDisplayName(const std::string& field, const std::string& name) {
  if (Status s = CheckText(field, name, 2, 60); !s.ok()) return s;
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20)
      return InvalidArgument(field + " has control characters");
  }
  return OkStatus();
}

std::vector<civitas::Categories::Category> DefaultCategories() {
  return {{"verkehr", {{"de", "Verkehr"}, {"en", "Traffic"}}},
          {"gruen", {{"de", "Grün & Umwelt"}, {"en", "Green spaces & environment"}}},
          {"spielen", {{"de", "Spielen & Sport"}, {"en", "Play & sports"}}},
          {"sauberkeit", {{"de", "Sauberkeit"}, {"en", "Cleanliness"}}},
          {"kultur", {{"de", "Kultur"}, {"en", "Culture"}}},
          {"digitales", {{"de", "Digitales"}, {"en", "Digital services"}}},
          {"sonstiges", {{"de", "Sonstiges"}, {"en", "Other"}}}};
}

// "ideas/<id>" or "ideas/<id>/comments/<cid>"; returns false for anything else.
bool SplitItem(const std::string& item, std::string* idea, std::string* comment) {
  if (item.rfind("ideas/", 0) != 0 || item.size() < 6 + 16) return false;
  *idea = item.substr(6, 16);
  if (!civitas::IsLowerHex(*idea)) return false;
  if (item.size() == 6 + 16) {
    comment->clear();
    return true;
  }
  const std::string rest = item.substr(6 + 16);
  if (rest.rfind("/comments/", 0) != 0 || rest.size() != 10 + 16) return false;
  *comment = rest.substr(10);
  return civitas::IsLowerHex(*comment);
}

}  // namespace

Status ParseConfig(const std::string& json, Config* config) {
  civitas::JsonValue root;
  std::string error;
  if (!civitas::ParseJson(json, &root, &error)) {
    return InvalidArgument("module config is not valid JSON: " + error);
  }
  config->default_language = civitas::PrimaryLanguage(root["default_language"].AsString("de"));
  auto number = [&](const char* key, int fallback, int min, int max, int* out) {
    const double v = root[key].AsNumber(fallback);
    if (v < min || v > max || v != static_cast<int>(v)) {
      return InvalidArgument(std::string(key) + " must be a whole number from " +
                             std::to_string(min) + " to " + std::to_string(max));
    }
    *out = static_cast<int>(v);
    return OkStatus();
  };
  Status s;
  if (s = number("flag_threshold", 3, 1, 1000, &config->flag_threshold); !s.ok()) return s;
  if (s = number("writes_per_minute", 10, 1, 10000, &config->writes_per_minute); !s.ok()) return s;
  if (s = number("comment_edit_minutes", 15, 0, 10080, &config->comment_edit_minutes); !s.ok()) {
    return s;
  }
  config->erased_name = root["erased_name"].AsString(config->erased_name);
  return civitas::Categories::Parse(root, config->default_language, DefaultCategories(),
                                    &config->categories);
}

Status Participation::Create(civitas::City city, std::unique_ptr<Participation>* out) {
  Config config;
  if (Status s = ParseConfig(city.ConfigJson(), &config); !s.ok()) return s;
  *out = std::make_unique<Participation>(city, std::move(config));
  return OkStatus();
}

Status Participation::ItemKey(const std::string& item, std::string* key) const {
  std::string idea, comment;
  if (!SplitItem(item, &idea, &comment)) {
    return InvalidArgument("item must be 'ideas/{id}' or 'ideas/{id}/comments/{id}', got '" + item +
                           "'");
  }
  *key = comment.empty() ? "i/" + idea : "c/" + idea + "/" + comment;
  return OkStatus();
}

Status Participation::ChargeWrite(civitas::Transaction& txn, const std::string& subject,
                                  int64_t now) const {
  const std::string key = "r/" + subject;
  std::string value;
  Status s = txn.Get(key, &value, /*for_update=*/true);
  if (!s.ok() && s.code() != CIVITAS_NOT_FOUND) return s;
  int64_t start = now;
  uint64_t count = 0;
  if (s.ok() && value.size() == 16) {
    start = static_cast<int64_t>(civitas::DecodeU64(value.substr(0, 8)));
    count = civitas::DecodeU64(value.substr(8));
    if (now - start >= kMinute || now < start) {
      start = now;
      count = 0;
    }
  }
  if (count >= static_cast<uint64_t>(config_.writes_per_minute)) {
    const int64_t retry = std::max<int64_t>(1, (start + kMinute - now + 999'999) / 1'000'000);
    return {CIVITAS_RESOURCE_EXHAUSTED,
            "too many writes: at most " + std::to_string(config_.writes_per_minute) +
                " ideas, comments and flags per minute; retry in " + std::to_string(retry) + " s"};
  }
  return txn.Put(key,
                 civitas::EncodeU64(static_cast<uint64_t>(start)) + civitas::EncodeU64(count + 1));
}

Status Participation::LoadIdea(const std::string& id, pb::Idea* idea, civitas::Transaction* txn,
                               bool for_update) const {
  if (Status s = LoadIdeaRecord(id, idea, txn, for_update); !s.ok()) return s;
  ReadSupportCount(id, idea, txn);
  return OkStatus();
}

Status Participation::LoadIdeaRecord(const std::string& id, pb::Idea* idea,
                                     civitas::Transaction* txn, bool for_update) const {
  std::string bytes;
  Status s = txn ? txn->Get("i/" + id, &bytes, for_update) : city_.store().Get("i/" + id, &bytes);
  if (s.code() == CIVITAS_NOT_FOUND)
    return civitas::NotFound("idea 'ideas/" + id + "' does not exist");
  if (!s.ok()) return s;
  if (!idea->ParseFromString(bytes)) return civitas::Internal("stored idea is corrupt");
  return OkStatus();
}

void Participation::ReadSupportCount(const std::string& id, pb::Idea* idea,
                                     civitas::Transaction* txn) const {
  std::string count;
  if (city_.store().Get("ic/" + id, &count, txn).ok()) {
    idea->set_support_count(static_cast<int64_t>(civitas::DecodeU64(count)));
  }
}

pb::Idea Participation::IdeaView(const pb::Idea& stored, civitas::Call& call,
                                 std::optional<bool> supported_by_caller) const {
  pb::Idea out = stored;
  if (stored.author() != call.subject() && !call.HasRole(civitas::Role::kModerator)) {
    out.clear_author();
  }
  if (supported_by_caller.has_value()) {
    out.set_supported_by_caller(*supported_by_caller);
  } else if (call.signed_in()) {
    std::string unused;
    out.set_supported_by_caller(
        city_.store()
            .Get("is/" + stored.name().substr(6) + "/" + std::string(call.subject()), &unused)
            .ok());
  }
  return out;
}

pb::Comment Participation::CommentView(const pb::Comment& stored, civitas::Call& call) const {
  pb::Comment out = stored;
  const bool moderator = call.HasRole(civitas::Role::kModerator);
  if (stored.author() != call.subject() && !moderator) out.clear_author();
  if (stored.deleted() || (stored.hidden() && !moderator)) out.clear_body();
  return out;
}

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
    Status w = txn.Put("i/" + id, stored.SerializeAsString());
    if (w.ok()) w = txn.Put("il/" + Hex(INT64_MAX - now) + id, "");
    if (w.ok()) w = txn.Put("u/" + subject + '\0' + "idea:" + stored.name(), "");
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
  if (!token.empty() && (token.size() != 32 || !civitas::IsLowerHex(token))) {
    return InvalidArgument("page_token is not one this server issued");
  }
  const int size = request.page_size() == 0 ? 20 : request.page_size();
  const bool moderator = call.HasRole(civitas::Role::kModerator);
  civitas::ScanOptions scan;
  scan.prefix = "il/";
  if (!token.empty()) scan.start = "il/" + token + '\x01';
  scan.limit = CIVITAS_SCAN_MAX_LIMIT;
  std::string last;
  Status failure;
  bool more = false;
  Status s = city_.store().Scan(scan, [&](std::string_view key, std::string_view) {
    pb::Idea idea;
    Status l = LoadIdea(std::string(key.substr(3 + 16)), &idea);
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
    last = std::string(key.substr(3));
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
    return txn.Put("i/" + id, stored.SerializeAsString());
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
    Status held = txn.Get("is/" + id + "/" + subject, &marker, /*for_update=*/true);
    if (held.ok()) return civitas::AlreadyExists("you already support '" + request.name() + "'");
    if (held.code() != CIVITAS_NOT_FOUND) return held;
    Status w = txn.Put("is/" + id + "/" + subject, "");
    if (w.ok()) w = txn.AddU64("ic/" + id, 1);
    if (w.ok()) w = txn.Put("u/" + subject + '\0' + "support:" + request.name(), "");
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
    Status held = txn.Get("is/" + id + "/" + subject, &marker, /*for_update=*/true);
    if (held.code() == CIVITAS_NOT_FOUND) {
      return civitas::NotFound("you do not support '" + request.name() + "'");
    }
    if (!held.ok()) return held;
    Status w = txn.Delete("is/" + id + "/" + subject);
    if (w.ok()) w = txn.AddU64("ic/" + id, -1);
    if (w.ok()) w = txn.Delete("u/" + subject + '\0' + "support:" + request.name());
    return w;
  });
  if (!s.ok()) return s;
  pb::Idea idea;
  if (s = LoadIdea(id, &idea); !s.ok()) return s;
  *response = IdeaView(idea, call);
  return OkStatus();
}

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
    parent_key = "c/" + idea_id + "/" + pc;
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
      key = "c/" + idea_id + "/" + Hex(at);
      Status e = txn.Get(key, &unused, true);
      if (e.code() == CIVITAS_NOT_FOUND) break;
      if (!e.ok()) return e;
    }
    stored = pb::Comment();
    stored.set_name(request.parent() + "/comments/" + Hex(at));
    stored.set_parent_comment(c.parent_comment());
    stored.set_body(c.body());
    stored.set_author_display_name(c.author_display_name());
    stored.set_author(subject);
    civitas::SetMicros(now, stored.mutable_create_time());
    civitas::SetMicros(now, stored.mutable_update_time());
    Status w = txn.Put(key, stored.SerializeAsString());
    if (w.ok()) w = txn.Put("u/" + subject + '\0' + "comment:" + stored.name(), "");
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
  if (!token.empty() && (token.size() != 16 || !civitas::IsLowerHex(token))) {
    return InvalidArgument("page_token is not one this server issued");
  }
  pb::Idea idea;
  if (Status s = LoadIdea(idea_id, &idea); !s.ok()) return s;
  if (idea.hidden() && !call.HasRole(civitas::Role::kModerator)) {
    return civitas::NotFound("idea '" + request.parent() + "' does not exist");
  }
  const uint32_t size = request.page_size() == 0 ? 50 : request.page_size();
  civitas::ScanOptions scan;
  scan.prefix = "c/" + idea_id + "/";
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
  if (Status s = ItemKey(request.comment().name(), &key); !s.ok() || key[0] != 'c') {
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
  if (Status s = ItemKey(request.name(), &key); !s.ok() || key[0] != 'c') {
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

Status Participation::CreatePoll(civitas::Call& call, const pb::CreatePollRequest& request,
                                 pb::Poll* response) {
  pb::Poll p = request.poll();
  Status s;
  if (s = CheckText("poll.title", p.title(), 5, 200); !s.ok()) return s;
  if (s = CheckText("poll.description", p.description(), 0, 2000); !s.ok()) return s;
  if (p.questions_size() < 1 || p.questions_size() > 20) {
    return InvalidArgument("poll.questions must have 1 to 20 entries, got " +
                           std::to_string(p.questions_size()));
  }
  for (int q = 0; q < p.questions_size(); ++q) {
    pb::Question* question = p.mutable_questions(q);
    const std::string where = "poll.questions[" + std::to_string(q) + "]";
    if (s = CheckText(where + ".text", question->text(), 1, 500); !s.ok()) return s;
    if (question->options_size() < 2 || question->options_size() > 20) {
      return InvalidArgument(where + ".options must have 2 to 20 entries, got " +
                             std::to_string(question->options_size()));
    }
    for (int o = 0; o < question->options_size(); ++o) {
      question->mutable_options(o)->clear_votes();
      if (s = CheckText(where + ".options[" + std::to_string(o) + "].text",
                        question->options(o).text(), 1, 200);
          !s.ok()) {
        return s;
      }
    }
  }
  const int64_t now = city_.NowMicros();
  if (!p.has_open_time()) civitas::SetMicros(now, p.mutable_open_time());
  if (!p.has_close_time()) return InvalidArgument("poll.close_time is required");
  if (!civitas::ValidTimestamp(p.open_time()) || !civitas::ValidTimestamp(p.close_time())) {
    return InvalidArgument("poll times must lie between the years 1 and 9999");
  }
  if (civitas::ToMicros(p.close_time()) <= civitas::ToMicros(p.open_time())) {
    return InvalidArgument("poll.close_time must be after poll.open_time");
  }
  const std::string id = civitas::NewResourceId();
  p.set_name("polls/" + id);
  p.clear_ballot_count();
  p.clear_results_visible();
  civitas::SetMicros(now, p.mutable_create_time());
  s = city_.store().RunTransaction(
      [&](civitas::Transaction& txn) { return txn.Put("p/" + id, p.SerializeAsString()); });
  if (!s.ok()) return s;
  pb::GetPollRequest get;
  get.set_name(p.name());
  return GetPoll(call, get, response);
}

Status Participation::Tallies(const std::string& poll_id, pb::Poll* poll) const {
  civitas::ScanOptions scan;
  scan.prefix = "pt/" + poll_id + "/";
  scan.limit = CIVITAS_SCAN_MAX_LIMIT;
  return city_.store().Scan(scan, [&](std::string_view key, std::string_view value) {
    // pt/<poll>/<q:2 hex>/<o:2 hex>
    const std::string_view tail = key.substr(scan.prefix.size());
    if (tail.size() != 5) return true;
    const int q = static_cast<int>(civitas::ParseHex(tail.substr(0, 2)));
    const int o = static_cast<int>(civitas::ParseHex(tail.substr(3, 2)));
    if (q < poll->questions_size() && o < poll->questions(q).options_size()) {
      poll->mutable_questions(q)->mutable_options(o)->set_votes(
          static_cast<int64_t>(civitas::DecodeU64(value)));
    }
    return true;
  });
}

Status Participation::GetPoll(civitas::Call& call, const pb::GetPollRequest& request,
                              pb::Poll* response) {
  std::string id;
  if (Status s = civitas::IdFromName("polls", request.name(), &id); !s.ok()) return s;
  std::string bytes;
  Status s = city_.store().Get("p/" + id, &bytes);
  if (s.code() == CIVITAS_NOT_FOUND)
    return civitas::NotFound("poll '" + request.name() + "' does not exist");
  if (!s.ok()) return s;
  response->ParseFromString(bytes);
  std::string count;
  if (city_.store().Get("pn/" + id, &count).ok()) {
    response->set_ballot_count(static_cast<int64_t>(civitas::DecodeU64(count)));
  }
  const bool closed = city_.NowMicros() >= civitas::ToMicros(response->close_time());
  const bool visible =
      !response->results_hidden_until_close() || closed || call.HasRole(civitas::Role::kEditor);
  response->set_results_visible(visible);
  if (visible) return Tallies(id, response);
  return OkStatus();
}

Status Participation::CastBallot(civitas::Call& call, const pb::CastBallotRequest& request,
                                 pb::Ballot* response) {
  std::string id;
  if (Status s = civitas::IdFromName("polls", request.poll(), &id, "poll"); !s.ok()) return s;
  std::string bytes;
  Status s = city_.store().Get("p/" + id, &bytes);
  if (s.code() == CIVITAS_NOT_FOUND)
    return civitas::NotFound("poll '" + request.poll() + "' does not exist");
  if (!s.ok()) return s;
  pb::Poll poll;
  poll.ParseFromString(bytes);
  const int64_t now = city_.NowMicros();
  if (now < civitas::ToMicros(poll.open_time())) {
    return civitas::FailedPrecondition("the poll opens at " +
                                       std::to_string(poll.open_time().seconds()) + " (unix time)");
  }
  if (now >= civitas::ToMicros(poll.close_time())) {
    return civitas::FailedPrecondition("the poll is closed");
  }
  if (request.answers_size() != poll.questions_size()) {
    return InvalidArgument(
        "answers must have one entry per question: " + std::to_string(poll.questions_size()) +
        " expected, got " + std::to_string(request.answers_size()));
  }
  for (int q = 0; q < request.answers_size(); ++q) {
    const auto& chosen = request.answers(q).options();
    const pb::Question& question = poll.questions(q);
    const std::string where = "answers[" + std::to_string(q) + "]";
    if (chosen.empty()) return InvalidArgument(where + " chooses no option");
    if (!question.multiple_choice() && chosen.size() > 1) {
      return InvalidArgument(where + ": question " + std::to_string(q) + " allows one option");
    }
    std::set<int> unique;
    for (int o : chosen) {
      if (o < 0 || o >= question.options_size()) {
        return InvalidArgument(where + ": option " + std::to_string(o) + " does not exist (0 to " +
                               std::to_string(question.options_size() - 1) + ")");
      }
      if (!unique.insert(o).second)
        return InvalidArgument(where + " chooses option " + std::to_string(o) + " twice");
    }
  }
  const std::string subject(call.subject());
  const std::string ballot_key = "pb/" + id + "/" + subject;
  auto tally_key = [&](int q, int o) {
    char buf[8];
    snprintf(buf, sizeof(buf), "%02x/%02x", q & 0xff, o & 0xff);
    return "pt/" + id + "/" + buf;
  };
  pb::Ballot ballot;
  ballot.set_name(request.poll() + "/ballots/mine");
  *ballot.mutable_answers() = request.answers();
  civitas::SetMicros(now, ballot.mutable_update_time());
  s = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    std::string previous_bytes;
    Status held = txn.Get(ballot_key, &previous_bytes, /*for_update=*/true);
    if (!held.ok() && held.code() != CIVITAS_NOT_FOUND) return held;
    if (held.ok()) {
      if (!poll.ballots_changeable()) {
        return civitas::AlreadyExists("you have voted; this poll does not allow changing ballots");
      }
      pb::Ballot previous;
      previous.ParseFromString(previous_bytes);
      for (int q = 0; q < previous.answers_size(); ++q) {
        for (int o : previous.answers(q).options()) {
          if (Status w = txn.AddU64(tally_key(q, o), -1); !w.ok()) return w;
        }
      }
    } else {
      if (Status w = txn.AddU64("pn/" + id, 1); !w.ok()) return w;
      if (Status w = txn.Put("u/" + subject + '\0' + "ballot:" + request.poll(), ""); !w.ok()) {
        return w;
      }
    }
    for (int q = 0; q < request.answers_size(); ++q) {
      for (int o : request.answers(q).options()) {
        if (Status w = txn.AddU64(tally_key(q, o), 1); !w.ok()) return w;
      }
    }
    return txn.Put(ballot_key, ballot.SerializeAsString());
  });
  if (!s.ok()) return s;
  *response = ballot;
  return OkStatus();
}

Status Participation::Audit(civitas::Transaction& txn, pb::AuditEntry::Action action,
                            const std::string& item, const std::string& moderator,
                            const std::string& reason, int64_t now, pb::AuditEntry* out) const {
  pb::AuditEntry entry;
  entry.set_action(action);
  entry.set_item(item);
  entry.set_moderator(moderator);
  entry.set_reason(reason);
  civitas::SetMicros(now, entry.mutable_time());
  if (out) *out = entry;
  return txn.Put("a/" + Hex(INT64_MAX - now) + civitas::NewResourceId().substr(0, 4),
                 entry.SerializeAsString());
}

Status Participation::SetHidden(civitas::Transaction& txn, const std::string& key,
                                bool hidden) const {
  std::string bytes;
  if (Status g = txn.Get(key, &bytes, true); !g.ok()) return g;
  if (key[0] == 'i') {
    pb::Idea idea;
    idea.ParseFromString(bytes);
    idea.set_hidden(hidden);
    return txn.Put(key, idea.SerializeAsString());
  }
  pb::Comment c;
  c.ParseFromString(bytes);
  c.set_hidden(hidden);
  return txn.Put(key, c.SerializeAsString());
}

Status Participation::FlagContent(civitas::Call& call, const pb::FlagContentRequest& request,
                                  google::protobuf::Empty*) {
  std::string key;
  if (Status s = ItemKey(request.item(), &key); !s.ok()) return s;
  if (Status s = CheckText("reason", request.reason(), 0, 500); !s.ok()) return s;
  const std::string subject(call.subject());
  const int64_t now = city_.NowMicros();
  return city_.store().RunTransaction([&](civitas::Transaction& txn) {
    std::string bytes;
    Status g = txn.Get(key, &bytes);
    if (g.code() == CIVITAS_NOT_FOUND)
      return civitas::NotFound("'" + request.item() + "' does not exist");
    if (!g.ok()) return g;
    std::string unused;
    Status held = txn.Get("f/" + request.item() + '\0' + subject, &unused, true);
    if (held.ok())
      return civitas::AlreadyExists("you have already flagged '" + request.item() + "'");
    if (held.code() != CIVITAS_NOT_FOUND) return held;
    if (Status r = ChargeWrite(txn, subject, now); !r.ok()) return r;
    std::string count_bytes;
    Status c = txn.Get("fc/" + request.item(), &count_bytes, true);
    if (!c.ok() && c.code() != CIVITAS_NOT_FOUND) return c;
    const uint64_t count = (c.ok() ? civitas::DecodeU64(count_bytes) : 0) + 1;
    Status w = txn.Put("f/" + request.item() + '\0' + subject, request.reason());
    if (w.ok()) w = txn.Put("fc/" + request.item(), civitas::EncodeU64(count));
    if (w.ok()) w = txn.Put("q/" + request.item(), civitas::EncodeU64(count));
    if (w.ok()) w = txn.Put("u/" + subject + '\0' + "flag:" + request.item(), "");
    if (w.ok() && count == static_cast<uint64_t>(config_.flag_threshold)) {
      w = SetHidden(txn, key, true);
      if (w.ok()) {
        w = Audit(txn, pb::AuditEntry::AUTO_HIDE, request.item(), "",
                  std::to_string(count) + " users flagged it", now, nullptr);
      }
    }
    return w;
  });
}

Status Participation::ListFlaggedContent(civitas::Call&,
                                         const pb::ListFlaggedContentRequest& request,
                                         pb::ListFlaggedContentResponse* response) {
  if (Status s = civitas::CheckPageSize(request.page_size(), 100); !s.ok()) return s;
  const int size = request.page_size() == 0 ? 20 : request.page_size();
  std::vector<pb::FlaggedItem> items;
  civitas::ScanOptions scan;
  scan.prefix = "q/";
  scan.limit = CIVITAS_SCAN_MAX_LIMIT;
  Status s = city_.store().Scan(scan, [&](std::string_view key, std::string_view value) {
    pb::FlaggedItem item;
    item.set_item(std::string(key.substr(2)));
    item.set_flag_count(static_cast<int32_t>(civitas::DecodeU64(value)));
    items.push_back(std::move(item));
    return true;
  });
  if (!s.ok()) return s;
  std::stable_sort(items.begin(), items.end(),
                   [](const auto& a, const auto& b) { return a.flag_count() > b.flag_count(); });
  for (size_t i = 0; i < items.size() && static_cast<int>(i) < size; ++i) {
    pb::FlaggedItem& item = items[i];
    std::string key, bytes;
    if (!ItemKey(item.item(), &key).ok() || !city_.store().Get(key, &bytes).ok()) continue;
    if (key[0] == 'i') {
      pb::Idea idea;
      idea.ParseFromString(bytes);
      item.set_hidden(idea.hidden());
      item.set_excerpt(civitas::TruncateUtf8(idea.title() + ": " + idea.body(), 200));
    } else {
      pb::Comment c;
      c.ParseFromString(bytes);
      item.set_hidden(c.hidden());
      item.set_excerpt(civitas::TruncateUtf8(c.body(), 200));
    }
    *response->add_items() = std::move(item);
  }
  return OkStatus();
}

Status Participation::ModerateContent(civitas::Call& call,
                                      const pb::ModerateContentRequest& request,
                                      pb::AuditEntry* response) {
  std::string key;
  if (Status s = ItemKey(request.item(), &key); !s.ok()) return s;
  if (Status s = CheckText("reason", request.reason(), 3, 500); !s.ok()) return s;
  const int64_t now = city_.NowMicros();
  return city_.store().RunTransaction([&](civitas::Transaction& txn) {
    Status h = SetHidden(txn, key, request.hide());
    if (h.code() == CIVITAS_NOT_FOUND)
      return civitas::NotFound("'" + request.item() + "' does not exist");
    if (!h.ok()) return h;
    // A moderator's decision settles the open flags.
    if (Status d = txn.Delete("q/" + request.item()); !d.ok()) return d;
    return Audit(txn, request.hide() ? pb::AuditEntry::HIDE : pb::AuditEntry::UNHIDE,
                 request.item(), std::string(call.subject()), request.reason(), now, response);
  });
}

Status Participation::ListAuditEntries(civitas::Call&, const pb::ListAuditEntriesRequest& request,
                                       pb::ListAuditEntriesResponse* response) {
  if (Status s = civitas::CheckPageSize(request.page_size(), 100); !s.ok()) return s;
  const std::string& token = request.page_token();
  if (!token.empty() && (token.size() != 20 || !civitas::IsLowerHex(token))) {
    return InvalidArgument("page_token is not one this server issued");
  }
  const uint32_t size = request.page_size() == 0 ? 20 : request.page_size();
  civitas::ScanOptions scan;
  scan.prefix = "a/";
  if (!token.empty()) scan.start = "a/" + token + '\x01';
  scan.limit = size + 1;
  std::vector<std::string> keys;
  Status s = city_.store().Scan(scan, [&](std::string_view key, std::string_view value) {
    if (keys.size() < size)
      response->add_entries()->ParseFromArray(value.data(), static_cast<int>(value.size()));
    keys.emplace_back(key.substr(2));
    return true;
  });
  if (!s.ok()) return s;
  if (keys.size() > size) response->set_next_page_token(keys[size - 1]);
  return OkStatus();
}

Status Participation::ListMyContributions(civitas::Call& call,
                                          const pb::ListMyContributionsRequest&,
                                          pb::ListMyContributionsResponse* response) {
  return Contributions(std::string(call.subject()), &call, response);
}

Status Participation::Contributions(const std::string& subject, civitas::Call* call,
                                    pb::ListMyContributionsResponse* response) {
  if (subject.empty() || subject.find('\0') != std::string::npos) {
    return InvalidArgument("subject must be non-empty and contain no NUL");
  }
  civitas::ScanOptions scan;
  scan.prefix = "u/" + subject + '\0';
  scan.limit = CIVITAS_SCAN_MAX_LIMIT;
  std::vector<std::string> entries;
  Status s = city_.store().Scan(scan, [&](std::string_view key, std::string_view) {
    entries.emplace_back(key.substr(scan.prefix.size()));
    return true;
  });
  if (!s.ok()) return s;
  for (const std::string& e : entries) {
    const size_t colon = e.find(':');
    const std::string kind = e.substr(0, colon), name = e.substr(colon + 1);
    std::string key, bytes;
    if (kind == "idea") {
      pb::Idea idea;
      if (LoadIdea(name.substr(6), &idea).ok()) {
        *response->add_ideas() = call ? IdeaView(idea, *call) : idea;
      }
    } else if (kind == "comment") {
      if (ItemKey(name, &key).ok() && city_.store().Get(key, &bytes).ok()) {
        pb::Comment c;
        c.ParseFromString(bytes);
        pb::Comment view = c;  // the author sees their own text, even if hidden
        *response->add_comments() = view;
      }
    } else if (kind == "support") {
      response->add_supported_ideas(name);
    } else if (kind == "ballot") {
      if (city_.store().Get("pb/" + name.substr(6) + "/" + subject, &bytes).ok()) {
        (*response->mutable_ballots())[name].ParseFromString(bytes);
      }
    } else if (kind == "flag") {
      response->add_flagged_items(name);
    }
  }
  return OkStatus();
}

Status Participation::ErasePersonalData(civitas::Call& call,
                                        const pb::ErasePersonalDataRequest& request,
                                        pb::ErasePersonalDataResponse* response) {
  if (request.confirm() != "ERASE") {
    return InvalidArgument("confirm must be \"ERASE\": this cannot be undone");
  }
  const std::string subject(call.subject());
  if (subject.empty()) return civitas::PermissionDenied("sign in to erase your data");
  return Erase(subject, response);
}

Status Participation::EraseSubject(std::string_view subject) {
  if (subject.empty() || subject.find('\0') != std::string_view::npos) {
    return InvalidArgument("subject must be non-empty and contain no NUL");
  }
  pb::ErasePersonalDataResponse unused;
  return Erase(std::string(subject), &unused);
}

Status Participation::ExportPersonalData(std::string_view subject, std::string* json) {
  pb::ListMyContributionsResponse mine;
  if (Status s = Contributions(std::string(subject), nullptr, &mine); !s.ok()) return s;
  auto list = [](const auto& names) {
    std::string out = "[";
    for (int i = 0; i < names.size(); ++i) {
      if (i > 0) out += ",";
      out += civitas::JsonQuote(names[i]);
    }
    return out + "]";
  };
  *json = "{\"ideas\":[";
  for (int i = 0; i < mine.ideas_size(); ++i) {
    const pb::Idea& idea = mine.ideas(i);
    if (i > 0) *json += ",";
    *json += "{\"name\":" + civitas::JsonQuote(idea.name()) +
             ",\"title\":" + civitas::JsonQuote(idea.title()) +
             ",\"body\":" + civitas::JsonQuote(idea.body()) +
             ",\"author_display_name\":" + civitas::JsonQuote(idea.author_display_name()) + "}";
  }
  *json += "],\"comments\":[";
  for (int i = 0; i < mine.comments_size(); ++i) {
    const pb::Comment& c = mine.comments(i);
    if (i > 0) *json += ",";
    *json += "{\"name\":" + civitas::JsonQuote(c.name()) +
             ",\"body\":" + civitas::JsonQuote(c.body()) +
             ",\"author_display_name\":" + civitas::JsonQuote(c.author_display_name()) + "}";
  }
  *json += "],\"supported_ideas\":" + list(mine.supported_ideas());
  *json += ",\"flagged_items\":" + list(mine.flagged_items());
  *json += ",\"ballots\":[";
  bool first = true;
  for (const auto& [poll, ballot] : mine.ballots()) {
    if (!first) *json += ",";
    first = false;
    *json += "{\"poll\":" + civitas::JsonQuote(poll) + "}";
  }
  *json += "]}";
  return OkStatus();
}

Status Participation::Erase(const std::string& subject, pb::ErasePersonalDataResponse* response) {
  civitas::ScanOptions scan;
  scan.prefix = "u/" + subject + '\0';
  scan.limit = CIVITAS_SCAN_MAX_LIMIT;
  std::vector<std::string> entries;
  Status s = city_.store().Scan(scan, [&](std::string_view key, std::string_view) {
    entries.emplace_back(key);
    return true;
  });
  if (!s.ok()) return s;
  const int64_t now = city_.NowMicros();
  // One transaction: either every record is anonymized and detached, or none is.
  return city_.store().RunTransaction([&](civitas::Transaction& txn) {
    response->Clear();
    for (const std::string& entry : entries) {
      const std::string e = entry.substr(scan.prefix.size());
      const size_t colon = e.find(':');
      const std::string kind = e.substr(0, colon), name = e.substr(colon + 1);
      const std::string anonymous = "~" + civitas::NewResourceId();
      std::string key, bytes;
      Status w;
      if (kind == "idea" || kind == "comment") {
        if (!ItemKey(name, &key).ok()) continue;
        Status g = txn.Get(key, &bytes, true);
        if (g.code() == CIVITAS_NOT_FOUND) continue;
        if (!g.ok()) return g;
        if (kind == "idea") {
          pb::Idea idea;
          idea.ParseFromString(bytes);
          idea.clear_author();
          idea.set_author_display_name(config_.erased_name);
          civitas::SetMicros(now, idea.mutable_update_time());
          w = txn.Put(key, idea.SerializeAsString());
        } else {
          pb::Comment c;
          c.ParseFromString(bytes);
          c.clear_author();
          c.set_author_display_name(config_.erased_name);
          w = txn.Put(key, c.SerializeAsString());
        }
        response->set_anonymized_items(response->anonymized_items() + 1);
      } else {
        std::string from, to;
        if (kind == "support") {
          from = "is/" + name.substr(6) + "/" + subject;
          to = "is/" + name.substr(6) + "/" + anonymous;
        } else if (kind == "ballot") {
          from = "pb/" + name.substr(6) + "/" + subject;
          to = "pb/" + name.substr(6) + "/" + anonymous;
        } else if (kind == "flag") {
          from = "f/" + name + '\0' + subject;
          to = "f/" + name + '\0' + anonymous;
        } else {
          continue;
        }
        Status g = txn.Get(from, &bytes, true);
        if (g.ok()) {
          w = txn.Delete(from);
          if (w.ok()) w = txn.Put(to, bytes);
          response->set_detached_records(response->detached_records() + 1);
        } else if (g.code() != CIVITAS_NOT_FOUND) {
          return g;
        }
      }
      if (w.ok()) w = txn.Delete(entry);
      if (!w.ok()) return w;
    }
    return txn.Delete("r/" + subject);
  });
}

}  // namespace participation

CIVITAS_MODULE(
    civitas::ModuleBuilder<participation::Participation>("civitas.participation", "1.0.0",
                                                         &participation::Participation::Create)
        .Service("civitas.participation.v1.ParticipationService")
        .Unary("CreateIdea", civitas::Role::kCitizen, &participation::Participation::CreateIdea)
        .Unary("GetIdea", civitas::Role::kAnonymous, &participation::Participation::GetIdea)
        .Unary("ListIdeas", civitas::Role::kAnonymous, &participation::Participation::ListIdeas)
        .Unary("AnswerIdea", civitas::Role::kEditor, &participation::Participation::AnswerIdea)
        .Unary("SupportIdea", civitas::Role::kCitizen, &participation::Participation::SupportIdea)
        .Unary("WithdrawSupport", civitas::Role::kCitizen,
               &participation::Participation::WithdrawSupport)
        .Unary("CreateComment", civitas::Role::kCitizen,
               &participation::Participation::CreateComment)
        .Unary("ListComments", civitas::Role::kAnonymous,
               &participation::Participation::ListComments)
        .Unary("UpdateComment", civitas::Role::kCitizen,
               &participation::Participation::UpdateComment)
        .Unary("DeleteComment", civitas::Role::kCitizen,
               &participation::Participation::DeleteComment)
        .Unary("CreatePoll", civitas::Role::kEditor, &participation::Participation::CreatePoll)
        .Unary("GetPoll", civitas::Role::kAnonymous, &participation::Participation::GetPoll)
        .Unary("CastBallot", civitas::Role::kCitizen, &participation::Participation::CastBallot)
        .Unary("FlagContent", civitas::Role::kCitizen, &participation::Participation::FlagContent)
        .Unary("ListFlaggedContent", civitas::Role::kModerator,
               &participation::Participation::ListFlaggedContent)
        .Unary("ModerateContent", civitas::Role::kModerator,
               &participation::Participation::ModerateContent)
        .Unary("ListAuditEntries", civitas::Role::kAdmin,
               &participation::Participation::ListAuditEntries)
        .Unary("ListMyContributions", civitas::Role::kCitizen,
               &participation::Participation::ListMyContributions)
        .Unary("ErasePersonalData", civitas::Role::kCitizen,
               &participation::Participation::ErasePersonalData)
        .PersonalData(&participation::Participation::ExportPersonalData,
                      &participation::Participation::EraseSubject))
