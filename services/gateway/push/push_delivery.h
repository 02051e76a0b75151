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
};
// `attempts` counts this one; `jitter` in [0, 1] picks the wait between half and all of the
// backoff.
NextStep Decide(const AttemptResult& result, int attempts, const PushDeliveryConfig& config,
                double jitter);
// Retry-After as seconds: a number of seconds, or an HTTP date; -1 if neither.
int64_t ParseRetryAfter(absl::string_view value, absl::Time now);

// Counters for /metrics.
struct PushDeliveryStats {
  std::atomic<uint64_t> delivered{0}, failed{0}, retried{0}, removed{0};
};

class PushDelivery {
 public:
  PushDelivery(PushDeliveryConfig config, const PushCities* cities, Resolver resolver);
  ~PushDelivery();
  void Start();
  // Ends the threads; requests in flight are aborted (their deliveries stay pending).
  void Stop();
  // Something was queued: look at the outboxes now.
  void Wake();
  const PushDeliveryStats& stats() const { return stats_; }

 private:
  struct Job {
    std::string city;
    DueDelivery due;
  };
  class Sender;  // one libcurl handle (connection reuse) per sender thread
  void ScanLoop();
  void SendLoop();
  void Attempt(Sender& sender, const Job& job);

  const PushDeliveryConfig config_;
  const PushCities* cities_;
  Resolver resolver_;
  PushDeliveryStats stats_;
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
