// Write-rate limits per caller, enforced by the dispatcher before a module's handler runs: token
// buckets per signed-in subject, per client address for anonymous callers, and (optionally) per
// client address for every caller. Which methods are writes comes from their google.api.http
// annotation (GET reads, any other verb writes) and otherwise from their name (AIP: Get, List,
// Watch, Search and BatchGet read). The buckets live in a table of bounded size: a bucket that
// has filled up again carries no information and is dropped first.
#ifndef CIVITAS_GATEWAY_RATE_LIMITER_H_
#define CIVITAS_GATEWAY_RATE_LIMITER_H_

#include <google/protobuf/descriptor.h>
#include <grpcpp/support/status.h>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "services/gateway/config.h"

namespace civitas::gateway {

// True if a call of `method` changes data: its google.api.http verb is not GET, or it has no
// annotation and its name does not start with Get, List, Watch, Search or BatchGet.
bool IsWriteMethod(const google::protobuf::MethodDescriptor* method);

// "ipv4:192.0.2.1:5443" -> "192.0.2.1", "ipv6:[2001:db8::1]:5443" -> "2001:db8::1",
// "unix:/run/x.sock" -> "unix".
std::string PeerAddress(std::string_view grpc_peer);

class WriteRateLimiter {
 public:
  explicit WriteRateLimiter(WriteRateConfig config);

  struct Call {
    std::string_view city;
    std::string_view subject;            // empty = anonymous
    bool staff;                          // editor, moderator or admin in the city
    std::string_view peer;               // grpc::ServerContext::peer()
    std::string_view forwarded_address;  // value of config.client_ip_header, if sent
    std::string_view method_path;        // "/pkg.Service/Method"
    const google::protobuf::MethodDescriptor* method;
  };

  // OK, or RESOURCE_EXHAUSTED naming the limit and when to retry; *retry_after_seconds is then
  // at least 1. Reads are always OK. `now_micros` is for tests; 0 = the clock.
  grpc::Status Admit(const Call& call, int64_t* retry_after_seconds, int64_t now_micros = 0);

  // Anonymous writes also spend their request's bytes from a daily budget per client address
  // (anonymous_bytes_per_peer_per_day), charged once the request has been read. OK for signed-in
  // callers, reads, and when the budget is off.
  grpc::Status ChargeAnonymousBytes(const Call& call, uint64_t bytes, int64_t* retry_after_seconds,
                                    int64_t now_micros = 0);

  // Buckets held right now.
  size_t buckets() const;

 private:
  struct Bucket {
    double tokens;
    int64_t updated_micros;
  };
  struct Shard {
    mutable absl::Mutex mu;
    absl::flat_hash_map<std::string, Bucket> buckets ABSL_GUARDED_BY(mu);
  };
  static constexpr size_t kShards = 16;

  // Takes one token from the bucket `key`; on refusal sets *wait_micros.
  bool Take(const std::string& key, const RateLimit& limit, int64_t now, int64_t* wait_micros);
  // Takes `amount` from a bucket of `capacity` that refills by `per_micro` a microsecond.
  bool Take(const std::string& key, double capacity, double per_micro, double amount, int64_t now,
            int64_t* wait_micros);
  // The client's address: the edge's forwarded header when the peer is the edge, else the peer.
  std::string ClientAddress(const Call& call) const;
  // Gives back a token taken by a call that another bucket then refused.
  void Refund(const std::string& key, const RateLimit& limit);
  bool IsWrite(std::string_view path, const google::protobuf::MethodDescriptor* method);

  const WriteRateConfig config_;
  const size_t max_per_shard_;
  std::array<Shard, kShards> shards_;
  absl::Mutex kinds_mu_;
  absl::flat_hash_map<std::string, bool> write_kinds_ ABSL_GUARDED_BY(kinds_mu_);
};

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_RATE_LIMITER_H_
