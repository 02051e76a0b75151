// The delivery workers: threads of their own (never gRPC or handler threads) that read each
// city's outbox (PushStore::Due) in time order and deliver every (message, device) once the push
// service has taken it. A delivery's state changes in the same transaction that moves or removes
// its due-index entry, so after a crash every pending delivery is found again, and only the ones
// in flight at the crash can arrive twice (the Web Push `Topic` header lets the push service
// collapse those).
//
// Outcomes: 2xx delivered; 404/410 the subscription is gone, the device is removed; 429, 5xx and
// network errors are retried with exponential backoff and jitter (at least as long as a
// Retry-After answer asks), up to push.max_attempts; any other answer fails the delivery. A
// non-urgent message waits for the end of the device's quiet hours. The endpoint is checked again
// (push_endpoint.h) before every attempt, and the connection is pinned to the checked address.
//
// Concurrency: push.web_push_connections sender threads for Web Push, one request each; FCM and
// APNs get pools of their own when they are built, so a stuck provider never blocks another.
#ifndef CIVITAS_GATEWAY_PUSH_PUSH_DELIVERY_H_
#define CIVITAS_GATEWAY_PUSH_PUSH_DELIVERY_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/gateway/config.h"
#include "services/gateway/push/push_cities.h"
#include "services/gateway/push/push_endpoint.h"
#include "services/gateway/push/vapid_cache.h"

namespace civitas::gateway::push {

// What happened to one attempt, for the retry rule (pure; push_delivery_test.cc).
struct AttemptResult {
  long http_status = 0;              // 0 = no answer (network error, timeout)
  std::string error;                 // for a network error
  int64_t retry_after_seconds = -1;  // Retry-After of the answer; -1 = none
};
struct NextStep {
  Delivery::State state = Delivery::PENDING;
  bool remove_device = false;
  absl::Duration wait;  // PENDING: until the next attempt
  std::string reason;   // why not delivered ("" when delivered)
  std::string failure;  // FAILED: the metrics' reason ("refused", "gave_up")
};
// `attempts` counts this one; `jitter` in [0, 1] picks the wait between half and all of the
// backoff.
NextStep Decide(const AttemptResult& result, int attempts, const PushDeliveryConfig& config,
                double jitter);
// Retry-After as seconds: a number of seconds, or an HTTP date; -1 if neither.
int64_t ParseRetryAfter(absl::string_view value, absl::Time now);

// What /metrics shows of one city's push deliveries (one provider so far: web_push).
struct PushCityCounts {
  uint64_t queued = 0;  // deliveries written by SendMessage
  uint64_t delivered = 0;
  uint64_t retried = 0;  // attempts that will be repeated
  uint64_t removed = 0;  // subscriptions the push service said are gone, or deleted devices
  std::map<std::string, uint64_t> failed;  // by reason: refused, gave_up, endpoint_refused, ...
};
// The Prometheus text of the counters, and of each city's oldest pending delivery's age
// (`oldest_pending_seconds`, 0 when nothing is overdue).
std::string RenderPushMetrics(const std::map<std::string, PushCityCounts>& counts,
                              const std::map<std::string, double>& oldest_pending_seconds);

class PushDelivery {
 public:
  PushDelivery(PushDeliveryConfig config, const PushCities* cities, Resolver resolver);
  ~PushDelivery();
  void Start();
  // Ends the threads; requests in flight are aborted (their deliveries stay pending).
  void Stop();
  // Look at the outboxes now.
  void Wake();
  // `deliveries` were queued in `city`: count them, and Wake().
  void Queued(const std::string& city, int64_t deliveries);
  // The push part of /metrics (reads each city's outbox for the oldest pending delivery).
  std::string RenderMetrics() const;

 private:
  struct Job {
    std::string city;
    DueDelivery due;
  };
  class Sender;  // one libcurl handle (connection reuse) per sender thread
  void ScanLoop();
  void SendLoop();
  void Attempt(Sender& sender, const Job& job);
  // Counts one outcome for `city` (`failed_reason` for FAILED).
  void Count(const std::string& city, Delivery::State state, const std::string& failed_reason);

  const PushDeliveryConfig config_;
  const PushCities* cities_;
  Resolver resolver_;
  VapidAuthorizationCache vapid_;  // one signature per (city key, origin) and hour
  mutable absl::Mutex counts_mu_;
  std::map<std::string, PushCityCounts> counts_ ABSL_GUARDED_BY(counts_mu_);
  std::atomic<bool> stopping_{false};

  absl::Mutex mu_;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Job> queue_ ABSL_GUARDED_BY(mu_);
  // Deliveries queued or in flight (city \0 due key), so a scan does not hand them out twice.
  std::set<std::string> claimed_ ABSL_GUARDED_BY(mu_);
  std::thread scanner_;
  std::vector<std::thread> senders_;
};

}  // namespace civitas::gateway::push

#endif  // CIVITAS_GATEWAY_PUSH_PUSH_DELIVERY_H_
