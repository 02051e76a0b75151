// Which module serves "/pkg.Service/Method" for which city. A RouteTable never changes once built;
// installing, upgrading or disabling a module builds a new one and swaps it in (RouteTableHolder),
// so calls in flight finish on the snapshot they started with.
#ifndef CIVITAS_GATEWAY_ROUTE_TABLE_H_
#define CIVITAS_GATEWAY_ROUTE_TABLE_H_

#include <grpcpp/support/status.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "services/gateway/config.h"
#include "services/gateway/http_rule.h"
#include "services/gateway/metrics.h"
#include "services/gateway/module_instance.h"

namespace civitas::gateway {

struct Route {
  ModuleInstance* instance = nullptr;  // kept alive by the table
  const MethodInfo* method = nullptr;  // owned by instance->module()
  MethodStats* stats = nullptr;        // owned by Metrics, outlives every table
};

// The outcome of configuring one module for one city, for AdminService and health.
struct ModuleStatus {
  std::string module_id;
  std::string path;
  std::shared_ptr<const LoadedModule> module;  // null if the library was refused
  std::string error;                           // empty = serving
  std::vector<std::string> services;           // served in this city
  std::string publisher;                       // installed bundles only
  std::string previous_version;                // what a rollback returns to
};

struct CityRoutes {
  CityConfig config;
  Metrics* metrics = nullptr;                       // where Index() finds each method's stats
  absl::flat_hash_map<std::string, Route> methods;  // by full path
  absl::flat_hash_map<std::string, ModuleInstance*> services;  // by service name
  // The google.api.http bindings of `instances`, for the JSON/HTTP API (HttpTranscoder).
  std::shared_ptr<const HttpBindingIndex> http;
  std::vector<std::shared_ptr<ModuleInstance>> instances;
  std::vector<ModuleStatus> modules;
  // Services whose new calls wait (Dispatcher::Hold) while their module's data changes shape:
  // an upgrade's migration, a rollback's down-migration or restore.
  absl::flat_hash_set<std::string> held;

  // Rebuilds `methods`, `services` and `http` from `instances`.
  void Index();
};

class RouteTable {
 public:
  explicit RouteTable(std::map<std::string, CityRoutes> cities);

  // Picks the city of a call: explicit metadata first, then the authority, then the only city.
  // Unknown city: NOT_FOUND; several cities and no hint: INVALID_ARGUMENT.
  grpc::Status ResolveCity(absl::string_view city_metadata, absl::string_view authority,
                           const CityRoutes** city) const;
  // True if new calls of the service of `path` must wait (CityRoutes::held).
  static bool IsHeld(const CityRoutes& city, absl::string_view path);
  // Finds the method in the city. Not enabled there (or unknown): UNIMPLEMENTED.
  grpc::Status ResolveMethod(const CityRoutes& city, absl::string_view path, Route* route) const;

  const std::map<std::string, CityRoutes>& cities() const { return cities_; }
  // True if some city of this gateway serves `service`.
  bool ServesAnywhere(absl::string_view service) const;

 private:
  std::map<std::string, CityRoutes> cities_;
  absl::flat_hash_map<std::string, std::string> host_to_city_;
  std::string city_list_;  // "a, b, c" for messages
};

class RouteTableHolder {
 public:
  std::shared_ptr<const RouteTable> Get() const { return table_.load(std::memory_order_acquire); }
  void Set(std::shared_ptr<const RouteTable> table) {
    table_.store(std::move(table), std::memory_order_release);
  }

 private:
  std::atomic<std::shared_ptr<const RouteTable>> table_;
};

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_ROUTE_TABLE_H_
