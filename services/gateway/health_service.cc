#include <chrono>
#include <thread>

#include "services/gateway/standard_services.h"

namespace civitas::gateway {

using grpc::health::v1::HealthCheckResponse;

namespace {

bool IsGatewayService(const std::string& service) {
  return service == grpc::health::v1::Health::service_full_name() ||
         service == grpc::reflection::v1::ServerReflection::service_full_name() ||
         service == grpc::reflection::v1alpha::ServerReflection::service_full_name() ||
         service == civitas::gateway::v1::AdminService::service_full_name();
}

}  // namespace

HealthCheckResponse::ServingStatus HealthService::StatusOf(grpc::ServerContext* ctx,
                                                           const std::string& service) const {
  const bool known = [&] {
    if (service.empty() || IsGatewayService(service)) return true;
    std::shared_ptr<const RouteTable> table = routes_->Get();
    auto md = ctx->client_metadata().find("x-civitas-city");
    if (md != ctx->client_metadata().end()) {
      auto city = table->cities().find(std::string(md->second.data(), md->second.size()));
      return city != table->cities().end() && city->second.services.contains(service);
    }
    return table->ServesAnywhere(service);
  }();
  if (!known) return HealthCheckResponse::SERVICE_UNKNOWN;
  return draining_.load() ? HealthCheckResponse::NOT_SERVING : HealthCheckResponse::SERVING;
}

grpc::Status HealthService::Check(grpc::ServerContext* ctx,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  HealthCheckResponse* response) {
  HealthCheckResponse::ServingStatus status = StatusOf(ctx, request->service());
  if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        "service '" + request->service() + "' is not served here");
  }
  response->set_status(status);
  return grpc::Status::OK;
}

grpc::Status HealthService::Watch(grpc::ServerContext* ctx,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::ServerWriter<HealthCheckResponse>* writer) {
  int last = -1;
  while (!ctx->IsCancelled()) {
    HealthCheckResponse response;
    response.set_status(StatusOf(ctx, request->service()));
    if (response.status() != last) {
      if (!writer->Write(response)) break;
      last = response.status();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return grpc::Status::OK;
}

}  // namespace civitas::gateway
