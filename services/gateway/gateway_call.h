// Admission of a call to a service the gateway answers itself (PrivacyService, NotifyService,
// AppConfigService), with the checks the dispatcher makes for a module's call: the city from
// x-civitas-city or the authority, the caller's token, the method's role, and the write-rate
// limit (reads, GET in google.api.http, are not limited; a refusal sets the retry-after trailer).
// A call on the JSON/HTTP API's in-process channel is limited as the HTTP client
// (x-civitas-http-peer); a network peer is never overridden by what it sends.
#ifndef CIVITAS_GATEWAY_GATEWAY_CALL_H_
#define CIVITAS_GATEWAY_GATEWAY_CALL_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <memory>
#include <string>

#include "civitas/abi.h"
#include "services/gateway/module_instance.h"
#include "services/gateway/rate_limiter.h"
#include "services/gateway/route_table.h"

namespace civitas::gateway {

class Authenticator;

struct AdmittedCall {
  std::shared_ptr<const RouteTable> table;  // keeps the city's routes alive for the work
  const CityRoutes* city = nullptr;
  Caller caller;
};

struct GatewayCallChecks {
  const Authenticator* auth;
  WriteRateLimiter* limiter;
  std::string client_ip_header;  // limits.write_rate.client_ip_header (the edge's address)
  // Editors, moderators and admins get the staff allowance of the write limit.
  bool staff_allowance = false;
};

// OK with *out filled in, or the refusal to answer with (ErrorInfo included). `serving`: the
// service has its handler pool and is not draining; otherwise (or without a route table) the
// call is UNAVAILABLE, GATEWAY_DRAINING.
grpc::Status AdmitGatewayCall(grpc::CallbackServerContext* ctx, const char* method,
                              civitas_role role, bool serving,
                              std::shared_ptr<const RouteTable> table,
                              const GatewayCallChecks& checks, AdmittedCall* out);

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_GATEWAY_CALL_H_
