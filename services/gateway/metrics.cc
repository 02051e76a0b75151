#include "services/gateway/metrics.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace civitas::gateway {

void MethodStats::Record(int code, absl::Duration latency) {
  by_code_[code >= 0 && code <= 16 ? code : 2].fetch_add(1, std::memory_order_relaxed);
  const double seconds = absl::ToDoubleSeconds(latency);
  size_t bucket = 0;
  while (bucket < kLatencyBuckets.size() && seconds > kLatencyBuckets[bucket]) ++bucket;
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<uint64_t>(absl::ToInt64Microseconds(latency)),
                        std::memory_order_relaxed);
}

MethodStats* Metrics::For(const std::string& city, const std::string& method) {
  absl::MutexLock lock(&mu_);
  auto& slot = stats_[{city, method}];
  if (!slot) slot = std::make_unique<MethodStats>();
  return slot.get();
}

void Metrics::RecordRejected(int code) {
  rejected_[code >= 0 && code <= 16 ? code : 2].fetch_add(1, std::memory_order_relaxed);
}

std::string Metrics::Render(const std::string& extra) const {
  std::string out;
  // Sorted, so that scrapes and tests read the same order.
  std::map<std::pair<std::string, std::string>, const MethodStats*> sorted;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [key, stats] : stats_) sorted[key] = stats.get();
  }
  out += "# HELP civitas_calls_total Calls that reached a module, by city, method and gRPC code.\n";
  out += "# TYPE civitas_calls_total counter\n";
  for (const auto& [key, s] : sorted) {
    for (int code = 0; code <= 16; ++code) {
      uint64_t n = s->by_code_[code].load(std::memory_order_relaxed);
      if (n == 0) continue;
      absl::StrAppend(&out, "civitas_calls_total{city=\"", key.first, "\",method=\"", key.second,
                      "\",code=\"", common::CodeName(code), "\"} ", n, "\n");
    }
  }
  out += "# HELP civitas_call_duration_seconds Time from a call's arrival to its answer.\n";
  out += "# TYPE civitas_call_duration_seconds histogram\n";
  for (const auto& [key, s] : sorted) {
    const std::string labels = absl::StrCat("city=\"", key.first, "\",method=\"", key.second, "\"");
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= kLatencyBuckets.size(); ++b) {
      cumulative += s->buckets_[b].load(std::memory_order_relaxed);
      const std::string le =
          b < kLatencyBuckets.size() ? absl::StrFormat("%g", kLatencyBuckets[b]) : "+Inf";
      absl::StrAppend(&out, "civitas_call_duration_seconds_bucket{", labels, ",le=\"", le, "\"} ",
                      cumulative, "\n");
    }
    absl::StrAppend(&out, "civitas_call_duration_seconds_sum{", labels, "} ",
                    absl::StrFormat("%.6f", s->sum_micros_.load() / 1e6), "\n");
    absl::StrAppend(&out, "civitas_call_duration_seconds_count{", labels, "} ", cumulative, "\n");
  }
  out +=
      "# HELP civitas_rejected_calls_total Calls answered before reaching a module (unknown "
      "city or method, authentication, roles, load), by gRPC code.\n";
  out += "# TYPE civitas_rejected_calls_total counter\n";
  for (int code = 0; code <= 16; ++code) {
    uint64_t n = rejected_[code].load(std::memory_order_relaxed);
    if (n > 0)
      absl::StrAppend(&out, "civitas_rejected_calls_total{code=\"", common::CodeName(code), "\"} ",
                      n, "\n");
  }
  out += extra;
  return out;
}

std::string RenderGauges(const GatewayGauges& g) {
  std::string out;
  absl::StrAppend(
      &out,
      "# HELP civitas_active_calls Calls in flight (streams included).\n"
      "# TYPE civitas_active_calls gauge\n"
      "civitas_active_calls ",
      g.active_calls, "\n",
      "# HELP civitas_handler_queue Module handlers running or waiting for a thread.\n"
      "# TYPE civitas_handler_queue gauge\n"
      "civitas_handler_queue ",
      g.handler_queue, "\n",
      "# HELP civitas_following_streams Streams following a module's change feed.\n"
      "# TYPE civitas_following_streams gauge\n"
      "civitas_following_streams ",
      g.following_streams, "\n",
      "# HELP civitas_grpc_listener_up 1 if a fresh connection to the gRPC port answered a "
      "health check in the last probe (about once a second).\n"
      "# TYPE civitas_grpc_listener_up gauge\n"
      "civitas_grpc_listener_up ",
      g.grpc_listener_up ? 1 : 0, "\n",
      "# HELP civitas_http_connections Open HTTP connections per listener.\n"
      "# TYPE civitas_http_connections gauge\n"
      "# HELP civitas_http_refused_connections_total Connections closed at once: over "
      "limits.http_max_connections.\n"
      "# TYPE civitas_http_refused_connections_total counter\n"
      "# HELP civitas_http_accept_errors_total Failed accepts (out of descriptors), each "
      "followed by a 100 ms pause.\n"
      "# TYPE civitas_http_accept_errors_total counter\n"
      "# HELP civitas_http_rejected_requests_total Requests answered 400/408/413/414/431/503 "
      "before any handler.\n"
      "# TYPE civitas_http_rejected_requests_total counter\n");
  for (const GatewayGauges::Listener& l : g.listeners) {
    absl::StrAppend(&out, "civitas_http_connections{listener=\"", l.name, "\"} ", l.connections,
                    "\ncivitas_http_refused_connections_total{listener=\"", l.name, "\"} ",
                    l.refused_connections, "\ncivitas_http_accept_errors_total{listener=\"", l.name,
                    "\"} ", l.accept_errors, "\ncivitas_http_rejected_requests_total{listener=\"",
                    l.name, "\"} ", l.rejected_requests, "\n");
  }
  absl::StrAppend(&out,
                  "# HELP civitas_module_up 1 if the module serves in the city, 0 if refused.\n"
                  "# TYPE civitas_module_up gauge\n");
  for (const GatewayGauges::Module& m : g.modules) {
    absl::StrAppend(&out, "civitas_module_up{city=\"", m.city, "\",module=\"", m.module_id,
                    "\",version=\"", m.version, "\"} ", m.up ? 1 : 0, "\n");
  }
  absl::StrAppend(&out,
                  "# HELP civitas_durable_writes_total Calls' transactions answered after a "
                  "WAL sync (durability: sync).\n"
                  "# TYPE civitas_durable_writes_total counter\n"
                  "# HELP civitas_wal_syncs_total WAL syncs that answered them (group "
                  "commit: writes per sync = the ratio).\n"
                  "# TYPE civitas_wal_syncs_total counter\n"
                  "# HELP civitas_memtable_bytes A city's memtables (counted in the block "
                  "cache too).\n"
                  "# TYPE civitas_memtable_bytes gauge\n"
                  "# HELP civitas_table_reader_bytes A city's open table files, outside the "
                  "block cache.\n"
                  "# TYPE civitas_table_reader_bytes gauge\n"
                  "# HELP civitas_city_storage_bytes Live data plus memtables of each city, "
                  "as checked against storage.city_quota_mb.\n"
                  "# TYPE civitas_city_storage_bytes gauge\n"
                  "# HELP civitas_block_cache_bytes The block cache all cities share, "
                  "memtables included (storage.block_cache_mb).\n"
                  "# TYPE civitas_block_cache_bytes gauge\n"
                  "civitas_block_cache_bytes ",
                  g.block_cache_bytes, "\n");
  for (const GatewayGauges::City& c : g.cities) {
    absl::StrAppend(&out, "civitas_durable_writes_total{city=\"", c.id, "\"} ", c.durable_writes,
                    "\ncivitas_wal_syncs_total{city=\"", c.id, "\"} ", c.wal_syncs,
                    "\ncivitas_memtable_bytes{city=\"", c.id, "\"} ", c.memtable_bytes,
                    "\ncivitas_table_reader_bytes{city=\"", c.id, "\"} ", c.table_reader_bytes,
                    "\ncivitas_city_storage_bytes{city=\"", c.id, "\"} ", c.storage_bytes, "\n");
  }
  const GatewayGauges::RenderedCache& r = g.rendered;
  absl::StrAppend(
      &out,
      "# HELP civitas_http_rendered_total Public GET requests of the JSON/HTTP API by whether "
      "their rendered answer was kept (hit: no module call) or had to be made (miss).\n"
      "# TYPE civitas_http_rendered_total counter\n"
      "civitas_http_rendered_total{result=\"hit\"} ",
      r.hits, "\ncivitas_http_rendered_total{result=\"miss\"} ", r.misses,
      "\n# HELP civitas_http_not_modified_total Hits answered 304 to If-None-Match.\n"
      "# TYPE civitas_http_not_modified_total counter\n"
      "civitas_http_not_modified_total ",
      r.not_modified,
      "\n# HELP civitas_http_rendered_evictions_total Rendered answers dropped to stay within "
      "limits.http_cache_mb.\n"
      "# TYPE civitas_http_rendered_evictions_total counter\n"
      "civitas_http_rendered_evictions_total ",
      r.evictions,
      "\n# HELP civitas_http_rendered_bytes Memory held by rendered answers.\n"
      "# TYPE civitas_http_rendered_bytes gauge\n"
      "civitas_http_rendered_bytes ",
      r.bytes, "\n");
  return out;
}

}  // namespace civitas::gateway
