// JSON over HTTP for module methods, driven by the google.api.http annotations in the modules'
// own descriptors (AIP-127): a request is matched against the city's bindings, turned into the
// method's protobuf request (path variables, query parameters, JSON body by protobuf's JSON
// mapping) and sent through the gateway's in-process gRPC channel, so authentication, roles,
// limits, metrics and access logs are exactly those of a gRPC call. Responses of type
// google.api.HttpBody are sent raw with their content type (RSS, iCalendar, Open311 JSON);
// everything else as JSON. Errors are JSON: {"error": {"code", "status", "message"}}.
//
// The city comes from a "/cities/{city}" path prefix, the x-civitas-city header or the Host
// header, as for gRPC. CORS: each city lists the browser origins it allows (cors_origins).
#ifndef CIVITAS_GATEWAY_HTTP_TRANSCODER_H_
#define CIVITAS_GATEWAY_HTTP_TRANSCODER_H_

#include <grpcpp/channel.h>
#include <grpcpp/generic/generic_stub.h>

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/gateway/http_server.h"
#include "services/gateway/module_loader.h"
#include "services/gateway/route_table.h"

namespace civitas::gateway {

// A parsed path template: "/v1/{name=articles/*}:publish".
class PathTemplate {
 public:
  static absl::StatusOr<PathTemplate> Parse(const std::string& text);
  // Matches a path (no query, not yet percent-decoded); fills field path -> value.
  bool Match(const std::string& path, std::map<std::string, std::string>* variables) const;
  const std::string& text() const { return text_; }

 private:
  struct Segment {
    enum Kind { kLiteral, kStar, kDoubleStar } kind;
    std::string literal;
  };
  struct Variable {
    std::string field_path;
    size_t begin, end;  // segment range
  };
  std::string text_;
  std::vector<Segment> segments_;
  std::vector<Variable> variables_;
  std::string verb_;
};

struct HttpBinding {
  std::string verb;  // GET, POST, PATCH, PUT, DELETE or a custom one
  PathTemplate path;
  std::string body;           // "", "*" or a field name
  std::string response_body;  // "" or a field name
  const MethodInfo* method;   // owned by the LoadedModule the bindings were made from
  const google::protobuf::MethodDescriptor* descriptor;
};

// The bindings of one method's google.api.http option (and its additional_bindings).
absl::Status RulesOf(const google::protobuf::MethodDescriptor* descriptor, const MethodInfo* method,
                     std::vector<HttpBinding>* out);

// The binary request for `binding` from the path variables, the query string (not decoded) and
// the JSON body. INVALID_ARGUMENT with a message for the client if they do not fit the message.
absl::StatusOr<std::string> BuildRequest(const HttpBinding& binding,
                                         const std::map<std::string, std::string>& variables,
                                         const std::string& query, const std::string& body);

// The bindings a module declares; INVALID_ARGUMENT naming the method for a bad annotation.
absl::StatusOr<std::vector<HttpBinding>> BindingsOf(const LoadedModule& module);

class HttpTranscoder {
 public:
  HttpTranscoder(const RouteTableHolder* routes, std::shared_ptr<grpc::Channel> channel)
      : routes_(routes), stub_(std::move(channel)) {}

  // Also maps the google.api.http bindings of `service` (a service the gateway answers itself,
  // e.g. civitas.gateway.v1.PrivacyService, from the generated descriptor pool) in every city.
  // Call before serving.
  absl::Status ServeGatewayService(const std::string& service);

  // Answers one API request; `respond` is called exactly once.
  void Handle(HttpRequest request, HttpServer::Respond respond);

 private:
  // Bindings per loaded module, computed once (a loaded module never changes).
  std::shared_ptr<const std::vector<HttpBinding>> Bindings(
      const std::shared_ptr<const LoadedModule>& module);

  struct Cached {
    std::weak_ptr<const LoadedModule> module;  // entries of unloaded modules are dropped
    std::shared_ptr<const std::vector<HttpBinding>> bindings;
  };

  const RouteTableHolder* routes_;
  grpc::GenericStub stub_;
  std::deque<MethodInfo> gateway_methods_;  // what gateway_bindings_ point to
  std::shared_ptr<const std::vector<HttpBinding>> gateway_bindings_;
  std::mutex mu_;
  std::map<const LoadedModule*, Cached> cache_;
};

// `in` with every byte that is not part of a valid UTF-8 sequence replaced by U+FFFD, so text
// that quotes a client's input stays valid in JSON.
std::string ScrubUtf8(absl::string_view in);

// {"error": {"code": <http>, "status": "NOT_FOUND", "message": ...}} with the matching HTTP status.
// http_status 0 = the usual mapping of `code`.
HttpResponse JsonError(grpc::StatusCode code, const std::string& message, int http_status = 0);

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_HTTP_TRANSCODER_H_
