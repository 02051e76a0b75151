#include "services/gateway/demo.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "services/auth/token.h"

namespace civitas::gateway {

// The demo's config (deploy/demo/gateway.yaml) and fictional sample content
// (deploy/demo/seed.jsonl) with its app configuration (deploy/demo/appconfig.json), embedded at
// build time (services/CMakeLists.txt).
extern const char kDemoConfig[];
extern const char kDemoSeed[];
extern const char kDemoAppConfig[];

std::string DevSigningKeyPath(const std::string& data_dir) {
  return absl::StrCat(data_dir, "/dev-signing-key.pem");
}

std::string DevJwksPath(const std::string& data_dir) {
  return absl::StrCat(data_dir, "/dev-jwks.json");
}

absl::StatusOr<GatewayConfig> DemoConfig(const std::string& data_dir) {
  absl::StatusOr<GatewayConfig> config =
      ParseConfig(kDemoConfig, "<embedded deploy/demo/gateway.yaml>");
  if (!config.ok()) return config.status();
  config->data_dir = data_dir;
  config->cities[0].seed_text = kDemoSeed;
  config->cities[0].app_config_seed = kDemoAppConfig;
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create data directory '", data_dir, "': ", ec.message()));
  }
  if (!std::filesystem::exists(DevSigningKeyPath(data_dir)) ||
      !std::filesystem::exists(DevJwksPath(data_dir))) {
    if (absl::Status s = auth::GenerateDevKeyPair(DevSigningKeyPath(data_dir),
                                                  DevJwksPath(data_dir), "civitas-dev");
        !s.ok()) {
      return s;
    }
  }
  config->auth.jwks_file = DevJwksPath(data_dir);
  return config;
}

}  // namespace civitas::gateway
