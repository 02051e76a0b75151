// Rendered answers of public GET requests of the JSON/HTTP API (lists, single resources, feeds,
// calendars, Open311), kept as the bytes that go on the wire, so that a repeated anonymous read
// is answered without the in-process gRPC hop, the module, the DynamicMessage and the JSON
// printer, and an If-None-Match that matches is answered 304 without calling the module.
//
// An entry is valid while all of these hold:
//  - the route table is the one it was rendered under (an install, upgrade, rollback, a city
//    added or removed swaps the table; the entry's weak reference then no longer matches);
//  - the module instance that rendered it has committed no write since the render began
//    (ModuleInstance::writes(), counted by the host's txn_commit; a write that commits while the
//    answer is being computed makes the entry stale at once);
//  - it is younger than the TTL (`limits.http_cache_ttl_ms`): answers that change with time
//    alone, such as an article whose publish time arrives, are late by at most the TTL, as with
//    the modules' own list caches (sdk/include/civitas/cache.h).
// Only answers to requests without credentials are kept: a signed-in caller's answer may be its
// own. Bounded by bytes (`limits.http_cache_mb`); when full, expired entries go first, then the
// older half.
#ifndef CIVITAS_GATEWAY_RENDERED_CACHE_H_
#define CIVITAS_GATEWAY_RENDERED_CACHE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/gateway/http_caching.h"

namespace civitas::gateway {

class RouteTable;

class RenderedCache {
 public:
  struct Stats {
    std::atomic<uint64_t> hits{0};
    std::atomic<uint64_t> misses{0};
    std::atomic<uint64_t> not_modified{0};  // hits answered 304
    std::atomic<uint64_t> evictions{0};
  };

  // ttl zero: the cache keeps nothing.
  RenderedCache(absl::Duration ttl, size_t max_bytes) : ttl_(ttl), max_bytes_(max_bytes) {}

  bool enabled() const { return ttl_ > absl::ZeroDuration() && max_bytes_ > 0; }

  // The key of a request: its city, the request target (path and query, as sent) and the
  // language it prefers when the method's answer depends on Accept-Language.
  static std::string Key(const std::string& city, const std::string& target,
                         const std::string& language);

  // What a caller notes before it calls the module, to store the result under.
  struct Ticket {
    std::weak_ptr<const RouteTable> table;
    const std::atomic<uint64_t>* writes = nullptr;  // of the module instance; the table keeps it
    uint64_t generation = 0;
    absl::Time time;
  };
  static Ticket TicketFor(const std::shared_ptr<const RouteTable>& table,
                          const std::atomic<uint64_t>& writes, absl::Time now);

  // The rendered answer for `key` if it is still valid under `table`, else null.
  std::shared_ptr<const RenderedAnswer> Get(const std::string& key,
                                            const std::shared_ptr<const RouteTable>& table,
                                            absl::Time now);
  // Keeps `answer` for `key`, rendered with `ticket`.
  void Put(const std::string& key, const Ticket& ticket,
           std::shared_ptr<const RenderedAnswer> answer);

  void CountNotModified() { stats_.not_modified.fetch_add(1, std::memory_order_relaxed); }
  const Stats& stats() const { return stats_; }
  size_t bytes() const {
    absl::MutexLock lock(&mu_);
    return bytes_;
  }

 private:
  struct Entry {
    Ticket ticket;
    std::shared_ptr<const RenderedAnswer> answer;
    size_t bytes = 0;
  };
  bool Valid(const Entry& e, const std::shared_ptr<const RouteTable>& table, absl::Time now) const;
  void MakeRoomLocked(size_t bytes, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const absl::Duration ttl_;
  const size_t max_bytes_;
  Stats stats_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_RENDERED_CACHE_H_
