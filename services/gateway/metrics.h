// Call metrics, and everything /metrics shows, in Prometheus' text format. Labels come only from
// the configuration (city ids) and the modules' declared methods, never from what a client sends:
// a call to an invented method or city is counted without labels that name it.
#ifndef CIVITAS_GATEWAY_METRICS_H_
#define CIVITAS_GATEWAY_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/common/code_names.h"

namespace civitas::gateway {

// Latency bucket bounds in seconds (Prometheus histogram `le`).
inline constexpr std::array<double, 12> kLatencyBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

// Counters of one method in one city; updated lock-free on the call path.
class MethodStats {
 public:
  void Record(int code, absl::Duration latency);

 private:
  friend class Metrics;
  std::array<std::atomic<uint64_t>, 17> by_code_{};
  std::array<std::atomic<uint64_t>, kLatencyBuckets.size() + 1> buckets_{};  // last = +Inf
  std::atomic<uint64_t> sum_micros_{0};
};

class Metrics {
 public:
  // The stats of a configured city's real method; stable for the life of the process, so they
  // survive module upgrades.
  MethodStats* For(const std::string& city, const std::string& method) ABSL_LOCKS_EXCLUDED(mu_);
  // A call that never reached a module (unknown city or method, bad token, busy).
  void RecordRejected(int code);

  // Everything, in Prometheus text exposition format. `extra` is appended (gauges the caller
  // computes at scrape time).
  std::string Render(const std::string& extra) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::pair<std::string, std::string>, std::unique_ptr<MethodStats>> stats_
      ABSL_GUARDED_BY(mu_);
  std::array<std::atomic<uint64_t>, 17> rejected_{};
};

// What the gateway reads at scrape time, besides the call counters Metrics keeps.
struct GatewayGauges {
  int64_t active_calls = 0;       // streams included
  int64_t handler_queue = 0;      // handlers running or waiting for a thread
  int64_t following_streams = 0;  // streams following a change feed
  bool grpc_listener_up = false;  // the readiness probe's last answer
  struct Listener {
    std::string name;  // "api", "metrics"
    int64_t connections = 0;
    uint64_t refused_connections = 0;
    uint64_t accept_errors = 0;
    uint64_t rejected_requests = 0;
  };
  std::vector<Listener> listeners;
  struct Module {
    std::string city;
    std::string module_id;
    std::string version;  // empty if the library was refused
    bool up = false;
  };
  std::vector<Module> modules;
  struct City {
    std::string id;
    uint64_t durable_writes = 0;
    uint64_t wal_syncs = 0;
    uint64_t memtable_bytes = 0;
    uint64_t table_reader_bytes = 0;
    uint64_t storage_bytes = 0;
  };
  std::vector<City> cities;
  uint64_t block_cache_bytes = 0;
  struct RenderedCache {  // public GET answers kept rendered (rendered_cache.h)
    uint64_t hits = 0, misses = 0, not_modified = 0, evictions = 0, bytes = 0;
  } rendered;
};

// The gauges as Prometheus text (HELP and TYPE lines included), for Metrics::Render's `extra`.
std::string RenderGauges(const GatewayGauges& gauges);

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_METRICS_H_
