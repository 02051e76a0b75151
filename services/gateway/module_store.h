// Installed module bundles on the gateway's disk, and what each city runs.
//
//   <data_dir>/modules/<module id>/<version>/   manifest.json, module.so, descriptors.pb, signature
//   <data_dir>/checkpoints/<city>/<module>-<from>-to-<to>-<time>/   RocksDB checkpoints (hard
//   links) city database, system key "module/<id>"    the city's pin: version, previous version, …
#ifndef CIVITAS_GATEWAY_MODULE_STORE_H_
#define CIVITAS_GATEWAY_MODULE_STORE_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/bundle/bundle.h"
#include "services/gateway/city_store.h"

namespace civitas::gateway {

// What a city runs of one installed module.
struct ModulePin {
  std::string module_id;
  std::string version;
  std::string publisher;
  std::string previous_version;  // what a rollback returns to; empty = none
  std::string checkpoint;        // taken before this version's migration; empty = none
  std::string config_json;       // empty = the config file's settings
};

class ModuleStore {
 public:
  explicit ModuleStore(std::string data_dir);

  // Every id and version is checked (bundle::CheckModuleRef) and every folder must resolve to a
  // place below <data_dir>/modules: a signed manifest cannot name a path.
  // Copies a verified bundle into the store (atomically, via a temporary folder), then reads the
  // library back and checks its hash again. A version already stored must have the same manifest.
  // Returns the library's path.
  // *created says whether this call stored the version (it was not there before).
  absl::StatusOr<std::string> Put(const bundle::OpenedBundle& opened, bool* created = nullptr);
  // Removes a version that Put created for an install that was then refused, so that a refused
  // bundle leaves nothing behind. The process may have loaded its library already, and the
  // dynamic loader would hand the same path back to a later dlopen: until the gateway restarts,
  // Put accepts that id and version again only with the very same manifest.
  void Discard(const std::string& module_id, const std::string& version);
  // Opens a stored version again, checking every hash.
  absl::StatusOr<bundle::OpenedBundle> Get(const std::string& module_id,
                                           const std::string& version) const;
  // Empty if the id or version is not valid (see bundle::CheckModuleRef).
  std::string LibraryPath(const std::string& module_id, const std::string& version) const;

  // A new, empty checkpoint folder for `city` (the folder itself must not exist yet).
  std::string NewCheckpointPath(const std::string& city, const std::string& module_id,
                                const std::string& from, const std::string& to) const;

 private:
  std::string root_;
  // Manifests of discarded versions, by "<id>/<version>" (see Discard).
  std::map<std::string, std::string> discarded_;
  std::string checkpoints_;
};

absl::StatusOr<std::vector<ModulePin>> ReadPins(const CityStore& store);
absl::StatusOr<std::optional<ModulePin>> ReadPin(const CityStore& store,
                                                 const std::string& module_id);
absl::Status WritePin(CityStore& store, const ModulePin& pin);

// A consistent, hard-linked copy of the city's database at `dir`.
absl::Status CheckpointCity(CityStore& store, const std::string& dir);
// Replaces every key of `module_id` in the live database by the keys it had in the checkpoint,
// in one atomic write.
absl::Status RestoreModuleKeys(CityStore& store, const StorageEnvironment& env,
                               const std::string& checkpoint_dir, const std::string& module_id);

// How the live keys of one module differ from a checkpoint's: what restoring it would undo.
struct KeyChanges {
  int64_t created = 0;  // live only
  int64_t changed = 0;  // in both, with another value
  int64_t deleted = 0;  // in the checkpoint only
};
absl::StatusOr<KeyChanges> DiffModuleKeys(const CityStore& store, const StorageEnvironment& env,
                                          const std::string& checkpoint_dir,
                                          const std::string& module_id);

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_MODULE_STORE_H_
