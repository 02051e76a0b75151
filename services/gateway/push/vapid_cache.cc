#include "services/gateway/push/vapid_cache.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace civitas::gateway::push {

absl::StatusOr<std::string> VapidAuthorizationCache::Get(absl::string_view key_pem,
                                                         absl::string_view subject,
                                                         absl::string_view origin, absl::Time now) {
  const std::string key = absl::StrCat(key_pem, absl::string_view("\0", 1), subject,
                                       absl::string_view("\0", 1), origin);
  absl::MutexLock lock(&mu_);
  if (auto it = headers_.find(key); it != headers_.end()) {
    // Threads read the clock before they wait for the lock, so `now` may be a little older than
    // the signature; a clock set back by more than the window signs again.
    const absl::Duration age = now - it->second.signed_at;
    if (age > -options_.reuse && age < options_.reuse) return it->second.header;
  }
  auto parsed = keys_.find(key_pem);
  if (parsed == keys_.end()) {
    absl::StatusOr<std::unique_ptr<VapidKey>> k = VapidKey::FromPem(key_pem);
    if (!k.ok()) return k.status();
    // A deleted city's key stays until the next clear; there are few cities and fewer keys.
    if (keys_.size() >= options_.max_entries) keys_.clear();
    parsed =
        keys_.emplace(std::string(key_pem), std::shared_ptr<const VapidKey>(*std::move(k))).first;
  }
  absl::StatusOr<std::string> header = parsed->second->Authorization(origin, subject, now);
  if (!header.ok()) return header.status();
  ++signatures_;
  if (headers_.size() >= options_.max_entries && !headers_.contains(key)) {
    absl::erase_if(headers_, [&](const auto& entry) {
      return now - entry.second.signed_at >= options_.reuse;
    });
    if (headers_.size() >= options_.max_entries) headers_.clear();
  }
  headers_[key] = Signed{*header, now};
  return header;
}

uint64_t VapidAuthorizationCache::signatures() const {
  absl::MutexLock lock(&mu_);
  return signatures_;
}

}  // namespace civitas::gateway::push
