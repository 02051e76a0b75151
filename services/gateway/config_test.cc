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

TEST(ConfigTest, DefaultDurabilityIsSync) {
  absl::StatusOr<GatewayConfig> c = ParseConfig("cities: [{id: demo}]", "t.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->storage.durability, Durability::kSync);
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
                    BadConfig{"auth:\n  allow_hs256: true\ncities: [{id: a}]",
                              "auth.hs256_secret_file: is required"},
                    BadConfig{"listen: 127.0.0.1:1\n", "cities: must list at least one city"},
                    BadConfig{"cities:\n  - id: a\n    modules:\n      - id: x\n      - id: x",
                              "gw.yaml:5: cities[0].modules[1].id: module 'x' is enabled twice"},
                    BadConfig{"cities:\n  - id: a\n    hosts: [h]\n  - id: b\n    hosts: [h]",
                              "host 'h' already selects city 'a'"},
                    BadConfig{"cities: [id: a", "not valid YAML"}));

}  // namespace
}  // namespace civitas::gateway
