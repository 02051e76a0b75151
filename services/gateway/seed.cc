#include "services/gateway/seed.h"

#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <map>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
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

// "@now", "@now+2d", "@now-90m" (units d, h, m) and "@day+3T18:30" (that wall-clock time in the
// city's time zone, days from today) become RFC 3339 times, so sample data stays current.
absl::StatusOr<std::string> RelativeTime(absl::string_view spec, const absl::TimeZone& zone,
                                         absl::Time now) {
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", spec, "' is not a relative time like @now, @now+2d, @now-3h or @day+1T18:30"));
  };
  auto offset = [&](absl::string_view digits, int sign) -> std::optional<int64_t> {
    int64_t n = 0;
    if (!absl::SimpleAtoi(digits, &n) || n < 0 || n > 100000) return std::nullopt;
    return sign * n;
  };
  if (absl::ConsumePrefix(&spec, "@now")) {
    if (spec.empty()) return absl::FormatTime(absl::RFC3339_sec, now, absl::UTCTimeZone());
    const int sign = spec.front() == '-' ? -1 : spec.front() == '+' ? 1 : 0;
    if (sign == 0 || spec.size() < 3) return bad();
    const char unit = spec.back();
    std::optional<int64_t> n = offset(spec.substr(1, spec.size() - 2), sign);
    if (!n) return bad();
    absl::Duration d = unit == 'd'   ? absl::Hours(24 * *n)
                       : unit == 'h' ? absl::Hours(*n)
                       : unit == 'm' ? absl::Minutes(*n)
                                     : absl::ZeroDuration();
    if (d == absl::ZeroDuration() && *n != 0) return bad();
    return absl::FormatTime(absl::RFC3339_sec, now + d, absl::UTCTimeZone());
  }
  if (absl::ConsumePrefix(&spec, "@day")) {
    const size_t t = spec.find('T');
    if (t == absl::string_view::npos || t < 2 || (spec[0] != '+' && spec[0] != '-')) return bad();
    std::optional<int64_t> days = offset(spec.substr(1, t - 1), spec[0] == '-' ? -1 : 1);
    int hour = 0, minute = 0;
    absl::string_view hm = spec.substr(t + 1);
    if (!days || hm.size() != 5 || hm[2] != ':' || !absl::SimpleAtoi(hm.substr(0, 2), &hour) ||
        !absl::SimpleAtoi(hm.substr(3, 2), &minute) || hour > 23 || minute > 59) {
      return bad();
    }
    const absl::CivilDay today = absl::ToCivilDay(now, zone);
    const absl::CivilDay day = today + *days;
    absl::Time at =
        absl::FromCivil(absl::CivilMinute(day.year(), day.month(), day.day(), hour, minute), zone);
    return absl::FormatTime(absl::RFC3339_sec, at, absl::UTCTimeZone());
  }
  return std::string(spec);
}

absl::Status ResolveRelativeTimes(google::protobuf::Value* value, const absl::TimeZone& zone,
                                  absl::Time now, const std::map<std::string, std::string>& names) {
  if (value->has_string_value() && absl::StartsWith(value->string_value(), "@ref:")) {
    auto it = names.find(value->string_value().substr(5));
    if (it == names.end()) {
      return absl::InvalidArgumentError(absl::StrCat("'", value->string_value(),
                                                     "' names no earlier line with \"as\": \"",
                                                     value->string_value().substr(5), "\""));
    }
    value->set_string_value(it->second);
  } else if (value->has_string_value() && absl::StartsWith(value->string_value(), "@")) {
    absl::StatusOr<std::string> t = RelativeTime(value->string_value(), zone, now);
    if (!t.ok()) return t.status();
    value->set_string_value(*t);
  } else if (value->has_struct_value()) {
    for (auto& [key, field] : *value->mutable_struct_value()->mutable_fields()) {
      if (absl::Status s = ResolveRelativeTimes(&field, zone, now, names); !s.ok()) return s;
    }
  } else if (value->has_list_value()) {
    for (auto& item : *value->mutable_list_value()->mutable_values()) {
      if (absl::Status s = ResolveRelativeTimes(&item, zone, now, names); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunSeed(const CityRoutes& city, const std::string& jsonl, const std::string& source) {
  int line_no = 0;
  absl::TimeZone zone;
  if (!absl::LoadTimeZone(city.config.time_zone, &zone)) zone = absl::UTCTimeZone();
  const absl::Time now = absl::Now();
  std::map<std::string, std::string> names;  // "as" label -> the created resource's name
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
    if (auto r = entry.mutable_fields()->find("request"); r != entry.mutable_fields()->end()) {
      if (absl::Status s = ResolveRelativeTimes(&r->second, zone, now, names); !s.ok()) {
        return fail(s.message());
      }
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
    if (auto as = f.find("as"); as != f.end()) {
      std::unique_ptr<google::protobuf::Message> response(
          factory.GetPrototype(route.method->descriptor->output_type())->New());
      const google::protobuf::FieldDescriptor* name =
          response->GetDescriptor()->FindFieldByName("name");
      if (!response->ParseFromString(call.reply()) || name == nullptr ||
          name->type() != google::protobuf::FieldDescriptor::TYPE_STRING) {
        return fail("\"as\" needs a response with a name field");
      }
      names[as->second.string_value()] = response->GetReflection()->GetString(*response, name);
    }
  }
  return absl::OkStatus();
}

}  // namespace civitas::gateway
