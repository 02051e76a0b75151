#include "services/gateway/http_server.h"

#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "civitas/json.h"
#include "services/gateway/log.h"

namespace civitas::gateway {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// Room for the method, the version and the line ends around the request target.
constexpr size_t kRequestLineOverhead = 64;

// The google.rpc.ErrorInfo reason of a refusal made before a request reaches the API
// (docs/errors.md).
const char* ReasonOf(int status) {
  switch (status) {
    case 408:
      return "BODY_TIMEOUT";
    case 413:
      return "BODY_TOO_LARGE";
    case 414:
      return "URL_TOO_LONG";
    case 431:
      return "HEADERS_TOO_LARGE";
    case 503:
      return "HTTP_BUSY";
    default:
      return "MALFORMED_HTTP";
  }
}

// {"error": {...}} as the JSON/HTTP API writes it, with its ErrorInfo; `message` is ASCII here.
std::string ErrorJson(int status, const char* code_name, const std::string& message) {
  return absl::StrCat("{\"error\":{\"code\":", status, ",\"status\":\"", code_name,
                      "\",\"message\":", civitas::JsonQuote(message),
                      ",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\","
                      "\"reason\":\"",
                      ReasonOf(status), "\",\"domain\":\"civitas.city\"}]}}\n");
}

HttpResponse ErrorResponse(int status, const char* code_name, const std::string& message) {
  return HttpResponse{status, "application/json", ErrorJson(status, code_name, message), {}};
}

}  // namespace

struct HttpServer::Impl {
  Handler handler;
  HttpLimits limits;
  HttpServerStats* stats = nullptr;  // the HttpServer's, which outlives this
  std::atomic<size_t> body_bytes_reserved{0};
  // Declared after what sessions use: the io_context destroys pending sessions first.
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  asio::steady_timer accept_pause{io};

  void Accept();
  void Refuse(tcp::socket socket);
};

namespace {

// One keep-alive connection: read a request's headers, check them, read its body, answer,
// repeat. Anything malformed is answered with its status and the connection is closed.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl* impl)
      : stream_(std::move(socket)), body_timer_(stream_.get_executor()), impl_(impl) {
    impl_->stats->connections.fetch_add(1, std::memory_order_relaxed);
  }
  ~Session() {
    if (source_) source_->Cancel();
    ReleaseBody();
    impl_->stats->connections.fetch_sub(1, std::memory_order_relaxed);
  }

  void Read() {
    const HttpLimits& l = impl_->limits;
    parser_.emplace();
    parser_->header_limit(
        static_cast<uint32_t>(l.max_header_bytes + l.max_url_bytes + kRequestLineOverhead));
    parser_->body_limit(l.max_body_bytes);
    stream_.expires_after(std::chrono::seconds(l.header_timeout_seconds));
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

 private:
  void Reject(int status, const char* code_name, const std::string& message) {
    impl_->stats->rejected_requests.fetch_add(1, std::memory_order_relaxed);
    keep_alive_ = false;
    Write(ErrorResponse(status, code_name, message));
  }

  // True if the request line was too long: it was never parsed (the parser consumes it as soon
  // as it is complete), or its target is over the limit.
  bool RequestLineTooLong() const {
    return parser_->get().target().empty() ||
           parser_->get().target().size() > impl_->limits.max_url_bytes;
  }

  void OnHeader(beast::error_code ec) {
    const HttpLimits& l = impl_->limits;
    if (ec == http::error::body_limit) {  // a Content-Length over the limit, seen in the header
      Reject(413, "RESOURCE_EXHAUSTED",
             absl::StrCat("request body larger than ", l.max_body_bytes, " bytes"));
      return;
    }
    if (ec == http::error::header_limit) {
      if (RequestLineTooLong()) {
        Reject(414, "INVALID_ARGUMENT",
               absl::StrCat("the URL is longer than ", l.max_url_bytes, " bytes"));
      } else {
        Reject(431, "INVALID_ARGUMENT",
               absl::StrCat("the request headers are larger than ", l.max_header_bytes, " bytes"));
      }
      return;
    }
    // A Content-Length over the body limit is refused by the parser with the headers already.
    if (ec == http::error::body_limit) {
      Reject(413, "RESOURCE_EXHAUSTED",
             absl::StrCat("request body larger than ", l.max_body_bytes, " bytes"));
      return;
    }
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::error::eof) {
      return;  // closed or silent: drop the connection
    }
    if (ec) {
      Reject(400, "INVALID_ARGUMENT", absl::StrCat("malformed HTTP request: ", ec.message()));
      return;
    }
    const auto& req = parser_->get();
    if (req.target().size() > l.max_url_bytes) {
      Reject(414, "INVALID_ARGUMENT",
             absl::StrCat("the URL is longer than ", l.max_url_bytes, " bytes"));
      return;
    }
    size_t header_bytes = 0, transfer_encodings = 0;
    for (const auto& field : req) {
      header_bytes += field.name_string().size() + field.value().size() + 4;
      if (field.name() == http::field::transfer_encoding) ++transfer_encodings;
    }
    if (header_bytes > l.max_header_bytes) {
      Reject(431, "INVALID_ARGUMENT",
             absl::StrCat("the request headers are larger than ", l.max_header_bytes, " bytes"));
      return;
    }
    // Request smuggling shapes: only a single, plain "chunked" is understood, never next to a
    // Content-Length, and never from HTTP/1.0 (RFC 9112 sections 6.1 and 6.3).
    if (transfer_encodings > 0) {
      const std::string te = absl::AsciiStrToLower(
          absl::StripAsciiWhitespace(std::string(req[http::field::transfer_encoding])));
      if (transfer_encodings > 1 || te != "chunked") {
        Reject(400, "INVALID_ARGUMENT",
               "unsupported Transfer-Encoding; only a single 'chunked' is accepted");
        return;
      }
      if (req.count(http::field::content_length) > 0) {
        Reject(400, "INVALID_ARGUMENT",
               "a request may not carry both Transfer-Encoding and Content-Length");
        return;
      }
      if (req.version() < 11) {
        Reject(400, "INVALID_ARGUMENT", "Transfer-Encoding needs HTTP/1.1");
        return;
      }
    }
    // The body's memory is reserved before it is read, from a budget all connections share.
    size_t needed = 0;
    if (const auto length = parser_->content_length()) {
      if (*length > l.max_body_bytes) {
        Reject(413, "RESOURCE_EXHAUSTED",
               absl::StrCat("request body larger than ", l.max_body_bytes, " bytes"));
        return;
      }
      needed = static_cast<size_t>(*length);
    } else if (parser_->chunked()) {
      needed = l.max_body_bytes;
    }
    if (needed > 0) {
      const size_t before = impl_->body_bytes_reserved.fetch_add(needed);
      reserved_ = needed;
      if (before + needed > l.body_buffer_bytes) {
        ReleaseBody();
        Reject(503, "UNAVAILABLE",
               "the gateway is receiving too many request bodies at once; retry shortly");
        return;
      }
    }
    if (parser_->is_done()) {
      Dispatch();
      return;
    }
    // The body's own timer cancels the read, so the client still hears 408 (the stream's
    // expiry, a backstop, would close the socket without an answer).
    stream_.expires_after(std::chrono::seconds(l.body_timeout_seconds + 5));
    body_timer_.expires_after(std::chrono::seconds(l.body_timeout_seconds));
    body_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      self->body_timed_out_ = true;
      beast::error_code ignored;
      self->stream_.socket().cancel(ignored);
    });
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       self->body_timer_.cancel();
                       self->OnBody(ec);
                     });
  }

  void OnBody(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      Reject(413, "RESOURCE_EXHAUSTED",
             absl::StrCat("request body larger than ", impl_->limits.max_body_bytes, " bytes"));
      return;
    }
    if (body_timed_out_) {
      Reject(408, "DEADLINE_EXCEEDED",
             absl::StrCat("the request body did not arrive within ",
                          impl_->limits.body_timeout_seconds, " seconds"));
      return;
    }
    if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof) {
      return;
    }
    if (ec) {
      Reject(400, "INVALID_ARGUMENT", absl::StrCat("malformed HTTP request body: ", ec.message()));
      return;
    }
    Dispatch();
  }

  void Dispatch() {
    http::request<http::string_body> request = parser_->release();
    keep_alive_ = request.keep_alive();
    version_ = request.version();
    HttpRequest r;
    r.method = std::string(request.method_string());
    r.target = std::string(request.target());
    for (const auto& field : request) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = std::string(field.value());
    }
    r.body = std::move(request.body());
    beast::error_code peer_error;
    const tcp::endpoint peer = stream_.socket().remote_endpoint(peer_error);
    if (!peer_error) {
      const std::string address = peer.address().to_string();
      r.peer = peer.address().is_v6() ? "ipv6:[" + address + "]:" : "ipv4:" + address + ":";
      r.peer += std::to_string(peer.port());
    }
    stream_.expires_never();  // the handler may take a while; its call has its own deadline
    impl_->handler(std::move(r), [self = shared_from_this()](HttpResponse response) {
      asio::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        self->Write(std::move(response));
      });
    });
  }

  void Write(HttpResponse r) {
    if (r.stream) {
      WriteStreamHead(std::move(r));
      return;
    }
    auto response = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(r.status), version_ ? version_ : 11);
    response->set(http::field::server, "civitas");
    response->set(http::field::content_type, r.content_type);
    // Browsers must take the content type as given (module text is never sniffed as HTML).
    response->set("X-Content-Type-Options", "nosniff");
    for (const auto& [name, value] : r.headers) response->set(name, value);
    response->keep_alive(keep_alive_);
    response->body() = std::move(r.body);
    response->prepare_payload();
    stream_.expires_after(std::chrono::seconds(30));
    http::async_write(stream_, *response,
                      [self = shared_from_this(), response](beast::error_code ec, size_t) {
                        self->ReleaseBody();
                        if (ec) return;
                        if (!response->keep_alive()) {
                          self->LingeringClose();
                          return;
                        }
                        self->Read();
                      });
  }

  // Half-closes, then reads and discards what the client still sends (for a short while), so
  // the kernel does not answer unread bytes with a reset that destroys the answer in flight.
  void LingeringClose() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(2));
    Discard();
  }

  void Discard() {
    stream_.async_read_some(asio::buffer(scratch_),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->discarded_ += n;
                              if (!ec && self->discarded_ < (1u << 20)) self->Discard();
                            });
  }

  void ReleaseBody() {
    if (reserved_ > 0) impl_->body_bytes_reserved.fetch_sub(reserved_);
    reserved_ = 0;
  }

  beast::tcp_stream stream_;
  asio::steady_timer body_timer_;
  bool body_timed_out_ = false;
  // ---- a body written piece by piece (HttpResponse::stream) ----------------------------------
  static constexpr auto kKeepAlive = std::chrono::seconds(15);
  static constexpr int kStreamSendBuffer = 64 << 10;

  void WriteStreamHead(HttpResponse r) {
    source_ = std::move(r.stream);
    ReleaseBody();
    std::string head =
        absl::StrCat("HTTP/1.", version_ == 10 ? "0" : "1", " ", r.status, " ",
                     std::string(http::obsolete_reason(static_cast<http::status>(r.status))),
                     "\r\nServer: civitas\r\nContent-Type: ", r.content_type,
                     "\r\nX-Content-Type-Options: nosniff\r\n");
    for (const auto& [name, value] : r.headers) absl::StrAppend(&head, name, ": ", value, "\r\n");
    absl::StrAppend(&head, "Connection: close\r\n\r\n");
    // A live stream may stay open for hours: the kernel keeps at most this much of it for a client
    // that does not read (autotuning would let it grow to megabytes); then the writes wait, the
    // source is not asked for more, and the call's own limit (stream_buffer_messages) ends it.
    beast::error_code ignored;
    stream_.socket().set_option(asio::socket_base::send_buffer_size(kStreamSendBuffer), ignored);
    // The client sends nothing more on this connection; a read that completes means it closed.
    stream_.socket().async_read_some(
        asio::buffer(scratch_),
        [self = shared_from_this()](beast::error_code, size_t) { self->EndStream(); });
    WritePiece(std::move(head));
  }

  void WritePiece(std::string piece) {
    if (stream_ended_ || !stream_.socket().is_open()) return;
    piece_writing_ = true;
    auto bytes = std::make_shared<std::string>(std::move(piece));
    stream_.expires_after(std::chrono::seconds(30));  // a client that stopped reading is closed
    asio::async_write(stream_, asio::buffer(*bytes),
                      [self = shared_from_this(), bytes](beast::error_code ec, size_t) {
                        self->piece_writing_ = false;
                        if (ec) {
                          self->EndStream();
                          return;
                        }
                        self->stream_.expires_never();
                        self->AfterPiece();
                      });
  }

  // After a write: the piece that arrived meanwhile, the end, or ask for the next one.
  void AfterPiece() {
    if (stream_ended_) return;
    if (arrived_) {
      std::optional<std::string> piece = std::move(*arrived_);
      arrived_.reset();
      if (!piece) {
        FinishStream();
        return;
      }
      WritePiece(std::move(*piece));
      return;
    }
    ArmKeepAlive();
    if (asking_) return;  // a keep-alive went out while waiting
    asking_ = true;
    source_->Next([self = shared_from_this()](std::optional<std::string> piece) {
      asio::post(self->stream_.get_executor(), [self, piece = std::move(piece)]() mutable {
        self->asking_ = false;
        self->keep_alive_timer_.cancel();
        self->arrived_ = std::move(piece);
        if (!self->piece_writing_) self->AfterPiece();
      });
    });
  }

  void ArmKeepAlive() {
    keep_alive_timer_.expires_after(kKeepAlive);
    keep_alive_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->stream_ended_ || !self->asking_ || self->piece_writing_) return;
      self->WritePiece(": keep-alive\n\n");
    });
  }

  // The body is complete: half-close and let the client close (at most 2 s).
  void FinishStream() {
    stream_ended_ = true;
    source_.reset();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    keep_alive_timer_.expires_after(std::chrono::seconds(2));
    keep_alive_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->CloseStream();
    });
  }

  // The client closed, stopped reading or failed: the source is cancelled, the socket closed.
  void EndStream() {
    if (source_) std::exchange(source_, nullptr)->Cancel();
    CloseStream();
  }

  void CloseStream() {
    stream_ended_ = true;
    keep_alive_timer_.cancel();
    beast::error_code ignored;
    stream_.socket().close(ignored);
  }

  HttpServer::Impl* const impl_;
  std::shared_ptr<HttpBodyStream> source_;
  asio::steady_timer keep_alive_timer_{stream_.get_executor()};
  std::optional<std::optional<std::string>> arrived_;  // a piece (or the end) not yet written
  bool asking_ = false;                                // a Next is outstanding
  bool piece_writing_ = false;                         // a write of the body is in flight
  bool stream_ended_ = false;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = false;
  unsigned version_ = 11;
  size_t reserved_ = 0;  // of impl_->body_bytes_reserved
  size_t discarded_ = 0;
  char scratch_[4096];
};

// Said to connections above the limit, without reading their request.
const std::string& TooManyConnections() {
  static const std::string* const text = [] {
    const std::string body =
        ErrorJson(503, "UNAVAILABLE", "too many open HTTP connections; retry shortly");
    return new std::string(absl::StrCat(
        "HTTP/1.1 503 Service Unavailable\r\nServer: civitas\r\nContent-Type: application/json\r\n"
        "X-Content-Type-Options: nosniff\r\nRetry-After: 1\r\nConnection: close\r\n"
        "Content-Length: ",
        body.size(), "\r\n\r\n", body));
  }();
  return *text;
}

}  // namespace

void HttpServer::Impl::Refuse(tcp::socket socket) {
  stats->refused_connections.fetch_add(1, std::memory_order_relaxed);
  // One non-blocking send; a client that cannot take it gets the close alone.
  const std::string& answer = TooManyConnections();
  (void)::send(socket.native_handle(), answer.data(), answer.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  beast::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  socket.close(ignored);
}

void HttpServer::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket s) {
    if (ec == asio::error::operation_aborted) return;
    if (ec) {
      // Out of descriptors (EMFILE/ENFILE) or memory: accepting again at once would spin on
      // the same error. Pause, and let connections close meanwhile.
      const uint64_t n = stats->accept_errors.fetch_add(1, std::memory_order_relaxed);
      if ((n & (n - 1)) == 0) {  // the 1st, 2nd, 4th, 8th ... time
        Log(LogLevel::kWarning, "HTTP accept failed; pausing",
            {{"error", ec.message()}, {"times", std::to_string(n + 1)}});
      }
      accept_pause.expires_after(std::chrono::milliseconds(100));
      accept_pause.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec) Accept();
      });
      return;
    }
    if (static_cast<size_t>(stats->connections.load(std::memory_order_relaxed)) >=
        limits.max_connections) {
      Refuse(std::move(s));
    } else {
      std::make_shared<Session>(std::move(s), this)->Read();
    }
    Accept();
  });
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& listen,
                                                              Handler handler, HttpLimits limits) {
  const size_t colon = listen.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("http listen address must be HOST:PORT, got '", listen, "'"));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() > 1 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->impl_ = std::make_unique<Impl>();
  server->impl_->handler = std::move(handler);
  server->impl_->limits = limits;
  server->impl_->stats = &server->stats_;
  beast::error_code ec;
  const auto address = asio::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("bad http listen host '", host, "'"));
  tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  auto& acceptor = server->impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.bind(endpoint, ec);  // no SO_REUSEADDR: a clash fails loudly
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen for HTTP on ", listen, ": ", ec.message()));
  }
  server->port_ = acceptor.local_endpoint().port();
  server->impl_->Accept();
  server->thread_ = std::thread([impl = server->impl_.get()] { impl->io.run(); });
  return server;
}

void HttpServer::Stop() {
  if (!impl_) return;
  asio::post(impl_->io, [impl = impl_.get()] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
    impl->accept_pause.cancel();
    impl->io.stop();
  });
  if (thread_.joinable()) thread_.join();
  impl_.reset();
}

HttpServer::~HttpServer() { Stop(); }

}  // namespace civitas::gateway
