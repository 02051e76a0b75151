// Call metrics in Prometheus' text format. Labels come only from the configuration (city ids) and
// the modules' declared methods, never from what a client sends: a call to an invented method or
// city is counted without labels that name it.
#ifndef CIVITAS_GATEWAY_METRICS_H_
#define CIVITAS_GATEWAY_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

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

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_METRICS_H_
