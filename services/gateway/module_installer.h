// Installing, upgrading and rolling back a city's modules while it serves (AdminService's
// InstallModule / RollbackModule, through the gateway's CityOperations): fetching and verifying
// the bundle, storing it, starting the new version, the hold while its data changes shape, the
// pin, and the swap of the route table. See docs/architecture.md, "Sharing modules".
#ifndef CIVITAS_GATEWAY_MODULE_INSTALLER_H_
#define CIVITAS_GATEWAY_MODULE_INSTALLER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "civitas/gateway/v1/admin.pb.h"
#include "services/bundle/bundle.h"
#include "services/gateway/city_store.h"
#include "services/gateway/config.h"
#include "services/gateway/module_store.h"
#include "services/gateway/route_table.h"
#include "services/gateway/standard_services.h"

namespace civitas::gateway {

// A module to run in a city: from the config file, or a bundle the city installed.
struct ModuleSpec {
  std::string module_id;
  std::string path;
  std::string config_json;
  std::string publisher;
  std::string previous_version;
};

// The keys a city trusts bundles from (its trusted_publishers).
std::vector<bundle::TrustedKey> TrustedKeysOf(const CityConfig& city);

class ModuleInstaller {
 public:
  // What the installer needs from the gateway that owns it.
  class Host {
   public:
    virtual ~Host() = default;
    // The city's store (the city is in the current route table; called under the change mutex).
    virtual CityStore* StoreOf(const std::string& city_id) = 0;
    // Loads and starts one module for a city whose other modules are `routes`; on success adds it
    // to `routes`. The status says what happened either way.
    virtual ModuleStatus StartModule(const CityConfig& city, CityStore* store,
                                     const ModuleSpec& spec, CityRoutes& routes,
                                     std::shared_ptr<ModuleInstance>* started) = 0;
    // New calls of `services` in `city` wait (Dispatcher::Hold) until Release.
    virtual void Hold(const std::string& city, const std::vector<std::string>& services) = 0;
    virtual void Release(const std::string& city, const std::vector<std::string>& services) = 0;
  };

  // Every argument outlives the installer. `change_mu` serializes every change of a city's
  // modules or of the set of cities (the gateway's city lifecycle takes it too).
  ModuleInstaller(const GatewayConfig& config, RouteTableHolder* routes, ModuleStore* module_store,
                  const StorageEnvironment* storage, absl::Mutex* change_mu, Host* host)
      : config_(config),
        routes_(*routes),
        module_store_(module_store),
        storage_(storage),
        change_mu_(*change_mu),
        host_(host) {}

  // CityOperations::Install / Rollback (standard_services.h).
  absl::StatusOr<ModuleStatus> Install(const v1::InstallModuleRequest& request,
                                       const std::function<bool()>& cancelled);
  // CityOperations::CheckInstall: Install's checks, changing nothing.
  absl::StatusOr<InstallPlan> CheckInstall(const v1::InstallModuleRequest& request);
  absl::StatusOr<RollbackOutcome> Rollback(const RollbackOptions& options);

 private:
  // Install's checks of an opened bundle (the registry's answer, trust, ABI, version order);
  // the version the city runs now ("" = none).
  absl::StatusOr<std::string> CheckBundle(const v1::InstallModuleRequest& request,
                                          const std::string& city_id, const CityRoutes& city,
                                          const bundle::OpenedBundle& opened) const;
  // The city's routes in `table` and its store; NOT_FOUND naming the city.
  absl::StatusOr<const CityRoutes*> FindCity(const RouteTable& table, const std::string& city_id,
                                             CityStore** store) const;
  // Swaps in a route table in which `city` has `routes`.
  void Publish(const std::string& city, CityRoutes routes);
  // Holds new calls of `services` in `city` (they wait, see Dispatcher::Hold), fences
  // `serving` and waits until none of its handlers runs, so that the module's data can change
  // shape without racing a write. On success the caller changes the data, publishes the city's
  // next routes and then calls EndHold; on failure nothing is held any more.
  absl::Status BeginHold(const std::string& city_id, const CityRoutes& city,
                         ModuleInstance* serving, const std::vector<std::string>& services);
  // Lets the held calls go on, routed by the table published last.
  void EndHold(const std::string& city_id, const std::vector<std::string>& services);
  // Undoes BeginHold after a refused change: `serving` and the city's routes serve again.
  void CancelHold(const std::string& city_id, const CityRoutes& city, ModuleInstance* serving,
                  const std::vector<std::string>& services);
  // The bundle's bytes: from one of the city's registries, or a regular file below the import
  // folder (bundle_sources.cc). Does blocking I/O: never called under change_mu_.
  absl::StatusOr<std::string> FetchBundle(const v1::InstallModuleRequest& request,
                                          const CityConfig& city) const;
  absl::StatusOr<std::string> ReadImportedBundle(const std::string& path) const;
  absl::StatusOr<std::string> DownloadBundle(const v1::RegistrySource& source,
                                             const CityConfig& city) const;

  const GatewayConfig& config_;
  RouteTableHolder& routes_;
  ModuleStore* module_store_;
  const StorageEnvironment* storage_;
  absl::Mutex& change_mu_;
  Host* host_;
};

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_MODULE_INSTALLER_H_
