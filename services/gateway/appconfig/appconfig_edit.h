// From stored versions to what AppConfigService answers and back (pure functions, tested in
// appconfig_rules_test.cc): the default of a city without a stored configuration, the etag of a
// version, the modules a city serves with their screens, and an update applied under its mask.
#ifndef CIVITAS_GATEWAY_APPCONFIG_APPCONFIG_EDIT_H_
#define CIVITAS_GATEWAY_APPCONFIG_APPCONFIG_EDIT_H_

#include <optional>
#include <string>

#include "civitas/appconfig/v1/appconfig.pb.h"
#include "google/protobuf/field_mask.pb.h"
#include "services/gateway/appconfig/appconfig_rules.h"
#include "services/gateway/config.h"
#include "services/gateway/route_table.h"

namespace civitas::gateway::appconfig {

// Version 0: the city's display name (its id without one), its default language as the only
// language, its time zone.
ac::AppConfig DefaultAppConfig(const CityConfig& city);

// W/"<version>".
std::string EtagOf(int64_t version);
// The version an etag names; nullopt if it is not one EtagOf made.
std::optional<int64_t> VersionOfEtag(const std::string& etag);

// The stored version as GetAppConfig answers it: name, etag, version and update_time set.
ac::AppConfig Answer(const ac::AppConfigVersion& stored);

// The modules `city` serves now (loaded, started, routed), by id, with their versions, screens
// (ScreensOf) and services.
void ServedModules(const CityRoutes& city, ac::AppConfig* config, ModuleScreens* screens);

// `current` with the writable fields of `update` that `mask` names (every writable field for an
// empty mask). A path that is not a writable top-level field is a Refusal naming update_mask.
std::optional<Refusal> ApplyUpdate(const ac::AppConfig& update,
                                   const google::protobuf::FieldMask& mask, ac::AppConfig* current);

}  // namespace civitas::gateway::appconfig

#endif  // CIVITAS_GATEWAY_APPCONFIG_APPCONFIG_EDIT_H_
