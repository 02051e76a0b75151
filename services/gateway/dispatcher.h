// Every module call enters here: one AsyncGenericService on completion queues receives
// "/pkg.Service/Method", the route table picks the city's module, the caller is authenticated and
// checked against the method's role, and the handler runs on the bounded HandlerPool.
#ifndef CIVITAS_GATEWAY_DISPATCHER_H_
#define CIVITAS_GATEWAY_DISPATCHER_H_

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/server.h>

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "services/gateway/config.h"
#include "services/gateway/handler_pool.h"
#include "services/gateway/metrics.h"
#include "services/gateway/route_table.h"

namespace civitas::gateway {

class Authenticator;
class WriteRateLimiter;

struct DispatcherStats {
  std::atomic<uint64_t> calls{0};
  std::atomic<int64_t> active_calls{0};  // started and not yet finished
  std::atomic<uint64_t> rejected_busy{0};
  std::atomic<int64_t> active_streams{0};
};

class Dispatcher {
 public:
  Dispatcher(grpc::AsyncGenericService* service,
             std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues,
             const RouteTableHolder* routes, const Authenticator* auth, const LimitsConfig& limits,
             Metrics* metrics, bool access_log);
  ~Dispatcher();

  // Starts one polling thread per completion queue.
  void Start();
  // Starts the drain: new calls are answered UNAVAILABLE, streams that follow a change feed end
  // (UNAVAILABLE, "shutting down"), and this waits until no call is in flight or `deadline`.
  // Returns the number of calls still in flight.
  int64_t Drain(absl::Time deadline);
  // After grpc::Server::Shutdown: waits for handlers, drains and joins the queues.
  void Stop();

  // New calls of `services` in `city` wait instead of starting, from now until Release. The
  // gateway calls Hold before it publishes a route table that marks the services held
  // (CityRoutes::held) and Release after it published the table that serves them again; the
  // waiting calls are then routed by that table. A call whose client goes away meanwhile ends
  // when it is released.
  void Hold(const std::string& city, const std::vector<std::string>& services);
  void Release(const std::string& city, const std::vector<std::string>& services);
  // Calls waiting for a Release right now.
  int64_t held_calls() const;

  const DispatcherStats& stats() const { return stats_; }
  int64_t queued_handlers() const { return pool_.pending(); }
  // The bounded pool module handlers run on; the gateway's own PrivacyService uses it too.
  HandlerPool* handler_pool() { return &pool_; }

 private:
  friend class GenericCall;
  void Poll(grpc::ServerCompletionQueue* cq);
  void RequestCall(grpc::ServerCompletionQueue* cq);

  grpc::AsyncGenericService* service_;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues_;
  const RouteTableHolder* routes_;
  const Authenticator* auth_;
  LimitsConfig limits_;
  Metrics* metrics_;
  bool access_log_;
  HandlerPool pool_;
  std::unique_ptr<WriteRateLimiter> write_limiter_;  // limits.write_rate (rate_limiter.h)
  std::vector<std::thread> threads_;
  std::atomic<bool> shutting_down_{false};
  std::atomic<bool> draining_{false};
  std::atomic<uint64_t> next_request_id_{1};
  std::atomic<int64_t> deferred_replies_{0};  // answers waiting for their writes' WAL sync
  DispatcherStats stats_;

  // A held call waits here (with a reference) if its key is still held; else it starts again.
  bool Park(const std::string& key, class GenericCall* call);
  static std::string HoldKey(absl::string_view city, absl::string_view service);
  // Routes calls that waited while their service was held, and drops the parking's reference.
  static void StartAgain(const std::vector<class GenericCall*>& calls);

  mutable absl::Mutex held_mu_;
  std::map<std::string, std::vector<class GenericCall*>> held_ ABSL_GUARDED_BY(held_mu_);

  absl::Mutex followers_mu_;
  std::set<class GenericCall*> following_ ABSL_GUARDED_BY(followers_mu_);
  // Live streams per connection (the peer address and port) and per city, for the caps in
  // limits.max_follows_per_connection and limits.max_follows_per_city.
  std::map<std::string, uint32_t> follows_by_peer_ ABSL_GUARDED_BY(followers_mu_);
  // ... and per client address (the peer without its port), for max_follows_per_address.
  std::map<std::string, uint32_t> follows_by_address_ ABSL_GUARDED_BY(followers_mu_);
  std::map<std::string, uint32_t> follows_by_city_ ABSL_GUARDED_BY(followers_mu_);
};

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_DISPATCHER_H_
