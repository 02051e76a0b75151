// Storage keys, and the loads and views every resource of the module shares.
#include "records.h"

#include <algorithm>
#include <cstdio>

#include "civitas/content.h"
#include "participation.h"

namespace participation {
namespace {

using civitas::InvalidArgument;
using civitas::OkStatus;
using civitas::Status;

std::string Hex(int64_t v) { return civitas::Hex16(static_cast<uint64_t>(v)); }

bool IsHexOfSize(std::string_view s, size_t size) {
  return s.size() == size && civitas::IsLowerHex(s);
}

}  // namespace

std::string_view KindName(ContributionKind kind) {
  switch (kind) {
    case ContributionKind::kIdea:
      return "idea";
    case ContributionKind::kComment:
      return "comment";
    case ContributionKind::kSupport:
      return "support";
    case ContributionKind::kBallot:
      return "ballot";
    case ContributionKind::kFlag:
      return "flag";
  }
  return "";
}

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

namespace keys {

std::string Idea(std::string_view id) { return "i/" + std::string(id); }
std::string SupportCount(std::string_view idea) { return "ic/" + std::string(idea); }
std::string Support(std::string_view idea, std::string_view subject) {
  return "is/" + std::string(idea) + "/" + std::string(subject);
}
std::string IdeaIndex(int64_t create_micros, std::string_view id) {
  return kIdeaIndexPrefix + Hex(INT64_MAX - create_micros) + std::string(id);
}
bool IsIdeaPageToken(std::string_view token) { return IsHexOfSize(token, 32); }
std::string IdeaIndexToken(std::string_view index_key) { return std::string(index_key.substr(3)); }
std::string IdeaIdOfIndex(std::string_view index_key) {
  return std::string(index_key.substr(3 + 16));
}
std::string IdeaIndexAfter(std::string_view token) {
  return kIdeaIndexPrefix + std::string(token) + '\x01';
}

std::string CommentPrefix(std::string_view idea) { return "c/" + std::string(idea) + "/"; }
std::string Comment(std::string_view idea, std::string_view comment) {
  return CommentPrefix(idea) + std::string(comment);
}
std::string CommentId(int64_t create_micros) { return Hex(create_micros); }
bool IsCommentPageToken(std::string_view token) { return IsHexOfSize(token, 16); }
bool IsCommentKey(std::string_view key) { return key.rfind("c/", 0) == 0; }

std::string Poll(std::string_view id) { return kPollPrefix + std::string(id); }
std::string BallotCount(std::string_view poll) { return "pn/" + std::string(poll); }
std::string Ballot(std::string_view poll, std::string_view subject) {
  return "pb/" + std::string(poll) + "/" + std::string(subject);
}
std::string TallyPrefix(std::string_view poll) { return "pt/" + std::string(poll) + "/"; }
std::string Tally(std::string_view poll, int question, int option) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%02x/%02x", question & 0xff, option & 0xff);
  return TallyPrefix(poll) + buf;
}
bool ParseTally(std::string_view tail, int* question, int* option) {
  if (tail.size() != 5) return false;
  *question = static_cast<int>(civitas::ParseHex(tail.substr(0, 2)));
  *option = static_cast<int>(civitas::ParseHex(tail.substr(3, 2)));
  return true;
}

std::string Flag(std::string_view item, std::string_view subject) {
  return "f/" + std::string(item) + '\0' + std::string(subject);
}
std::string FlagCount(std::string_view item) { return "fc/" + std::string(item); }
std::string OpenFlags(std::string_view item) { return kOpenFlagsPrefix + std::string(item); }

std::string Audit(int64_t micros, std::string_view random) {
  return kAuditPrefix + Hex(INT64_MAX - micros) + std::string(random);
}
bool IsAuditPageToken(std::string_view token) { return IsHexOfSize(token, 20); }

std::string WriteWindow(std::string_view subject) { return "r/" + std::string(subject); }

std::string ContributionPrefix(std::string_view subject) {
  return "u/" + std::string(subject) + '\0';
}
std::string Contribution(std::string_view subject, ContributionKind kind, std::string_view name) {
  return ContributionPrefix(subject) + std::string(KindName(kind)) + ":" + std::string(name);
}
bool ParseContribution(std::string_view tail, ContributionKind* kind, std::string* name) {
  const size_t colon = tail.find(':');
  const std::string_view kind_name = tail.substr(0, colon);
  for (ContributionKind k : kContributionKinds) {
    if (KindName(k) == kind_name) {
      *kind = k;
      *name = colon == std::string_view::npos ? "" : std::string(tail.substr(colon + 1));
      return true;
    }
  }
  return false;
}

}  // namespace keys

Status Participation::ItemKey(const std::string& item, std::string* key) const {
  std::string idea, comment;
  if (!SplitItem(item, &idea, &comment)) {
    return InvalidArgument("item must be 'ideas/{id}' or 'ideas/{id}/comments/{id}', got '" + item +
                           "'");
  }
  *key = comment.empty() ? keys::Idea(idea) : keys::Comment(idea, comment);
  return OkStatus();
}

Status Participation::ChargeWrite(civitas::Transaction& txn, const std::string& subject,
                                  int64_t now) const {
  const std::string key = keys::WriteWindow(subject);
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
    return civitas::Status(CIVITAS_RESOURCE_EXHAUSTED,
                           "too many writes: at most " + std::to_string(config_.writes_per_minute) +
                               " ideas, comments and flags per minute; retry in " +
                               std::to_string(retry) + " s")
        .WithReason("CONTRIBUTION_RATE_LIMITED");
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
  const std::string key = keys::Idea(id);
  Status s = txn ? txn->Get(key, &bytes, for_update) : city_.store().Get(key, &bytes);
  if (s.code() == CIVITAS_NOT_FOUND)
    return civitas::NotFound("idea 'ideas/" + id + "' does not exist");
  if (!s.ok()) return s;
  if (!idea->ParseFromString(bytes)) return civitas::Internal("stored idea is corrupt");
  return OkStatus();
}

void Participation::ReadSupportCount(const std::string& id, pb::Idea* idea,
                                     civitas::Transaction* txn) const {
  std::string count;
  if (city_.store().Get(keys::SupportCount(id), &count, txn).ok()) {
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
        city_.store().Get(keys::Support(stored.name().substr(6), call.subject()), &unused).ok());
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

}  // namespace participation
