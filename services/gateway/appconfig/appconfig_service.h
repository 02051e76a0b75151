// civitas.appconfig.v1.AppConfigService, answered by the gateway itself (callback API): the
// app configuration of the call's city, kept in its database (AppConfigStore, reached through
// PushCities like the push data), checked by appconfig_rules.h against the modules the city's
// route table serves. The work runs on the dispatcher's HandlerPool, never on a gRPC thread.
#ifndef CIVITAS_GATEWAY_APPCONFIG_APPCONFIG_SERVICE_H_
#define CIVITAS_GATEWAY_APPCONFIG_APPCONFIG_SERVICE_H_

#include <atomic>
#include <functional>
#include <string>

#include "civitas/appconfig/v1/appconfig.grpc.pb.h"
#include "services/gateway/appconfig/appconfig_store.h"
#include "services/gateway/handler_pool.h"
#include "services/gateway/module_instance.h"
#include "services/gateway/push/push_cities.h"
#include "services/gateway/rate_limiter.h"
#include "services/gateway/route_table.h"

namespace civitas::gateway {
class Authenticator;
}

namespace civitas::gateway::appconfig {

class AppConfigService final : public ac::AppConfigService::CallbackService {
 public:
  // `client_ip_header` is limits.write_rate.client_ip_header (the edge's client address).
  AppConfigService(const RouteTableHolder* routes, const Authenticator* auth,
                   const push::PushCities* cities, std::string client_ip_header);

  // Where the work runs; until set (the gateway is starting) calls are answered UNAVAILABLE.
  void SetPool(HandlerPool* pool) { pool_.store(pool, std::memory_order_release); }
  // From now on calls are answered UNAVAILABLE (shutdown).
  void SetDraining() { draining_.store(true, std::memory_order_release); }

  grpc::ServerUnaryReactor* GetAppConfig(grpc::CallbackServerContext* ctx,
                                         const ac::GetAppConfigRequest* request,
                                         ac::AppConfig* response) override;
  grpc::ServerUnaryReactor* UpdateAppConfig(grpc::CallbackServerContext* ctx,
                                            const ac::UpdateAppConfigRequest* request,
                                            ac::AppConfig* response) override;
  grpc::ServerUnaryReactor* ListAppConfigVersions(
      grpc::CallbackServerContext* ctx, const ac::ListAppConfigVersionsRequest* request,
      ac::ListAppConfigVersionsResponse* response) override;
  grpc::ServerUnaryReactor* GetAppConfigVersion(grpc::CallbackServerContext* ctx,
                                                const ac::GetAppConfigVersionRequest* request,
                                                ac::AppConfigVersion* response) override;
  grpc::ServerUnaryReactor* RestoreAppConfigVersion(
      grpc::CallbackServerContext* ctx, const ac::RestoreAppConfigVersionRequest* request,
      ac::AppConfig* response) override;

  // Stores `config` as the city's first version if it has none yet (the demo's sample), after
  // the same checks as UpdateAppConfig. For seeding: no caller, no limits.
  absl::Status SeedIfEmpty(const CityRoutes& city, const ac::AppConfig& config) const;

 private:
  // What a method's work gets: the city's routes (for its modules), its database, the caller.
  using Work = std::function<grpc::Status(const CityRoutes& city, AppConfigStore& store,
                                          const Caller& caller)>;
  // Resolves the city, authenticates the caller, checks `role` and the rate limit, then runs
  // `work` on the pool with the city's app configuration.
  grpc::ServerUnaryReactor* Run(grpc::CallbackServerContext* ctx, const char* method,
                                civitas_role role, Work work);
  // Checks `config` for `city` and stores it on top of version `based_on`.
  grpc::Status Store(const CityRoutes& city, AppConfigStore& store, const ac::AppConfig& config,
                     int64_t based_on, int64_t restored_from, ac::AppConfig* response) const;

  const RouteTableHolder* routes_;
  const Authenticator* auth_;
  const push::PushCities* cities_;
  WriteRateLimiter limiter_;
  std::string limiter_client_ip_header_;  // limits.write_rate.client_ip_header
  std::atomic<HandlerPool*> pool_{nullptr};
  std::atomic<bool> draining_{false};
};

}  // namespace civitas::gateway::appconfig

#endif  // CIVITAS_GATEWAY_APPCONFIG_APPCONFIG_SERVICE_H_
