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

}  // namespace civitas::gateway
