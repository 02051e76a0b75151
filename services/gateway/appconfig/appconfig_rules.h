// What a city's app configuration must satisfy before it is stored (pure functions, tested
// directly in appconfig_rules_test.cc): sizes and counts, languages and titles, colours, the map
// area, URLs and deep links, versions, and navigation targets that name a screen of a module the
// city serves. A refusal names the field by its path ("navigation[2].titles.fr") and a reason of
// docs/errors.md.
#ifndef CIVITAS_GATEWAY_APPCONFIG_APPCONFIG_RULES_H_
#define CIVITAS_GATEWAY_APPCONFIG_APPCONFIG_RULES_H_

#include <grpcpp/support/status.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "civitas/appconfig/v1/appconfig.pb.h"

namespace civitas::gateway::appconfig {

namespace ac = ::civitas::appconfig::v1;

// The largest configuration stored, serialized (without `modules`).
inline constexpr size_t kMaxAppConfigBytes = 256 * 1024;

// Why a configuration was refused: the status code, the ErrorInfo reason, the field's path and a
// message a developer can act on.
struct Refusal {
  grpc::StatusCode code = grpc::StatusCode::INVALID_ARGUMENT;
  std::string reason;
  std::string field;
  std::string message;
};

// The screens an app offers for a module, which navigation targets may name. Modules do not
// declare screens (yet); these are the bundled modules' (docs/app-guide.md), and a module not
// listed has none.
std::vector<std::string> ScreensOf(const std::string& module_id);

// The modules a city serves now: id -> screens.
using ModuleScreens = std::map<std::string, std::set<std::string>>;

// nullopt if `config` may be stored for a city that serves `modules`.
std::optional<Refusal> CheckAppConfig(const ac::AppConfig& config, const ModuleScreens& modules);

// True for "#RRGGBB" (hex digits of either case).
bool IsColor(const std::string& s);
// True for an https URL with a host, at most 2,048 characters, without spaces or control
// characters.
bool IsHttpsUrl(const std::string& s);

}  // namespace civitas::gateway::appconfig

#endif  // CIVITAS_GATEWAY_APPCONFIG_APPCONFIG_RULES_H_
