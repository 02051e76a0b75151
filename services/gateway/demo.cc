#include "services/gateway/demo.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "services/auth/token.h"

namespace civitas::gateway {

// Fictional sample content from deploy/demo/seed.jsonl, embedded at build time.
extern const char kDemoSeed[];

namespace {

constexpr char kDemoConfig[] = R"yaml(
listen: 127.0.0.1:50051
# civitasctl on this machine administers through <data_dir>/admin.sock (mode 0600); over the
# network an admin token is needed.
cities:
  - id: demo
    display_name: Demo-Stadt
    default_language: de
    time_zone: Europe/Berlin
    hosts: [demo.localhost]
    cors_origins: [http://localhost:3000]   # a web app in development may call the JSON API
    modules:
      - id: civitas.noticeboard
      - id: civitas.news
        config:
          feed_title: Demo-Stadt – Nachrichten
          feed_description: Neuigkeiten aus dem Rathaus der Demo-Stadt
          site_url: https://www.demo-stadt.example
      - id: civitas.events
        config:
          calendar_name: Demo-Stadt – Veranstaltungen
      - id: civitas.participation
      - id: civitas.reports
        config:
          area: {min_latitude: 51.41, max_latitude: 51.60, min_longitude: 7.30, max_longitude: 7.64}
          public_url: http://127.0.0.1:8080
)yaml";

}  // namespace

std::string DevSigningKeyPath(const std::string& data_dir) {
  return absl::StrCat(data_dir, "/dev-signing-key.pem");
}

std::string DevJwksPath(const std::string& data_dir) {
  return absl::StrCat(data_dir, "/dev-jwks.json");
}

absl::StatusOr<GatewayConfig> DemoConfig(const std::string& data_dir) {
  absl::StatusOr<GatewayConfig> config = ParseConfig(kDemoConfig, "<embedded demo config>");
  if (!config.ok()) return config.status();
  config->data_dir = data_dir;
  config->cities[0].seed_text = kDemoSeed;
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
