#include "services/gateway/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "google/api/annotations.pb.h"
#include "services/gateway/status_details.h"

namespace civitas::gateway {

namespace {

constexpr int64_t kMinute = 60'000'000;
constexpr double kDay = 86'400'000'000.0;

bool IsLocalPeer(std::string_view p) {
  const absl::string_view peer(p.data(), p.size());
  return absl::StartsWith(peer, "ipv4:127.") || absl::StartsWith(peer, "ipv6:[::1]") ||
         absl::StartsWith(peer, "unix:");
}

}  // namespace

bool IsWriteMethod(const google::protobuf::MethodDescriptor* method) {
  if (method == nullptr) return true;
  // Re-parsed with the generated extension linked in, whatever pool the descriptor is from.
  google::protobuf::MethodOptions options;
  if (options.ParseFromString(method->options().SerializeAsString()) &&
      options.HasExtension(google::api::http)) {
    return options.GetExtension(google::api::http).pattern_case() != google::api::HttpRule::kGet;
  }
  for (const char* read : {"Get", "List", "Watch", "Search", "BatchGet"}) {
    if (absl::StartsWith(absl::string_view(method->name()), read)) return false;
  }
  return true;
}

std::string PeerAddress(std::string_view p) {
  absl::string_view peer(p.data(), p.size());
  if (absl::ConsumePrefix(&peer, "ipv4:")) return std::string(peer.substr(0, peer.rfind(':')));
  if (absl::ConsumePrefix(&peer, "ipv6:")) {
    if (absl::ConsumePrefix(&peer, "[")) return std::string(peer.substr(0, peer.find(']')));
    return std::string(peer.substr(0, peer.rfind(':')));
  }
  if (absl::StartsWith(peer, "unix:")) return "unix";
  return std::string(peer);
}

WriteRateLimiter::WriteRateLimiter(WriteRateConfig config)
    : config_(std::move(config)),
      max_per_shard_(std::max<size_t>(1, config_.max_buckets / kShards)) {}

bool WriteRateLimiter::IsWrite(std::string_view path,
                               const google::protobuf::MethodDescriptor* method) {
  {
    absl::ReaderMutexLock lock(&kinds_mu_);
    if (auto it = write_kinds_.find(absl::string_view(path.data(), path.size()));
        it != write_kinds_.end()) {
      return it->second;
    }
  }
  const bool write = IsWriteMethod(method);
  absl::MutexLock lock(&kinds_mu_);
  write_kinds_.emplace(std::string(path), write);
  return write;
}

bool WriteRateLimiter::Take(const std::string& key, const RateLimit& limit, int64_t now,
                            int64_t* wait_micros) {
  return Take(key, limit.capacity(), static_cast<double>(limit.per_minute) / kMinute, 1.0, now,
              wait_micros);
}

bool WriteRateLimiter::Take(const std::string& key, double capacity, double per_micro,
                            double amount, int64_t now, int64_t* wait_micros) {
  Shard& shard = shards_[std::hash<std::string>()(key) % kShards];
  absl::MutexLock lock(&shard.mu);
  auto it = shard.buckets.find(key);
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= max_per_shard_) {
      // Full: first drop the buckets that have refilled (they hold no state worth keeping), then,
      // if an attacker keeps that many partly used buckets busy, the oldest-touched ones.
      std::vector<std::pair<int64_t, std::string>> busy;
      for (auto b = shard.buckets.begin(); b != shard.buckets.end();) {
        const double tokens = b->second.tokens + (now - b->second.updated_micros) * per_micro;
        if (tokens >= capacity) {
          shard.buckets.erase(b++);
        } else {
          busy.emplace_back(b->second.updated_micros, b->first);
          ++b;
        }
      }
      if (shard.buckets.size() >= max_per_shard_) {
        const size_t drop = shard.buckets.size() - max_per_shard_ / 2;
        std::nth_element(busy.begin(), busy.begin() + drop, busy.end());
        for (size_t i = 0; i < drop; ++i) shard.buckets.erase(busy[i].second);
      }
    }
    it = shard.buckets.emplace(key, Bucket{capacity, now}).first;
  }
  Bucket& b = it->second;
  b.tokens =
      std::min(capacity, b.tokens + std::max<int64_t>(0, now - b.updated_micros) * per_micro);
  b.updated_micros = std::max(b.updated_micros, now);
  if (b.tokens >= amount) {
    b.tokens -= amount;
    return true;
  }
  *wait_micros = static_cast<int64_t>(std::ceil((amount - b.tokens) / per_micro));
  return false;
}

void WriteRateLimiter::Refund(const std::string& key, const RateLimit& limit) {
  Shard& shard = shards_[std::hash<std::string>()(key) % kShards];
  absl::MutexLock lock(&shard.mu);
  if (auto it = shard.buckets.find(key); it != shard.buckets.end()) {
    it->second.tokens = std::min(limit.capacity(), it->second.tokens + 1.0);
  }
}

std::string WriteRateLimiter::ClientAddress(const Call& call) const {
  if (!config_.client_ip_header.empty() && !call.forwarded_address.empty() &&
      IsLocalPeer(call.peer)) {
    std::string_view first = call.forwarded_address.substr(0, call.forwarded_address.find(','));
    first = first.substr(0, 64);
    return std::string(absl::StripAsciiWhitespace(absl::string_view(first.data(), first.size())));
  }
  return PeerAddress(call.peer);
}

grpc::Status WriteRateLimiter::ChargeAnonymousBytes(const Call& call, uint64_t bytes,
                                                    int64_t* retry_after_seconds,
                                                    int64_t now_micros) {
  *retry_after_seconds = 0;
  const uint64_t budget = config_.anonymous_bytes_per_peer_per_day;
  if (budget == 0 || !call.subject.empty() || !IsWrite(call.method_path, call.method)) {
    return grpc::Status::OK;
  }
  const int64_t now = now_micros != 0 ? now_micros : absl::ToUnixMicros(absl::Now());
  std::string key = "b";
  key += call.city;
  key += '\0';
  key += ClientAddress(call);
  const double capacity = static_cast<double>(budget);
  int64_t wait = 0;
  // A request larger than the whole budget could never pass: it is refused as over the budget.
  if (Take(key, capacity, capacity / kDay, std::min<double>(capacity + 1, bytes), now, &wait)) {
    return grpc::Status::OK;
  }
  *retry_after_seconds = std::max<int64_t>(1, (wait + 999'999) / 1'000'000);
  return GatewayError(grpc::StatusCode::RESOURCE_EXHAUSTED,
                      absl::StrCat("anonymous callers from this address have written their ",
                                   budget >> 20, " MiB for the day (this request is ", bytes,
                                   " bytes); sign in, or retry in ", *retry_after_seconds, " s"),
                      "ANONYMOUS_DAILY_BYTES", {{"bytes_per_day", std::to_string(budget)}},
                      *retry_after_seconds);
}

grpc::Status WriteRateLimiter::Admit(const Call& call, int64_t* retry_after_seconds,
                                     int64_t now_micros) {
  *retry_after_seconds = 0;
  if (!IsWrite(call.method_path, call.method)) return grpc::Status::OK;
  const int64_t now = now_micros != 0 ? now_micros : absl::ToUnixMicros(absl::Now());
  RateLimit subject = config_.per_subject, anonymous = config_.anonymous_per_peer,
            peer = config_.per_peer;
  std::string scope;  // "" = the buckets shared by every write method
  if (auto it = config_.methods.find(std::string(call.method_path)); it != config_.methods.end()) {
    if (it->second.per_subject) subject = *it->second.per_subject;
    if (it->second.anonymous_per_peer) anonymous = *it->second.anonymous_per_peer;
    if (it->second.per_peer) peer = *it->second.per_peer;
    scope = std::string(call.method_path);
  }
  const std::string address = ClientAddress(call);
  struct Check {
    std::string key;
    const RateLimit* limit;
    const char* who;
    const char* kind;  // ErrorInfo metadata "limited": what the bucket counts
  };
  std::vector<Check> checks;
  // <kind> <city> \0 <method or ""> \0 <subject or address>
  std::string base(call.city);
  base += '\0';
  base += scope;
  base += '\0';
  if (!call.subject.empty() && subject.enabled() && !(call.staff && config_.exempt_staff)) {
    checks.push_back({"s" + base + std::string(call.subject), &subject, "this account", "account"});
  }
  if (call.subject.empty() && anonymous.enabled()) {
    checks.push_back({"a" + base + address, &anonymous, "anonymous callers from this address",
                      "anonymous_address"});
  }
  if (peer.enabled()) checks.push_back({"p" + base + address, &peer, "this address", "address"});
  for (size_t i = 0; i < checks.size(); ++i) {
    int64_t wait = 0;
    if (Take(checks[i].key, *checks[i].limit, now, &wait)) continue;
    for (size_t j = 0; j < i; ++j) Refund(checks[j].key, *checks[j].limit);
    *retry_after_seconds = std::max<int64_t>(1, (wait + 999'999) / 1'000'000);
    const RateLimit& l = *checks[i].limit;
    return GatewayError(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat("too many writes: ", checks[i].who, " may make ", l.per_minute,
                                     " write calls a minute (", static_cast<int64_t>(l.capacity()),
                                     " at once)", scope.empty() ? "" : absl::StrCat(" to ", scope),
                                     "; retry in ", *retry_after_seconds, " s"),
                        "WRITE_RATE_LIMITED",
                        {{"limited", checks[i].kind},
                         {"per_minute", std::to_string(l.per_minute)},
                         {"method", scope}},
                        *retry_after_seconds);
  }
  return grpc::Status::OK;
}

size_t WriteRateLimiter::buckets() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    absl::MutexLock lock(&s.mu);
    n += s.buckets.size();
  }
  return n;
}

}  // namespace civitas::gateway
