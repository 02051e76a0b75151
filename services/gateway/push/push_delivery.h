// The delivery workers: threads of their own (never gRPC or handler threads) that read each
// city's outbox (PushStore::Due) in time order and deliver every (message, device) once the push
// service has taken it. A delivery's state changes in the same transaction that moves or removes
// its due-index entry, so after a crash every pending delivery is found again, and only the ones
// in flight at the crash can arrive twice (the Web Push `Topic` header lets the push service
// collapse those).
//
// Outcomes: 2xx delivered; the subscription or token is gone (Web Push 404/410, FCM 404 or
// UNREGISTERED, APNs 410 or BadDeviceToken), the device is removed; 429, 5xx and network errors
// are retried with exponential backoff and jitter (at least as long as a Retry-After answer
// asks), up to push.max_attempts; any other answer fails the delivery. A non-urgent message
// waits for the end of the device's quiet hours. A Web Push endpoint is checked again
// (push_endpoint.h) before every attempt, and the connection is pinned to the checked address;
// FCM (fcm.h) and APNs (apns.h) go to the endpoints of the city's config.
//
// Concurrency: each provider has a queue and sender threads of its own
// (push.web_push_connections, fcm_connections, apns_connections), one request each, so a provider
// that hangs holds up only its own deliveries; the scanner passes over deliveries already handed
// out and those of a provider whose queue is full (1,024 waiting), so one provider's backlog
// neither hides the others' due deliveries nor grows in memory.
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
#include "services/gateway/push/apns.h"
#include "services/gateway/push/fcm.h"
#include "services/gateway/push/push_cities.h"
#include "services/gateway/push/push_connection.h"
#include "services/gateway/push/push_endpoint.h"
#include "services/gateway/push/vapid_cache.h"

namespace civitas::gateway::push {

// The delivery threads' pools, one per provider.
enum class Provider { kWebPush = 0, kFcm = 1, kApns = 2 };
inline constexpr int kProviders = 3;
// "web_push", "fcm", "apns": the metrics' provider label.
const char* ProviderName(Provider provider);
// The pool a device's deliveries go to.
Provider ProviderOf(const notify::Device& device);

// What the retry rule does with one attempt's result (pure; push_delivery_test.cc).
struct NextStep {
  Delivery::State state = Delivery::PENDING;
  bool remove_device = false;
  absl::Duration wait;  // PENDING: until the next attempt
  std::string reason;   // why not delivered ("" when delivered)
  std::string failure;  // FAILED: the metrics' reason ("refused", "gave_up", "auth_rejected", ...)
};
// `attempts` counts this one; `jitter` in [0, 1] picks the wait between half and all of the
// backoff.
NextStep Decide(const AttemptResult& result, int attempts, const PushDeliveryConfig& config,
                double jitter);

// What /metrics shows of one provider's deliveries in one city.
struct PushProviderCounts {
  uint64_t delivered = 0;
  uint64_t retried = 0;  // attempts that will be repeated
  uint64_t removed = 0;  // subscriptions the push service said are gone, or deleted devices
  std::map<std::string, uint64_t> failed;  // by reason: refused, gave_up, endpoint_refused, ...
};
struct PushCityCounts {
  // Deliveries written by SendMessage (all providers: a message fans out to a topic's devices
  // without looking at their platforms).
  uint64_t queued = 0;
  std::map<std::string, PushProviderCounts> providers;  // by ProviderName
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
  // One provider's queue and threads.
  struct Pool {
    std::deque<Job> queue;
  };
  void ScanLoop();
  void SendLoop(Provider provider);
  void Attempt(Provider provider, PushConnection& connection, const Job& job);
  // The request to a Web Push subscription (encrypted, VAPID), to the address checked now.
  AttemptResult AttemptWebPush(PushConnection& connection, const Job& job,
                               const notify::Device& device, const notify::Message& message,
                               const CityPushConfig& push, const std::string& default_language,
                               const std::string& vapid_pem);
  // The city's FCM / APNs credentials (made on first use, replaced when the city's config
  // changes); nullptr when the city has no such config.
  std::shared_ptr<FcmCredentials> FcmFor(const std::string& city, const CityPushConfig& push);
  std::shared_ptr<ApnsCredentials> ApnsFor(const std::string& city, const CityPushConfig& push);
  // Counts one outcome for `city` (`failed_reason` for FAILED).
  void Count(const std::string& city, Provider provider, Delivery::State state,
             const std::string& failed_reason);
  // Logs `what` once per city and provider for the life of the process.
  void LogOnce(const std::string& city, Provider provider, const std::string& what,
               const std::string& detail);

  const PushDeliveryConfig config_;
  const PushCities* cities_;
  Resolver resolver_;
  VapidAuthorizationCache vapid_;  // one signature per (city key, origin) and hour
  mutable absl::Mutex counts_mu_;
  std::map<std::string, PushCityCounts> counts_ ABSL_GUARDED_BY(counts_mu_);
  std::atomic<bool> stopping_{false};

  absl::Mutex credentials_mu_;
  std::map<std::string, std::shared_ptr<FcmCredentials>> fcm_ ABSL_GUARDED_BY(credentials_mu_);
  std::map<std::string, std::shared_ptr<ApnsCredentials>> apns_ ABSL_GUARDED_BY(credentials_mu_);
  std::set<std::string> logged_ ABSL_GUARDED_BY(credentials_mu_);

  absl::Mutex mu_;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  Pool pools_[kProviders] ABSL_GUARDED_BY(mu_);
  // Deliveries queued or in flight (city \0 due key), so a scan does not hand them out twice.
  std::set<std::string> claimed_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Provider> providers_ ABSL_GUARDED_BY(mu_);  // device id -> its pool
  std::thread scanner_;
  std::vector<std::thread> senders_;
};

}  // namespace civitas::gateway::push

#endif  // CIVITAS_GATEWAY_PUSH_PUSH_DELIVERY_H_
