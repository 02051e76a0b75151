#include "services/gateway/route_table.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "services/gateway/status_details.h"

namespace civitas::gateway {

RouteTable::RouteTable(std::map<std::string, CityRoutes> cities) : cities_(std::move(cities)) {
  for (const auto& [id, city] : cities_) {
    for (const std::string& host : city.config.hosts) host_to_city_[host] = id;
    if (!city_list_.empty()) city_list_ += ", ";
    city_list_ += id;
  }
}

grpc::Status RouteTable::ResolveCity(absl::string_view city_metadata, absl::string_view authority,
                                     const CityRoutes** city) const {
  if (!city_metadata.empty()) {
    auto it = cities_.find(std::string(city_metadata));
    if (it == cities_.end()) {
      return GatewayError(
          grpc::StatusCode::NOT_FOUND,
          absl::StrCat("city '", city_metadata,
                       "' is not hosted by this gateway (x-civitas-city); it hosts: ", city_list_),
          "CITY_NOT_FOUND", {{"city", std::string(city_metadata)}});
    }
    *city = &it->second;
    return grpc::Status::OK;
  }
  if (!authority.empty()) {
    std::string host = absl::AsciiStrToLower(authority);
    if (size_t colon = host.rfind(':'); colon != std::string::npos && host.back() != ']') {
      host.resize(colon);
    }
    if (auto it = host_to_city_.find(host); it != host_to_city_.end()) {
      *city = &cities_.at(it->second);
      return grpc::Status::OK;
    }
  }
  if (cities_.size() == 1) {
    *city = &cities_.begin()->second;
    return grpc::Status::OK;
  }
  return GatewayError(grpc::StatusCode::INVALID_ARGUMENT,
                      absl::StrCat("this gateway hosts several cities; send the x-civitas-city "
                                   "metadata with one of: ",
                                   city_list_),
                      "CITY_REQUIRED", {{"cities", city_list_}});
}

void CityRoutes::Index() {
  methods.clear();
  services.clear();
  std::vector<const LoadedModule*> modules;
  for (const auto& instance : instances) {
    modules.push_back(&instance->module());
    for (const ServiceInfo& s : instance->module().services()) {
      services[s.full_name] = instance.get();
      for (const MethodInfo& m : s.methods) {
        methods[m.full_path] =
            Route{instance.get(), &m, metrics ? metrics->For(config.id, m.full_path) : nullptr};
      }
    }
  }
  http = std::make_shared<const HttpBindingIndex>(modules);
}

namespace {

// "/pkg.Service/Method" -> "pkg.Service"
absl::string_view ServiceOf(absl::string_view path) {
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  return path.substr(0, path.find('/'));
}

}  // namespace

bool RouteTable::IsHeld(const CityRoutes& city, absl::string_view path) {
  return !city.held.empty() && city.held.contains(ServiceOf(path));
}

grpc::Status RouteTable::ResolveMethod(const CityRoutes& city, absl::string_view path,
                                       Route* route) const {
  // Tell a service that exists elsewhere apart from a method nobody serves.
  const absl::string_view service = ServiceOf(path);
  if (auto it = city.methods.find(std::string(path)); it != city.methods.end()) {
    *route = it->second;
    return grpc::Status::OK;
  }
  if (city.services.contains(std::string(service))) {
    return GatewayError(grpc::StatusCode::UNIMPLEMENTED,
                        absl::StrCat("method ", path, " does not exist in service ", service),
                        "METHOD_NOT_FOUND", {{"method", std::string(path)}});
  }
  for (const ModuleStatus& m : city.modules) {
    if (!m.error.empty() && m.module) {
      for (const ServiceInfo& s : m.module->services()) {
        if (s.full_name == service) {
          return GatewayError(
              grpc::StatusCode::UNIMPLEMENTED,
              absl::StrCat("service ", service, " of module '", m.module_id,
                           "' is not serving in city '", city.config.id, "': ", m.error),
              "MODULE_NOT_SERVING",
              {{"city", city.config.id},
               {"module", m.module_id},
               {"service", std::string(service)}});
        }
      }
    }
  }
  if (ServesAnywhere(service)) {
    return GatewayError(grpc::StatusCode::UNIMPLEMENTED,
                        absl::StrCat("method ", path, ": service ", service,
                                     " is not enabled for city '", city.config.id, "'"),
                        "SERVICE_NOT_ENABLED",
                        {{"city", city.config.id}, {"service", std::string(service)}});
  }
  return GatewayError(grpc::StatusCode::UNIMPLEMENTED,
                      absl::StrCat("unknown method ", path, " (city '", city.config.id, "')"),
                      "METHOD_NOT_FOUND", {{"method", std::string(path)}});
}

bool RouteTable::ServesAnywhere(absl::string_view service) const {
  for (const auto& [id, city] : cities_) {
    if (city.services.contains(std::string(service))) return true;
  }
  return false;
}

}  // namespace civitas::gateway
