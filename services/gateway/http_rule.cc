#include "services/gateway/http_rule.h"

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "civitas/json.h"
#include "civitas/text.h"
#include "google/api/annotations.pb.h"
#include "services/gateway/http_caching.h"
#include "services/gateway/json_codec.h"

namespace civitas::gateway {
namespace {

namespace pb = google::protobuf;

std::string JsonString(absl::string_view s) {
  return civitas::JsonQuote(std::string_view(s.data(), s.size()));
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
  const JsonCodec& codec = JsonCodec::Of(method->input_type());
  std::unique_ptr<pb::Message> message = codec.New(method->input_type());
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
    absl::Status parsed = codec.Parse(body.empty() ? "{}" : body, target, json_options);
    if (!parsed.ok() && target != message.get()) {
      // The gRPC request's shape, {"report": {...}} (with the request's other fields, such as
      // "update_mask", beside it), is accepted too: a body that is not the inner message but is
      // the whole request with the body field set.
      std::unique_ptr<pb::Message> whole(message->New());
      std::vector<const pb::FieldDescriptor*> set;
      if (codec.Parse(body, whole.get(), json_options).ok()) {
        whole->GetReflection()->ListFields(*whole, &set);
      }
      if (std::any_of(set.begin(), set.end(), [&](const pb::FieldDescriptor* field) {
            return field->name() == binding.body;
          })) {
        message = std::move(whole);
        parsed = absl::OkStatus();
      }
    }
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("the body is not a valid ",
                                                     target->GetDescriptor()->full_name(),
                                                     " in JSON: ", parsed.message()));
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

HttpBindingIndex::HttpBindingIndex(const std::vector<const LoadedModule*>& modules) {
  for (const LoadedModule* module : modules) {
    absl::StatusOr<std::vector<HttpBinding>> made = BindingsOf(*module);
    if (!made.ok()) continue;
    for (HttpBinding& b : *made) bindings_.push_back(std::move(b));
  }
  for (size_t i = 0; i < bindings_.size(); ++i) {
    buckets_[absl::StrJoin(bindings_[i].path.LeadingLiterals(kDepth), "/")].push_back(i);
  }
}

std::vector<const HttpBinding*> HttpBindingIndex::Candidates(absl::string_view path) const {
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  // The segments a template's literals are compared with; a verb (":publish") is not part of
  // the path's last segment, as in PathTemplate::Match.
  std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
  if (absl::string_view& last = parts.back(); last.rfind(':') != absl::string_view::npos) {
    last = last.substr(0, last.rfind(':'));
  }
  std::vector<size_t> found;
  std::string key;
  for (size_t depth = 0; depth <= std::min(parts.size(), kDepth); ++depth) {
    if (depth > 0) absl::StrAppend(&key, depth > 1 ? "/" : "", parts[depth - 1]);
    if (auto it = buckets_.find(key); it != buckets_.end()) {
      found.insert(found.end(), it->second.begin(), it->second.end());
    }
  }
  std::sort(found.begin(), found.end());
  std::vector<const HttpBinding*> out;
  out.reserve(found.size());
  for (size_t i : found) out.push_back(&bindings_[i]);
  return out;
}

std::string PreferredLanguage(absl::string_view header) {
  std::string best;
  double best_q = 0;
  for (const WeightedToken& t : WeightedTokens(header)) {
    const absl::string_view tag = t.token;
    const bool plausible = !tag.empty() && tag.size() <= 35 && tag != "*" &&
                           std::all_of(tag.begin(), tag.end(),
                                       [](char c) { return absl::ascii_isalnum(c) || c == '-'; });
    if (plausible && t.q > best_q) {
      best = std::string(tag);
      best_q = t.q;
    }
  }
  return best;
}

bool UsesAcceptLanguage(const HttpBinding& binding) {
  if (!binding.body.empty() || binding.descriptor == nullptr) return false;
  const google::protobuf::FieldDescriptor* field =
      binding.descriptor->input_type()->FindFieldByName("language_code");
  return field != nullptr && field->type() == google::protobuf::FieldDescriptor::TYPE_STRING &&
         !field->is_repeated();
}

std::string QueryWithAcceptLanguage(const HttpBinding& binding, const std::string& query,
                                    absl::string_view accept_language) {
  if (accept_language.empty() || !UsesAcceptLanguage(binding)) return query;
  for (absl::string_view param : absl::StrSplit(query, '&')) {
    if (absl::StartsWith(param, "language_code=") || absl::StartsWith(param, "languageCode=")) {
      return query;
    }
  }
  const std::string language = PreferredLanguage(accept_language);
  if (language.empty()) return query;
  return query.empty() ? "language_code=" + language : query + "&language_code=" + language;
}

}  // namespace civitas::gateway
