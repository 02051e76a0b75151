// The gateway's HTTP side (Boost.Asio/Beast): probes, metrics and the JSON/HTTP API. One I/O
// thread parses and writes; handlers answer asynchronously, so a slow module call never holds
// up other connections.
#ifndef CIVITAS_GATEWAY_HTTP_SERVER_H_
#define CIVITAS_GATEWAY_HTTP_SERVER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
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

// A body that is written piece by piece while it is made (Server-Sent Events). The server asks
// for one piece at a time and asks again only once the previous one is written to the socket,
// so a client that reads slowly slows its source down instead of filling the gateway's memory.
class HttpBodyStream {
 public:
  using Deliver = std::function<void(std::optional<std::string>)>;
  virtual ~HttpBodyStream() = default;
  // Asks for the next piece; `deliver` is called once, from any thread, with the bytes, or with
  // nullopt when the body is complete (the server then closes the connection).
  virtual void Next(Deliver deliver) = 0;
  // The client went away or the server stops: no Next follows, and a pending `deliver` is
  // dropped without being called.
  virtual void Cancel() = 0;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // added as they are
  // Set: `body` is ignored; the head goes out at once, the body follows from `stream`, and the
  // connection closes at its end (no Content-Length). While it waits for a piece the server
  // writes an SSE comment (": keep-alive") every 15 s, so proxies keep the connection open and
  // a client that vanished is noticed.
  std::shared_ptr<HttpBodyStream> stream = nullptr;
};

// What one listener accepts from a client it does not trust. Defaults as in LimitsConfig.
struct HttpLimits {
  size_t max_body_bytes = 64 * 1024;    // per request; more -> 413
  size_t max_header_bytes = 8 << 10;    // header fields; more -> 431
  size_t max_url_bytes = 4 << 10;       // request target; longer -> 414
  size_t max_connections = 256;         // more are accepted and closed at once
  size_t body_buffer_bytes = 64 << 20;  // request bodies of all connections; more -> 503
  int header_timeout_seconds = 10;
  int body_timeout_seconds = 15;
};

// Counters of what the listener turned away (for /metrics).
struct HttpServerStats {
  std::atomic<int64_t> connections{0};  // open now
  std::atomic<uint64_t> refused_connections{0};
  std::atomic<uint64_t> accept_errors{0};      // EMFILE and the like, each followed by a pause
  std::atomic<uint64_t> rejected_requests{0};  // 400, 413, 414, 431, 503 before any handler
};

class HttpServer {
 public:
  // Called once per request; `respond` must be called exactly once, from any thread.
  using Respond = std::function<void(HttpResponse)>;
  using Handler = std::function<void(HttpRequest, Respond)>;

  // Listens on HOST:PORT (port 0 picks a free one) and serves `handler` on its own thread.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& listen,
                                                           Handler handler, HttpLimits limits = {});
  ~HttpServer();
  int port() const { return port_; }
  const HttpServerStats& stats() const { return stats_; }  // valid after Stop() too

  struct Impl;  // defined in http_server.cc only
  void Stop();

 private:
  HttpServer() = default;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  int port_ = 0;
  HttpServerStats stats_;
};

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_HTTP_SERVER_H_
