// The cities whose push notifications this gateway serves, with their stores. A city's store
// is closed when the city is removed (or the gateway stops); Detach waits until nobody uses it
// any more, and afterwards every use finds the city gone. Both the NotifyService handlers and
// the delivery workers (and AppConfigService) reach a city's store only through Use().
#ifndef CIVITAS_GATEWAY_PUSH_PUSH_CITIES_H_
#define CIVITAS_GATEWAY_PUSH_PUSH_CITIES_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "services/gateway/city_store.h"
#include "services/gateway/config.h"
#include "services/gateway/push/push_store.h"

namespace civitas::gateway::push {

class PushCities {
 public:
  // What a user of a city gets: its config (as attached), its push data, and the city's
  // database itself for the gateway's other per-city data (the app configuration).
  struct CityView {
    const CityConfig& config;
    PushStore& store;
    CityStore& database;
  };

  // `store` stays open until Detach(config.id) returns.
  void Attach(const CityConfig& config, CityStore* store);
  // Blocks until the uses of the city's store running now have ended; later ones get
  // UNAVAILABLE. A city not attached: nothing happens.
  void Detach(const std::string& city_id);
  void DetachAll();

  // Runs `fn` while the city's store is guaranteed open. UNAVAILABLE if the city is not (or no
  // longer) attached.
  absl::Status Use(const std::string& city_id,
                   const std::function<absl::Status(CityView& city)>& fn) const;
  std::vector<std::string> CityIds() const;

 private:
  struct City {
    CityConfig config;
    mutable absl::Mutex mu;  // shared by users, exclusive for Detach
    std::unique_ptr<PushStore> store ABSL_GUARDED_BY(mu);
    CityStore* database ABSL_GUARDED_BY(mu) = nullptr;
  };
  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<City>> cities_ ABSL_GUARDED_BY(mu_);
};

}  // namespace civitas::gateway::push

#endif  // CIVITAS_GATEWAY_PUSH_PUSH_CITIES_H_
