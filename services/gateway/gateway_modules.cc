// Installing, upgrading and rolling back a city's modules while it serves.
//
// Every change builds a new route table and swaps it in: calls in flight finish on the version they
// started with, new calls reach the new one, and streams that followed the old instance are told
// to reconnect. A refused change leaves the city exactly as it was.
#include <grpcpp/grpcpp.h>

#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "civitas/registry/v1/registry.grpc.pb.h"
#include "services/gateway/gateway.h"
#include "services/gateway/log.h"

namespace civitas::gateway {
namespace {

// "1.1" -> {1, 1}
bool ParseAbi(const std::string& abi, uint32_t* major, uint32_t* minor) {
  std::vector<std::string> parts = absl::StrSplit(abi, '.');
  return parts.size() == 2 && absl::SimpleAtoi(parts[0], major) &&
         absl::SimpleAtoi(parts[1], minor);
}

const ModuleStatus* FindStatus(const CityRoutes& routes, const std::string& module_id) {
  for (const ModuleStatus& m : routes.modules) {
    if (m.module_id == module_id) return &m;
  }
  return nullptr;
}

// `routes` without the module: its instance, its status, its services.
CityRoutes Without(const CityRoutes& routes, const std::string& module_id,
                   std::shared_ptr<ModuleInstance>* removed) {
  CityRoutes next = routes;
  next.instances.clear();
  for (const auto& instance : routes.instances) {
    if (instance->module().module_id() == module_id) {
      if (removed) *removed = instance;
    } else {
      next.instances.push_back(instance);
    }
  }
  next.modules.erase(
      std::remove_if(next.modules.begin(), next.modules.end(),
                     [&](const ModuleStatus& m) { return m.module_id == module_id; }),
      next.modules.end());
  next.Index();
  return next;
}

}  // namespace

absl::StatusOr<const CityRoutes*> Gateway::FindCity(const RouteTable& table,
                                                    const std::string& city_id,
                                                    CityStore** store) const {
  auto it = table.cities().find(city_id);
  if (it == table.cities().end()) {
    return absl::NotFoundError("city '" + city_id + "' is not hosted by this gateway");
  }
  *store = stores_.at(city_id).get();
  return &it->second;
}

void Gateway::Publish(const std::string& city, CityRoutes routes) {
  std::shared_ptr<const RouteTable> current = routes_.Get();
  std::map<std::string, CityRoutes> cities = current->cities();
  cities[city] = std::move(routes);
  routes_.Set(std::make_shared<const RouteTable>(std::move(cities)));
}

absl::StatusOr<ModuleStatus> Gateway::Install(const v1::InstallModuleRequest& request,
                                              const std::function<bool()>& cancelled) {
  const std::string& parent = request.parent();
  if (parent.rfind("cities/", 0) != 0) {
    return absl::InvalidArgumentError("parent must be 'cities/{city_id}', got '" + parent + "'");
  }
  const std::string city_id = parent.substr(7);
  // Downloading and reading the bundle (up to a minute) happen before the lock: a slow registry
  // must not hold up every other install, upgrade and rollback of the gateway.
  absl::StatusOr<std::string> bytes;
  {
    std::shared_ptr<const RouteTable> before = routes_.Get();
    auto it = before->cities().find(city_id);
    if (it == before->cities().end()) {
      return absl::NotFoundError("city '" + city_id + "' is not hosted by this gateway");
    }
    bytes = FetchBundle(request, it->second.config);
  }
  if (!bytes.ok()) return bytes.status();

  absl::MutexLock lock(&change_mu_);
  std::shared_ptr<const RouteTable> table = routes_.Get();
  CityStore* store = nullptr;
  absl::StatusOr<const CityRoutes*> found = FindCity(*table, city_id, &store);
  if (!found.ok()) return found.status();
  const CityRoutes& city = **found;

  absl::StatusOr<bundle::OpenedBundle> opened = bundle::OpenBundle(*bytes);
  if (!opened.ok()) return opened.status();
  const registry::v1::BundleManifest& manifest = opened->manifest;
  const std::string what = absl::StrCat(manifest.module_id(), " ", manifest.version());
  if (request.has_registry() && (manifest.module_id() != request.registry().module_id() ||
                                 manifest.version() != request.registry().version())) {
    return absl::PermissionDeniedError(
        absl::StrCat("the registry answered ", request.registry().module_id(), " ",
                     request.registry().version(), " with a bundle of ", what, "; refused"));
  }
  if (absl::Status trust = bundle::CheckTrust(*opened, TrustOf(city.config)); !trust.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("city '", city_id, "' refuses ", what, ": ", trust.message()));
  }
  uint32_t major = 0, minor = 0;
  if (!ParseAbi(manifest.abi_version(), &major, &minor) || major != CIVITAS_ABI_MAJOR ||
      minor > CIVITAS_ABI_MINOR) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " was built for civitas ABI ", manifest.abi_version(),
                     "; this gateway speaks ", CIVITAS_ABI_MAJOR, ".", CIVITAS_ABI_MINOR,
                     " (same major, minor up to ", CIVITAS_ABI_MINOR, ")"));
  }

  const ModuleStatus* current = FindStatus(city, manifest.module_id());
  const std::string current_version =
      current && current->module && current->error.empty() ? current->module->version() : "";
  if (current_version == manifest.version()) {
    return absl::AlreadyExistsError(absl::StrCat("city '", city_id, "' already runs ", what));
  }
  if (request.require_installed() && current_version.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        manifest.module_id(), " is not running in city '", city_id, "'; install it first"));
  }
  if (!current_version.empty() &&
      bundle::CompareVersions(manifest.version(), current_version) < 0 && !request.force()) {
    return absl::FailedPreconditionError(absl::StrCat("installing ", what,
                                                      " would downgrade city '", city_id, "' from ",
                                                      current_version, "; use rollback, or force"));
  }
  absl::StatusOr<std::optional<ModulePin>> pin = ReadPin(*store, manifest.module_id());
  if (!pin.ok()) return pin.status();

  absl::StatusOr<std::string> library = module_store_->Put(*opened);
  if (!library.ok()) return library.status();

  std::string config_json = request.config_json();
  if (config_json.empty() && pin->has_value()) config_json = (*pin)->config_json;
  if (config_json.empty()) {
    for (const ModuleConfig& mc : city.config.modules) {
      if (mc.id == manifest.module_id()) config_json = mc.config_json;
    }
  }
  std::shared_ptr<ModuleInstance> old_instance;
  CityRoutes next = Without(city, manifest.module_id(), &old_instance);
  std::shared_ptr<ModuleInstance> instance;
  ModuleStatus status = StartModule(
      city.config, store,
      {manifest.module_id(), *library, config_json, manifest.publisher(), current_version}, next,
      &instance);
  if (!status.error.empty()) return absl::FailedPreconditionError(status.error);
  if (status.module->version() != manifest.version()) {
    return absl::FailedPreconditionError(absl::StrCat("bundle manifest says ", what,
                                                      " but its library reports version ",
                                                      status.module->version()));
  }

  // Nothing of the city has changed yet: a caller that went away finds it as it was.
  if (cancelled && cancelled()) {
    return absl::CancelledError(
        absl::StrCat("the install of ", what, " was cancelled by the client; nothing changed"));
  }
  // A migration runs once, after a checkpoint that a failure or a rollback restores.
  std::string checkpoint;
  if (instance->module().migrate() != nullptr && !current_version.empty()) {
    checkpoint = module_store_->NewCheckpointPath(city_id, manifest.module_id(), current_version,
                                                  manifest.version());
    if (absl::Status s = CheckpointCity(*store, checkpoint); !s.ok()) return s;
    if (absl::Status s = instance->Migrate(current_version); !s.ok()) {
      absl::Status restored =
          RestoreModuleKeys(*store, *storage_, checkpoint, manifest.module_id());
      Log(LogLevel::kError, "migration failed; module data restored",
          {{"city", city_id},
           {"module", manifest.module_id()},
           {"error", s.ToString()},
           {"restore", restored.ToString()}});
      return s;
    }
  }
  ModulePin next_pin{manifest.module_id(),
                     manifest.version(),
                     manifest.publisher(),
                     current_version,
                     checkpoint,
                     request.config_json().empty() && pin->has_value() ? (*pin)->config_json
                                                                       : request.config_json()};
  if (absl::Status s = WritePin(*store, next_pin); !s.ok()) return s;
  next.modules.push_back(status);
  Publish(city_id, std::move(next));
  if (old_instance) {
    old_instance->CloseFollowers(
        absl::StrCat(manifest.module_id(), " was upgraded to ", manifest.version(), "; reconnect"));
  }
  Log(LogLevel::kInfo, current_version.empty() ? "module installed" : "module upgraded",
      {{"city", city_id},
       {"module", manifest.module_id()},
       {"version", manifest.version()},
       {"from", current_version},
       {"publisher", manifest.publisher()}});
  return status;
}

absl::StatusOr<ModuleStatus> Gateway::Rollback(const std::string& city_id,
                                               const std::string& module_id) {
  absl::MutexLock lock(&change_mu_);
  std::shared_ptr<const RouteTable> table = routes_.Get();
  CityStore* store = nullptr;
  absl::StatusOr<const CityRoutes*> found = FindCity(*table, city_id, &store);
  if (!found.ok()) return found.status();
  const CityRoutes& city = **found;
  absl::StatusOr<std::optional<ModulePin>> pin = ReadPin(*store, module_id);
  if (!pin.ok()) return pin.status();
  if (!pin->has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat(module_id, " was not installed from a bundle in city '", city_id,
                     "'; nothing to roll "
                     "back"));
  }
  const ModulePin current = **pin;
  if (current.previous_version.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("city '", city_id, "' has no version of ",
                                                      module_id, " before ", current.version,
                                                      " to return to"));
  }
  absl::StatusOr<bundle::OpenedBundle> previous =
      module_store_->Get(module_id, current.previous_version);
  if (!previous.ok()) return previous.status();
  if (absl::Status trust = bundle::CheckTrust(*previous, TrustOf(city.config)); !trust.ok()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot return to ", module_id, " ", current.previous_version, ": ", trust.message()));
  }

  std::shared_ptr<ModuleInstance> old_instance;
  CityRoutes next = Without(city, module_id, &old_instance);
  if (!current.checkpoint.empty()) {
    // Restoring data under a running module would mix old and new writes: pause its services,
    // let running handlers finish, restore, then start the previous version.
    CityRoutes paused = city;
    const std::string reason =
        absl::StrCat(module_id, " is being rolled back in city '", city_id, "'; retry in a moment");
    if (old_instance) {
      for (const ServiceInfo& s : old_instance->module().services()) {
        paused.paused[s.full_name] = reason;
      }
    }
    Publish(city_id, std::move(paused));
    if (old_instance) {
      old_instance->CloseFollowers(reason);
      const absl::Time deadline = absl::Now() + absl::Seconds(config_.limits.drain_seconds);
      while (old_instance->in_flight() > 0 && absl::Now() < deadline) {
        absl::SleepFor(absl::Milliseconds(5));
      }
    }
    if (absl::Status s = RestoreModuleKeys(*store, *storage_, current.checkpoint, module_id);
        !s.ok()) {
      Publish(city_id, city);  // serve the current version again, unchanged
      return s;
    }
  }
  std::shared_ptr<ModuleInstance> instance;
  ModuleStatus status =
      StartModule(city.config, store,
                  {module_id, module_store_->LibraryPath(module_id, current.previous_version),
                   current.config_json, previous->manifest.publisher(), ""},
                  next, &instance);
  if (!status.error.empty()) {
    Publish(city_id, city);
    return absl::FailedPreconditionError(status.error);
  }
  ModulePin back{module_id, current.previous_version, previous->manifest.publisher(), "",
                 "",        current.config_json};
  if (absl::Status s = WritePin(*store, back); !s.ok()) return s;
  next.modules.push_back(status);
  Publish(city_id, std::move(next));
  if (old_instance && current.checkpoint.empty()) {
    old_instance->CloseFollowers(absl::StrCat(module_id, " was rolled back; reconnect"));
  }
  Log(LogLevel::kInfo, "module rolled back",
      {{"city", city_id},
       {"module", module_id},
       {"version", current.previous_version},
       {"from", current.version},
       {"data_restored", current.checkpoint.empty() ? "no" : "yes"}});
  return status;
}

}  // namespace civitas::gateway
