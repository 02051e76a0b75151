#include "services/gateway/rendered_cache.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"

namespace civitas::gateway {

std::string RenderedCache::Key(const std::string& city, const std::string& target,
                               const std::string& language) {
  return absl::StrCat(city, absl::string_view("\0", 1), target, absl::string_view("\0", 1),
                      language);
}

RenderedCache::Ticket RenderedCache::TicketFor(const std::shared_ptr<const RouteTable>& table,
                                               const std::atomic<uint64_t>& writes,
                                               absl::Time now) {
  return Ticket{table, &writes, writes.load(std::memory_order_acquire), now};
}

bool RenderedCache::Valid(const Entry& e, const std::shared_ptr<const RouteTable>& table,
                          absl::Time now) const {
  // The table keeps the instance alive: while it is the same table, `writes` is good.
  return e.ticket.table.lock() == table && now >= e.ticket.time && now - e.ticket.time < ttl_ &&
         e.ticket.writes->load(std::memory_order_acquire) == e.ticket.generation;
}

std::shared_ptr<const RenderedAnswer> RenderedCache::Get(
    const std::string& key, const std::shared_ptr<const RouteTable>& table, absl::Time now) {
  if (!enabled()) return nullptr;
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || !Valid(it->second, table, now)) {
    stats_.misses.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  stats_.hits.fetch_add(1, std::memory_order_relaxed);
  return it->second.answer;
}

void RenderedCache::Put(const std::string& key, const Ticket& ticket,
                        std::shared_ptr<const RenderedAnswer> answer) {
  if (!enabled()) return;
  const size_t bytes = key.size() + answer->body.size() + answer->gzipped.size() +
                       answer->content_type.size() + answer->etag.size() + sizeof(Entry);
  if (bytes > max_bytes_ / 8) return;  // one answer never takes most of the cache
  absl::MutexLock lock(&mu_);
  if (auto it = entries_.find(key); it != entries_.end()) {
    // A render that began before the one already kept does not replace it.
    if (it->second.ticket.time > ticket.time) return;
    bytes_ -= it->second.bytes;
    entries_.erase(it);
  }
  MakeRoomLocked(bytes, ticket.time);
  entries_.emplace(key, Entry{ticket, std::move(answer), bytes});
  bytes_ += bytes;
}

void RenderedCache::MakeRoomLocked(size_t bytes, absl::Time now) {
  if (bytes_ + bytes <= max_bytes_) return;
  // Expired first (nothing lost), then the older half of what is left.
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (now - it->second.ticket.time >= ttl_) {
      bytes_ -= it->second.bytes;
      stats_.evictions.fetch_add(1, std::memory_order_relaxed);
      entries_.erase(it++);
    } else {
      ++it;
    }
  }
  if (bytes_ + bytes <= max_bytes_) return;
  std::vector<absl::Time> times;
  times.reserve(entries_.size());
  for (const auto& [key, e] : entries_) times.push_back(e.ticket.time);
  auto middle = times.begin() + times.size() / 2;
  std::nth_element(times.begin(), middle, times.end());
  const absl::Time cut = times.empty() ? now : *middle;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.ticket.time <= cut) {
      bytes_ -= it->second.bytes;
      stats_.evictions.fetch_add(1, std::memory_order_relaxed);
      entries_.erase(it++);
    } else {
      ++it;
    }
  }
}

}  // namespace civitas::gateway
