// civitas.notify.v1.NotifyService, answered by the gateway itself (callback API): devices,
// topics and messages of the call's city, kept in its database (PushStore through PushCities).
// The work runs on the dispatcher's HandlerPool, never on a gRPC thread; delivery is
// PushDelivery's, on threads of its own.
#ifndef CIVITAS_GATEWAY_PUSH_NOTIFY_SERVICE_H_
#define CIVITAS_GATEWAY_PUSH_NOTIFY_SERVICE_H_

#include <atomic>
#include <functional>
#include <string>

#include "civitas/notify/v1/notify.grpc.pb.h"
#include "services/gateway/handler_pool.h"
#include "services/gateway/module_instance.h"
#include "services/gateway/push/push_cities.h"
#include "services/gateway/push/push_endpoint.h"
#include "services/gateway/rate_limiter.h"
#include "services/gateway/route_table.h"

namespace civitas::gateway {
class Authenticator;
}

namespace civitas::gateway::push {

namespace notify = ::civitas::notify::v1;

class NotifyService final : public notify::NotifyService::CallbackService {
 public:
  // `on_queued` is called after a message was queued (counts it, wakes the delivery workers);
  // `client_ip_header` is limits.write_rate.client_ip_header (the edge's client address).
  NotifyService(const RouteTableHolder* routes, const Authenticator* auth, const PushCities* cities,
                Resolver resolver,
                std::function<void(const std::string& city, int64_t deliveries)> on_queued,
                std::string client_ip_header);

  // Where the work runs; until set (the gateway is starting) calls are answered UNAVAILABLE.
  void SetPool(HandlerPool* pool) { pool_.store(pool, std::memory_order_release); }
  // From now on calls are answered UNAVAILABLE (shutdown).
  void SetDraining() { draining_.store(true, std::memory_order_release); }

  grpc::ServerUnaryReactor* RegisterDevice(grpc::CallbackServerContext* ctx,
                                           const notify::RegisterDeviceRequest* request,
                                           notify::RegisterDeviceResponse* response) override;
  grpc::ServerUnaryReactor* UpdateDevice(grpc::CallbackServerContext* ctx,
                                         const notify::UpdateDeviceRequest* request,
                                         notify::Device* response) override;
  grpc::ServerUnaryReactor* DeleteDevice(grpc::CallbackServerContext* ctx,
                                         const notify::DeleteDeviceRequest* request,
                                         google::protobuf::Empty* response) override;
  grpc::ServerUnaryReactor* SetDeviceTopics(grpc::CallbackServerContext* ctx,
                                            const notify::SetDeviceTopicsRequest* request,
                                            notify::Device* response) override;
  grpc::ServerUnaryReactor* ListTopics(grpc::CallbackServerContext* ctx,
                                       const notify::ListTopicsRequest* request,
                                       notify::ListTopicsResponse* response) override;
  grpc::ServerUnaryReactor* SendMessage(grpc::CallbackServerContext* ctx,
                                        const notify::SendMessageRequest* request,
                                        notify::Message* response) override;
  grpc::ServerUnaryReactor* GetMessage(grpc::CallbackServerContext* ctx,
                                       const notify::GetMessageRequest* request,
                                       notify::Message* response) override;
  grpc::ServerUnaryReactor* CancelMessage(grpc::CallbackServerContext* ctx,
                                          const notify::CancelMessageRequest* request,
                                          notify::Message* response) override;

 private:
  // `routes`: the city's modules, for the topics they declare (module_push.h CityTopics).
  using Work = std::function<grpc::Status(PushCities::CityView& city, const CityRoutes& routes,
                                          const Caller& caller)>;
  // Resolves the city, authenticates the caller, checks `role` and the rate limit, then runs
  // `work` on the pool with the city's push data.
  grpc::ServerUnaryReactor* Run(grpc::CallbackServerContext* ctx, const char* method,
                                civitas_role role, Work work);
  // The device named `name` if the caller may change it: its registration secret, or its owner.
  absl::StatusOr<StoredDevice> Authorized(PushStore& store, const std::string& name,
                                          const std::string& secret, const Caller& caller) const;
  // The endpoint check of a WEB_PUSH device under the city's policy.
  absl::Status CheckAddress(const notify::Device& device, const CityPushConfig& config) const;

  const RouteTableHolder* routes_;
  const Authenticator* auth_;
  const PushCities* cities_;
  Resolver resolver_;
  std::function<void(const std::string& city, int64_t deliveries)> on_queued_;
  WriteRateLimiter limiter_;
  std::string limiter_client_ip_header_;  // limits.write_rate.client_ip_header
  std::atomic<HandlerPool*> pool_{nullptr};
  std::atomic<bool> draining_{false};
};

}  // namespace civitas::gateway::push

#endif  // CIVITAS_GATEWAY_PUSH_NOTIFY_SERVICE_H_
