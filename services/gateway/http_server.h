// The gateway's HTTP side (Boost.Asio/Beast): /healthz, /readyz, /metrics. Small, bounded requests
// only; one I/O thread is plenty for probes and scrapes.
#ifndef CIVITAS_GATEWAY_HTTP_SERVER_H_
#define CIVITAS_GATEWAY_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace civitas::gateway {

struct HttpRequest {
  std::string method;  // "GET"
  std::string target;  // "/metrics?x=1"
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  // Listens on HOST:PORT (port 0 picks a free one) and serves `handler` on its own thread.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& listen,
                                                           Handler handler);
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
