// Adding, exporting and removing cities while the gateway serves.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/gateway/gateway.h"
#include "services/gateway/log.h"
#include "services/gateway/seed.h"

namespace civitas::gateway {

namespace fs = std::filesystem;

std::string Gateway::RuntimeCityFile(const std::string& city_id) const {
  return absl::StrCat(config_.data_dir, "/cities.d/", city_id, ".yaml");
}

absl::Status Gateway::LoadRuntimeCities() {
  const fs::path dir = fs::path(config_.data_dir) / "cities.d";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return absl::OkStatus();
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    absl::StatusOr<CityConfig> city = ParseCityConfig(text.str(), file.string());
    if (!city.ok()) return city.status();
    bool taken = false;
    for (const CityConfig& c : config_.cities) taken |= c.id == city->id;
    if (taken) {
      Log(LogLevel::kWarning, "city added at runtime is also in the config file; using the file's",
          {{"city", city->id}, {"file", file.string()}});
      continue;
    }
    runtime_cities_.insert(city->id);
    config_.cities.push_back(*std::move(city));
  }
  return absl::OkStatus();
}

absl::StatusOr<CityConfig> Gateway::CreateCity(const std::string& city_yaml) {
  absl::StatusOr<CityConfig> city = ParseCityConfig(city_yaml, "city_yaml");
  if (!city.ok()) return city.status();
  absl::MutexLock change(&change_mu_);
  absl::MutexLock backups(&backup_mu_);
  std::shared_ptr<const RouteTable> table = routes_.Get();
  if (table->cities().count(city->id)) {
    return absl::AlreadyExistsError("city '" + city->id + "' is already hosted by this gateway");
  }
  for (const auto& [id, other] : table->cities()) {
    for (const std::string& host : city->hosts) {
      for (const std::string& taken : other.config.hosts) {
        if (host == taken) {
          return absl::AlreadyExistsError(
              absl::StrCat("host '", host, "' already selects city '", id, "'"));
        }
      }
    }
  }
  const std::string dir = absl::StrCat(config_.data_dir, "/cities/", city->id);
  absl::StatusOr<std::unique_ptr<CityStore>> store = CityStore::Open(*storage_, dir);
  if (!store.ok()) return store.status();
  CityRoutes routes = BuildCity(*city, store->get());
  if (!city->seed_file.empty() || !city->seed_text.empty()) {
    Log(LogLevel::kWarning, "seed files are applied at start only", {{"city", city->id}});
  }
  // Persist first: a city that answers calls must come back after a restart.
  std::error_code ec;
  fs::create_directories(fs::path(config_.data_dir) / "cities.d", ec);
  const std::string file = RuntimeCityFile(city->id);
  {
    std::ofstream out(file + ".tmp", std::ios::trunc);
    out << city_yaml;
    if (!out) return absl::InternalError("cannot write " + file);
  }
  fs::rename(file + ".tmp", file, ec);
  if (ec) return absl::InternalError("cannot write " + file + ": " + ec.message());
  CityStore* raw = store->get();
  {
    absl::MutexLock lock(&stores_mu_);
    stores_[city->id] = std::move(*store);
  }
  push_cities_.Attach(*city, raw);
  runtime_cities_.insert(city->id);
  std::map<std::string, CityRoutes> cities = table->cities();
  cities[city->id] = std::move(routes);
  routes_.Set(std::make_shared<const RouteTable>(std::move(cities)));
  Log(LogLevel::kInfo, "city added", {{"city", city->id}, {"data_dir", dir}});
  return *city;
}

absl::StatusOr<common::BackupInfo> Gateway::ExportCity(
    const std::string& city_id, const std::string& dir,
    const std::function<void(int64_t)>& progress) {
  absl::MutexLock lock(&backup_mu_);
  auto it = stores_.find(city_id);
  if (it == stores_.end()) {
    return absl::NotFoundError("city '" + city_id + "' is not hosted by this gateway");
  }
  absl::StatusOr<common::BackupInfo> exported =
      common::CreateBackup(it->second->db(), dir, progress);
  if (exported.ok()) {
    Log(LogLevel::kInfo, "city exported",
        {{"city", city_id}, {"dir", dir}, {"backup_id", std::to_string(exported->id)}});
  }
  return exported;
}

absl::StatusOr<std::string> Gateway::DeleteCity(const std::string& city_id,
                                                const std::string& confirm, bool delete_backups) {
  if (confirm != city_id) {
    return absl::InvalidArgumentError(absl::StrCat(
        "deleting city '", city_id, "' deletes all its data; set confirm to '", city_id, "'"));
  }
  absl::MutexLock change(&change_mu_);
  absl::MutexLock backups(&backup_mu_);
  std::shared_ptr<const RouteTable> table = routes_.Get();
  auto city = table->cities().find(city_id);
  if (city == table->cities().end()) {
    return absl::NotFoundError("city '" + city_id + "' is not hosted by this gateway");
  }
  if (!runtime_cities_.count(city_id)) {
    return absl::FailedPreconditionError(
        absl::StrCat("city '", city_id, "' comes from the config file (", config_.source,
                     "); remove it there and restart, then delete its data folder"));
  }
  // No new call reaches the city's modules; the running ones finish; streams reconnect.
  std::vector<std::shared_ptr<ModuleInstance>> instances = city->second.instances;
  for (const auto& instance : instances) {
    instance->Retire();
    instance->CloseFollowers(absl::StrCat("city '", city_id, "' was removed from this gateway"));
  }
  std::map<std::string, CityRoutes> cities = table->cities();
  cities.erase(city_id);
  routes_.Set(std::make_shared<const RouteTable>(std::move(cities)));
  table.reset();
  const absl::Time deadline = absl::Now() + absl::Seconds(config_.limits.drain_seconds + 5);
  for (const auto& instance : instances) {
    while (instance->calls() > 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
    if (instance->calls() > 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("city '", city_id,
                       "' no longer takes calls, but some are still running; retry the "
                       "delete in a moment"));
    }
  }
  // Whoever still holds an instance (a module's own thread, a snapshot not yet released) gets
  // abi.h's "storage is closed" from now on, never the closed or freed store.
  for (const auto& instance : instances) instance->DetachStore();
  // The push handlers and delivery workers too: Detach waits for their uses of the store.
  push_cities_.Detach(city_id);
  const std::string dir = stores_.at(city_id)->dir();
  if (absl::Status s = stores_.at(city_id)->Close(); !s.ok()) {
    Log(LogLevel::kError, "closing a deleted city's store failed",
        {{"city", city_id}, {"error", s.ToString()}});
  }
  {
    absl::MutexLock lock(&stores_mu_);
    stores_.erase(city_id);
  }
  runtime_cities_.erase(city_id);
  std::error_code ec;
  fs::remove(RuntimeCityFile(city_id), ec);
  fs::remove_all(dir, ec);
  if (ec) return absl::InternalError("could not delete " + dir + ": " + ec.message());
  fs::remove_all(fs::path(config_.data_dir) / "checkpoints" / city_id, ec);
  if (delete_backups) fs::remove_all(BackupDir(city_id), ec);
  Log(LogLevel::kWarning, "city deleted",
      {{"city", city_id}, {"data_dir", dir}, {"backups_deleted", delete_backups ? "yes" : "no"}});
  return dir;
}

}  // namespace civitas::gateway
