#include "services/gateway/appconfig/appconfig_edit.h"

#include <algorithm>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace civitas::gateway::appconfig {

namespace {

// What an admin writes: every field but the output-only ones.
const std::vector<std::string>& WritableFields() {
  static const std::vector<std::string> kFields = {
      "display_name",    "default_language", "languages",
      "time_zone",       "map_area",         "theme",
      "navigation",      "features",         "onboarding",
      "legal",           "contact",          "min_supported_version",
      "deep_link_scheme"};
  return kFields;
}

}  // namespace

ac::AppConfig DefaultAppConfig(const CityConfig& city) {
  ac::AppConfig c;
  c.set_name("appconfig");
  c.set_display_name(city.display_name.empty() ? city.id : city.display_name);
  c.set_default_language(city.default_language);
  c.add_languages(city.default_language);
  c.set_time_zone(city.time_zone);
  c.set_etag(EtagOf(0));
  c.set_version(0);
  return c;
}

std::string EtagOf(int64_t version) { return absl::StrCat("W/\"", version, "\""); }

std::optional<int64_t> VersionOfEtag(const std::string& etag) {
  absl::string_view s = etag;
  if (!absl::ConsumePrefix(&s, "W/\"") || !absl::ConsumeSuffix(&s, "\"") || s.empty() ||
      s.size() > 19 ||
      !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  int64_t v = 0;
  if (!absl::SimpleAtoi(s, &v)) return std::nullopt;
  return v;
}

ac::AppConfig Answer(const ac::AppConfigVersion& stored) {
  ac::AppConfig c = stored.app_config();
  c.set_name("appconfig");
  c.set_version(stored.version());
  c.set_etag(EtagOf(stored.version()));
  *c.mutable_update_time() = stored.create_time();
  return c;
}

void ServedModules(const CityRoutes& city, ac::AppConfig* config, ModuleScreens* screens) {
  std::vector<const ModuleStatus*> served;
  for (const ModuleStatus& m : city.modules) {
    if (m.module != nullptr && m.error.empty()) served.push_back(&m);
  }
  std::sort(served.begin(), served.end(), [](const ModuleStatus* a, const ModuleStatus* b) {
    return a->module_id < b->module_id;
  });
  for (const ModuleStatus* m : served) {
    const std::vector<std::string> ids = ScreensOf(m->module_id);
    if (config != nullptr) {
      ac::EnabledModule* out = config->add_modules();
      out->set_module_id(m->module_id);
      out->set_version(m->module->version());
      for (const std::string& s : ids) out->add_screens(s);
      for (const std::string& s : m->services) out->add_services(s);
    }
    if (screens != nullptr) (*screens)[m->module_id].insert(ids.begin(), ids.end());
  }
}

std::optional<Refusal> ApplyUpdate(const ac::AppConfig& update,
                                   const google::protobuf::FieldMask& mask,
                                   ac::AppConfig* current) {
  std::vector<std::string> paths(mask.paths().begin(), mask.paths().end());
  if (paths.empty()) paths = WritableFields();
  const google::protobuf::Descriptor* d = ac::AppConfig::descriptor();
  const google::protobuf::Reflection* r = ac::AppConfig::GetReflection();
  for (const std::string& path : paths) {
    const auto& writable = WritableFields();
    if (std::find(writable.begin(), writable.end(), path) == writable.end()) {
      return Refusal{grpc::StatusCode::INVALID_ARGUMENT, "APP_CONFIG_INVALID", "update_mask",
                     absl::StrCat("update_mask may name ", absl::StrJoin(writable, ", "), "; got '",
                                  path.substr(0, 64), "'")};
    }
    const google::protobuf::FieldDescriptor* f = d->FindFieldByName(path);
    r->ClearField(current, f);
    if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(update, f); ++i) {
        if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
          r->AddMessage(current, f)->CopyFrom(r->GetRepeatedMessage(update, f, i));
        } else {
          r->AddString(current, f, r->GetRepeatedString(update, f, i));
        }
      }
    } else if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
      if (r->HasField(update, f)) r->MutableMessage(current, f)->CopyFrom(r->GetMessage(update, f));
    } else {
      r->SetString(current, f, r->GetString(update, f));
    }
  }
  return std::nullopt;
}

}  // namespace civitas::gateway::appconfig
