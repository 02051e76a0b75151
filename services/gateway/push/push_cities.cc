#include "services/gateway/push/push_cities.h"

namespace civitas::gateway::push {

void PushCities::Attach(const CityConfig& config, CityStore* store) {
  auto city = std::make_shared<City>();
  city->config = config;
  {
    absl::MutexLock lock(&city->mu);
    city->store = std::make_unique<PushStore>(store);
    city->database = store;
  }
  absl::MutexLock lock(&mu_);
  cities_[config.id] = std::move(city);
}

void PushCities::Detach(const std::string& city_id) {
  std::shared_ptr<City> city;
  {
    absl::MutexLock lock(&mu_);
    auto it = cities_.find(city_id);
    if (it == cities_.end()) return;
    city = std::move(it->second);
    cities_.erase(it);
  }
  absl::MutexLock lock(&city->mu);  // waits for the readers in Use()
  city->store.reset();
  city->database = nullptr;
}

void PushCities::DetachAll() {
  for (const std::string& id : CityIds()) Detach(id);
}

absl::Status PushCities::Use(const std::string& city_id,
                             const std::function<absl::Status(CityView& city)>& fn) const {
  std::shared_ptr<City> city;
  {
    absl::MutexLock lock(&mu_);
    auto it = cities_.find(city_id);
    if (it != cities_.end()) city = it->second;
  }
  if (city == nullptr) {
    return absl::UnavailableError("city '" + city_id + "' is not served here (any more)");
  }
  absl::ReaderMutexLock lock(&city->mu);
  if (city->store == nullptr) {
    return absl::UnavailableError("city '" + city_id + "' was removed from this gateway");
  }
  CityView view{city->config, *city->store, *city->database};
  return fn(view);
}

std::vector<std::string> PushCities::CityIds() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [id, city] : cities_) out.push_back(id);
  return out;
}

}  // namespace civitas::gateway::push
