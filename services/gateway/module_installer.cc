// Installing, upgrading and rolling back a city's modules while it serves (ModuleInstaller).
//
// Every change builds a new route table and swaps it in: calls in flight finish on the version they
// started with, new calls reach the new one, and streams that followed the old instance are told
// to reconnect. A refused change leaves the city exactly as it was.
#include "services/gateway/module_installer.h"

#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "civitas/registry/v1/registry.grpc.pb.h"
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
// A checkpoint nothing refers to any more.
void RemoveCheckpoint(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (ec)
    Log(LogLevel::kWarning, "cannot remove checkpoint", {{"dir", dir}, {"error", ec.message()}});
}

// The services of both instances (either may be null): what a change of version holds.
std::vector<std::string> ServicesOf(const ModuleInstance* a, const ModuleInstance* b) {
  std::set<std::string> names;
  for (const ModuleInstance* instance : {a, b}) {
    if (instance == nullptr) continue;
    for (const ServiceInfo& s : instance->module().services()) names.insert(s.full_name);
  }
  return {names.begin(), names.end()};
}

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

absl::StatusOr<const CityRoutes*> ModuleInstaller::FindCity(const RouteTable& table,
                                                            const std::string& city_id,
                                                            CityStore** store) const {
  auto it = table.cities().find(city_id);
  if (it == table.cities().end()) {
    return absl::NotFoundError("city '" + city_id + "' is not hosted by this gateway");
  }
  *store = host_->StoreOf(city_id);
  return &it->second;
}

void ModuleInstaller::Publish(const std::string& city, CityRoutes routes) {
  std::shared_ptr<const RouteTable> current = routes_.Get();
  std::map<std::string, CityRoutes> cities = current->cities();
  cities[city] = std::move(routes);
  routes_.Set(std::make_shared<const RouteTable>(std::move(cities)));
}

absl::StatusOr<std::string> ModuleInstaller::CheckBundle(const v1::InstallModuleRequest& request,
                                                         const std::string& city_id,
                                                         const CityRoutes& city,
                                                         const bundle::OpenedBundle& opened) const {
  const registry::v1::BundleManifest& manifest = opened.manifest;
  const std::string what = absl::StrCat(manifest.module_id(), " ", manifest.version());
  if (request.has_registry() && (manifest.module_id() != request.registry().module_id() ||
                                 manifest.version() != request.registry().version())) {
    return absl::PermissionDeniedError(
        absl::StrCat("the registry answered ", request.registry().module_id(), " ",
                     request.registry().version(), " with a bundle of ", what, "; refused"));
  }
  if (absl::Status trust = bundle::CheckTrust(opened, TrustedKeysOf(city.config)); !trust.ok()) {
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
  std::string current_version =
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
  return current_version;
}

absl::StatusOr<InstallPlan> ModuleInstaller::CheckInstall(const v1::InstallModuleRequest& request) {
  const std::string& parent = request.parent();
  if (parent.rfind("cities/", 0) != 0) {
    return absl::InvalidArgumentError("parent must be 'cities/{city_id}', got '" + parent + "'");
  }
  const std::string city_id = parent.substr(7);
  std::shared_ptr<const RouteTable> table = routes_.Get();
  CityStore* store = nullptr;
  absl::StatusOr<const CityRoutes*> found = FindCity(*table, city_id, &store);
  if (!found.ok()) return found.status();
  absl::StatusOr<std::string> bytes = FetchBundle(request, (*found)->config);
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<bundle::OpenedBundle> opened = bundle::OpenBundle(*bytes);
  if (!opened.ok()) return opened.status();
  absl::StatusOr<std::string> current_version = CheckBundle(request, city_id, **found, *opened);
  if (!current_version.ok()) return current_version.status();
  const registry::v1::BundleManifest& manifest = opened->manifest;
  return InstallPlan{manifest.module_id(), manifest.version(), manifest.abi_version(),
                     manifest.publisher(), *current_version};
}

absl::StatusOr<ModuleStatus> ModuleInstaller::Install(const v1::InstallModuleRequest& request,
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
  absl::StatusOr<std::string> checked = CheckBundle(request, city_id, city, *opened);
  if (!checked.ok()) return checked.status();
  const std::string current_version = *checked;
  absl::StatusOr<std::optional<ModulePin>> pin = ReadPin(*store, manifest.module_id());
  if (!pin.ok()) return pin.status();

  bool stored_now = false;
  absl::StatusOr<std::string> library = module_store_->Put(*opened, &stored_now);
  if (!library.ok()) return library.status();
  // A refused install leaves nothing behind in the store.
  absl::Cleanup discard = [&] {
    if (stored_now) module_store_->Discard(manifest.module_id(), manifest.version());
  };

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
  ModuleStatus status = host_->StartModule(
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

  // Data that changes shape does so while the module's calls in this city are held, so no
  // write of the old version can race it and be lost. An upgrade runs the new version's
  // migration; a forced downgrade the old version's down-migration. A checkpoint taken under the
  // hold undoes a failed step without losing anything.
  const bool upgrade =
      !current_version.empty() && bundle::CompareVersions(manifest.version(), current_version) > 0;
  ModuleInstance* reshaper = nullptr;  // the instance whose migration runs
  if (upgrade && instance->module().migrate() != nullptr) {
    reshaper = instance.get();
  } else if (!upgrade && old_instance && old_instance->module().migrate_down() != nullptr) {
    reshaper = old_instance.get();
  }
  const std::vector<std::string> services = ServicesOf(old_instance.get(), instance.get());
  std::string checkpoint;
  if (reshaper != nullptr) {
    if (absl::Status s = BeginHold(city_id, city, old_instance.get(), services); !s.ok()) return s;
    checkpoint = module_store_->NewCheckpointPath(city_id, manifest.module_id(), current_version,
                                                  manifest.version());
    absl::Status s = CheckpointCity(*store, checkpoint);
    if (s.ok()) {
      s = upgrade ? instance->Migrate(current_version)
                  : old_instance->MigrateDown(manifest.version());
      if (!s.ok()) {
        absl::Status restored =
            RestoreModuleKeys(*store, *storage_, checkpoint, manifest.module_id());
        Log(LogLevel::kError, "migration failed; module data restored",
            {{"city", city_id},
             {"module", manifest.module_id()},
             {"error", s.ToString()},
             {"restore", restored.ToString()}});
      }
    }
    if (!s.ok()) {
      CancelHold(city_id, city, old_instance.get(), services);
      return s;
    }
  }
  ModulePin next_pin{manifest.module_id(), manifest.version(), manifest.publisher(),
                     current_version,
                     // Only an upgrade's checkpoint can be restored by a rollback, and only when
                     // asked for explicitly.
                     upgrade ? checkpoint : "",
                     request.config_json().empty() && pin->has_value() ? (*pin)->config_json
                                                                       : request.config_json()};
  if (absl::Status s = WritePin(*store, next_pin); !s.ok()) {
    if (reshaper != nullptr) CancelHold(city_id, city, old_instance.get(), services);
    return s;
  }
  std::move(discard).Cancel();  // the city runs it now
  next.modules.push_back(status);
  Publish(city_id, std::move(next));
  if (reshaper != nullptr) EndHold(city_id, services);
  if (!upgrade && !checkpoint.empty()) RemoveCheckpoint(checkpoint);  // served its purpose
  if (old_instance) {
    old_instance->CloseFollowers(
        absl::StrCat(manifest.module_id(), " was upgraded to ", manifest.version(), "; reconnect"));
  }
  Log(LogLevel::kInfo, current_version.empty() ? "module installed" : "module upgraded",
      {{"city", city_id},
       {"module", manifest.module_id()},
       {"version", manifest.version()},
       {"from", current_version},
       {"publisher", manifest.publisher()},
       {"migration", reshaper == nullptr ? "none"
                     : upgrade           ? "up"
                                         : "down"}});
  return status;
}

absl::Status ModuleInstaller::BeginHold(const std::string& city_id, const CityRoutes& city,
                                        ModuleInstance* serving,
                                        const std::vector<std::string>& services) {
  host_->Hold(city_id, services);
  CityRoutes held = city;
  held.held.insert(services.begin(), services.end());
  Publish(city_id, std::move(held));
  if (serving == nullptr) return absl::OkStatus();
  serving->Fence();
  serving->CloseFollowers(absl::StrCat(serving->module().module_id(),
                                       " is changing version in city '", city_id, "'; reconnect"));
  const absl::Time deadline = absl::Now() + absl::Seconds(config_.limits.drain_seconds);
  while (serving->in_flight() > 0) {
    if (absl::Now() > deadline) {
      CancelHold(city_id, city, serving, services);
      return absl::UnavailableError(
          absl::StrCat("calls of ", serving->module().module_id(), " in city '", city_id,
                       "' were still running after ", config_.limits.drain_seconds,
                       " s (limits.drain_seconds); nothing was changed, try again"));
    }
    absl::SleepFor(absl::Milliseconds(1));
  }
  return absl::OkStatus();
}

void ModuleInstaller::EndHold(const std::string& city_id,
                              const std::vector<std::string>& services) {
  host_->Release(city_id, services);
}

void ModuleInstaller::CancelHold(const std::string& city_id, const CityRoutes& city,
                                 ModuleInstance* serving,
                                 const std::vector<std::string>& services) {
  if (serving != nullptr) serving->Unfence();
  Publish(city_id, city);
  EndHold(city_id, services);
}

absl::StatusOr<RollbackOutcome> ModuleInstaller::Rollback(const RollbackOptions& options) {
  const std::string& city_id = options.city_id;
  const std::string& module_id = options.module_id;
  absl::MutexLock lock(&change_mu_);
  std::shared_ptr<const RouteTable> table = routes_.Get();
  CityStore* store = nullptr;
  absl::StatusOr<const CityRoutes*> found = FindCity(*table, city_id, &store);
  if (!found.ok()) return found.status();
  const CityRoutes& city = **found;
  absl::StatusOr<std::optional<ModulePin>> pin = ReadPin(*store, module_id);
  if (!pin.ok()) return pin.status();
  if (!pin->has_value()) {
    return absl::FailedPreconditionError(absl::StrCat(module_id,
                                                      " was not installed from a bundle in city '",
                                                      city_id, "'; nothing to roll back"));
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
  if (absl::Status trust = bundle::CheckTrust(*previous, TrustedKeysOf(city.config)); !trust.ok()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot return to ", module_id, " ", current.previous_version, ": ", trust.message()));
  }

  std::shared_ptr<ModuleInstance> old_instance;
  CityRoutes next = Without(city, module_id, &old_instance);
  const LoadedModule* serving = old_instance ? &old_instance->module() : nullptr;
  const bool forward = bundle::CompareVersions(current.previous_version, current.version) > 0;

  // What happens to the data, decided before anything changes.
  RollbackOutcome outcome;
  if (forward) {
    // Back up after a forced downgrade: the newer version migrates the data again.
    outcome.data_handling = v1::ROLLBACK_DATA_HANDLING_MIGRATED;
  } else if (serving != nullptr && serving->migrate_down() != nullptr) {
    outcome.data_handling = v1::ROLLBACK_DATA_HANDLING_DOWN_MIGRATED;
  } else if (current.checkpoint.empty() ||
             (serving != nullptr && (serving->flags() & CIVITAS_MODULE_FLAG_ROLLBACK_COMPATIBLE))) {
    // No migration changed the data's shape, or the newer version says the older reads it.
    outcome.data_handling = v1::ROLLBACK_DATA_HANDLING_KEPT;
  } else {
    absl::StatusOr<KeyChanges> undone =
        DiffModuleKeys(*store, *storage_, current.checkpoint, module_id);
    if (!undone.ok()) return undone.status();
    outcome.undone = *undone;
    if (!options.restore_checkpoint) {
      return absl::FailedPreconditionError(absl::StrCat(
          module_id, " ", current.version, " migrated the data of city '", city_id,
          "' and declares neither a down-migration nor that ", current.previous_version,
          " reads its data. Returning to ", current.previous_version,
          " means restoring the checkpoint taken before the upgrade, which undoes ",
          undone->created, " records created, ", undone->changed, " changed and ", undone->deleted,
          " deleted since; to accept that, roll back with restore_checkpoint "
          "(civitasctl module rollback --restore-checkpoint)"));
    }
    outcome.data_handling = v1::ROLLBACK_DATA_HANDLING_CHECKPOINT_RESTORED;
  }
  if (options.validate_only) {
    for (const ModuleStatus& m : city.modules) {
      if (m.module_id == module_id) outcome.status = m;
    }
    return outcome;
  }

  std::shared_ptr<ModuleInstance> instance;
  ModuleStatus status = host_->StartModule(
      city.config, store,
      {module_id, module_store_->LibraryPath(module_id, current.previous_version),
       current.config_json, previous->manifest.publisher(), ""},
      next, &instance);
  if (!status.error.empty()) return absl::FailedPreconditionError(status.error);

  const std::vector<std::string> services = ServicesOf(old_instance.get(), instance.get());
  const bool reshape = outcome.data_handling != v1::ROLLBACK_DATA_HANDLING_KEPT;
  std::string safety;  // undoes a failed migration under the hold
  if (reshape) {
    if (absl::Status s = BeginHold(city_id, city, old_instance.get(), services); !s.ok()) return s;
    absl::Status s;
    if (outcome.data_handling == v1::ROLLBACK_DATA_HANDLING_CHECKPOINT_RESTORED) {
      // Counted again under the hold: nothing changes between this count and the restore.
      absl::StatusOr<KeyChanges> undone =
          DiffModuleKeys(*store, *storage_, current.checkpoint, module_id);
      s = undone.status();
      if (s.ok()) {
        outcome.undone = *undone;
        s = RestoreModuleKeys(*store, *storage_, current.checkpoint, module_id);
      }
    } else {
      safety = module_store_->NewCheckpointPath(city_id, module_id, current.version,
                                                current.previous_version);
      s = CheckpointCity(*store, safety);
      if (s.ok()) {
        s = forward ? instance->Migrate(current.version)
                    : old_instance->MigrateDown(current.previous_version);
        if (!s.ok()) {
          absl::Status restored = RestoreModuleKeys(*store, *storage_, safety, module_id);
          Log(LogLevel::kError, "rollback migration failed; module data restored",
              {{"city", city_id},
               {"module", module_id},
               {"error", s.ToString()},
               {"restore", restored.ToString()}});
        }
      }
    }
    if (!s.ok()) {
      CancelHold(city_id, city, old_instance.get(), services);
      return s;
    }
  }
  // A rollback is final: the pin keeps no version to return to.
  ModulePin back{module_id, current.previous_version, previous->manifest.publisher(), "",
                 "",        current.config_json};
  if (absl::Status s = WritePin(*store, back); !s.ok()) {
    if (reshape) CancelHold(city_id, city, old_instance.get(), services);
    return s;
  }
  next.modules.push_back(status);
  Publish(city_id, std::move(next));
  if (reshape) EndHold(city_id, services);
  if (!safety.empty()) RemoveCheckpoint(safety);
  if (old_instance) {
    old_instance->CloseFollowers(absl::StrCat(module_id, " was rolled back; reconnect"));
  }
  Log(LogLevel::kInfo, "module rolled back",
      {{"city", city_id},
       {"module", module_id},
       {"version", current.previous_version},
       {"from", current.version},
       {"data", v1::RollbackDataHandling_Name(outcome.data_handling)},
       {"records_undone",
        absl::StrCat(outcome.undone.created + outcome.undone.changed + outcome.undone.deleted)}});
  outcome.status = status;
  return outcome;
}

}  // namespace civitas::gateway
