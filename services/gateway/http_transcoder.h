// JSON over HTTP for module methods, driven by the google.api.http annotations in the modules'
// own descriptors (AIP-127): a request is matched against the city's bindings, turned into the
// method's protobuf request (path variables, query parameters, JSON body by protobuf's JSON
// mapping) and sent through the gateway's in-process gRPC channel, so authentication, roles,
// limits, metrics and access logs are exactly those of a gRPC call. Responses of type
// google.api.HttpBody are sent raw with their content type (RSS, iCalendar, Open311 JSON);
// everything else as JSON. Errors are JSON: {"error": {"code", "status", "message", "details"}}.
//
// The city comes from a "/cities/{city}" path prefix, the x-civitas-city header or the Host
// header, resolved by the route table as for gRPC (RouteTable::ResolveCity); the city's
// bindings come indexed with its routes (CityRoutes::http, http_rule.h). Path templates are in
// path_template.h. CORS: each city lists the browser origins it allows (cors_origins).
#ifndef CIVITAS_GATEWAY_HTTP_TRANSCODER_H_
#define CIVITAS_GATEWAY_HTTP_TRANSCODER_H_

#include <grpcpp/channel.h>
#include <grpcpp/generic/generic_stub.h>

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/gateway/http_rule.h"
#include "services/gateway/http_server.h"
#include "services/gateway/rendered_cache.h"
#include "services/gateway/route_table.h"
#include "services/gateway/status_details.h"

namespace civitas::gateway {

class HttpTranscoder {
 public:
  // `cache_ttl` and `cache_bytes` bound the rendered answers of public GETs (rendered_cache.h);
  // a zero TTL keeps none.
  HttpTranscoder(const RouteTableHolder* routes, std::shared_ptr<grpc::Channel> channel,
                 absl::Duration cache_ttl = absl::ZeroDuration(), size_t cache_bytes = 0)
      : routes_(routes), stub_(std::move(channel)), cache_(cache_ttl, cache_bytes) {}

  // Also maps the google.api.http bindings of `service` (a service the gateway answers itself,
  // e.g. civitas.gateway.v1.PrivacyService, from the generated descriptor pool) in every city.
  // Call before serving. `roles` (method name -> role) is what the OpenAPI document states for
  // a method; a method not named there needs a signed-in caller (citizen). The service itself
  // checks the role of every call.
  absl::Status ServeGatewayService(const std::string& service,
                                   const std::map<std::string, civitas_role>& roles = {});

  // Answers one API request; `respond` is called exactly once.
  void Handle(HttpRequest request, HttpServer::Respond respond);

  const RenderedCache& cache() const { return cache_; }

 private:
  // The bindings in `city` (its modules', then the gateway's own) that match `path`, in
  // declaration order, with the variables each binds.
  struct Match {
    const HttpBinding* binding;
    std::map<std::string, std::string> variables;
  };
  std::vector<Match> MatchesIn(const CityRoutes& city, const std::string& path) const;
  // The OpenAPI document of `city` under `table` (openapi.h), kept like a public answer.
  std::shared_ptr<const RenderedAnswer> OpenApiOf(const std::shared_ptr<const RouteTable>& table,
                                                  const CityRoutes& city);

  const RouteTableHolder* routes_;
  grpc::GenericStub stub_;
  std::deque<MethodInfo> gateway_methods_;  // what gateway_bindings_ point to
  std::vector<HttpBinding> gateway_bindings_;
  RenderedCache cache_;
};

// {"error": {"code": <http>, "status": "NOT_FOUND", "message": ..., "details": [...]}} with the
// matching HTTP status; `details` are the status's (status_details.h: an ErrorInfo always, a
// RetryInfo on rate limits) in protobuf's JSON form. http_status 0 = the usual mapping of the code.
HttpResponse JsonError(const grpc::Status& status, int http_status = 0);
HttpResponse JsonError(grpc::StatusCode code, const std::string& message, int http_status = 0);

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_HTTP_TRANSCODER_H_
