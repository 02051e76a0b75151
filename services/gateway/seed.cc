#include "services/gateway/seed.h"

#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "services/auth/token.h"

namespace civitas::gateway {
namespace {

// A call made by the gateway itself on behalf of the seed file.
class SeedCall final : public HostCall {
 public:
  std::optional<std::string> Metadata(std::string_view) const override { return std::nullopt; }
  int64_t DeadlineMicros() const override { return INT64_MAX; }
  bool IsCancelled() const override { return false; }
  int32_t Send(std::string) override { return CIVITAS_OK; }
};

}  // namespace

absl::Status RunSeed(const CityRoutes& city, const std::string& jsonl, const std::string& source) {
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(jsonl, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    auto fail = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(source, ":", line_no, ": ", why));
    };
    google::protobuf::Struct entry;
    if (!google::protobuf::util::JsonStringToMessage(std::string(line), &entry).ok()) {
      return fail("not a JSON object");
    }
    const auto& f = entry.fields();
    auto method_it = f.find("method");
    if (method_it == f.end()) return fail("missing \"method\"");
    auto route_it = city.methods.find(method_it->second.string_value());
    if (route_it == city.methods.end()) {
      return fail(absl::StrCat("method ", method_it->second.string_value(),
                               " is not served in city '", city.config.id, "'"));
    }
    const Route& route = route_it->second;
    Caller caller;
    if (auto s = f.find("subject"); s != f.end()) {
      caller.subject = s->second.string_value();
      caller.roles = CIVITAS_ROLE_BIT(CIVITAS_ROLE_CITIZEN);
    }
    if (auto r = f.find("roles"); r != f.end()) {
      for (const auto& v : r->second.list_value().values()) {
        absl::StatusOr<int> role = auth::ParseRole(v.string_value());
        if (!role.ok()) return fail(role.status().message());
        caller.roles |= CIVITAS_ROLE_BIT(*role);
      }
    }
    std::string request_json = "{}";
    if (auto r = f.find("request"); r != f.end()) {
      request_json.clear();  // the printer appends
      (void)google::protobuf::util::MessageToJsonString(r->second, &request_json);
    }
    google::protobuf::DynamicMessageFactory factory(&route.instance->module().pool());
    std::unique_ptr<google::protobuf::Message> request(
        factory.GetPrototype(route.method->descriptor->input_type())->New());
    auto parsed = google::protobuf::util::JsonStringToMessage(request_json, request.get());
    if (!parsed.ok()) {
      return fail(absl::StrCat("request does not fit ", request->GetTypeName(), ": ",
                               parsed.message().as_string()));
    }
    SeedCall call;
    call.Bind(caller, route.method->kind);
    int32_t code = route.instance->Handle(&call, *route.method, request->SerializeAsString());
    if (code != CIVITAS_OK) {
      return fail(
          absl::StrCat(route.method->full_path, " failed with code ", code, ": ", call.error()));
    }
  }
  return absl::OkStatus();
}

}  // namespace civitas::gateway
