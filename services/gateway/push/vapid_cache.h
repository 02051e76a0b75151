// The VAPID Authorization headers (RFC 8292) of the delivery workers, signed once per (city key,
// subject, push service origin) and reused: a fan-out of one message to 100,000 subscriptions of
// one push service signs one JWT instead of 100,000 (an ES256 signature and a PEM parse each).
//
// A header is reused for at most `reuse` (55 minutes by default) after it was signed, while its
// JWT stays valid for 12 hours (`exp`), so even the last request that reuses it carries a token
// with more than 11 hours to go; push services refuse an `exp` more than 24 hours ahead, never
// one this far. Thread-safe: the sender threads share one cache. A miss signs under the lock, so
// threads that miss the same origin at once still sign it once.
#ifndef CIVITAS_GATEWAY_PUSH_VAPID_CACHE_H_
#define CIVITAS_GATEWAY_PUSH_VAPID_CACHE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/gateway/push/web_push.h"

namespace civitas::gateway::push {

class VapidAuthorizationCache {
 public:
  struct Options {
    // How long a signed header is reused: an hour less a margin.
    absl::Duration reuse = absl::Minutes(55);
    // Headers kept at most (origins of all cities together); when full, the expired ones go,
    // and if none has expired, all of them.
    size_t max_entries = 4096;
  };
  VapidAuthorizationCache() : VapidAuthorizationCache(Options()) {}
  explicit VapidAuthorizationCache(Options options) : options_(options) {}

  // The Authorization header's value for a request to `origin`, signed with the city's key
  // `key_pem` (PushStore::VapidKeyPem) and naming `subject`; signed at `now` if there is none
  // from the last `reuse`. DATA_LOSS if the key does not parse.
  absl::StatusOr<std::string> Get(absl::string_view key_pem, absl::string_view subject,
                                  absl::string_view origin, absl::Time now);

  // Signatures made so far (tests, and the benchmark's evidence of one per origin).
  uint64_t signatures() const;

 private:
  struct Signed {
    std::string header;
    absl::Time signed_at;
  };
  const Options options_;
  mutable absl::Mutex mu_;
  // The parsed keys, by PEM: a city's key is parsed once.
  absl::flat_hash_map<std::string, std::shared_ptr<const VapidKey>> keys_ ABSL_GUARDED_BY(mu_);
  // By PEM \0 subject \0 origin.
  absl::flat_hash_map<std::string, Signed> headers_ ABSL_GUARDED_BY(mu_);
  uint64_t signatures_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace civitas::gateway::push

#endif  // CIVITAS_GATEWAY_PUSH_VAPID_CACHE_H_
