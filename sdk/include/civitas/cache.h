// civitas SDK: a small cache of serialized responses for read-heavy list methods.
//
// Entries live at most `ttl_micros` of city time and die with the next write: call Invalidate()
// after every committed write of the data they are made from. A reader captures generation()
// before it reads storage and stores its result under that generation, so a write that commits
// while the result is being computed makes the entry stale at once.
#ifndef CIVITAS_CACHE_H_
#define CIVITAS_CACHE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace civitas {

class ResponseCache {
 public:
  explicit ResponseCache(int64_t ttl_micros, size_t max_entries = 256)
      : ttl_(ttl_micros), max_entries_(max_entries) {}

  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  void Invalidate() { generation_.fetch_add(1, std::memory_order_acq_rel); }

  bool Get(const std::string& key, int64_t now_micros, std::string* bytes) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.generation != generation() ||
        now_micros < it->second.time || now_micros - it->second.time >= ttl_) {
      return false;
    }
    *bytes = it->second.bytes;
    return true;
  }

  void Put(const std::string& key, uint64_t generation, int64_t now_micros, std::string bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    if (entries_.size() >= max_entries_) entries_.clear();  // simple and bounded
    entries_[key] = Entry{generation, now_micros, std::move(bytes)};
  }

 private:
  struct Entry {
    uint64_t generation;
    int64_t time;
    std::string bytes;
  };
  const int64_t ttl_;
  const size_t max_entries_;
  std::atomic<uint64_t> generation_{0};
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace civitas

#endif  // CIVITAS_CACHE_H_
