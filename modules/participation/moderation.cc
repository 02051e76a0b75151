// Moderation: flags that hide content automatically, moderators' decisions, the audit log.
#include <algorithm>
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
  return txn.Put(keys::Audit(now, civitas::NewResourceId().substr(0, 4)),
                 entry.SerializeAsString());
}

Status Participation::SetHidden(civitas::Transaction& txn, const std::string& key,
                                bool hidden) const {
  std::string bytes;
  if (Status g = txn.Get(key, &bytes, true); !g.ok()) return g;
  if (!keys::IsCommentKey(key)) {
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
    Status held = txn.Get(keys::Flag(request.item(), subject), &unused, true);
    if (held.ok())
      return civitas::AlreadyExists("you have already flagged '" + request.item() + "'")
          .WithReason("ALREADY_FLAGGED");
    if (held.code() != CIVITAS_NOT_FOUND) return held;
    if (Status r = ChargeWrite(txn, subject, now); !r.ok()) return r;
    std::string count_bytes;
    Status c = txn.Get(keys::FlagCount(request.item()), &count_bytes, true);
    if (!c.ok() && c.code() != CIVITAS_NOT_FOUND) return c;
    const uint64_t count = (c.ok() ? civitas::DecodeU64(count_bytes) : 0) + 1;
    Status w = txn.Put(keys::Flag(request.item(), subject), request.reason());
    if (w.ok()) w = txn.Put(keys::FlagCount(request.item()), civitas::EncodeU64(count));
    if (w.ok()) w = txn.Put(keys::OpenFlags(request.item()), civitas::EncodeU64(count));
    if (w.ok()) {
      w = txn.Put(keys::Contribution(subject, ContributionKind::kFlag, request.item()), "");
    }
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
  scan.prefix = keys::kOpenFlagsPrefix;
  scan.limit = CIVITAS_SCAN_MAX_LIMIT;
  Status s = city_.store().Scan(scan, [&](std::string_view key, std::string_view value) {
    pb::FlaggedItem item;
    item.set_item(std::string(key.substr(scan.prefix.size())));
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
    if (!keys::IsCommentKey(key)) {
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
    if (Status d = txn.Delete(keys::OpenFlags(request.item())); !d.ok()) return d;
    return Audit(txn, request.hide() ? pb::AuditEntry::HIDE : pb::AuditEntry::UNHIDE,
                 request.item(), std::string(call.subject()), request.reason(), now, response);
  });
}

Status Participation::ListAuditEntries(civitas::Call&, const pb::ListAuditEntriesRequest& request,
                                       pb::ListAuditEntriesResponse* response) {
  if (Status s = civitas::CheckPageSize(request.page_size(), 100); !s.ok()) return s;
  const std::string& token = request.page_token();
  if (!token.empty() && !keys::IsAuditPageToken(token)) {
    return InvalidArgument("page_token is not one this server issued")
        .WithReason("PAGE_TOKEN_INVALID");
  }
  const uint32_t size = request.page_size() == 0 ? 20 : request.page_size();
  civitas::ScanOptions scan;
  scan.prefix = keys::kAuditPrefix;
  if (!token.empty()) scan.start = scan.prefix + token + '\x01';
  scan.limit = size + 1;
  std::vector<std::string> found;
  Status s = city_.store().Scan(scan, [&](std::string_view key, std::string_view value) {
    if (found.size() < size)
      response->add_entries()->ParseFromArray(value.data(), static_cast<int>(value.size()));
    found.emplace_back(key.substr(scan.prefix.size()));
    return true;
  });
  if (!s.ok()) return s;
  if (found.size() > size) response->set_next_page_token(found[size - 1]);
  return OkStatus();
}

}  // namespace participation
