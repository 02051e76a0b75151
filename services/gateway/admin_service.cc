#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "civitas/abi.h"
#include "services/gateway/standard_services.h"

namespace civitas::gateway {
namespace {

bool IsLoopbackPeer(const std::string& peer) {
  return absl::StartsWith(peer, "ipv4:127.") || absl::StartsWith(peer, "ipv6:[::1]") ||
         absl::StartsWith(peer, "unix:");
}

std::string Metadata(grpc::ServerContext* ctx, const char* key) {
  auto it = ctx->client_metadata().find(key);
  if (it == ctx->client_metadata().end()) return "";
  return std::string(it->second.data(), it->second.size());
}

grpc::Status PageSize(int32_t requested, int32_t* size) {
  if (requested < 0 || requested > 1000) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("page_size must be between 0 and 1000, got ", requested));
  }
  *size = requested == 0 ? 100 : requested;
  return grpc::Status::OK;
}

void ToProto(const std::string& city, const ModuleStatus& m, v1::Module* out) {
  out->set_name(absl::StrCat("cities/", city, "/modules/", m.module_id));
  out->set_module_id(m.module_id);
  out->set_path(m.path);
  if (m.module) {
    out->set_version(m.module->version());
    out->set_abi_version(m.module->abi_version());
    out->set_build_id(m.module->build_id());
  }
  out->set_state(m.error.empty() ? v1::MODULE_STATE_SERVING : v1::MODULE_STATE_FAILED);
  out->set_error(m.error);
  for (const std::string& svc : m.services) out->add_services(svc);
  out->set_publisher(m.publisher);
  out->set_previous_version(m.previous_version);
}

grpc::Status ToGrpc(const absl::Status& s) {
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

}  // namespace

grpc::Status AdminService::Authorize(grpc::ServerContext* ctx, const std::string& city) const {
  if (trust_loopback_ && IsLoopbackPeer(ctx->peer())) return grpc::Status::OK;
  Caller caller;
  grpc::Status s = auth_->Authenticate(Metadata(ctx, "authorization"), city, &caller);
  if (!s.ok()) return s;
  return Authenticator::CheckRole(caller, CIVITAS_ROLE_ADMIN, "civitas.gateway.v1.AdminService",
                                  city);
}

grpc::Status AdminService::ListCities(grpc::ServerContext* ctx,
                                      const v1::ListCitiesRequest* request,
                                      v1::ListCitiesResponse* response) {
  grpc::Status s = Authorize(ctx, "*");
  if (!s.ok()) return s;
  int32_t size = 0;
  if (s = PageSize(request->page_size(), &size); !s.ok()) return s;
  std::shared_ptr<const RouteTable> table = routes_->Get();
  auto it = table->cities().upper_bound(request->page_token());
  for (; it != table->cities().end() && response->cities_size() < size; ++it) {
    const CityConfig& c = it->second.config;
    v1::City* city = response->add_cities();
    city->set_name("cities/" + c.id);
    city->set_city_id(c.id);
    city->set_display_name(c.display_name);
    city->set_default_language(c.default_language);
    city->set_time_zone(c.time_zone);
    for (const ModuleConfig& m : c.modules) city->add_module_ids(m.id);
  }
  if (it != table->cities().end()) response->set_next_page_token(std::prev(it)->first);
  return grpc::Status::OK;
}

grpc::Status AdminService::ListModules(grpc::ServerContext* ctx,
                                       const v1::ListModulesRequest* request,
                                       v1::ListModulesResponse* response) {
  const std::string& parent = request->parent();
  if (!absl::StartsWith(parent, "cities/") || parent.size() <= 7) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "parent must be 'cities/{city_id}', got '" + parent + "'");
  }
  const std::string city_id = parent.substr(7);
  grpc::Status s = Authorize(ctx, city_id);
  if (!s.ok()) return s;
  int32_t size = 0;
  if (s = PageSize(request->page_size(), &size); !s.ok()) return s;
  std::shared_ptr<const RouteTable> table = routes_->Get();
  auto city = table->cities().find(city_id);
  if (city == table->cities().end()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        "city '" + city_id + "' is not hosted by this gateway");
  }
  std::vector<const ModuleStatus*> modules;
  for (const ModuleStatus& m : city->second.modules) modules.push_back(&m);
  std::sort(modules.begin(), modules.end(), [](const ModuleStatus* a, const ModuleStatus* b) {
    return a->module_id < b->module_id;
  });
  size_t i = 0;
  while (i < modules.size() && !request->page_token().empty() &&
         modules[i]->module_id <= request->page_token()) {
    ++i;
  }
  for (; i < modules.size() && response->modules_size() < size; ++i) {
    ToProto(city_id, *modules[i], response->add_modules());
  }
  if (i < modules.size()) response->set_next_page_token(modules[i - 1]->module_id);
  return grpc::Status::OK;
}

}  // namespace civitas::gateway

namespace civitas::gateway {

grpc::Status AdminService::InstallModule(grpc::ServerContext* ctx,
                                         const v1::InstallModuleRequest* request,
                                         v1::Module* response) {
  const std::string& parent = request->parent();
  if (!absl::StartsWith(parent, "cities/") || parent.size() <= 7) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "parent must be 'cities/{city_id}', got '" + parent + "'");
  }
  if (grpc::Status s = Authorize(ctx, parent.substr(7)); !s.ok()) return s;
  absl::StatusOr<ModuleStatus> status = modules_->Install(*request);
  if (!status.ok()) return ToGrpc(status.status());
  ToProto(parent.substr(7), *status, response);
  return grpc::Status::OK;
}

grpc::Status AdminService::RollbackModule(grpc::ServerContext* ctx,
                                          const v1::RollbackModuleRequest* request,
                                          v1::Module* response) {
  std::vector<std::string> parts = absl::StrSplit(request->name(), '/');
  if (parts.size() != 4 || parts[0] != "cities" || parts[2] != "modules" || parts[1].empty() ||
      parts[3].empty()) {
    return grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        "name must be 'cities/{city_id}/modules/{module_id}', got '" + request->name() + "'");
  }
  if (grpc::Status s = Authorize(ctx, parts[1]); !s.ok()) return s;
  absl::StatusOr<ModuleStatus> status = modules_->Rollback(parts[1], parts[3]);
  if (!status.ok()) return ToGrpc(status.status());
  ToProto(parts[1], *status, response);
  return grpc::Status::OK;
}

}  // namespace civitas::gateway
