#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "civitas/abi.h"
#include "services/common/code_names.h"
#include "services/gateway/log.h"
#include "services/gateway/standard_services.h"
#include "services/gateway/status_details.h"

namespace civitas::gateway {
namespace {

std::string Metadata(grpc::ServerContext* ctx, const char* key) {
  auto it = ctx->client_metadata().find(key);
  if (it == ctx->client_metadata().end()) return "";
  return std::string(it->second.data(), it->second.size());
}

// A JSON/HTTP call reaches AdminService on the in-process channel, whose peer is the gateway
// itself; the transcoder names the HTTP client (believed only there, as in the dispatcher).
bool ViaHttp(grpc::ServerContext* ctx) {
  const std::string peer = ctx->peer();
  return !absl::StartsWith(peer, "ipv4:") && !absl::StartsWith(peer, "ipv6:") &&
         !absl::StartsWith(peer, "unix:");
}

std::string PeerOf(grpc::ServerContext* ctx) {
  if (ViaHttp(ctx)) {
    const std::string http_peer = Metadata(ctx, "x-civitas-http-peer");
    if (!http_peer.empty()) return http_peer;
  }
  return ctx->peer();
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
    out->set_supports_personal_data(m.module->supports_personal_data());
  }
  out->set_state(m.error.empty() ? v1::MODULE_STATE_SERVING : v1::MODULE_STATE_FAILED);
  out->set_error(m.error);
  for (const std::string& svc : m.services) out->add_services(svc);
  out->set_publisher(m.publisher);
  out->set_previous_version(m.previous_version);
}

void ToProto(const std::string& city, const std::string& dir, const common::BackupInfo& b,
             v1::Backup* out) {
  out->set_name(absl::StrCat("cities/", city, "/backups/", b.id));
  out->set_backup_id(b.id);
  out->set_create_time_unix(b.timestamp);
  out->set_size_bytes(static_cast<int64_t>(b.size_bytes));
  out->set_file_count(static_cast<int32_t>(b.file_count));
  out->set_backup_dir(dir);
}

// "cities/{city}" -> city, or empty.
std::string CityOf(const std::string& parent) {
  if (!absl::StartsWith(parent, "cities/") || parent.size() <= 7) return "";
  std::string city = parent.substr(7);
  return city.find('/') == std::string::npos ? city : "";
}

void ToProto(const CityConfig& c, v1::City* city) {
  city->set_name("cities/" + c.id);
  city->set_city_id(c.id);
  city->set_display_name(c.display_name);
  city->set_default_language(c.default_language);
  city->set_time_zone(c.time_zone);
  for (const ModuleConfig& m : c.modules) city->add_module_ids(m.id);
}

// "cities/{city}" -> OK and *city, or INVALID_ARGUMENT saying what a parent looks like.
grpc::Status ParseParent(const std::string& parent, std::string* city) {
  *city = CityOf(parent);
  if (city->empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "parent must be 'cities/{city_id}', got '" + parent + "'");
  }
  return grpc::Status::OK;
}

grpc::Status ToGrpc(const absl::Status& s) {
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

}  // namespace

grpc::Status AdminService::Authorize(AdminCall& call, const std::string& city, Need need) const {
  grpc::Status s = CheckCaller(call, city, need);
  if (!s.ok() || local_) return s;
  const std::string path =
      absl::StrCat("/", v1::AdminService::service_full_name(), "/", call.method);
  const google::protobuf::MethodDescriptor* method =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
          absl::StrCat(v1::AdminService::service_full_name(), ".", call.method));
  int64_t retry_after = 0;
  s = limiter_.Admit({call.city, call.subject, false, call.ctx->peer(), "", path, method},
                     &retry_after);
  if (retry_after > 0) call.ctx->AddTrailingMetadata("retry-after", std::to_string(retry_after));
  return s;
}

grpc::Status AdminService::CheckCaller(AdminCall& call, const std::string& city, Need need) const {
  call.city = city;
  if (local_) {
    // The admin socket's file permissions already decided who may connect.
    call.subject = "local admin socket";
    call.is_operator = true;
    return grpc::Status::OK;
  }
  auth::TokenClaims claims;
  if (grpc::Status s = auth_->Verify(Metadata(call.ctx, "authorization"), &claims); !s.ok()) {
    // The same details (TOKEN_MISSING, TOKEN_EXPIRED, ...), with a longer message.
    return grpc::Status(
        s.error_code(),
        absl::StrCat(s.error_message(),
                     " (AdminService needs an admin or operator token over the network; on the "
                     "gateway's machine use the admin socket)"),
        s.error_details());
  }
  call.subject = claims.subject;
  call.is_operator = auth_->IsOperator(claims);
  if (call.is_operator) return grpc::Status::OK;
  if (need == Need::kOperator) {
    return GatewayError(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat(call.method,
                                     " needs the instance operator role (roles claim "
                                     "\"*\": [\"operator\"]); '",
                                     claims.subject, "' does not have it"),
                        "ROLE_REQUIRED", {{"required_role", "operator"}});
  }
  if (city != "*" && (auth_->RolesIn(claims, city) & CIVITAS_ROLE_BIT(CIVITAS_ROLE_ADMIN))) {
    return grpc::Status::OK;
  }
  return GatewayError(
      grpc::StatusCode::PERMISSION_DENIED,
      absl::StrCat(call.method, " needs role admin in city '", city,
                   "' (or the instance operator role); '", claims.subject, "' does not have it"),
      "ROLE_REQUIRED", {{"required_role", "admin"}, {"city", city}});
}

grpc::Status AdminService::Audit(const AdminCall& call, grpc::Status status) const {
  const std::string code = common::CodeName(static_cast<int>(status.error_code()));
  LogAudit("admin call", {{"method", call.method},
                          {"subject", call.subject.empty() ? "(none)" : call.subject},
                          {"operator", call.is_operator ? "true" : "false"},
                          {"peer", PeerOf(call.ctx)},
                          {"via", local_              ? "socket"
                                  : ViaHttp(call.ctx) ? "http"
                                                      : "network"},
                          {"city", call.city},
                          {"outcome", code},
                          {"error", status.error_message()}});
  return EnsureErrorInfo(std::move(status));  // every error carries an ErrorInfo
}

grpc::Status AdminService::ListCities(grpc::ServerContext* ctx,
                                      const v1::ListCitiesRequest* request,
                                      v1::ListCitiesResponse* response) {
  AdminCall call{ctx, "ListCities"};
  return Audit(call, [&]() -> grpc::Status {
    // An operator sees every city; a city's admin only the cities it administers.
    grpc::Status s = Authorize(call, "*", Need::kOperator);
    auth::TokenClaims claims;
    const bool city_admin_only = !s.ok() && s.error_code() == grpc::StatusCode::PERMISSION_DENIED &&
                                 auth_->Verify(Metadata(ctx, "authorization"), &claims).ok();
    if (!s.ok() && !city_admin_only) return s;
    int32_t size = 0;
    if (grpc::Status bad = PageSize(request->page_size(), &size); !bad.ok()) return bad;
    std::shared_ptr<const RouteTable> table = routes_->Get();
    auto it = table->cities().upper_bound(request->page_token());
    bool any = false;
    for (; it != table->cities().end() && response->cities_size() < size; ++it) {
      if (city_admin_only &&
          !(auth_->RolesIn(claims, it->first) & CIVITAS_ROLE_BIT(CIVITAS_ROLE_ADMIN))) {
        continue;
      }
      any = true;
      ToProto(it->second.config, response->add_cities());
    }
    if (city_admin_only && !any && request->page_token().empty()) return s;
    if (it != table->cities().end()) response->set_next_page_token(std::prev(it)->first);
    return grpc::Status::OK;
  }());
}

grpc::Status AdminService::ListModules(grpc::ServerContext* ctx,
                                       const v1::ListModulesRequest* request,
                                       v1::ListModulesResponse* response) {
  AdminCall call{ctx, "ListModules"};
  return Audit(call, [&]() -> grpc::Status {
    const std::string& parent = request->parent();
    std::string city_id;
    grpc::Status s = ParseParent(parent, &city_id);
    if (s.ok()) s = Authorize(call, city_id, Need::kCityAdmin);
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
  }());
}

}  // namespace civitas::gateway

namespace civitas::gateway {

grpc::Status AdminService::InstallModule(grpc::ServerContext* ctx,
                                         const v1::InstallModuleRequest* request,
                                         v1::Module* response) {
  AdminCall call{ctx, "InstallModule"};
  return Audit(call, [&]() -> grpc::Status {
    std::string city;
    grpc::Status s = ParseParent(request->parent(), &city);
    if (s.ok()) s = Authorize(call, city, Need::kCityAdmin);
    if (!s.ok()) return s;
    if (request->validate_only()) {
      absl::StatusOr<InstallPlan> plan = modules_->CheckInstall(*request);
      if (!plan.ok()) return ToGrpc(plan.status());
      response->set_name(absl::StrCat("cities/", city, "/modules/", plan->module_id));
      response->set_module_id(plan->module_id);
      response->set_version(plan->version);
      response->set_abi_version(plan->abi_version);
      response->set_publisher(plan->publisher);
      response->set_previous_version(plan->current_version);
      response->set_state(plan->current_version.empty() ? v1::MODULE_STATE_UNSPECIFIED
                                                        : v1::MODULE_STATE_SERVING);
      return grpc::Status::OK;
    }
    // A client that gave up must not find its change made after all.
    absl::StatusOr<ModuleStatus> status =
        modules_->Install(*request, [ctx] { return ctx->IsCancelled(); });
    if (!status.ok()) return ToGrpc(status.status());
    ToProto(city, *status, response);
    return grpc::Status::OK;
  }());
}

grpc::Status AdminService::RollbackModule(grpc::ServerContext* ctx,
                                          const v1::RollbackModuleRequest* request,
                                          v1::RollbackModuleResponse* response) {
  AdminCall call{ctx, "RollbackModule"};
  return Audit(call, [&]() -> grpc::Status {
    std::vector<std::string> parts = absl::StrSplit(request->name(), '/');
    if (parts.size() != 4 || parts[0] != "cities" || parts[2] != "modules" || parts[1].empty() ||
        parts[3].empty()) {
      return grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          "name must be 'cities/{city_id}/modules/{module_id}', got '" + request->name() + "'");
    }
    if (grpc::Status s = Authorize(call, parts[1], Need::kCityAdmin); !s.ok()) return s;
    absl::StatusOr<RollbackOutcome> outcome = modules_->Rollback(
        {parts[1], parts[3], request->restore_checkpoint(), request->validate_only()});
    if (!outcome.ok()) return ToGrpc(outcome.status());
    ToProto(parts[1], outcome->status, response->mutable_module());
    response->set_data_handling(outcome->data_handling);
    response->set_records_created_since(outcome->undone.created);
    response->set_records_changed_since(outcome->undone.changed);
    response->set_records_deleted_since(outcome->undone.deleted);
    return grpc::Status::OK;
  }());
}

}  // namespace civitas::gateway

namespace civitas::gateway {

grpc::Status AdminService::CreateBackup(grpc::ServerContext* ctx,
                                        const v1::CreateBackupRequest* request,
                                        grpc::ServerWriter<v1::BackupProgress>* writer) {
  AdminCall call{ctx, "CreateBackup"};
  return Audit(call, [&]() -> grpc::Status {
    std::string city;
    grpc::Status s = ParseParent(request->parent(), &city);
    if (s.ok()) s = Authorize(call, city, Need::kCityAdmin);
    if (!s.ok()) return s;
    absl::StatusOr<common::BackupInfo> backup = modules_->Backup(city, [&](int64_t copied) {
      v1::BackupProgress progress;
      progress.set_bytes_copied(copied);
      writer->Write(progress);
    });
    if (!backup.ok()) return ToGrpc(backup.status());
    v1::BackupProgress done;
    done.set_bytes_copied(static_cast<int64_t>(backup->size_bytes));
    ToProto(city, modules_->BackupDir(city), *backup, done.mutable_backup());
    writer->Write(done);
    return grpc::Status::OK;
  }());
}

grpc::Status AdminService::ListBackups(grpc::ServerContext* ctx,
                                       const v1::ListBackupsRequest* request,
                                       v1::ListBackupsResponse* response) {
  AdminCall call{ctx, "ListBackups"};
  return Audit(call, [&]() -> grpc::Status {
    const std::string city = CityOf(request->parent());
    if (grpc::Status s = Authorize(call, city.empty() ? "*" : city, Need::kCityAdmin); !s.ok()) {
      return s;
    }
    if (city.empty() || !routes_->Get()->cities().count(city)) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          "no city '" + request->parent() + "' is hosted by this gateway");
    }
    absl::StatusOr<std::vector<common::BackupInfo>> backups =
        common::ListBackups(modules_->BackupDir(city));
    if (!backups.ok()) return ToGrpc(backups.status());
    for (const common::BackupInfo& b : *backups) {
      ToProto(city, modules_->BackupDir(city), b, response->add_backups());
    }
    return grpc::Status::OK;
  }());
}

grpc::Status AdminService::VerifyBackup(grpc::ServerContext* ctx,
                                        const v1::VerifyBackupRequest* request,
                                        v1::Backup* response) {
  AdminCall call{ctx, "VerifyBackup"};
  return Audit(call, [&]() -> grpc::Status {
    std::vector<std::string> parts = absl::StrSplit(request->name(), '/');
    uint32_t id = 0;
    if (parts.size() != 4 || parts[0] != "cities" || parts[2] != "backups" ||
        !absl::SimpleAtoi(parts[3], &id) || !routes_->Get()->cities().count(parts[1])) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "name must be 'cities/{city_id}/backups/{backup_id}' of a hosted city, "
                          "got '" +
                              request->name() + "'");
    }
    if (grpc::Status s = Authorize(call, parts[1], Need::kCityAdmin); !s.ok()) return s;
    absl::StatusOr<common::BackupInfo> backup =
        common::VerifyBackup(modules_->BackupDir(parts[1]), id);
    if (!backup.ok()) return ToGrpc(backup.status());
    ToProto(parts[1], modules_->BackupDir(parts[1]), *backup, response);
    return grpc::Status::OK;
  }());
}

}  // namespace civitas::gateway

namespace civitas::gateway {

grpc::Status AdminService::CreateCity(grpc::ServerContext* ctx,
                                      const v1::CreateCityRequest* request, v1::City* response) {
  // A city's config names library paths and trusted publishers: the operator's decision.
  AdminCall call{ctx, "CreateCity"};
  return Audit(call, [&]() -> grpc::Status {
    if (grpc::Status s = Authorize(call, "*", Need::kOperator); !s.ok()) return s;
    absl::StatusOr<CityConfig> city = modules_->CreateCity(request->city_yaml());
    if (!city.ok()) return ToGrpc(city.status());
    call.city = city->id;
    ToProto(*city, response);
    return grpc::Status::OK;
  }());
}

grpc::Status AdminService::ExportCity(grpc::ServerContext* ctx,
                                      const v1::ExportCityRequest* request,
                                      grpc::ServerWriter<v1::BackupProgress>* writer) {
  AdminCall call{ctx, "ExportCity"};
  return Audit(call, [&]() -> grpc::Status {
    const std::string city = CityOf(request->parent());
    // The export writes into any folder of the gateway's machine: the operator's decision.
    if (grpc::Status s = Authorize(call, city.empty() ? "*" : city, Need::kOperator); !s.ok()) {
      return s;
    }
    if (city.empty() || request->export_dir().empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "give parent 'cities/{city_id}' and an export_dir");
    }
    absl::StatusOr<common::BackupInfo> backup =
        modules_->ExportCity(city, request->export_dir(), [&](int64_t copied) {
          v1::BackupProgress progress;
          progress.set_bytes_copied(copied);
          writer->Write(progress);
        });
    if (!backup.ok()) return ToGrpc(backup.status());
    v1::BackupProgress done;
    done.set_bytes_copied(static_cast<int64_t>(backup->size_bytes));
    ToProto(city, request->export_dir(), *backup, done.mutable_backup());
    writer->Write(done);
    return grpc::Status::OK;
  }());
}

grpc::Status AdminService::DeleteCity(grpc::ServerContext* ctx,
                                      const v1::DeleteCityRequest* request,
                                      v1::DeleteCityResponse* response) {
  AdminCall call{ctx, "DeleteCity"};
  return Audit(call, [&]() -> grpc::Status {
    const std::string city = CityOf(request->name());
    if (grpc::Status s = Authorize(call, city.empty() ? "*" : city, Need::kOperator); !s.ok()) {
      return s;
    }
    if (city.empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "name must be 'cities/{city_id}', got '" + request->name() + "'");
    }
    absl::StatusOr<std::string> deleted =
        modules_->DeleteCity(city, request->confirm(), request->delete_backups());
    if (!deleted.ok()) return ToGrpc(deleted.status());
    response->set_deleted_data_dir(*deleted);
    return grpc::Status::OK;
  }());
}

}  // namespace civitas::gateway
