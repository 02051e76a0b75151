#include "services/gateway/http_transcoder.h"

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/byte_buffer.h>

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

bool PercentDecode(absl::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int v = 0;
      for (int k = 1; k <= 2; ++k) {
        char h = in[i + k];
        int d = h >= '0' && h <= '9'   ? h - '0'
                : h >= 'a' && h <= 'f' ? h - 'a' + 10
                : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                       : -1;
        if (d < 0) return false;
        v = v * 16 + d;
      }
      out->push_back(static_cast<char>(v));
      i += 2;
    } else {
      out->push_back(c);
    }
  }
  return true;
}

// Sets `path` ("article.name", proto or JSON names) in `message` from the text of a path
// variable or query parameter. Message-typed fields (Timestamp, FieldMask, ...) take the text as
// their JSON string form.
absl::Status SetFieldFromText(pb::Message* message, const std::string& path,
                              const std::string& text) {
  std::vector<std::string> parts = absl::StrSplit(path, '.');
  pb::Message* m = message;
  for (size_t i = 0; i < parts.size(); ++i) {
    const pb::Descriptor* d = m->GetDescriptor();
    const pb::FieldDescriptor* f = d->FindFieldByName(parts[i]);
    if (!f) f = d->FindFieldByCamelcaseName(parts[i]);
    if (!f) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown parameter '", path, "': ", d->full_name(), " has no field '", parts[i], "'"));
    }
    const pb::Reflection* r = m->GetReflection();
    const bool last = i + 1 == parts.size();
    if (!last) {
      if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE || f->is_repeated()) {
        return absl::InvalidArgumentError(
            absl::StrCat("parameter '", path, "': '", parts[i], "' is not a message field"));
      }
      m = r->MutableMessage(m, f);
      continue;
    }
    auto bad = [&](absl::string_view what) {
      return absl::InvalidArgumentError(
          absl::StrCat("parameter '", path, "': '", text, "' is not ", what));
    };
    const bool rep = f->is_repeated();
    if (f->type() == pb::FieldDescriptor::TYPE_STRING && !civitas::Utf8Length(text)) {
      return bad("valid UTF-8");
    }
    switch (f->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_STRING:
        rep ? r->AddString(m, f, text) : r->SetString(m, f, text);
        break;
      case pb::FieldDescriptor::CPPTYPE_INT32: {
        int32_t v;
        if (!absl::SimpleAtoi(text, &v)) return bad("a 32-bit integer");
        rep ? r->AddInt32(m, f, v) : r->SetInt32(m, f, v);
        break;
      }
      case pb::FieldDescriptor::CPPTYPE_INT64: {
        int64_t v;
        if (!absl::SimpleAtoi(text, &v)) return bad("an integer");
        rep ? r->AddInt64(m, f, v) : r->SetInt64(m, f, v);
        break;
      }
      case pb::FieldDescriptor::CPPTYPE_UINT32: {
        uint32_t v;
        if (!absl::SimpleAtoi(text, &v)) return bad("an unsigned integer");
        rep ? r->AddUInt32(m, f, v) : r->SetUInt32(m, f, v);
        break;
      }
      case pb::FieldDescriptor::CPPTYPE_UINT64: {
        uint64_t v;
        if (!absl::SimpleAtoi(text, &v)) return bad("an unsigned integer");
        rep ? r->AddUInt64(m, f, v) : r->SetUInt64(m, f, v);
        break;
      }
      case pb::FieldDescriptor::CPPTYPE_DOUBLE: {
        double v;
        if (!absl::SimpleAtod(text, &v)) return bad("a number");
        rep ? r->AddDouble(m, f, v) : r->SetDouble(m, f, v);
        break;
      }
      case pb::FieldDescriptor::CPPTYPE_FLOAT: {
        float v;
        if (!absl::SimpleAtof(text, &v)) return bad("a number");
        rep ? r->AddFloat(m, f, v) : r->SetFloat(m, f, v);
        break;
      }
      case pb::FieldDescriptor::CPPTYPE_BOOL: {
        bool v;
        if (text == "true" || text == "1") {
          v = true;
        } else if (text == "false" || text == "0") {
          v = false;
        } else {
          return bad("true or false");
        }
        rep ? r->AddBool(m, f, v) : r->SetBool(m, f, v);
        break;
      }
      case pb::FieldDescriptor::CPPTYPE_ENUM: {
        const pb::EnumValueDescriptor* e = f->enum_type()->FindValueByName(text);
        int number;
        if (!e && absl::SimpleAtoi(text, &number)) e = f->enum_type()->FindValueByNumber(number);
        if (!e) {
          std::vector<std::string> names;
          for (int k = 0; k < f->enum_type()->value_count(); ++k) {
            names.push_back(f->enum_type()->value(k)->name());
          }
          return bad(absl::StrCat("one of ", absl::StrJoin(names, ", ")));
        }
        rep ? r->AddEnum(m, f, e) : r->SetEnum(m, f, e);
        break;
      }
      case pb::FieldDescriptor::CPPTYPE_MESSAGE: {
        pb::Message* sub = rep ? r->AddMessage(m, f) : r->MutableMessage(m, f);
        auto s = pb::util::JsonStringToMessage(JsonString(text), sub);
        if (!s.ok()) {
          return bad(absl::StrCat("a valid ", f->message_type()->full_name(), " (",
                                  s.message().as_string(), ")"));
        }
        break;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string ScrubUtf8(absl::string_view in) {
  std::string out;
  out.reserve(in.size());
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const size_t n = in.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    size_t len = 0;
    uint32_t min = 0, cp = 0;
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, min = 0x80, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, min = 0x800, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, min = 0x10000, cp = c & 0x07;
    }
    bool ok = len > 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8 either.
    ok = ok && cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    if (ok) {
      out.append(in.data() + i, len);
      i += len;
    } else {
      out.append("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER, for one bad byte
      ++i;
    }
  }
  return out;
}

HttpResponse JsonError(grpc::StatusCode code, const std::string& message, int http_status) {
  const int http = http_status ? http_status : HttpStatusOf(code);
  HttpResponse r;
  r.status = http;
  r.content_type = kJson;
  r.body = absl::StrCat("{\"error\":{\"code\":", http, ",\"status\":\"", common::CodeName(code),
                        "\",\"message\":", JsonString(ScrubUtf8(message)), "}}\n");
  return r;
}

absl::StatusOr<PathTemplate> PathTemplate::Parse(const std::string& text) {
  PathTemplate t;
  t.text_ = text;
  if (text.empty() || text[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat("path template '", text, "' must start with /"));
  }
  std::string rest = text.substr(1);
  // A verb follows the last ':' outside braces.
  int depth = 0;
  size_t verb_at = std::string::npos;
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == '{') ++depth;
    if (rest[i] == '}') --depth;
    if (rest[i] == ':' && depth == 0) verb_at = i;
  }
  if (verb_at != std::string::npos) {
    t.verb_ = rest.substr(verb_at + 1);
    rest = rest.substr(0, verb_at);
  }
  auto add_segment = [&](absl::string_view s) -> absl::Status {
    if (s == "*") {
      t.segments_.push_back({Segment::kStar, ""});
    } else if (s == "**") {
      t.segments_.push_back({Segment::kDoubleStar, ""});
    } else if (s.empty() || absl::StrContains(s, "{") || absl::StrContains(s, "}")) {
      return absl::InvalidArgumentError(
          absl::StrCat("path template '", text, "' has a bad segment '", s, "'"));
    } else {
      t.segments_.push_back({Segment::kLiteral, std::string(s)});
    }
    return absl::OkStatus();
  };
  size_t i = 0;
  while (i <= rest.size()) {
    if (i < rest.size() && rest[i] == '{') {
      size_t close = rest.find('}', i);
      if (close == std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat("path template '", text, "' has an open {"));
      }
      std::string inner = rest.substr(i + 1, close - i - 1);
      std::string field = inner, pattern = "*";
      if (size_t eq = inner.find('='); eq != std::string::npos) {
        field = inner.substr(0, eq);
        pattern = inner.substr(eq + 1);
      }
      Variable v{field, t.segments_.size(), 0};
      for (absl::string_view s : absl::StrSplit(pattern, '/')) {
        if (absl::Status st = add_segment(s); !st.ok()) return st;
      }
      v.end = t.segments_.size();
      t.variables_.push_back(v);
      i = close + 1;
    } else {
      size_t slash = rest.find('/', i);
      if (slash == std::string::npos) slash = rest.size();
      if (slash > i || i < rest.size()) {
        if (absl::Status st = add_segment(rest.substr(i, slash - i)); !st.ok()) return st;
      }
      i = slash;
    }
    if (i >= rest.size()) break;
    if (rest[i] != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("path template '", text, "': expected '/' at offset ", i + 1));
    }
    ++i;
  }
  for (size_t k = 0; k + 1 < t.segments_.size(); ++k) {
    if (t.segments_[k].kind == Segment::kDoubleStar) {
      return absl::InvalidArgumentError(
          absl::StrCat("path template '", text, "': ** may only be the last segment"));
    }
  }
  return t;
}

bool PathTemplate::Match(const std::string& path,
                         std::map<std::string, std::string>* variables) const {
  if (path.empty() || path[0] != '/') return false;
  std::string rest = path.substr(1);
  if (!verb_.empty()) {
    const std::string suffix = ":" + verb_;
    if (!absl::EndsWith(rest, suffix)) return false;
    rest.resize(rest.size() - suffix.size());
  } else if (size_t colon = rest.rfind(':');
             colon != std::string::npos && rest.find('/', colon) == std::string::npos) {
    return false;  // the request names a verb this template does not have
  }
  std::vector<std::string> parts = absl::StrSplit(rest, '/');
  std::vector<std::string> matched(segments_.size());
  size_t p = 0;
  for (size_t s = 0; s < segments_.size(); ++s) {
    const Segment& seg = segments_[s];
    if (seg.kind == Segment::kDoubleStar) {
      if (p >= parts.size()) return false;
      std::vector<std::string> tail(parts.begin() + static_cast<long>(p), parts.end());
      matched[s] = absl::StrJoin(tail, "/");
      p = parts.size();
      continue;
    }
    if (p >= parts.size() || parts[p].empty()) return false;
    if (seg.kind == Segment::kLiteral && parts[p] != seg.literal) return false;
    matched[s] = parts[p++];
  }
  if (p != parts.size()) return false;
  for (const Variable& v : variables_) {
    std::vector<std::string> pieces;
    for (size_t s = v.begin; s < v.end; ++s) {
      std::string decoded;
      if (!PercentDecode(matched[s], false, &decoded)) return false;
      pieces.push_back(decoded);
    }
    (*variables)[v.field_path] = absl::StrJoin(pieces, "/");
  }
  return true;
}

absl::Status RulesOf(const google::protobuf::MethodDescriptor* descriptor, const MethodInfo* method,
                     std::vector<HttpBinding>* out) {
  // Re-parsed with the generated extension linked in, whatever the pool saw.
  pb::MethodOptions options;
  if (!options.ParseFromString(descriptor->options().SerializeAsString())) return absl::OkStatus();
  if (!options.HasExtension(google::api::http)) return absl::OkStatus();
  const google::api::HttpRule& top = options.GetExtension(google::api::http);
  std::vector<const google::api::HttpRule*> rules = {&top};
  for (const auto& extra : top.additional_bindings()) rules.push_back(&extra);
  for (const google::api::HttpRule* rule : rules) {
    HttpBinding b{"", PathTemplate(), rule->body(), rule->response_body(), method, descriptor};
    std::string path;
    switch (rule->pattern_case()) {
      case google::api::HttpRule::kGet:
        b.verb = "GET", path = rule->get();
        break;
      case google::api::HttpRule::kPost:
        b.verb = "POST", path = rule->post();
        break;
      case google::api::HttpRule::kPatch:
        b.verb = "PATCH", path = rule->patch();
        break;
      case google::api::HttpRule::kPut:
        b.verb = "PUT", path = rule->put();
        break;
      case google::api::HttpRule::kDelete:
        b.verb = "DELETE", path = rule->delete_();
        break;
      case google::api::HttpRule::kCustom:
        b.verb = rule->custom().kind(), path = rule->custom().path();
        break;
      default:
        continue;
    }
    absl::StatusOr<PathTemplate> parsed = PathTemplate::Parse(path);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(descriptor->full_name(), ": ", parsed.status().message()));
    }
    b.path = *std::move(parsed);
    out->push_back(std::move(b));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<HttpBinding>> BindingsOf(const LoadedModule& module) {
  std::vector<HttpBinding> out;
  for (const ServiceInfo& service : module.services()) {
    for (const MethodInfo& method : service.methods) {
      if (absl::Status s = RulesOf(method.descriptor, &method, &out); !s.ok()) return s;
    }
  }
  return out;
}

absl::StatusOr<std::string> BuildRequest(const HttpBinding& binding,
                                         const std::map<std::string, std::string>& variables,
                                         const std::string& query, const std::string& body) {
  const google::protobuf::MethodDescriptor* method = binding.descriptor;
  pb::DynamicMessageFactory factory(method->file()->pool());
  std::unique_ptr<pb::Message> message(factory.GetPrototype(method->input_type())->New());
  pb::util::JsonParseOptions json_options;
  json_options.ignore_unknown_fields = false;
  if (!binding.body.empty()) {
    pb::Message* target = message.get();
    if (binding.body != "*") {
      const pb::FieldDescriptor* f = message->GetDescriptor()->FindFieldByName(binding.body);
      if (!f || f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE || f->is_repeated()) {
        return absl::InternalError(absl::StrCat(method->full_name(), ": body field '", binding.body,
                                                "' is not a message field"));
      }
      target = message->GetReflection()->MutableMessage(message.get(), f);
    }
    auto parsed = pb::util::JsonStringToMessage(body.empty() ? "{}" : body, target, json_options);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("the body is not a valid ",
                                                     target->GetDescriptor()->full_name(),
                                                     " in JSON: ", parsed.message().as_string()));
    }
  }
  for (const auto& [field, value] : variables) {
    if (absl::Status s = SetFieldFromText(message.get(), field, value); !s.ok()) return s;
  }
  if (binding.body != "*" && !query.empty()) {
    for (absl::string_view pair : absl::StrSplit(query, '&', absl::SkipEmpty())) {
      const size_t eq = pair.find('=');
      std::string key, value;
      if (!PercentDecode(pair.substr(0, eq), true, &key) ||
          !PercentDecode(eq == absl::string_view::npos ? "" : pair.substr(eq + 1), true, &value)) {
        return absl::InvalidArgumentError("the query string has a bad % escape");
      }
      if (variables.contains(key)) continue;  // bound by the path
      if (absl::Status s = SetFieldFromText(message.get(), key, value); !s.ok()) return s;
    }
  }
  std::string bytes;
  if (!message->SerializeToString(&bytes)) {
    return absl::InvalidArgumentError("the request cannot be encoded (invalid UTF-8?)");
  }
  return bytes;
}

std::shared_ptr<const std::vector<HttpBinding>> HttpTranscoder::Bindings(
    const std::shared_ptr<const LoadedModule>& module) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cache_.find(module.get());
  if (it != cache_.end() && it->second.module.lock() == module) return it->second.bindings;
  for (auto i = cache_.begin(); i != cache_.end();) {
    i = i->second.module.expired() ? cache_.erase(i) : std::next(i);
  }
  absl::StatusOr<std::vector<HttpBinding>> made = BindingsOf(*module);
  auto bindings = std::make_shared<const std::vector<HttpBinding>>(
      made.ok() ? *std::move(made) : std::vector<HttpBinding>{});
  cache_[module.get()] = Cached{module, bindings};
  return bindings;
}

namespace {

// One HTTP request in flight as a gRPC call.
struct Exchange {
  grpc::ClientContext context;
  grpc::ByteBuffer request;
  grpc::ByteBuffer response;
  std::shared_ptr<const RouteTable> table;  // keeps the module and its descriptors alive
  const HttpBinding* binding = nullptr;
  std::shared_ptr<const std::vector<HttpBinding>> bindings;
  std::vector<std::pair<std::string, std::string>> cors;
  HttpServer::Respond respond;
};

std::vector<std::pair<std::string, std::string>> CorsHeaders(const CityConfig& city,
                                                             const std::string& origin) {
  if (origin.empty()) return {};
  for (const std::string& allowed : city.cors_origins) {
    if (allowed == "*" || absl::EqualsIgnoreCase(allowed, origin)) {
      return {{"Access-Control-Allow-Origin", allowed == "*" ? "*" : origin},
              {"Vary", "Origin"},
              {"Access-Control-Expose-Headers", "grpc-status, grpc-message"}};
    }
  }
  return {};
}

}  // namespace

absl::Status HttpTranscoder::ServeGatewayService(const std::string& service) {
  const google::protobuf::ServiceDescriptor* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
  if (descriptor == nullptr) {
    return absl::InternalError(absl::StrCat("service ", service, " is not linked in"));
  }
  auto bindings = std::make_shared<std::vector<HttpBinding>>(
      gateway_bindings_ ? *gateway_bindings_ : std::vector<HttpBinding>());
  for (int i = 0; i < descriptor->method_count(); ++i) {
    const google::protobuf::MethodDescriptor* m = descriptor->method(i);
    MethodInfo& info = gateway_methods_.emplace_back();
    info.name = m->name();
    info.full_path = absl::StrCat("/", service, "/", m->name());
    info.kind = m->server_streaming() ? CIVITAS_METHOD_SERVER_STREAMING : CIVITAS_METHOD_UNARY;
    info.required_role = CIVITAS_ROLE_CITIZEN;
    info.service_index = 0;
    info.method_index = static_cast<uint32_t>(i);
    info.descriptor = m;
    if (absl::Status s = RulesOf(m, &info, bindings.get()); !s.ok()) return s;
  }
  gateway_bindings_ = std::move(bindings);
  return absl::OkStatus();
}

void HttpTranscoder::Handle(HttpRequest request, HttpServer::Respond respond) {
  std::shared_ptr<const RouteTable> table = routes_->Get();
  if (!table) {
    respond(JsonError(grpc::StatusCode::UNAVAILABLE, "the gateway is shutting down"));
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
      for (const auto& instance : routes.instances) {
        std::map<std::string, std::string> unused;
        for (const HttpBinding& b : *Bindings(instance->shared_module())) {
          mapped = mapped || b.path.Match(path, &unused);
        }
      }
    }
    respond(mapped ? JsonError(resolved.error_code(), resolved.error_message())
                   : JsonError(grpc::StatusCode::NOT_FOUND,
                               absl::StrCat("no method is mapped to ", path)));
    return;
  }
  const std::string origin = request.Header("origin");
  std::vector<std::pair<std::string, std::string>> cors = CorsHeaders(city->config, origin);

  // Every binding of every module in the city.
  std::vector<std::shared_ptr<const std::vector<HttpBinding>>> all;
  for (const auto& instance : city->instances) all.push_back(Bindings(instance->shared_module()));
  if (gateway_bindings_) all.push_back(gateway_bindings_);
  const bool preflight = request.method == "OPTIONS";
  const std::string verb =
      preflight ? request.Header("access-control-request-method") : request.method;
  const HttpBinding* binding = nullptr;
  std::shared_ptr<const std::vector<HttpBinding>> owner;
  std::map<std::string, std::string> variables;
  std::vector<std::string> allowed_verbs;
  for (const auto& list : all) {
    for (const HttpBinding& b : *list) {
      std::map<std::string, std::string> vars;
      if (!b.path.Match(path, &vars)) continue;
      // A service not routed any more does not answer.
      if (list != gateway_bindings_ && !city->methods.contains(b.method->full_path)) continue;
      allowed_verbs.push_back(b.verb);
      if (b.verb == verb && !binding) {
        binding = &b;
        owner = list;
        variables = std::move(vars);
      }
    }
  }
  if (preflight) {
    if (cors.empty()) {
      respond(JsonError(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat("origin '", origin, "' may not call city '", city->config.id,
                                     "' from a browser (cors_origins)")));
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
  auto fail = [&](grpc::StatusCode code, const std::string& message) {
    HttpResponse r = JsonError(code, message);
    r.headers.insert(r.headers.end(), cors.begin(), cors.end());
    respond(std::move(r));
  };
  if (!binding) {
    if (!allowed_verbs.empty()) {
      HttpResponse r = JsonError(grpc::StatusCode::UNIMPLEMENTED,
                                 absl::StrCat(request.method, " is not mapped for ", path, "; use ",
                                              absl::StrJoin(allowed_verbs, " or ")),
                                 405);
      r.headers.push_back({"Allow", absl::StrJoin(allowed_verbs, ", ")});
      r.headers.insert(r.headers.end(), cors.begin(), cors.end());
      respond(std::move(r));
      return;
    }
    fail(grpc::StatusCode::NOT_FOUND, absl::StrCat("no method of city '", city->config.id,
                                                   "' is mapped to ", request.method, " ", path));
    return;
  }
  const MethodInfo& method = *binding->method;
  if (method.kind != CIVITAS_METHOD_UNARY) {
    fail(grpc::StatusCode::UNIMPLEMENTED,
         absl::StrCat(method.full_path, " streams; call it over gRPC"));
    return;
  }

  // The request message: body first, then path variables and query parameters on top.
  absl::StatusOr<std::string> bytes = BuildRequest(*binding, variables, query, request.body);
  if (!bytes.ok()) {
    fail(static_cast<grpc::StatusCode>(bytes.status().code()),
         std::string(bytes.status().message()));
    return;
  }

  auto exchange = std::make_shared<Exchange>();
  exchange->table = table;
  exchange->binding = binding;
  exchange->bindings = owner;
  exchange->cors = std::move(cors);
  exchange->respond = std::move(respond);
  grpc::Slice slice(*bytes);
  exchange->request = grpc::ByteBuffer(&slice, 1);
  exchange->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  exchange->context.AddMetadata("x-civitas-city", city->config.id);
  if (std::string auth = request.Header("authorization"); !auth.empty()) {
    exchange->context.AddMetadata("authorization", auth);
  }
  if (std::string id = request.Header("x-request-id"); !id.empty()) {
    exchange->context.AddMetadata("x-request-id", id);
  }
  // Who the HTTP client is, for the write-rate limits (the in-process call's own peer is the
  // gateway itself). Believed only on the in-process channel (see the dispatcher).
  if (!request.peer.empty()) exchange->context.AddMetadata("x-civitas-http-peer", request.peer);
  if (std::string real_ip = request.Header("x-real-ip"); !real_ip.empty()) {
    exchange->context.AddMetadata("x-real-ip", real_ip.substr(0, 64));
  }
  stub_.UnaryCall(
      &exchange->context, method.full_path, grpc::StubOptions(), &exchange->request,
      &exchange->response, [exchange](grpc::Status status) {
        auto finish = [&](HttpResponse r) {
          r.headers.insert(r.headers.end(), exchange->cors.begin(), exchange->cors.end());
          exchange->respond(std::move(r));
        };
        if (!status.ok()) {
          HttpResponse r = JsonError(status.error_code(), status.error_message());
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
          finish(JsonError(grpc::StatusCode::INTERNAL, "unreadable response"));
          return;
        }
        for (const grpc::Slice& s : slices) {
          out_bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
        }
        if (m.descriptor->output_type()->full_name() == "google.api.HttpBody") {
          google::api::HttpBody body;
          if (!body.ParseFromString(out_bytes)) {
            finish(JsonError(grpc::StatusCode::INTERNAL, "the module sent a broken HttpBody"));
            return;
          }
          finish(HttpResponse{
              200,
              body.content_type().empty() ? "application/octet-stream" : body.content_type(),
              body.data(),
              {}});
          return;
        }
        pb::DynamicMessageFactory out_factory(m.descriptor->file()->pool());
        std::unique_ptr<pb::Message> response(
            out_factory.GetPrototype(m.descriptor->output_type())->New());
        if (!response->ParseFromString(out_bytes)) {
          finish(JsonError(grpc::StatusCode::INTERNAL, "the module sent a broken response"));
          return;
        }
        const pb::Message* shown = response.get();
        if (!exchange->binding->response_body.empty()) {
          const pb::FieldDescriptor* f =
              response->GetDescriptor()->FindFieldByName(exchange->binding->response_body);
          if (f && f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE && !f->is_repeated()) {
            shown = &response->GetReflection()->GetMessage(*response, f);
          }
        }
        std::string json;
        pb::util::JsonPrintOptions print;
        auto printed = pb::util::MessageToJsonString(*shown, &json, print);
        if (!printed.ok()) {
          finish(JsonError(
              grpc::StatusCode::INTERNAL,
              absl::StrCat("cannot print the response: ", printed.message().as_string())));
          return;
        }
        finish(HttpResponse{200, kJson, json + "\n", {}});
      });
}

}  // namespace civitas::gateway
