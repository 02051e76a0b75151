// The gateway's configuration: what a city's IT department writes in YAML, validated at start.
#ifndef CIVITAS_GATEWAY_CONFIG_H_
#define CIVITAS_GATEWAY_CONFIG_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace civitas::gateway {

enum class Durability {
  kSync,   // every acknowledged write is on disk (WAL fsync before the answer). The default.
  kAsync,  // the WAL is written but not synced: a power cut can lose the last writes.
};

struct ModuleConfig {
  std::string id;           // e.g. "civitas.noticeboard"; the file is <module_dir>/<id>.so
  std::string path;         // explicit shared library path; empty = derived from id
  std::string config_json;  // the module's own settings, as a JSON object
  int line = 0;             // where it was configured, for messages
};

// A publisher whose signed module bundles a city accepts.
struct TrustedPublisher {
  std::string name;        // as in the bundle manifest's `publisher`
  std::string public_key;  // base64 of the 32-byte Ed25519 public key
  bool revoked = false;    // bundles signed with this key are refused
};

// Which bearer tokens count for a city (its `auth:` block); see auth::CityTrust.
struct CityAuthConfig {
  std::vector<std::string> issuers;    // accepted `iss`; empty = the roles claim must name the city
  std::vector<std::string> audiences;  // one must be in `aud`; empty = any
  // Cities whose signed-in citizens are citizens here too (a region with one login).
  std::vector<std::string> accept_citizens_of;
};

// A module registry a city installs from, by name.
struct RegistryEndpoint {
  std::string name;     // what InstallModule's registry source names
  std::string target;   // host:port
  std::string ca_file;  // PEM CA certificates: TLS to the registry; empty = plaintext
};

// The city's settings for the staff console (services/console). Sign-in: OpenID Connect,
// authorization code with PKCE, against the city's identity provider (the tokens it issues must
// verify with `auth`). Maps: the tile server the defect reports' map loads its images from.
struct ConsoleConfig {
  std::string oidc_issuer;     // e.g. https://login.stadt.example/realms/staff; empty = none
  std::string oidc_client_id;  // the console's public client id at that provider
  std::string oidc_scope = "openid";
  // {z}/{x}/{y} tile template; https (http only on loopback); its origin joins the console's
  // img-src. Empty = the map shows the reports without a background.
  std::string map_tile_url = "https://tile.openstreetmap.org/{z}/{x}/{y}.png";
  std::string map_attribution = "© OpenStreetMap contributors";
};

// A topic devices can receive (`push.topics`): news categories, waste districts, ...
struct PushTopic {
  std::string id;                             // [a-z0-9-]{1,64}
  std::map<std::string, std::string> titles;  // BCP 47 language -> title; at least one
};

// Firebase Cloud Messaging (HTTP v1) for a city's FCM devices (`push.fcm:`).
struct FcmConfig {
  std::string project_id;  // the Firebase project, e.g. "civitas-unna"
  // The service account's JSON key as Google issues it (client_email, private_key, token_uri);
  // read at the first delivery. Relative to the config file.
  std::string service_account_file;
  // https, without a trailing slash; messages go to {endpoint}/v1/projects/{id}/messages:send.
  std::string endpoint = "https://fcm.googleapis.com";
  // PEM CA certificates for the endpoint's and the token_uri's TLS; empty = the system's.
  std::string ca_file;
};

// The Apple Push Notification service for a city's APNS devices (`push.apns:`).
struct ApnsConfig {
  std::string team_id;   // the Apple developer team, 10 characters
  std::string key_id;    // the signing key's id, 10 characters
  std::string key_file;  // the .p8 key (EC P-256, PEM); relative to the config file
  std::string topic;     // the app's bundle id (apns-topic)
  // https, without a trailing slash; the sandbox is https://api.sandbox.push.apple.com.
  std::string endpoint = "https://api.push.apple.com";
  // PEM CA certificates for the endpoint's TLS; empty = the system's.
  std::string ca_file;
};

// A city's push notifications (`push:` block; docs/push.md).
struct CityPushConfig {
  std::vector<PushTopic> topics;
  // Push service hosts a Web Push endpoint may name: "push.example" or "*.push.example" (any
  // subdomain). Empty = any host that resolves to public addresses only.
  std::vector<std::string> allowed_hosts;
  // Tests only: endpoints on loopback addresses (127.0.0.0/8, ::1) are allowed. Private,
  // link-local and other non-public addresses stay refused.
  bool allow_loopback = false;
  // The VAPID `sub` claim (RFC 8292): a mailto: or https: contact for the push services.
  std::string vapid_subject = "mailto:push@civitas.invalid";
  // PEM CA certificates for the push services' TLS; empty = the system's.
  std::string ca_file;
  // Unset: the city's FCM / APNS devices are not delivered to (FAILED, provider_not_configured).
  std::optional<FcmConfig> fcm;
  std::optional<ApnsConfig> apns;
};

struct CityConfig {
  std::string id;  // [a-z0-9-]{1,63}
  std::string display_name;
  std::string default_language = "de";
  std::string time_zone = "Europe/Berlin";
  std::vector<std::string> hosts;  // authorities that select this city without metadata
  std::vector<ModuleConfig> modules;
  std::string seed_file;  // JSON lines of calls run once when the city is first created
  std::string seed_text;  // the same, inline (used by the embedded demo)
  // The app configuration stored as version 1 while the city has none (protobuf JSON of
  // civitas.appconfig.v1.AppConfig; the embedded demo's sample).
  std::string app_config_seed;
  std::vector<TrustedPublisher> trusted_publishers;
  // Browser origins allowed to call the JSON/HTTP API (CORS); "*" = any. Empty = none.
  std::vector<std::string> cors_origins;
  CityAuthConfig auth;
  std::vector<RegistryEndpoint> registries;  // the only registries InstallModule may use
  ConsoleConfig console;                     // `console:` block
  CityPushConfig push;                       // `push:` block
};

struct StorageConfig {
  Durability durability = Durability::kSync;
  uint64_t block_cache_bytes = 64ull << 20;   // shared by all cities
  uint64_t write_buffer_bytes = 64ull << 20;  // memtables of all cities together
  // storage.city_quota_mb: each city's database at most this big (live data plus memtables);
  // writes that add data are refused RESOURCE_EXHAUSTED beyond it, deletes still work. 0 = none.
  uint64_t city_quota_bytes = 0;
  // storage.max_open_files_per_city: table files one city's database keeps open (RocksDB's
  // max_open_files). 0 = chosen at start so that all cities together stay within half the
  // descriptor limit (StorageEnvironment::FitDescriptors).
  uint32_t max_open_files_per_city = 0;
};

// One token bucket's shape. per_minute 0 = no limit.
struct RateLimit {
  uint32_t per_minute = 0;
  uint32_t burst = 0;  // bucket size: calls allowed at once after a quiet spell; 0 = per_minute

  bool enabled() const { return per_minute > 0; }
  double capacity() const { return burst > 0 ? burst : per_minute; }
};

// `limits.write_rate` in the gateway config.
struct WriteRateConfig {
  // Every signed-in caller, by token subject (per city).
  RateLimit per_subject{300, 300};
  // Editors, moderators and admins of the city (accounts the city issues itself, which import
  // and moderate in bulk) are not limited per subject.
  bool exempt_staff = true;
  // Anonymous callers, by client address (per city). Stricter: nothing else identifies them,
  // and an anonymous report may carry 3 MiB of photos (10 a minute: at most 30 MiB a minute).
  RateLimit anonymous_per_peer{10, 10};
  // Request bytes that anonymous callers may write from one client address (per city) in a day,
  // refilled evenly over the day: what anonymous reports' photos can take from the disk. 64 MiB
  // is about 20 reports with three full-size photos each; 0 = off.
  uint64_t anonymous_bytes_per_peer_per_day = 64ull << 20;
  // Every caller, by client address (per city); off by default, because behind an edge proxy
  // many citizens share an address unless client_ip_header names the proxy's header.
  RateLimit per_peer{0, 0};
  // Per full method path ("/civitas.reports.v1.ReportsService/CreateReport"): limits that replace
  // the ones above for that method, counted in buckets of the method's own.
  struct Override {
    std::optional<RateLimit> per_subject, anonymous_per_peer, per_peer;
  };
  std::map<std::string, Override> methods;
  // The client's address is read from this request header (e.g. "x-real-ip") when the
  // connection comes from loopback or a Unix socket (the edge proxy); empty = the peer address.
  std::string client_ip_header;
  // Buckets kept at most (all cities together).
  uint32_t max_buckets = 100000;
};

struct LimitsConfig {
  uint32_t max_request_bytes = 4u << 20;
  uint32_t max_response_bytes = 16u << 20;
  // Threads that run module handlers (they may block on disk); 0 = one per core. More threads
  // overlap more synced writes but cost context switches: see docs/performance.md.
  uint32_t handler_threads = 0;
  uint32_t handler_queue = 1024;   // calls waiting for a handler thread; more -> RESOURCE_EXHAUSTED
  uint32_t completion_queues = 0;  // gRPC polling threads; 0 = one per core
  uint32_t drain_seconds = 10;     // SIGTERM: time for in-flight calls to finish
  uint32_t stream_buffer_messages = 256;  // per streaming call, before a slow client is dropped

  // Hostile-network limits (docs/security.md). gRPC 1.51's own HTTP/2 server is not hardened
  // against floods: these bound the damage behind the nginx edge, they do not replace it.
  uint32_t grpc_max_concurrent_streams = 100;  // SETTINGS_MAX_CONCURRENT_STREAMS per connection
  uint32_t grpc_max_metadata_bytes = 8 << 10;  // request headers of one call
  // grpc::ResourceQuota of the gRPC server. It is what bounds a CONTINUATION flood: 64 MiB of
  // headers cost RSS +135 MiB at 128, +269 at 256, +537 at 512, +904 at 4096 (security.md).
  uint32_t grpc_memory_mb = 256;
  // A connection that has not sent its HTTP/2 preface and SETTINGS by then is closed (idle
  // connections hold descriptors, and gRPC 1.51 stops accepting for good when they run out).
  uint32_t grpc_handshake_timeout_seconds = 10;
  uint32_t max_follows_per_connection = 32;  // live (Watch...) streams on one connection
  // Live streams from one client address over all its connections; 0 = no cap. Behind the edge
  // every client has the edge's address (nginx caps streams per client there), so set it only
  // where the gateway faces clients directly.
  uint32_t max_follows_per_address = 0;
  uint32_t max_follows_per_city = 10000;  // live streams of one city, all connections
  // HTTP listener: connections above this are accepted and closed at once (the rest of the
  // descriptors stay for gRPC); it is also held to a quarter of RLIMIT_NOFILE.
  uint32_t http_max_connections = 256;
  uint32_t http_max_header_bytes = 8 << 10;   // request line excluded; more -> 431
  uint32_t http_max_url_bytes = 4 << 10;      // request target; longer -> 414
  uint32_t http_body_buffer_mb = 64;          // request bodies of all connections together
  uint32_t http_header_timeout_seconds = 10;  // to send a request's headers
  uint32_t http_body_timeout_seconds = 15;    // to send its body
  // Public GET answers kept rendered (rendered_cache.h): at most this old, and this much memory.
  // 0 ms keeps none.
  uint32_t http_cache_ttl_ms = 5000;
  uint32_t http_cache_mb = 64;
  WriteRateConfig write_rate;  // write calls per subject / client address
};

struct AuthConfig {
  std::string jwks_file;                      // RS256 / ES256 public keys (JSON Web Key Set)
  std::string issuer;                         // required `iss`, if set
  std::string audience;                       // required in `aud`, if set
  std::string roles_claim = "civitas_roles";  // {"<city>": ["editor", ...], "*": [...]}
  bool allow_hs256 = false;                   // development only
  std::string hs256_secret_file;
  uint32_t leeway_seconds = 60;
  uint32_t max_token_lifetime_seconds = 86400;  // longer-lived tokens are refused
  // Issuers whose `"*": ["operator"]` is believed; empty = any issuer the keys verify.
  std::vector<std::string> operator_issuers;
  // OpenID Connect providers whose signing keys the gateway fetches (discovery document, then
  // jwks_uri) and keeps current: a provider's key rotation needs no restart. Their keys verify
  // only their own tokens. A city still names the issuers it trusts (cities[].auth.issuers).
  std::vector<std::string> oidc_issuers;
  std::string oidc_ca_file;  // PEM bundle for the providers' TLS; empty = the system's
  // A token naming a key the gateway does not have makes it fetch the issuer's keys again, at
  // most this often (forged key ids must not make it hammer the provider).
  uint32_t oidc_refetch_seconds = 30;
};

// AdminService is reached with an admin or operator token, or through a Unix-domain socket whose
// file permissions are the access control. A TCP peer address never grants anything.
struct AdminConfig {
  std::string socket;             // empty = <data_dir>/admin.sock; "none" = no socket
  uint32_t socket_mode = 0600;    // 0600 (the gateway's user) or 0660 (and its group)
  std::string bundle_import_dir;  // InstallModule's bundle_path must be below it; empty =
                                  // <data_dir>/import
};

struct LoggingConfig {
  std::string level = "info";  // debug, info, warning, error
  bool access_log = true;      // one line per call (info level)
};

// How the gateway delivers pushes (`push:` at the top level; docs/push.md).
struct PushDeliveryConfig {
  // Web Push requests in flight at once, all cities together (one delivery thread each). The
  // threads mostly wait (for the push service, and for the synced write of each outcome, which
  // more threads share): 16 reach 2,200 deliveries/s on 2 cores where 4 reached 1,340
  // (docs/performance.md, "Push fan-out").
  uint32_t web_push_connections = 16;
  // The same for FCM and for APNs: each provider has threads and a queue of its own, so a
  // provider that hangs holds up only its own deliveries.
  uint32_t fcm_connections = 4;
  uint32_t apns_connections = 4;
  // Backoff after a failed attempt: base * 2^(attempt-1), at most max, with jitter (a random
  // value between half and all of it); a Retry-After answer waits at least as long as it says.
  uint32_t retry_base_seconds = 30;
  uint32_t retry_max_seconds = 3600;
  // Attempts of one delivery before it is given up.
  uint32_t max_attempts = 10;
  // Seconds an HTTP request to a push service may take.
  uint32_t request_timeout_seconds = 15;
};

struct GatewayConfig {
  std::string source;  // file name, for messages
  std::string listen = "127.0.0.1:50051";
  std::string http_listen = "127.0.0.1:8080";     // /healthz, /readyz, JSON/HTTP API
  std::string metrics_listen = "127.0.0.1:9090";  // /metrics (and the probes); "" = none
  std::string data_dir = "./state";
  std::string module_dir;  // empty = <executable dir>/../lib/civitas/modules
  std::string backup_dir;  // empty = <data_dir>/backups; one folder per city below it
  StorageConfig storage;
  LimitsConfig limits;
  AuthConfig auth;
  AdminConfig admin;
  LoggingConfig logging;
  PushDeliveryConfig push;
  std::vector<CityConfig> cities;
};

// Parses and validates YAML text. Errors name the source, line and key, e.g.
// "gateway.yaml:7: cities[0].id: must match [a-z0-9-]{1,63}, got 'Dortmund!'".
absl::StatusOr<GatewayConfig> ParseConfig(const std::string& yaml_text,
                                          const std::string& source_name);
absl::StatusOr<GatewayConfig> LoadConfigFile(const std::string& path);
// One city, as one entry of `cities:` (used for cities added at runtime).
absl::StatusOr<CityConfig> ParseCityConfig(const std::string& yaml_text,
                                           const std::string& source_name);

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_CONFIG_H_
