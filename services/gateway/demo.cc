#include "services/gateway/demo.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "services/auth/token.h"

namespace civitas::gateway {
namespace {

constexpr char kDemoConfig[] = R"yaml(
listen: 127.0.0.1:50051
admin:
  trust_loopback: true
cities:
  - id: demo
    display_name: Demo-Stadt
    default_language: de
    time_zone: Europe/Berlin
    hosts: [demo.localhost]
    modules:
      - id: civitas.noticeboard
)yaml";

// Fictional sample content, created through the module like any client's call.
constexpr char kDemoSeed[] = R"jsonl(
{"method": "/civitas.noticeboard.v1.NoticeboardService/CreateNotice", "subject": "buergeramt", "roles": ["editor"], "request": {"notice": {"title": "Bürgeramt Mitte: neue Öffnungszeiten", "body": "Ab Montag ist das Bürgeramt Mitte dienstags und donnerstags bis 19 Uhr geöffnet. Termine gibt es online und am Telefon.", "location": {"latitude": 51.5136, "longitude": 7.4653}}}}
{"method": "/civitas.noticeboard.v1.NoticeboardService/CreateNotice", "subject": "anna.k", "request": {"notice": {"title": "Katze zugelaufen in der Nordstadt", "body": "Grau getigert, sehr zutraulich, mit rotem Halsband. Seit Dienstag in der Mallinckrodtstraße. Wer vermisst sie?", "location": {"latitude": 51.5231, "longitude": 7.4588}}}}
{"method": "/civitas.noticeboard.v1.NoticeboardService/CreateNotice", "subject": "nachbarschaft-ost", "request": {"notice": {"title": "Straßenfest Kaiserviertel am Samstag", "body": "Ab 14 Uhr Kuchen, Flohmarkt und Musik. Die Straße ist von 12 bis 22 Uhr für Autos gesperrt.", "location": {"latitude": 51.5155, "longitude": 7.4821}}}}
{"method": "/civitas.noticeboard.v1.NoticeboardService/CreateNotice", "subject": "tiefbauamt", "roles": ["editor"], "request": {"notice": {"title": "Baustelle Rheinische Straße", "body": "Wegen Kanalarbeiten ist die Rheinische Straße zwischen Unionstraße und Dorstfelder Brücke bis Ende des Monats einspurig.", "location": {"latitude": 51.5118, "longitude": 7.4452}}}}
{"method": "/civitas.noticeboard.v1.NoticeboardService/CreateNotice", "subject": "stadtbibliothek", "roles": ["editor"], "request": {"notice": {"title": "Vorlesestunde für Kinder", "body": "Jeden Mittwoch um 16 Uhr in der Stadtbibliothek, Eintritt frei. Diese Woche: Geschichten vom Phoenix-See."}}}
{"method": "/civitas.noticeboard.v1.NoticeboardService/CreateNotice", "subject": "mehmet.y", "request": {"notice": {"title": "Repair Café sucht Helfer:innen", "body": "Wir reparieren Toaster, Fahrräder und Kleidung. Wer mitschrauben möchte: jeden ersten Samstag im Monat im Stadtteilzentrum."}}}
{"method": "/civitas.noticeboard.v1.NoticeboardService/CreateNotice", "subject": "welcome-team", "request": {"notice": {"title": "Welcome café for newcomers", "body": "English and German, every Friday 3 pm at the town hall foyer. Ask us anything about registering, schools and buses."}}}
{"method": "/civitas.noticeboard.v1.NoticeboardService/CreateNotice", "subject": "gruenflaechenamt", "roles": ["editor"], "request": {"notice": {"title": "Baumpflanzaktion im Westpark", "body": "Am Sonntag pflanzen wir 40 junge Linden. Spaten werden gestellt, festes Schuhwerk mitbringen.", "location": {"latitude": 51.5102, "longitude": 7.4489}}}}
)jsonl";

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
