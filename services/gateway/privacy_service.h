// civitas.gateway.v1.PrivacyService: a citizen's export and erasure across every module of their
// city, through the modules' ABI 1.2 personal-data hooks. The gateway answers it itself (callback
// API); the work runs on the dispatcher's HandlerPool, never on a gRPC thread.
#ifndef CIVITAS_GATEWAY_PRIVACY_SERVICE_H_
#define CIVITAS_GATEWAY_PRIVACY_SERVICE_H_

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "civitas/gateway/v1/privacy.grpc.pb.h"
#include "services/gateway/handler_pool.h"
#include "services/gateway/rate_limiter.h"
#include "services/gateway/route_table.h"

namespace civitas::gateway {

class Authenticator;

// Runs every module of `city` for `subject`. A module without the hooks is listed in
// unsupported_modules; a module that fails makes the whole call fail, naming it (after every
// other module has run, so a repeated call finishes the job).
absl::Status ExportPersonalData(const CityRoutes& city, const std::string& subject,
                                v1::ExportMyDataResponse* response);
absl::Status ErasePersonalData(const CityRoutes& city, const std::string& subject,
                               v1::EraseMyDataResponse* response);

class PrivacyService final : public v1::PrivacyService::CallbackService {
 public:
  PrivacyService(const RouteTableHolder* routes, const Authenticator* auth)
      : routes_(routes), auth_(auth) {}

  // What the gateway itself keeps about a subject (push devices), exported and erased with the
  // modules' data under the name `id`. Set before the server starts.
  struct GatewayData {
    std::string id;  // e.g. "civitas.notify"
    std::function<absl::Status(const std::string& city, const std::string& subject,
                               std::string* json)>
        export_json;
    std::function<absl::Status(const std::string& city, const std::string& subject)> erase;
  };
  void AddGatewayData(GatewayData data) { gateway_data_.push_back(std::move(data)); }

  // Where the work runs; until set (the gateway is starting) calls are answered UNAVAILABLE.
  void SetPool(HandlerPool* pool) { pool_.store(pool, std::memory_order_release); }
  // From now on calls are answered UNAVAILABLE (shutdown).
  void SetDraining() { draining_.store(true, std::memory_order_release); }

  grpc::ServerUnaryReactor* ExportMyData(grpc::CallbackServerContext* ctx,
                                         const v1::ExportMyDataRequest* request,
                                         v1::ExportMyDataResponse* response) override;
  grpc::ServerUnaryReactor* EraseMyData(grpc::CallbackServerContext* ctx,
                                        const v1::EraseMyDataRequest* request,
                                        v1::EraseMyDataResponse* response) override;

 private:
  // Resolves the city, authenticates the caller (citizen role) and runs `work` on the pool.
  template <class Work>
  grpc::ServerUnaryReactor* Run(grpc::CallbackServerContext* ctx, const char* method, Work work);

  const RouteTableHolder* routes_;
  const Authenticator* auth_;
  // An export or erasure reads every module of the city: a few a minute per citizen.
  WriteRateLimiter limiter_{[] {
    WriteRateConfig c;
    c.per_subject = {6, 3};
    c.anonymous_per_peer = {0, 0};
    c.exempt_staff = false;
    return c;
  }()};
  std::vector<GatewayData> gateway_data_;
  std::atomic<HandlerPool*> pool_{nullptr};
  std::atomic<bool> draining_{false};
};

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_PRIVACY_SERVICE_H_
