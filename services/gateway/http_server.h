// The gateway's HTTP side (Boost.Asio/Beast): probes, metrics and the JSON/HTTP API. One I/O
// thread parses and writes; handlers answer asynchronously, so a slow module call never holds
// up other connections.
#ifndef CIVITAS_GATEWAY_HTTP_SERVER_H_
#define CIVITAS_GATEWAY_HTTP_SERVER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace civitas::gateway {

struct HttpRequest {
  std::string method;                          // "GET"
  std::string target;                          // "/metrics?x=1"
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string peer;  // the client, as gRPC names peers: "ipv4:192.0.2.1:5443", "ipv6:[::1]:80"

  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // added as they are
};

class HttpServer {
 public:
  // Called once per request; `respond` must be called exactly once, from any thread.
  using Respond = std::function<void(HttpResponse)>;
  using Handler = std::function<void(HttpRequest, Respond)>;

  // Listens on HOST:PORT (port 0 picks a free one) and serves `handler` on its own thread.
  // Request bodies above max_body_bytes are answered 413.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& listen,
                                                           Handler handler,
                                                           size_t max_body_bytes = 64 * 1024);
  ~HttpServer();
  int port() const { return port_; }
  void Stop();

 private:
  struct Impl;
  HttpServer() = default;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_HTTP_SERVER_H_
