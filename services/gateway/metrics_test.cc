#include "services/gateway/metrics.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/time/time.h"

namespace civitas::gateway {
namespace {

TEST(MetricsTest, CallsAreCountedByCodeWithTheirLatency) {
  Metrics metrics;
  MethodStats* stats = metrics.For("unna", "/civitas.news.v1.NewsService/ListArticles");
  stats->Record(0, absl::Milliseconds(3));
  stats->Record(5, absl::Milliseconds(30));
  metrics.RecordRejected(16);
  const std::string text = metrics.Render("");
  EXPECT_TRUE(absl::StrContains(text,
                                "civitas_calls_total{city=\"unna\",method=\"/civitas.news.v1."
                                "NewsService/ListArticles\",code=\"NOT_FOUND\"} 1\n"))
      << text;
  EXPECT_TRUE(absl::StrContains(text, "le=\"0.005\"} 1\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "le=\"+Inf\"} 2\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "civitas_rejected_calls_total{code=\"UNAUTHENTICATED\"} 1\n"))
      << text;
}

TEST(MetricsTest, GaugesRenderOneLinePerListenerModuleAndCity) {
  GatewayGauges g;
  g.active_calls = 3;
  g.grpc_listener_up = true;
  g.listeners.push_back({"api", 7, 1, 0, 2});
  g.modules.push_back({"unna", "civitas.news", "1.2.0", true});
  g.modules.push_back({"unna", "civitas.broken", "", false});
  g.cities.push_back({"unna", 10, 4, 100, 200, 300});
  g.block_cache_bytes = 42;
  const std::string text = RenderGauges(g);
  for (const char* line : {
           "civitas_active_calls 3\n",
           "civitas_grpc_listener_up 1\n",
           "civitas_http_connections{listener=\"api\"} 7\n",
           "civitas_http_refused_connections_total{listener=\"api\"} 1\n",
           "civitas_http_rejected_requests_total{listener=\"api\"} 2\n",
           "civitas_module_up{city=\"unna\",module=\"civitas.news\",version=\"1.2.0\"} 1\n",
           "civitas_module_up{city=\"unna\",module=\"civitas.broken\",version=\"\"} 0\n",
           "civitas_durable_writes_total{city=\"unna\"} 10\n",
           "civitas_wal_syncs_total{city=\"unna\"} 4\n",
           "civitas_city_storage_bytes{city=\"unna\"} 300\n",
           "civitas_block_cache_bytes 42\n",
       }) {
    EXPECT_TRUE(absl::StrContains(text, line)) << line << " missing in\n" << text;
  }
  // Every sample has its TYPE line before it.
  EXPECT_LT(text.find("# TYPE civitas_module_up gauge"), text.find("civitas_module_up{"));
}

}  // namespace
}  // namespace civitas::gateway
