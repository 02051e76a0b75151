#include "services/gateway/config.h"

#include <gtest/gtest.h>

namespace civitas::gateway {
namespace {

TEST(ConfigTest, ParsesAFullConfig) {
  absl::StatusOr<GatewayConfig> c = ParseConfig(R"(
listen: 0.0.0.0:9000
data_dir: /var/lib/civitas
storage:
  durability: async
  block_cache_mb: 128
limits:
  handler_threads: 4
cities:
  - id: dortmund
    display_name: Stadt Dortmund
    hosts: [app.dortmund.example]
    modules:
      - id: civitas.noticeboard
        config:
          max_items: 50
          greeting: "Glück auf"
          enabled: true
          tags: [a, b]
  - id: schwerte
)",
                                                "test.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen, "0.0.0.0:9000");
  EXPECT_EQ(c->storage.durability, Durability::kAsync);
  EXPECT_EQ(c->storage.block_cache_bytes, 128ull << 20);
  EXPECT_EQ(c->limits.handler_threads, 4u);
  ASSERT_EQ(c->cities.size(), 2u);
  EXPECT_EQ(c->cities[0].hosts[0], "app.dortmund.example");
  ASSERT_EQ(c->cities[0].modules.size(), 1u);
  EXPECT_EQ(c->cities[0].modules[0].config_json,
            R"({"max_items":50,"greeting":"Glück auf","enabled":true,"tags":["a","b"]})");
  EXPECT_EQ(c->cities[1].modules.size(), 0u);
  EXPECT_EQ(c->cities[1].time_zone, "Europe/Berlin");
}

TEST(ConfigTest, HostileNetworkLimits) {
  absl::StatusOr<GatewayConfig> d = ParseConfig("cities: [{id: demo}]", "t.yaml");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->listen, "127.0.0.1:50051");
  EXPECT_EQ(d->http_listen, "127.0.0.1:8080");
  EXPECT_EQ(d->metrics_listen, "127.0.0.1:9090");
  EXPECT_EQ(d->limits.grpc_max_concurrent_streams, 100u);
  EXPECT_EQ(d->limits.max_follows_per_connection, 32u);
  EXPECT_EQ(d->limits.max_follows_per_address, 0u)
      << "off: behind the edge every client shares one address";
  EXPECT_EQ(d->limits.http_max_header_bytes, 8192u);
  absl::StatusOr<GatewayConfig> c = ParseConfig(R"(
metrics_listen: ""
limits:
  grpc_max_concurrent_streams: 20
  grpc_max_metadata_bytes: 4096
  grpc_memory_mb: 64
  grpc_handshake_timeout_seconds: 3
  max_follows_per_connection: 4
  max_follows_per_city: 100
  http_max_connections: 50
  http_max_header_bytes: 2048
  http_max_url_bytes: 1024
  http_body_buffer_mb: 8
  http_header_timeout_seconds: 3
  http_body_timeout_seconds: 5
cities: [{id: demo}]
)",
                                                "t.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->metrics_listen, "");
  EXPECT_EQ(c->limits.grpc_max_concurrent_streams, 20u);
  EXPECT_EQ(c->limits.grpc_max_metadata_bytes, 4096u);
  EXPECT_EQ(c->limits.grpc_memory_mb, 64u);
  EXPECT_EQ(c->limits.grpc_handshake_timeout_seconds, 3u);
  EXPECT_EQ(c->limits.max_follows_per_connection, 4u);
  EXPECT_EQ(c->limits.max_follows_per_city, 100u);
  EXPECT_EQ(c->limits.http_max_connections, 50u);
  EXPECT_EQ(c->limits.http_max_header_bytes, 2048u);
  EXPECT_EQ(c->limits.http_max_url_bytes, 1024u);
  EXPECT_EQ(c->limits.http_body_buffer_mb, 8u);
  EXPECT_EQ(c->limits.http_header_timeout_seconds, 3u);
  EXPECT_EQ(c->limits.http_body_timeout_seconds, 5u);
}

TEST(ConfigTest, DefaultDurabilityIsSync) {
  absl::StatusOr<GatewayConfig> c = ParseConfig("cities: [{id: demo}]", "t.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->storage.durability, Durability::kSync);
}

TEST(ConfigTest, ParsesTrustAndAdministration) {
  absl::StatusOr<GatewayConfig> c = ParseConfig(R"(
auth:
  max_token_lifetime_seconds: 3600
  operator_issuers: [https://login.instance.example]
admin:
  socket: unix:/run/civitas/admin.sock
  socket_mode: "0660"
  bundle_import_dir: /srv/bundles
cities:
  - id: schwerte
    auth:
      issuers: [https://login.schwerte.example]
      audiences: [civitas]
      accept_citizens_of: [unna]
    registries:
      - name: ruhr
        target: registry.ruhr.example:443
        ca_file: /etc/civitas/ruhr-ca.pem
)",
                                                "test.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->auth.max_token_lifetime_seconds, 3600u);
  EXPECT_EQ(c->auth.operator_issuers, std::vector<std::string>{"https://login.instance.example"});
  EXPECT_EQ(c->admin.socket, "/run/civitas/admin.sock");
  EXPECT_EQ(c->admin.socket_mode, 0660u);
  EXPECT_EQ(c->admin.bundle_import_dir, "/srv/bundles");
  const CityConfig& city = c->cities[0];
  EXPECT_EQ(city.auth.issuers, std::vector<std::string>{"https://login.schwerte.example"});
  EXPECT_EQ(city.auth.audiences, std::vector<std::string>{"civitas"});
  EXPECT_EQ(city.auth.accept_citizens_of, std::vector<std::string>{"unna"});
  ASSERT_EQ(city.registries.size(), 1u);
  EXPECT_EQ(city.registries[0].target, "registry.ruhr.example:443");
  EXPECT_EQ(city.registries[0].ca_file, "/etc/civitas/ruhr-ca.pem");
  // Defaults: a socket under the data folder, for the gateway's user only.
  c = ParseConfig("cities: [{id: a}]", "t.yaml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->admin.socket, "");
  EXPECT_EQ(c->admin.socket_mode, 0600u);
  EXPECT_EQ(c->auth.max_token_lifetime_seconds, 86400u);
}

struct BadConfig {
  const char* yaml;
  const char* expected;  // substring of the error
};

class BadConfigTest : public testing::TestWithParam<BadConfig> {};

TEST_P(BadConfigTest, NamesLineAndKey) {
  absl::StatusOr<GatewayConfig> c = ParseConfig(GetParam().yaml, "gw.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find(GetParam().expected), std::string::npos)
      << c.status().message();
}

TEST(ConfigTest, PushBlocks) {
  absl::StatusOr<GatewayConfig> c = ParseConfig(R"(
push:
  web_push_connections: 8
  retry_base_seconds: 5
cities:
  - id: unna
    push:
      allowed_hosts: [updates.push.services.mozilla.com, "*.Push.Apple.com"]
      vapid_subject: https://unna.example/kontakt
      topics:
        - id: abfall-nord
          titles: {de: Abfall Nord, en: Waste north}
)",
                                                "t.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->push.web_push_connections, 8u);
  EXPECT_EQ(c->push.retry_base_seconds, 5u);
  EXPECT_EQ(c->push.max_attempts, 10u);
  const CityPushConfig& p = c->cities[0].push;
  ASSERT_EQ(p.topics.size(), 1u);
  EXPECT_EQ(p.topics[0].titles.at("en"), "Waste north");
  EXPECT_EQ(p.allowed_hosts[1], "*.push.apple.com");
  EXPECT_FALSE(p.allow_loopback);
  EXPECT_FALSE(p.fcm.has_value());
  EXPECT_FALSE(p.apns.has_value());
  EXPECT_EQ(c->push.fcm_connections, 4u);
  EXPECT_EQ(c->push.apns_connections, 4u);
}

TEST(ConfigTest, PushProviders) {
  absl::StatusOr<GatewayConfig> c = ParseConfig(R"(
push:
  fcm_connections: 2
  apns_connections: 3
cities:
  - id: unna
    push:
      fcm:
        project_id: civitas-unna
        service_account_file: /etc/civitas/unna-fcm.json
      apns:
        team_id: ABCDE12345
        key_id: KEY1234567
        key_file: /etc/civitas/unna.p8
        topic: de.unna.app
        endpoint: https://api.sandbox.push.apple.com/
  - id: soest
    push:
      fcm:
        project_id: soest
        service_account_file: sa.json
        endpoint: https://127.0.0.1:8443
        ca_file: ca.pem
)",
                                                "t.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->push.fcm_connections, 2u);
  EXPECT_EQ(c->push.apns_connections, 3u);
  const CityPushConfig& p = c->cities[0].push;
  ASSERT_TRUE(p.fcm.has_value());
  EXPECT_EQ(p.fcm->project_id, "civitas-unna");
  EXPECT_EQ(p.fcm->endpoint, "https://fcm.googleapis.com");
  ASSERT_TRUE(p.apns.has_value());
  EXPECT_EQ(p.apns->team_id, "ABCDE12345");
  EXPECT_EQ(p.apns->topic, "de.unna.app");
  EXPECT_EQ(p.apns->endpoint, "https://api.sandbox.push.apple.com");
  const CityPushConfig& q = c->cities[1].push;
  ASSERT_TRUE(q.fcm.has_value());
  EXPECT_EQ(q.fcm->endpoint, "https://127.0.0.1:8443");
  EXPECT_EQ(q.fcm->ca_file, "ca.pem");
  EXPECT_FALSE(q.apns.has_value());
}

INSTANTIATE_TEST_SUITE_P(
    Push, BadConfigTest,
    testing::Values(
        BadConfig{"cities:\n  - id: a\n    push:\n      topic: []",
                  "gw.yaml:4: cities[0].push.topic: unknown key"},
        BadConfig{"cities:\n  - id: a\n    push:\n      topics:\n        - id: Abfall!\n"
                  "          titles: {de: x}",
                  "cities[0].push.topics[0].id: must match [a-z0-9-]{1,64}"},
        BadConfig{"cities:\n  - id: a\n    push:\n      topics:\n        - id: x\n"
                  "          titles: {de: x}\n        - id: x\n          titles: {de: y}",
                  "topic 'x' is listed twice"},
        BadConfig{"cities:\n  - id: a\n    push:\n      topics:\n        - id: x\n",
                  "needs an id and titles"},
        BadConfig{"cities:\n  - id: a\n    push:\n      vapid_subject: push@x.example",
                  "must be a mailto: or https: URI"},
        BadConfig{"push:\n  max_attempts: 0\ncities: [{id: a}]",
                  "gw.yaml:2: push.max_attempts: must be a whole number from 1 to 100"},
        BadConfig{"push:\n  workers: 3\ncities: [{id: a}]", "gw.yaml:2: push.workers: unknown key"},
        BadConfig{"push:\n  fcm_connections: 0\ncities: [{id: a}]",
                  "push.fcm_connections: must be a whole number from 1 to 256"},
        BadConfig{"cities:\n  - id: a\n    push:\n      fcm:\n        project_id: p\n"
                  "        service_account_file: s.json\n        key: x",
                  "gw.yaml:7: cities[0].push.fcm.key: unknown key"},
        BadConfig{"cities:\n  - id: a\n    push:\n      fcm:\n        project_id: p\n",
                  "cities[0].push.fcm: needs 'service_account_file'"},
        BadConfig{"cities:\n  - id: a\n    push:\n      fcm:\n        project_id: p\n"
                  "        service_account_file: s.json\n        endpoint: http://fcm.example",
                  "cities[0].push.fcm.endpoint: must be an https URL"},
        BadConfig{"cities:\n  - id: a\n    push:\n      fcm:\n        project_id: p\n"
                  "        service_account_file: s.json\n"
                  "        endpoint: https://fcm.example/v1",
                  "cities[0].push.fcm.endpoint: must be an https URL with a host only"},
        BadConfig{"cities:\n  - id: a\n    push:\n      fcm:\n        project_id: p/x\n"
                  "        service_account_file: s.json",
                  "cities[0].push.fcm.project_id: must be 1 to 64 letters or digits or '-'"},
        BadConfig{"cities:\n  - id: a\n    push:\n      apns:\n        team_id: ABC\n"
                  "        key_id: KEY1234567\n        key_file: k.p8\n        topic: de.a",
                  "cities[0].push.apns.team_id: must be exactly 10 letters or digits, got 'ABC'"},
        BadConfig{"cities:\n  - id: a\n    push:\n      apns:\n        team_id: ABCDE12345\n"
                  "        key_id: KEY1234567\n        key_file: k.p8",
                  "cities[0].push.apns: needs 'topic'"},
        BadConfig{"cities:\n  - id: a\n    push:\n      apns:\n        team_id: ABCDE12345\n"
                  "        key_id: KEY1234567\n        key_file: k.p8\n        topic: de.a\n"
                  "        sandbox: true",
                  "cities[0].push.apns.sandbox: unknown key"}));

INSTANTIATE_TEST_SUITE_P(
    Errors, BadConfigTest,
    testing::Values(BadConfig{"lisen: x\ncities: [{id: a}]", "gw.yaml:1: lisen: unknown key"},
                    BadConfig{"cities:\n  - id: a\n  - id: Dortmund!",
                              "gw.yaml:3: cities[1].id: must match"},
                    BadConfig{"cities:\n  - id: a\n  - id: a", "city 'a' is listed twice"},
                    BadConfig{"listen: 9000\ncities: [{id: a}]", "listen: must be HOST:PORT"},
                    BadConfig{"storage:\n  durability: maybe\ncities: [{id: a}]",
                              "gw.yaml:2: storage.durability: must be 'sync' or 'async'"},
                    BadConfig{"limits:\n  handler_threads: 5000\ncities: [{id: a}]",
                              "limits.handler_threads: must be a whole number from 0 to 1024"},
                    BadConfig{"limits:\n  http_max_url_bytes: 10\ncities: [{id: a}]",
                              "gw.yaml:2: limits.http_max_url_bytes: must be a whole number from "
                              "256 to"},
                    BadConfig{"limits:\n  grpc_max_concurrent_streams: 0\ncities: [{id: a}]",
                              "limits.grpc_max_concurrent_streams: must be a whole number from 1"},
                    BadConfig{"limits:\n  max_follows_per_conection: 3\ncities: [{id: a}]",
                              "gw.yaml:2: limits.max_follows_per_conection: unknown key"},
                    BadConfig{"limits:\n  http_body_buffer_mb: 1\n  max_request_bytes: 4194304\n"
                              "cities: [{id: a}]",
                              "limits.http_body_buffer_mb: must hold at least one request"},
                    BadConfig{"metrics_listen: 9090\ncities: [{id: a}]",
                              "gw.yaml:1: metrics_listen: must be HOST:PORT"},
                    BadConfig{"auth:\n  allow_hs256: true\ncities: [{id: a}]",
                              "auth.hs256_secret_file: is required"},
                    BadConfig{"listen: 127.0.0.1:1\n", "cities: must list at least one city"},
                    BadConfig{"cities:\n  - id: a\n    modules:\n      - id: a.x\n      - id: a.x",
                              "gw.yaml:5: cities[0].modules[1].id: module 'a.x' is enabled twice"},
                    BadConfig{"cities:\n  - id: a\n    modules:\n      - id: ../../x",
                              "cities[0].modules[0].id: must match [a-z][a-z0-9_]*"},
                    BadConfig{"admin:\n  trust_loopback: false\ncities: [{id: a}]",
                              "gw.yaml:2: admin.trust_loopback: was removed"},
                    BadConfig{"admin:\n  socket_mode: \"0666\"\ncities: [{id: a}]",
                              "admin.socket_mode: must be \"0600\""},
                    BadConfig{"auth:\n  max_token_lifetime_seconds: 10\ncities: [{id: a}]",
                              "auth.max_token_lifetime_seconds: must be a whole number from 60"},
                    BadConfig{"cities:\n  - id: a\n    auth: {issuer: x}",
                              "cities[0].auth.issuer: unknown key"},
                    BadConfig{"cities:\n  - id: a\n    auth: {accept_citizens_of: [a]}",
                              "must be the id of another city, got 'a'"},
                    BadConfig{"cities:\n  - id: a\n    registries: [{name: r, target: unix:/x}]",
                              "cities[0].registries[0].target: must be HOST:PORT"},
                    BadConfig{"cities:\n  - id: a\n    registries:\n      - {name: r, target: "
                              "h:1}\n      - {name: r, target: h:2}",
                              "cities[0].registries[1].name: must be a unique"},
                    BadConfig{"cities:\n  - id: a\n    hosts: [h]\n  - id: b\n    hosts: [h]",
                              "host 'h' already selects city 'a'"},
                    BadConfig{"cities: [id: a", "not valid YAML"}));

}  // namespace
}  // namespace civitas::gateway

namespace civitas::gateway {
namespace {

TEST(ConfigTest, WriteRateLimitsAndTheStorageQuota) {
  absl::StatusOr<GatewayConfig> c = ParseConfig(R"(
storage: {city_quota_mb: 512}
limits:
  write_rate:
    per_subject: {per_minute: 30, burst: 5}
    anonymous_per_peer: {per_minute: 0}
    client_ip_header: X-Real-IP
    exempt_staff: false
    methods:
      /civitas.reports.v1.ReportsService/CreateReport:
        anonymous_per_peer: {per_minute: 3, burst: 3}
cities: [{id: demo}]
)",
                                                "t.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->storage.city_quota_bytes, 512ull << 20);
  const WriteRateConfig& w = c->limits.write_rate;
  EXPECT_EQ(w.per_subject.per_minute, 30u);
  EXPECT_EQ(w.per_subject.burst, 5u);
  EXPECT_FALSE(w.anonymous_per_peer.enabled());
  EXPECT_EQ(w.client_ip_header, "x-real-ip");
  EXPECT_FALSE(w.exempt_staff);
  ASSERT_EQ(w.methods.count("/civitas.reports.v1.ReportsService/CreateReport"), 1u);
  EXPECT_EQ(w.methods.at("/civitas.reports.v1.ReportsService/CreateReport")
                .anonymous_per_peer->per_minute,
            3u);
  // The defaults: limits on, no quota.
  absl::StatusOr<GatewayConfig> d = ParseConfig("cities: [{id: demo}]", "t.yaml");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->limits.write_rate.per_subject.per_minute, 300u);
  EXPECT_EQ(d->limits.write_rate.anonymous_per_peer.per_minute, 10u);
  EXPECT_EQ(d->storage.city_quota_bytes, 0u);

  for (const auto& [yaml, expected] : std::vector<std::pair<std::string, std::string>>{
           {"limits:\n  write_rate:\n    per_subjekt: {per_minute: 1}\ncities: [{id: a}]",
            "t.yaml:3: limits.write_rate.per_subjekt: unknown key"},
           {"limits:\n  write_rate:\n    per_subject: {burst: 1}\ncities: [{id: a}]",
            "limits.write_rate.per_subject: needs per_minute"},
           {"limits:\n  write_rate:\n    methods:\n      CreateReport: {}\ncities: [{id: a}]",
            "must be a full method path"},
           {"storage: {city_quota_mb: lots}\ncities: [{id: a}]",
            "storage.city_quota_mb: must be a whole number"}}) {
    absl::StatusOr<GatewayConfig> bad = ParseConfig(yaml, "t.yaml");
    ASSERT_FALSE(bad.ok()) << yaml;
    EXPECT_NE(bad.status().message().find(expected), std::string::npos) << bad.status().message();
  }
}

}  // namespace
}  // namespace civitas::gateway
