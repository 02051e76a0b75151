// civitas SDK: a change log for offline-first sync (`ListChanges` in Google AIP style).
//
// Every write records the id it touched, inside the write's own transaction, under a sequence
// number taken from a counter key that the transaction locks; commits therefore become visible in
// sequence order and a reader that has seen sequence N has seen everything before it. Writes
// whose visibility changes later without another write (a scheduled publish time, an expiry)
// also record those instants; a reader picks them up once they have passed.
//
// A sync token is "<sequence>.<watermark>" (hex): the last sequence and the time up to which
// instants were returned. The empty token replays from the beginning, so a client that applies
// every page (upsert if the item is visible to it now, tombstone otherwise) ends with exactly the
// server's visible set.
//
// Keys (inside the module's namespace, under the prefix given to the constructor):
//   <p>seq                    counter
//   <p>l/<seq:16 hex>         id written at that sequence
//   <p>t/<micros:16 hex><id>  id whose visibility changes at that instant
#ifndef CIVITAS_CHANGES_H_
#define CIVITAS_CHANGES_H_

#include <cinttypes>
#include <cstdio>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "civitas/module.h"

namespace civitas {

class ChangeLog {
 public:
  explicit ChangeLog(std::string prefix) : prefix_(std::move(prefix)) {}

  // Records that `id` changed, and the later instants (unix micros) at which its visibility
  // changes by itself. Instants not after `now_micros` are ignored.
  Status Record(Transaction& txn, std::string_view id, int64_t now_micros,
                std::initializer_list<int64_t> instants = {}) const {
    std::string current;
    Status s = txn.Get(prefix_ + "seq", &current, /*for_update=*/true);
    if (!s.ok() && s.code() != CIVITAS_NOT_FOUND) return s;
    const uint64_t seq = (s.ok() ? DecodeU64(current) : 0) + 1;
    if (s = txn.Put(prefix_ + "seq", EncodeU64(seq)); !s.ok()) return s;
    if (s = txn.Put(prefix_ + "l/" + Hex(seq), id); !s.ok()) return s;
    for (int64_t at : instants) {
      if (at <= now_micros) continue;
      if (s = txn.Put(prefix_ + "t/" + Hex(static_cast<uint64_t>(at)) + std::string(id), id);
          !s.ok()) {
        return s;
      }
    }
    return OkStatus();
  }

  // Visits the ids whose visibility changes in (after, until], in time order, and returns the
  // first such instant after `until` in *next (0 if none), for callers that announce changes
  // when their time comes.
  Status Due(const Store& store, int64_t after, int64_t until,
             const std::function<void(std::string_view id, int64_t at)>& visit,
             int64_t* next) const {
    *next = 0;
    ScanOptions due;
    due.prefix = prefix_ + "t/";
    due.start = due.prefix + Hex(static_cast<uint64_t>(after) + 1);
    due.limit = CIVITAS_SCAN_MAX_LIMIT;
    return store.Scan(due, [&](std::string_view key, std::string_view value) {
      const int64_t at = static_cast<int64_t>(ParseHex(key.substr(due.prefix.size(), 16)));
      if (at > until) {
        *next = at;
        return false;
      }
      visit(value, at);
      return true;
    });
  }

  // The token of everything recorded so far, with instants up to `watermark_micros` (a live
  // change's position in the log, for a stream that can be resumed from it).
  Status Head(const Store& store, int64_t watermark_micros, std::string* token) const {
    std::string current;
    Status s = store.Get(prefix_ + "seq", &current);
    if (!s.ok() && s.code() != CIVITAS_NOT_FOUND) return s;
    *token = Hex(s.ok() ? DecodeU64(current) : 0) + "." +
             Hex(static_cast<uint64_t>(watermark_micros < 0 ? 0 : watermark_micros));
    return OkStatus();
  }

  struct Page {
    std::vector<std::string> ids;  // distinct, each to be re-read and sent as upsert or tombstone
    std::string next_token;
    bool has_more = false;
  };

  // At most `limit` ids changed since `token`; INVALID_ARGUMENT for a token this log never issued.
  Status Read(const Store& store, std::string_view token, int64_t now_micros, uint32_t limit,
              Page* page) const {
    uint64_t seq = 0;
    uint64_t watermark = 0;
    if (!token.empty() && !ParseToken(token, &seq, &watermark)) {
      return InvalidArgument("sync_token is not one this server issued")
          .WithReason("SYNC_TOKEN_INVALID");
    }
    std::set<std::string> seen;
    uint64_t last_seq = seq;
    ScanOptions log;
    log.prefix = prefix_ + "l/";
    log.start = log.prefix + Hex(seq + 1);
    log.limit = CIVITAS_SCAN_MAX_LIMIT;
    Status s = store.Scan(log, [&](std::string_view key, std::string_view value) {
      if (seen.size() >= limit && !seen.count(std::string(value))) {
        page->has_more = true;
        return false;
      }
      last_seq = ParseHex(key.substr(log.prefix.size()));
      if (seen.insert(std::string(value)).second) page->ids.emplace_back(value);
      return true;
    });
    if (!s.ok()) return s;
    uint64_t new_watermark = watermark;
    if (!page->has_more) {
      // Instants in (watermark, now]; only once the log is drained, so the token stays ordered.
      const uint64_t now = static_cast<uint64_t>(now_micros);
      ScanOptions due;
      due.prefix = prefix_ + "t/";
      due.start = due.prefix + Hex(watermark + 1);
      due.limit = CIVITAS_SCAN_MAX_LIMIT;
      s = store.Scan(due, [&](std::string_view key, std::string_view value) {
        const uint64_t at = ParseHex(key.substr(due.prefix.size(), 16));
        if (at > now) return false;
        if (seen.size() >= limit && !seen.count(std::string(value))) {
          page->has_more = true;
          return false;
        }
        new_watermark = at;
        if (seen.insert(std::string(value)).second) page->ids.emplace_back(value);
        return true;
      });
      if (!s.ok()) return s;
      if (!page->has_more && now > new_watermark) new_watermark = now;
    }
    page->next_token = Hex(last_seq) + "." + Hex(new_watermark);
    return OkStatus();
  }

 private:
  static std::string Hex(uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof(buf), "%016" PRIx64, v);
    return buf;
  }
  static bool IsHex16(std::string_view s) {
    if (s.size() != 16) return false;
    for (char c : s) {
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
  }
  static uint64_t ParseHex(std::string_view s) {
    uint64_t v = 0;
    for (char c : s.substr(0, 16))
      v = (v << 4) | static_cast<uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
    return v;
  }
  static bool ParseToken(std::string_view token, uint64_t* seq, uint64_t* watermark) {
    if (token.size() != 33 || token[16] != '.') return false;
    if (!IsHex16(token.substr(0, 16)) || !IsHex16(token.substr(17))) return false;
    *seq = ParseHex(token.substr(0, 16));
    *watermark = ParseHex(token.substr(17));
    return true;
  }

  std::string prefix_;
};

}  // namespace civitas

#endif  // CIVITAS_CHANGES_H_
