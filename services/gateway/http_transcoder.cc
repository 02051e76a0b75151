#include "services/gateway/http_transcoder.h"

#include <google/protobuf/arena.h>
#include <google/protobuf/descriptor.pb.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/client_callback.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "civitas/json.h"
#include "civitas/text.h"
#include "google/api/annotations.pb.h"
#include "google/api/httpbody.pb.h"
#include "services/common/code_names.h"
#include "services/gateway/http_caching.h"
#include "services/gateway/http_event_stream.h"
#include "services/gateway/json_codec.h"
#include "services/gateway/multipart.h"
#include "services/gateway/openapi.h"
#include "services/gateway/status_details.h"

namespace civitas::gateway {
namespace {

namespace pb = google::protobuf;

constexpr char kJson[] = "application/json";

int HttpStatusOf(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return 200;
    case grpc::StatusCode::CANCELLED:
      return 499;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE:
      return 400;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 504;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED:
      return 409;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 429;
    case grpc::StatusCode::UNIMPLEMENTED:
      return 501;
    case grpc::StatusCode::UNAVAILABLE:
      return 503;
    default:
      return 500;
  }
}

std::string JsonString(absl::string_view s) {
  return civitas::JsonQuote(std::string_view(s.data(), s.size()));
}

}  // namespace

HttpResponse JsonError(const grpc::Status& status, int http_status) {
  const grpc::Status with_info = EnsureErrorInfo(status);
  const grpc::StatusCode code = with_info.error_code();
  const int http = http_status ? http_status : HttpStatusOf(code);
  HttpResponse r;
  r.status = http;
  r.content_type = kJson;
  // Google's JSON error (AIP-193): the HTTP code, the status's name, the message and the same
  // details a gRPC client finds in grpc-status-details-bin.
  r.body = absl::StrCat("{\"error\":{\"code\":", http, ",\"status\":\"", common::CodeName(code),
                        "\",\"message\":", JsonString(ScrubUtf8(with_info.error_message())),
                        ",\"details\":", DetailsJson(with_info), "}}\n");
  return r;
}

HttpResponse JsonError(grpc::StatusCode code, const std::string& message, int http_status) {
  return JsonError(grpc::Status(code, message), http_status);
}

namespace {

// How long a public JSON answer may be reused without asking again: none (revalidate with
// If-None-Match), except the app configuration, which every app reads at start and which
// changes rarely; a minute of reuse spares the gateway those calls.
int PublicMaxAgeSeconds(const std::string& full_path) {
  return full_path == "/civitas.appconfig.v1.AppConfigService/GetAppConfig" ? 60 : 0;
}

// One HTTP request in flight as a gRPC call.
struct Exchange {
  grpc::ClientContext context;
  grpc::ByteBuffer request;
  grpc::ByteBuffer response;
  // Keeps the module, its descriptors and the binding (in the city's HttpBindingIndex) alive.
  std::shared_ptr<const RouteTable> table;
  const HttpBinding* binding = nullptr;
  std::vector<std::pair<std::string, std::string>> cors;
  HttpServer::Respond respond;
  // For the GET conventions (http_caching.h): the request's conditional and encoding headers,
  // and whether it carried credentials.
  HttpRequest conditions;
  bool personal = false;
  // Set for a public GET: where its rendered answer is kept, under which key, rendered when.
  RenderedCache* cache = nullptr;
  std::string cache_key;
  RenderedCache::Ticket ticket;

  // The 200 answer of a GET with the conventions of http_caching.h, kept when it is public.
  HttpResponse Conclude(HttpResponse r, int max_age_seconds) {
    if (binding->verb != "GET") return r;
    if (cache == nullptr) {
      ApplyGetConventions(conditions, personal, max_age_seconds, &r);
      return r;
    }
    std::shared_ptr<const RenderedAnswer> answer =
        Render(std::move(r.content_type), std::move(r.body), max_age_seconds);
    cache->Put(cache_key, ticket, answer);
    return AnswerFrom(*answer, conditions);
  }
};

// A finite server stream of a service the gateway answers itself (AdminService.CreateBackup),
// read to its end and answered as one JSON array of its messages. Owns itself: deleted in
// OnDone, after it has responded.
class StreamToArray final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  // More messages than this and the call is cancelled: a gateway stream that ends has few.
  static constexpr size_t kMaxMessages = 10000;

  explicit StreamToArray(std::shared_ptr<Exchange> exchange) : exchange_(std::move(exchange)) {}

  void Start(grpc::GenericStub* stub, const std::string& method) {
    stub->PrepareBidiStreamingCall(&exchange_->context, method, grpc::StubOptions(), this);
    StartWrite(&exchange_->request);
    StartRead(&message_);
    StartCall();
  }
  void OnWriteDone(bool ok) override {
    if (ok) StartWritesDone();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;  // the end of the stream; OnDone follows
    std::vector<grpc::Slice> slices;
    std::string bytes;
    if (message_.Dump(&slices).ok()) {
      for (const grpc::Slice& slice : slices) {
        bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
      }
    }
    messages_.push_back(std::move(bytes));
    if (messages_.size() > kMaxMessages) {
      exchange_->context.TryCancel();
      return;
    }
    StartRead(&message_);
  }
  void OnDone(const grpc::Status& status) override {
    exchange_->respond(Answer(status));
    delete this;
  }

 private:
  HttpResponse Answer(const grpc::Status& status) {
    HttpResponse r;
    if (!status.ok()) {
      r = messages_.size() > kMaxMessages
              ? JsonError(GatewayError(
                    grpc::StatusCode::RESOURCE_EXHAUSTED,
                    absl::StrCat("the stream sent more than ", kMaxMessages, " messages"),
                    "STREAM_TOO_LONG"))
              : JsonError(status);
    } else {
      const google::protobuf::Descriptor* type =
          exchange_->binding->method->descriptor->output_type();
      const JsonCodec& codec = JsonCodec::Of(type);
      std::string json = "[";
      for (size_t i = 0; i < messages_.size(); ++i) {
        std::string one;
        if (!codec.Print(type, messages_[i], &one).ok()) {
          r = JsonError(grpc::StatusCode::INTERNAL, "the stream sent a broken message");
          r.headers.insert(r.headers.end(), exchange_->cors.begin(), exchange_->cors.end());
          return r;
        }
        absl::StrAppend(&json, i ? "," : "", one);
      }
      r = HttpResponse{200, kJson, json + "]\n", {}};
    }
    r.headers.insert(r.headers.end(), exchange_->cors.begin(), exchange_->cors.end());
    return r;
  }

  std::shared_ptr<Exchange> exchange_;
  grpc::ByteBuffer message_;
  std::vector<std::string> messages_;
};

std::vector<std::pair<std::string, std::string>> CorsHeaders(const CityConfig& city,
                                                             const std::string& origin) {
  if (origin.empty()) return {};
  for (const std::string& allowed : city.cors_origins) {
    if (allowed == "*" || absl::EqualsIgnoreCase(allowed, origin)) {
      return {{"Access-Control-Allow-Origin", allowed == "*" ? "*" : origin},
              {"Vary", "Origin"},
              {"Access-Control-Expose-Headers", "grpc-status, grpc-message, Retry-After"}};
    }
  }
  return {};
}

}  // namespace

absl::Status HttpTranscoder::ServeGatewayService(const std::string& service,
                                                 const std::map<std::string, civitas_role>& roles) {
  const google::protobuf::ServiceDescriptor* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
  if (descriptor == nullptr) {
    return absl::InternalError(absl::StrCat("service ", service, " is not linked in"));
  }
  for (int i = 0; i < descriptor->method_count(); ++i) {
    const google::protobuf::MethodDescriptor* m = descriptor->method(i);
    MethodInfo& info = gateway_methods_.emplace_back();
    info.name = m->name();
    info.full_path = absl::StrCat("/", service, "/", m->name());
    info.kind = m->server_streaming() ? CIVITAS_METHOD_SERVER_STREAMING : CIVITAS_METHOD_UNARY;
    auto role = roles.find(m->name());
    info.required_role = role == roles.end() ? CIVITAS_ROLE_CITIZEN : role->second;
    info.service_index = 0;
    info.method_index = static_cast<uint32_t>(i);
    info.descriptor = m;
    if (absl::Status s = RulesOf(m, &info, &gateway_bindings_); !s.ok()) return s;
  }
  return absl::OkStatus();
}

std::vector<HttpTranscoder::Match> HttpTranscoder::MatchesIn(const CityRoutes& city,
                                                             const std::string& path) const {
  std::vector<Match> out;
  if (city.http != nullptr) {
    for (const HttpBinding* b : city.http->Candidates(path)) {
      std::map<std::string, std::string> vars;
      if (!b->path.Match(path, &vars)) continue;
      // A service not routed any more does not answer.
      if (!city.methods.contains(b->method->full_path)) continue;
      out.push_back({b, std::move(vars)});
    }
  }
  for (const HttpBinding& b : gateway_bindings_) {
    std::map<std::string, std::string> vars;
    if (b.path.Match(path, &vars)) out.push_back({&b, std::move(vars)});
  }
  return out;
}

std::shared_ptr<const RenderedAnswer> HttpTranscoder::OpenApiOf(
    const std::shared_ptr<const RouteTable>& table, const CityRoutes& city) {
  // Made from the route table alone: the same table, the same document.
  static const std::atomic<uint64_t> kNoWrites{0};
  const std::string key = RenderedCache::Key(city.config.id, "/openapi.json", "");
  const absl::Time now = absl::Now();
  if (std::shared_ptr<const RenderedAnswer> kept = cache_.Get(key, table, now)) return kept;
  std::vector<const HttpBinding*> bindings;
  if (city.http != nullptr) {
    for (const HttpBinding& b : city.http->bindings()) {
      if (city.methods.contains(b.method->full_path)) bindings.push_back(&b);
    }
  }
  for (const HttpBinding& b : gateway_bindings_) bindings.push_back(&b);
  std::shared_ptr<const RenderedAnswer> answer =
      Render(kJson, OpenApiDocument(city.config.id, "/cities/" + city.config.id, bindings), 0);
  cache_.Put(key, RenderedCache::TicketFor(table, kNoWrites, now), answer);
  return answer;
}

void HttpTranscoder::Handle(HttpRequest request, HttpServer::Respond respond) {
  std::shared_ptr<const RouteTable> table = routes_->Get();
  if (!table) {
    respond(JsonError(GatewayError(grpc::StatusCode::UNAVAILABLE, "the gateway is shutting down",
                                   "GATEWAY_DRAINING")));
    return;
  }
  std::string path = request.target.substr(0, request.target.find('?'));
  const std::string query =
      request.target.size() > path.size() ? request.target.substr(path.size() + 1) : "";
  // "/cities/{city}/..." names the city in the URL (calendar and feed subscriptions cannot send
  // headers).
  std::string city_hint = request.Header("x-civitas-city");
  if (absl::StartsWith(path, "/cities/")) {
    size_t end = path.find('/', 8);
    city_hint = path.substr(8, end == std::string::npos ? std::string::npos : end - 8);
    path = end == std::string::npos ? "/" : path.substr(end);
  }
  const CityRoutes* city = nullptr;
  grpc::Status resolved = table->ResolveCity(city_hint, request.Header("host"), &city);
  if (!resolved.ok()) {
    // A path no city maps is simply unknown, whichever city was meant.
    bool mapped = false;
    for (const auto& [id, routes] : table->cities()) {
      mapped = mapped || !MatchesIn(routes, path).empty();
    }
    respond(mapped ? JsonError(resolved)
                   : JsonError(GatewayError(grpc::StatusCode::NOT_FOUND,
                                            absl::StrCat("no method is mapped to ", path),
                                            "ROUTE_NOT_FOUND", {{"path", path}})));
    return;
  }
  const std::string origin = request.Header("origin");
  std::vector<std::pair<std::string, std::string>> cors = CorsHeaders(city->config, origin);
  if (path == "/openapi.json" && request.method == "GET") {
    HttpResponse r = AnswerFrom(*OpenApiOf(table, *city), request);
    r.headers.insert(r.headers.end(), cors.begin(), cors.end());
    respond(std::move(r));
    return;
  }

  const bool preflight = request.method == "OPTIONS";
  const std::string verb =
      preflight ? request.Header("access-control-request-method") : request.method;
  const HttpBinding* binding = nullptr;
  std::map<std::string, std::string> variables;
  std::vector<std::string> allowed_verbs;
  for (Match& m : MatchesIn(*city, path)) {
    allowed_verbs.push_back(m.binding->verb);
    if (m.binding->verb == verb && !binding) {
      binding = m.binding;
      variables = std::move(m.variables);
    }
  }
  if (preflight) {
    if (cors.empty()) {
      respond(JsonError(
          GatewayError(grpc::StatusCode::PERMISSION_DENIED,
                       absl::StrCat("origin '", origin, "' may not call city '", city->config.id,
                                    "' from a browser (cors_origins)"),
                       "ORIGIN_NOT_ALLOWED", {{"origin", origin}, {"city", city->config.id}})));
      return;
    }
    HttpResponse r{204, "text/plain", "", cors};
    r.headers.push_back({"Access-Control-Allow-Methods", allowed_verbs.empty()
                                                             ? "GET, POST, PATCH, PUT, DELETE"
                                                             : absl::StrJoin(allowed_verbs, ", ")});
    r.headers.push_back(
        {"Access-Control-Allow-Headers", "authorization, content-type, x-civitas-city"});
    r.headers.push_back({"Access-Control-Max-Age", "600"});
    respond(std::move(r));
    return;
  }
  auto fail = [&](const grpc::Status& status) {
    HttpResponse r = JsonError(status);
    r.headers.insert(r.headers.end(), cors.begin(), cors.end());
    respond(std::move(r));
  };
  if (!binding) {
    if (!allowed_verbs.empty()) {
      HttpResponse r = JsonError(
          GatewayError(grpc::StatusCode::UNIMPLEMENTED,
                       absl::StrCat(request.method, " is not mapped for ", path, "; use ",
                                    absl::StrJoin(allowed_verbs, " or ")),
                       "HTTP_METHOD_NOT_ALLOWED", {{"allow", absl::StrJoin(allowed_verbs, ", ")}}),
          405);
      r.headers.push_back({"Allow", absl::StrJoin(allowed_verbs, ", ")});
      r.headers.insert(r.headers.end(), cors.begin(), cors.end());
      respond(std::move(r));
      return;
    }
    fail(GatewayError(grpc::StatusCode::NOT_FOUND,
                      absl::StrCat("no method of city '", city->config.id, "' is mapped to ",
                                   request.method, " ", path),
                      "ROUTE_NOT_FOUND", {{"path", path}, {"city", city->config.id}}));
    return;
  }
  const MethodInfo& method = *binding->method;
  // Streams of the gateway's own services end (a backup's progress); modules' streams may not.
  const bool gateway_own = std::any_of(gateway_bindings_.begin(), gateway_bindings_.end(),
                                       [&](const HttpBinding& b) { return &b == binding; });
  // A stream is sent as Server-Sent Events to a client that asks for them
  // (http_event_stream.h); otherwise only the gateway's own finite streams are answered, as one
  // JSON array.
  const bool streaming = method.kind == CIVITAS_METHOD_SERVER_STREAMING;
  const bool event_stream = streaming && WantsEventStream(request);
  const bool collect_stream = streaming && gateway_own && !event_stream;
  if (streaming && !event_stream && !collect_stream) {
    fail(GatewayError(grpc::StatusCode::FAILED_PRECONDITION,
                      absl::StrCat(method.full_path,
                                   " streams: send 'Accept: text/event-stream' (EventSource) to "
                                   "receive it as Server-Sent Events, or call it over gRPC"),
                      "EVENT_STREAM_REQUIRED", {{"method", method.full_path}}));
    return;
  }

  // A public read is answered from its rendered bytes while nothing it was made from changed:
  // no module call, and a matching If-None-Match costs a 304 only.
  const bool cacheable = cache_.enabled() && binding->verb == "GET" && !gateway_own &&
                         request.Header("authorization").empty() && !streaming;
  std::string cache_key;
  RenderedCache::Ticket ticket;
  if (cacheable) {
    cache_key = RenderedCache::Key(
        city->config.id, request.target,
        UsesAcceptLanguage(*binding) ? PreferredLanguage(request.Header("accept-language")) : "");
    const absl::Time now = absl::Now();
    if (std::shared_ptr<const RenderedAnswer> hit = cache_.Get(cache_key, table, now)) {
      HttpResponse r = AnswerFrom(*hit, request);
      if (r.status == 304) cache_.CountNotModified();
      if (UsesAcceptLanguage(*binding)) r.headers.push_back({"Vary", "Accept-Language"});
      r.headers.insert(r.headers.end(), cors.begin(), cors.end());
      respond(std::move(r));
      return;
    }
    auto route = city->methods.find(method.full_path);
    if (route != city->methods.end()) {
      ticket = RenderedCache::TicketFor(table, route->second.instance->writes(), now);
    }
  }

  // A form with files (multipart.h) becomes the JSON body it stands for, within the route's
  // upload limits.
  std::string form_json;
  const bool form = IsMultipartForm(request.Header("content-type"));
  if (form) {
    auto limits = UploadRoutes().find(method.full_path);
    const google::protobuf::FieldDescriptor* body_field =
        binding->body.empty() || binding->body == "*"
            ? nullptr
            : method.descriptor->input_type()->FindFieldByName(binding->body);
    if (limits == UploadRoutes().end() || body_field == nullptr ||
        body_field->message_type() == nullptr) {
      HttpResponse r = JsonError(
          GatewayError(grpc::StatusCode::INVALID_ARGUMENT,
                       absl::StrCat(request.method, " ", path,
                                    " takes no multipart/form-data; send JSON (application/json)"),
                       "FORM_NOT_ACCEPTED", {{"method", method.full_path}}),
          415);
      r.headers.insert(r.headers.end(), cors.begin(), cors.end());
      respond(std::move(r));
      return;
    }
    absl::StatusOr<std::vector<FormPart>> parts =
        ParseMultipartForm(request.Header("content-type"), request.body, limits->second);
    absl::StatusOr<std::string> json =
        parts.ok() ? FormToJson(*parts, body_field->message_type(), binding->body)
                   : absl::StatusOr<std::string>(parts.status());
    if (!json.ok()) {
      const bool too_large = json.status().code() == absl::StatusCode::kResourceExhausted;
      HttpResponse r = JsonError(
          GatewayError(static_cast<grpc::StatusCode>(json.status().code()),
                       std::string(json.status().message()),
                       too_large ? "UPLOAD_TOO_LARGE" : "FORM_INVALID",
                       {{"method", method.full_path},
                        {"max_files", std::to_string(limits->second.max_files)},
                        {"max_file_bytes", std::to_string(limits->second.max_file_bytes)}}),
          too_large ? 413 : 400);
      r.headers.insert(r.headers.end(), cors.begin(), cors.end());
      respond(std::move(r));
      return;
    }
    form_json = *std::move(json);
  }

  // The request message: body first, then path variables and query parameters on top.
  // Accept-Language stands in for a language_code the client did not send.
  std::string query_used =
      QueryWithAcceptLanguage(*binding, query, request.Header("accept-language"));
  if (event_stream) {
    query_used =
        QueryWithLastEventId(*method.descriptor, query_used, request.Header("last-event-id"));
  }
  absl::StatusOr<std::string> bytes =
      BuildRequest(*binding, variables, query_used, form ? form_json : request.body);
  if (!bytes.ok()) {
    fail(GatewayError(static_cast<grpc::StatusCode>(bytes.status().code()),
                      std::string(bytes.status().message()), "REQUEST_NOT_UNDERSTOOD",
                      {{"method", method.full_path}}));
    return;
  }

  auto exchange = std::make_shared<Exchange>();
  exchange->table = table;
  exchange->binding = binding;
  exchange->cors = std::move(cors);
  if (UsesAcceptLanguage(*binding)) exchange->cors.push_back({"Vary", "Accept-Language"});
  exchange->respond = std::move(respond);
  exchange->personal = !request.Header("authorization").empty();
  for (const char* name : {"if-none-match", "accept-encoding"}) {
    if (std::string v = request.Header(name); !v.empty()) exchange->conditions.headers[name] = v;
  }
  if (cacheable && ticket.writes != nullptr) {
    exchange->cache = &cache_;
    exchange->cache_key = std::move(cache_key);
    exchange->ticket = std::move(ticket);
  }
  grpc::Slice slice(*bytes);
  exchange->request = grpc::ByteBuffer(&slice, 1);
  auto add_metadata = [&](grpc::ClientContext* context) {
    context->AddMetadata("x-civitas-city", city->config.id);
    if (std::string auth = request.Header("authorization"); !auth.empty()) {
      context->AddMetadata("authorization", auth);
    }
    if (std::string id = request.Header("x-request-id"); !id.empty()) {
      context->AddMetadata("x-request-id", id);
    }
    // Who the HTTP client is, for the write-rate and live-stream limits (the in-process call's
    // own peer is the gateway itself). Believed only on the in-process channel (see the
    // dispatcher).
    if (!request.peer.empty()) context->AddMetadata("x-civitas-http-peer", request.peer);
    if (std::string real_ip = request.Header("x-real-ip"); !real_ip.empty()) {
      context->AddMetadata("x-real-ip", real_ip.substr(0, 64));
    }
  };
  if (event_stream) {
    // No deadline: the stream lives until the client goes away or the gateway ends it.
    EventStreamCall call;
    call.context = std::make_unique<grpc::ClientContext>();
    add_metadata(call.context.get());
    call.request = std::move(exchange->request);
    call.method = method.full_path;
    call.output = method.descriptor->output_type();
    call.keep_alive = table;
    call.headers = std::move(exchange->cors);
    call.respond = std::move(exchange->respond);
    StartEventStream(&stub_, std::move(call));
    return;
  }
  // A backup of a big city takes minutes; a JSON call's answer comes within 30 s.
  exchange->context.set_deadline(std::chrono::system_clock::now() +
                                 std::chrono::seconds(collect_stream ? 900 : 30));
  add_metadata(&exchange->context);
  if (collect_stream) {
    (new StreamToArray(exchange))->Start(&stub_, method.full_path);
    return;
  }
  stub_.UnaryCall(
      &exchange->context, method.full_path, grpc::StubOptions(), &exchange->request,
      &exchange->response, [exchange](grpc::Status status) {
        auto finish = [&](HttpResponse r) {
          r.headers.insert(r.headers.end(), exchange->cors.begin(), exchange->cors.end());
          exchange->respond(std::move(r));
        };
        if (!status.ok()) {
          HttpResponse r = JsonError(status);  // with the call's ErrorInfo and RetryInfo
          // A write-rate limit says when to come back (trailing metadata "retry-after").
          const auto& trailers = exchange->context.GetServerTrailingMetadata();
          if (auto it = trailers.find("retry-after"); it != trailers.end()) {
            r.headers.push_back({"Retry-After", std::string(it->second.data(), it->second.size())});
          }
          finish(std::move(r));
          return;
        }
        const MethodInfo& m = *exchange->binding->method;
        std::string out_bytes;
        std::vector<grpc::Slice> slices;
        if (!exchange->response.Dump(&slices).ok()) {
          finish(JsonError(GatewayError(grpc::StatusCode::INTERNAL, "unreadable response",
                                        "MODULE_BROKEN_RESPONSE")));
          return;
        }
        for (const grpc::Slice& s : slices) {
          out_bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
        }
        if (m.descriptor->output_type()->full_name() == "google.api.HttpBody") {
          google::api::HttpBody body;
          if (!body.ParseFromString(out_bytes)) {
            finish(JsonError(GatewayError(grpc::StatusCode::INTERNAL,
                                          "the module sent a broken HttpBody",
                                          "MODULE_BROKEN_RESPONSE")));
            return;
          }
          HttpResponse r{
              200,
              body.content_type().empty() ? "application/octet-stream" : body.content_type(),
              body.data(),
              {}};
          // Feeds, calendars and photos: readers poll them; five minutes of reuse is fine.
          finish(exchange->Conclude(std::move(r), 300));
          return;
        }
        // Parsed once (which checks the module's bytes), then printed by JsonCodec, the whole
        // answer or the field that response_body names.
        const pb::Descriptor* type = m.descriptor->output_type();
        const JsonCodec& codec = JsonCodec::Of(type);
        // On an arena sized for the answer: the page's strings and messages are one allocation.
        pb::ArenaOptions arena_options;
        arena_options.start_block_size = std::clamp<size_t>(4 * out_bytes.size(), 1024, 1 << 20);
        arena_options.max_block_size = 1 << 20;
        pb::Arena arena(arena_options);
        pb::Message* response = codec.New(type, &arena);
        const pb::Message* shown = response;
        bool printable = response->ParsePartialFromString(out_bytes);
        if (printable && !exchange->binding->response_body.empty()) {
          const pb::FieldDescriptor* f = type->FindFieldByName(exchange->binding->response_body);
          if (f && f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE && !f->is_repeated()) {
            shown = &response->GetReflection()->GetMessage(*response, f);
          }
        }
        std::string json;
        json.reserve(2 * out_bytes.size() + 64);  // field names and quotes: about twice the wire
        if (!printable || !codec.Print(*shown, &json).ok()) {
          finish(JsonError(GatewayError(grpc::StatusCode::INTERNAL,
                                        "the module sent a broken response",
                                        "MODULE_BROKEN_RESPONSE")));
          return;
        }
        json.push_back('\n');
        finish(exchange->Conclude(HttpResponse{200, kJson, std::move(json), {}},
                                  PublicMaxAgeSeconds(m.full_path)));
      });
}

}  // namespace civitas::gateway
