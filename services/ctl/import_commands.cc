// civitasctl import: reads a feed or calendar from a file or an http(s) URL and sends it to a
// city's module, showing what it does.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <iostream>

#include "civitas/events/v1/events.grpc.pb.h"
#include "civitas/news/v1/news.grpc.pb.h"
#include "services/ctl/commands.h"

namespace civitas::ctl {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

constexpr size_t kMaxDocument = 4u << 20;  // the gateway's default request limit

struct Url {
  bool tls = false;
  std::string host, port, target;
};

bool ParseUrl(const std::string& url, Url* out) {
  std::string rest;
  if (url.rfind("https://", 0) == 0) {
    out->tls = true;
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else {
    return false;
  }
  const size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  out->target = slash == std::string::npos ? "/" : rest.substr(slash);
  const size_t colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']', colon) == std::string::npos) {
    out->host = authority.substr(0, colon);
    out->port = authority.substr(colon + 1);
  } else {
    out->host = authority;
    out->port = out->tls ? "443" : "80";
  }
  return !out->host.empty();
}

template <class Stream>
bool Exchange(Stream& stream, const Url& url, http::response<http::string_body>* response,
              std::string* error) {
  http::request<http::empty_body> request(http::verb::get, url.target, 11);
  request.set(http::field::host, url.host);
  request.set(http::field::user_agent, "civitasctl");
  request.set(http::field::accept,
              "application/rss+xml, application/atom+xml, text/calendar, application/xml, */*");
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxDocument);
  beast::error_code ec;
  http::read(stream, buffer, parser, ec);
  if (ec) {
    *error = "reading the response failed: " + ec.message();
    return false;
  }
  *response = parser.release();
  return true;
}

// GET with up to 5 redirects. TLS peers are verified against the system's CA store.
bool Fetch(std::string url, std::string* body, std::string* error) {
  for (int hop = 0; hop < 5; ++hop) {
    Url u;
    if (!ParseUrl(url, &u)) {
      *error = "'" + url + "' is not an http or https URL";
      return false;
    }
    try {
      asio::io_context io;
      asio::ip::tcp::resolver resolver(io);
      auto endpoints = resolver.resolve(u.host, u.port);
      http::response<http::string_body> response;
      bool ok;
      if (u.tls) {
        asio::ssl::context tls(asio::ssl::context::tls_client);
        tls.set_default_verify_paths();
        tls.set_verify_mode(asio::ssl::verify_peer);
        beast::ssl_stream<beast::tcp_stream> stream(io, tls);
        SSL_set_tlsext_host_name(stream.native_handle(), u.host.c_str());
        stream.set_verify_callback(asio::ssl::host_name_verification(u.host));
        beast::get_lowest_layer(stream).connect(endpoints);
        stream.handshake(asio::ssl::stream_base::client);
        ok = Exchange(stream, u, &response, error);
      } else {
        beast::tcp_stream stream(io);
        stream.connect(endpoints);
        ok = Exchange(stream, u, &response, error);
      }
      if (!ok) return false;
      const unsigned status = response.result_int();
      if (status >= 300 && status < 400 && response.count(http::field::location)) {
        std::string location(response[http::field::location]);
        url = location.rfind("http", 0) == 0
                  ? location
                  : (u.tls ? "https://" : "http://") + u.host + ":" + u.port + location;
        continue;
      }
      if (status != 200) {
        *error = url + " answered HTTP " + std::to_string(status);
        return false;
      }
      *body = std::move(response.body());
      return true;
    } catch (const std::exception& e) {
      *error = "cannot fetch " + url + ": " + e.what();
      return false;
    }
  }
  *error = "too many redirects";
  return false;
}

// The document named by the command's last word: a file or a URL.
bool ReadDocument(const std::string& where, std::string* document, std::string* error) {
  if (where.rfind("http://", 0) == 0 || where.rfind("https://", 0) == 0) {
    std::cerr << "fetching " << where << " ...\n";
    if (!Fetch(where, document, error)) return false;
  } else if (!ReadFile(where, document)) {
    *error = "cannot read " + where;
    return false;
  }
  if (document->size() > kMaxDocument) {
    *error = where + " is larger than 4 MiB; split it";
    return false;
  }
  std::cerr << "read " << document->size() << " bytes from " << where << "\n";
  return true;
}

}  // namespace

int ImportNews(const Args& args) {
  if (args.words.size() != 3 || !args.Has("city")) {
    return Usage("import news needs --city CITY and one FILE or URL");
  }
  const std::string& where = args.words[2];
  std::string document, error;
  if (!ReadDocument(where, &document, &error)) return Failed(error);
  civitas::news::v1::ImportFeedRequest request;
  request.set_document(document);
  // The feed's own link identifies it unless given; a URL we fetched is a good stable source.
  request.set_source(args.Get("source", where.rfind("http", 0) == 0 ? where : ""));
  request.set_category(args.Get("category"));
  request.set_language_code(args.Get("language"));
  auto stub = civitas::news::v1::NewsService::NewStub(GatewayChannel(args));
  grpc::ClientContext ctx;
  Prepare(args, &ctx, 120);
  ctx.AddMetadata("x-civitas-city", args.Get("city"));
  civitas::news::v1::ImportFeedResponse response;
  std::cerr << "importing into city '" << args.Get("city") << "' ...\n";
  grpc::Status s = stub->ImportFeed(&ctx, request, &response);
  if (!s.ok()) return Failed(s);
  std::cout << "created " << response.created() << ", updated " << response.updated()
            << ", unchanged " << response.unchanged() << "\n";
  for (const std::string& name : response.names()) std::cout << "  " << name << "\n";
  return 0;
}

int ImportEvents(const Args& args) {
  if (args.words.size() != 3 || !args.Has("city")) {
    return Usage("import events needs --city CITY and one FILE or URL");
  }
  std::string document, error;
  if (!ReadDocument(args.words[2], &document, &error)) return Failed(error);
  civitas::events::v1::ImportCalendarRequest request;
  request.set_document(document);
  request.set_category(args.Get("category"));
  auto stub = civitas::events::v1::EventsService::NewStub(GatewayChannel(args));
  grpc::ClientContext ctx;
  Prepare(args, &ctx, 120);
  ctx.AddMetadata("x-civitas-city", args.Get("city"));
  civitas::events::v1::ImportCalendarResponse response;
  std::cerr << "importing into city '" << args.Get("city") << "' ...\n";
  grpc::Status s = stub->ImportCalendar(&ctx, request, &response);
  if (!s.ok()) return Failed(s);
  std::cout << "created " << response.created() << ", updated " << response.updated()
            << ", unchanged " << response.unchanged() << "\n";
  for (const std::string& name : response.names()) std::cout << "  " << name << "\n";
  return 0;
}

}  // namespace civitas::ctl
