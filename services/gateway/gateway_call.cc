#include "services/gateway/gateway_call.h"

#include <google/protobuf/descriptor.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "services/gateway/authenticator.h"
#include "services/gateway/status_details.h"

namespace civitas::gateway {

grpc::Status AdmitGatewayCall(grpc::CallbackServerContext* ctx, const char* method,
                              civitas_role role, bool serving,
                              std::shared_ptr<const RouteTable> table,
                              const GatewayCallChecks& checks, AdmittedCall* out) {
  if (!serving || !table) {
    return GatewayError(grpc::StatusCode::UNAVAILABLE,
                        "the gateway is starting or shutting down; retry shortly",
                        "GATEWAY_DRAINING");
  }
  absl::string_view city_md, authorization, http_peer, forwarded;
  for (const auto& [k, v] : ctx->client_metadata()) {
    const absl::string_view key(k.data(), k.size());
    const absl::string_view value(v.data(), v.size());
    if (key == "x-civitas-city") city_md = value;
    if (key == "authorization") authorization = value;
    if (key == "x-civitas-http-peer") http_peer = value;
    if (!checks.client_ip_header.empty() && key == checks.client_ip_header) forwarded = value;
  }
  const grpc::string_ref authority = ctx->ExperimentalGetAuthority();
  const CityRoutes* city = nullptr;
  grpc::Status status =
      table->ResolveCity(city_md, absl::string_view(authority.data(), authority.size()), &city);
  Caller caller;
  if (status.ok()) status = checks.auth->Authenticate(authorization, city->config.id, &caller);
  if (status.ok() && role != CIVITAS_ROLE_ANONYMOUS) {
    status = Authenticator::CheckRole(caller, role, method, city->config.id);
  }
  int64_t retry_after = 0;
  if (status.ok()) {
    std::string peer = ctx->peer();
    if (!absl::StartsWith(peer, "ipv4:") && !absl::StartsWith(peer, "ipv6:") &&
        !absl::StartsWith(peer, "unix:") && !http_peer.empty()) {
      peer = std::string(http_peer);
    }
    const bool staff =
        checks.staff_allowance && (caller.roles & (CIVITAS_ROLE_BIT(CIVITAS_ROLE_EDITOR) |
                                                   CIVITAS_ROLE_BIT(CIVITAS_ROLE_MODERATOR) |
                                                   CIVITAS_ROLE_BIT(CIVITAS_ROLE_ADMIN))) != 0;
    const std::string forwarded_address(forwarded);
    // The descriptor tells reads (GET in google.api.http) from writes.
    std::string full_name(method + 1);
    full_name[full_name.rfind('/')] = '.';
    const google::protobuf::MethodDescriptor* descriptor =
        google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(full_name);
    status = checks.limiter->Admit(
        {city->config.id, caller.subject, staff, peer, forwarded_address, method, descriptor},
        &retry_after);
  }
  if (retry_after > 0) ctx->AddTrailingMetadata("retry-after", std::to_string(retry_after));
  if (!status.ok()) return EnsureErrorInfo(std::move(status));
  out->table = std::move(table);
  out->city = city;
  out->caller = std::move(caller);
  return grpc::Status::OK;
}

}  // namespace civitas::gateway
