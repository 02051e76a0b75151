#include "services/gateway/module_store.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace civitas::gateway {
namespace {

namespace fs = std::filesystem;

constexpr char kPinPrefix[] = "module/";

absl::StatusOr<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read '", path.string(), "'"));
  std::stringstream b;
  b << in.rdbuf();
  return b.str();
}

absl::Status WriteFile(const fs::path& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  out.flush();
  if (!out) return absl::InternalError(absl::StrCat("cannot write '", path.string(), "'"));
  return absl::OkStatus();
}

std::string PinToJson(const ModulePin& pin) {
  google::protobuf::Struct s;
  auto& f = *s.mutable_fields();
  f["module_id"].set_string_value(pin.module_id);
  f["version"].set_string_value(pin.version);
  f["publisher"].set_string_value(pin.publisher);
  f["previous_version"].set_string_value(pin.previous_version);
  f["checkpoint"].set_string_value(pin.checkpoint);
  f["config_json"].set_string_value(pin.config_json);
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(s, &json);
  return json;
}

bool PinFromJson(const std::string& json, ModulePin* pin) {
  google::protobuf::Struct s;
  if (!google::protobuf::util::JsonStringToMessage(json, &s).ok()) return false;
  auto get = [&](const char* key) {
    auto it = s.fields().find(key);
    return it == s.fields().end() ? std::string() : it->second.string_value();
  };
  pin->module_id = get("module_id");
  pin->version = get("version");
  pin->publisher = get("publisher");
  pin->previous_version = get("previous_version");
  pin->checkpoint = get("checkpoint");
  pin->config_json = get("config_json");
  return !pin->module_id.empty() && !pin->version.empty();
}

// The folder of one version inside `root`, or INVALID_ARGUMENT: the id and version must be valid
// names, and the folder must stay below the store even after resolving symbolic links.
absl::StatusOr<fs::path> VersionDir(const std::string& root, const std::string& module_id,
                                    const std::string& version) {
  if (absl::Status s = bundle::CheckModuleRef(module_id, version); !s.ok()) return s;
  std::error_code ec;
  const fs::path base = fs::weakly_canonical(fs::path(root), ec);
  if (ec)
    return absl::FailedPreconditionError(absl::StrCat("module store '", root, "': ", ec.message()));
  const fs::path dir = fs::weakly_canonical(base / module_id / version, ec);
  const fs::path rel = ec ? fs::path("..") : dir.lexically_relative(base);
  if (rel.empty() || *rel.begin() == ".." || rel.is_absolute()) {
    return absl::InvalidArgumentError(
        absl::StrCat(module_id, " ", version, " would be stored outside the module store"));
  }
  return base / module_id / version;
}

}  // namespace

ModuleStore::ModuleStore(std::string data_dir)
    : root_(data_dir + "/modules"), checkpoints_(data_dir + "/checkpoints") {}

std::string ModuleStore::LibraryPath(const std::string& module_id,
                                     const std::string& version) const {
  absl::StatusOr<fs::path> dir = VersionDir(root_, module_id, version);
  if (!dir.ok()) return "";  // loading "" fails with a clear message
  return (*dir / bundle::kModuleFile).string();
}

absl::StatusOr<std::string> ModuleStore::Put(const bundle::OpenedBundle& opened, bool* created) {
  if (created) *created = false;
  const std::string& id = opened.manifest.module_id();
  const std::string& version = opened.manifest.version();
  absl::StatusOr<fs::path> checked = VersionDir(root_, id, version);
  if (!checked.ok()) return checked.status();
  const fs::path final_dir = *checked;
  if (auto it = discarded_.find(absl::StrCat(id, "/", version));
      it != discarded_.end() && it->second != opened.manifest_json) {
    return absl::AlreadyExistsError(
        absl::StrCat(id, " ", version,
                     " was refused here before with a different manifest; a published version "
                     "must never change (publish a new version)"));
  }
  std::error_code ec;
  if (fs::exists(final_dir / bundle::kManifestFile, ec)) {
    absl::StatusOr<std::string> existing = ReadFile(final_dir / bundle::kManifestFile);
    if (existing.ok() && *existing == opened.manifest_json) {
      absl::StatusOr<bundle::OpenedBundle> again = Get(id, version);
      if (!again.ok()) return again.status();
      return LibraryPath(id, version);
    }
    return absl::AlreadyExistsError(
        absl::StrCat(id, " ", version,
                     " is already installed here with a different manifest; a published "
                     "version must never change (publish a new version)"));
  }
  const fs::path id_dir = final_dir.parent_path();
  const bool fresh_id_dir = !fs::exists(id_dir, ec);
  fs::create_directories(id_dir, ec);
  std::mt19937_64 rng(std::random_device{}());
  const fs::path tmp = id_dir / absl::StrCat(".incoming-", getpid(), "-", rng());
  // A refused bundle leaves nothing behind, not even an empty folder for its id.
  auto discard = [&] {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    if (fresh_id_dir) fs::remove(id_dir, ignored);  // only if empty
  };
  fs::create_directories(tmp, ec);
  if (ec) {
    discard();
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create '", tmp.string(), "': ", ec.message()));
  }
  for (const auto& [name, data] : opened.files) {
    if (absl::Status s = WriteFile(tmp / name, data); !s.ok()) {
      discard();
      return s;
    }
  }
  fs::permissions(tmp / bundle::kModuleFile,
                  fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read, ec);
  fs::rename(tmp, final_dir, ec);
  if (ec) {
    discard();
    return absl::FailedPreconditionError(absl::StrCat("cannot store ", id, " ", version));
  }
  // What is loaded is what was verified: read the copy back and check it again.
  absl::StatusOr<bundle::OpenedBundle> stored = Get(id, version);
  if (!stored.ok()) {
    fs::remove_all(final_dir, ec);
    if (fresh_id_dir) fs::remove(id_dir, ec);
    return stored.status();
  }
  if (created) *created = true;
  return LibraryPath(id, version);
}

void ModuleStore::Discard(const std::string& module_id, const std::string& version) {
  absl::StatusOr<fs::path> dir = VersionDir(root_, module_id, version);
  if (!dir.ok()) return;
  absl::StatusOr<std::string> manifest = ReadFile(*dir / bundle::kManifestFile);
  if (manifest.ok()) discarded_[absl::StrCat(module_id, "/", version)] = *manifest;
  std::error_code ec;
  fs::remove_all(*dir, ec);
  fs::remove(dir->parent_path(), ec);  // only if no other version is left
}

absl::StatusOr<bundle::OpenedBundle> ModuleStore::Get(const std::string& module_id,
                                                      const std::string& version) const {
  absl::StatusOr<fs::path> checked = VersionDir(root_, module_id, version);
  if (!checked.ok()) return checked.status();
  const fs::path dir = *checked;
  std::map<std::string, std::string> files;
  for (const char* name : {bundle::kManifestFile, bundle::kModuleFile, bundle::kDescriptorsFile,
                           bundle::kSignatureFile}) {
    absl::StatusOr<std::string> data = ReadFile(dir / name);
    if (!data.ok()) {
      return absl::NotFoundError(absl::StrCat(module_id, " ", version,
                                              " is not in the module store (", dir.string(), ")"));
    }
    files[name] = *std::move(data);
  }
  absl::StatusOr<bundle::OpenedBundle> opened = bundle::OpenBundle(bundle::WriteTar(files));
  if (opened.ok() &&
      (opened->manifest.module_id() != module_id || opened->manifest.version() != version)) {
    opened = absl::DataLossError("its manifest names another module or version");
  }
  if (!opened.ok()) {
    return absl::DataLossError(absl::StrCat("stored ", module_id, " ", version,
                                            " fails its check: ", opened.status().message()));
  }
  return opened;
}

std::string ModuleStore::NewCheckpointPath(const std::string& city, const std::string& module_id,
                                           const std::string& from, const std::string& to) const {
  std::error_code ec;
  fs::create_directories(fs::path(checkpoints_) / city, ec);
  return (fs::path(checkpoints_) / city /
          absl::StrCat(module_id, "-", from, "-to-", to, "-", absl::ToUnixMillis(absl::Now())))
      .string();
}

absl::StatusOr<std::vector<ModulePin>> ReadPins(const CityStore& store) {
  std::vector<ModulePin> pins;
  absl::Status s = store.ScanSystem(kPinPrefix, [&](absl::string_view, absl::string_view value) {
    ModulePin pin;
    if (PinFromJson(std::string(value), &pin)) pins.push_back(pin);
  });
  if (!s.ok()) return s;
  return pins;
}

absl::StatusOr<std::optional<ModulePin>> ReadPin(const CityStore& store,
                                                 const std::string& module_id) {
  std::string json;
  absl::StatusOr<bool> found = store.GetSystem(absl::StrCat(kPinPrefix, module_id), &json);
  if (!found.ok()) return found.status();
  if (!*found) return std::optional<ModulePin>();
  ModulePin pin;
  if (!PinFromJson(json, &pin)) return absl::DataLossError("unreadable module pin " + module_id);
  return std::optional<ModulePin>(pin);
}

absl::Status WritePin(CityStore& store, const ModulePin& pin) {
  return store.PutSystem(absl::StrCat(kPinPrefix, pin.module_id), PinToJson(pin));
}

absl::Status CheckpointCity(CityStore& store, const std::string& dir) {
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(store.db(), &raw);
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  if (s.ok()) s = checkpoint->CreateCheckpoint(dir);
  if (!s.ok()) {
    return absl::InternalError(absl::StrCat("cannot checkpoint the city: ", s.ToString()));
  }
  return absl::OkStatus();
}

namespace {

// Read options bounded to one module's keys; the bounds live as long as the range.
struct ModuleKeyRange {
  explicit ModuleKeyRange(const std::string& module_id)
      : lower(ModuleKeyPrefix(module_id)), upper(lower) {
    upper.back() = '\x01';  // the prefix ends in 0x00
    lo = rocksdb::Slice(lower);
    hi = rocksdb::Slice(upper);
    options.iterate_lower_bound = &lo;
    options.iterate_upper_bound = &hi;
  }
  std::string lower, upper;
  rocksdb::Slice lo, hi;
  rocksdb::ReadOptions options;
};

absl::StatusOr<std::unique_ptr<rocksdb::DB>> OpenCheckpoint(const StorageEnvironment& env,
                                                            const std::string& dir) {
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(env.CityOptions(), dir, &raw);
  if (!s.ok()) {
    return absl::DataLossError(absl::StrCat("cannot open checkpoint '", dir, "': ", s.ToString()));
  }
  return std::unique_ptr<rocksdb::DB>(raw);
}

}  // namespace

absl::Status RestoreModuleKeys(CityStore& store, const StorageEnvironment& env,
                               const std::string& checkpoint_dir, const std::string& module_id) {
  absl::StatusOr<std::unique_ptr<rocksdb::DB>> checkpoint = OpenCheckpoint(env, checkpoint_dir);
  if (!checkpoint.ok()) return checkpoint.status();
  ModuleKeyRange range(module_id);
  rocksdb::WriteBatch batch;
  {
    std::unique_ptr<rocksdb::Iterator> live(store.db()->NewIterator(range.options));
    for (live->SeekToFirst(); live->Valid(); live->Next()) batch.Delete(live->key());
    if (!live->status().ok()) return absl::InternalError(live->status().ToString());
    std::unique_ptr<rocksdb::Iterator> old((*checkpoint)->NewIterator(range.options));
    for (old->SeekToFirst(); old->Valid(); old->Next()) batch.Put(old->key(), old->value());
    if (!old->status().ok()) return absl::DataLossError(old->status().ToString());
  }
  rocksdb::Status s = store.db()->Write(store.write_options(), &batch);
  if (!s.ok()) return absl::InternalError(absl::StrCat("restore failed: ", s.ToString()));
  return absl::OkStatus();
}

absl::StatusOr<KeyChanges> DiffModuleKeys(const CityStore& store, const StorageEnvironment& env,
                                          const std::string& checkpoint_dir,
                                          const std::string& module_id) {
  absl::StatusOr<std::unique_ptr<rocksdb::DB>> checkpoint = OpenCheckpoint(env, checkpoint_dir);
  if (!checkpoint.ok()) return checkpoint.status();
  ModuleKeyRange range(module_id);
  std::unique_ptr<rocksdb::Iterator> live(store.db()->NewIterator(range.options));
  std::unique_ptr<rocksdb::Iterator> old((*checkpoint)->NewIterator(range.options));
  KeyChanges changes;
  live->SeekToFirst();
  old->SeekToFirst();
  // A merge of two sorted key sequences: a key only live was created, only in the checkpoint
  // deleted, in both with another value changed.
  while (live->Valid() || old->Valid()) {
    const int order = !live->Valid() ? 1 : !old->Valid() ? -1 : live->key().compare(old->key());
    if (order < 0) {
      ++changes.created;
      live->Next();
    } else if (order > 0) {
      ++changes.deleted;
      old->Next();
    } else {
      if (live->value() != old->value()) ++changes.changed;
      live->Next();
      old->Next();
    }
  }
  if (!live->status().ok()) return absl::InternalError(live->status().ToString());
  if (!old->status().ok()) return absl::DataLossError(old->status().ToString());
  return changes;
}

}  // namespace civitas::gateway
