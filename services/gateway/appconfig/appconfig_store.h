// A city's app configuration in its database, in the gateway's key space (SystemKey,
// "0x00 sys/"), apart from every module. Keys, built here and nowhere else:
//   appconfig/v/<version, 20 digits>   civitas.appconfig.v1.AppConfigVersion (with app_config)
//   appconfig/current                  the current version's number, decimal
// Versions are numbered 1, 2, … without gaps and never change or go away; a new version and the
// current pointer are written in one transaction that holds the pointer's lock, so two admins
// writing at once cannot both build on the same version.
#ifndef CIVITAS_GATEWAY_APPCONFIG_APPCONFIG_STORE_H_
#define CIVITAS_GATEWAY_APPCONFIG_APPCONFIG_STORE_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "civitas/appconfig/v1/appconfig.pb.h"
#include "services/gateway/city_store.h"

namespace civitas::gateway::appconfig {

namespace ac = ::civitas::appconfig::v1;

std::string VersionKey(int64_t version);
std::string CurrentVersionKey();

class AppConfigStore {
 public:
  // `store` must outlive this object.
  explicit AppConfigStore(CityStore* store) : store_(store) {}

  // The current version's number; 0 if nothing was stored yet.
  absl::StatusOr<int64_t> CurrentVersion() const;
  // The stored version `version`; nullopt if there is none.
  absl::StatusOr<std::optional<ac::AppConfigVersion>> Get(int64_t version) const;
  // Stores `config` (its output-only fields cleared) as version based_on + 1 and makes it
  // current, in one transaction; ABORTED if the current version is no longer `based_on`.
  // `restored_from` is the version it restores (0 for an update). Returns the new version.
  absl::StatusOr<ac::AppConfigVersion> Append(const ac::AppConfig& config, int64_t based_on,
                                              int64_t restored_from, absl::Time now);

 private:
  CityStore* store_;
};

}  // namespace civitas::gateway::appconfig

#endif  // CIVITAS_GATEWAY_APPCONFIG_APPCONFIG_STORE_H_
