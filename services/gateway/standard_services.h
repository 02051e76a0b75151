// Services the gateway answers itself: grpc.health.v1, server reflection (v1 and v1alpha) built
// from the modules' embedded descriptors, and civitas.gateway.v1.AdminService.
#ifndef CIVITAS_GATEWAY_STANDARD_SERVICES_H_
#define CIVITAS_GATEWAY_STANDARD_SERVICES_H_

#include <atomic>
#include <functional>
#include <memory>

#include "civitas/gateway/v1/admin.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "services/common/backups.h"
#include "services/gateway/authenticator.h"
#include "services/gateway/module_store.h"
#include "services/gateway/rate_limiter.h"
#include "services/gateway/route_table.h"

namespace civitas::gateway {

class HealthService final : public grpc::health::v1::Health::Service {
 public:
  explicit HealthService(const RouteTableHolder* routes) : routes_(routes) {}
  // From now on every service reports NOT_SERVING (drain before shutdown).
  void SetDraining() { draining_.store(true); }

  grpc::Status Check(grpc::ServerContext* ctx, const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override;
  grpc::Status Watch(grpc::ServerContext* ctx, const grpc::health::v1::HealthCheckRequest* request,
                     grpc::ServerWriter<grpc::health::v1::HealthCheckResponse>* writer) override;

 private:
  // SERVING, NOT_SERVING, or SERVICE_UNKNOWN for a service nobody here serves.
  grpc::health::v1::HealthCheckResponse::ServingStatus StatusOf(grpc::ServerContext* ctx,
                                                                const std::string& service) const;
  const RouteTableHolder* routes_;
  std::atomic<bool> draining_{false};
};

// Answers both reflection protocol versions; they differ only in package.
class ReflectionV1Service final : public grpc::reflection::v1::ServerReflection::Service {
 public:
  explicit ReflectionV1Service(const RouteTableHolder* routes) : routes_(routes) {}
  grpc::Status ServerReflectionInfo(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<grpc::reflection::v1::ServerReflectionResponse,
                               grpc::reflection::v1::ServerReflectionRequest>* stream) override;

 private:
  const RouteTableHolder* routes_;
};

class ReflectionV1AlphaService final : public grpc::reflection::v1alpha::ServerReflection::Service {
 public:
  explicit ReflectionV1AlphaService(const RouteTableHolder* routes) : routes_(routes) {}
  grpc::Status ServerReflectionInfo(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<grpc::reflection::v1alpha::ServerReflectionResponse,
                               grpc::reflection::v1alpha::ServerReflectionRequest>* stream)
      override;

 private:
  const RouteTableHolder* routes_;
};

struct RollbackOptions {
  std::string city_id;
  std::string module_id;
  bool restore_checkpoint = false;  // accept undoing the changes since the upgrade
  bool validate_only = false;       // say what would happen, change nothing
};

struct RollbackOutcome {
  ModuleStatus status;  // the module as it runs afterwards (validate_only: as it runs now)
  v1::RollbackDataHandling data_handling = v1::ROLLBACK_DATA_HANDLING_UNSPECIFIED;
  KeyChanges undone;  // what restoring the checkpoint undid (or would undo)
};

// What an operator does to a city while it serves: install, upgrade and roll back modules, back
// it up (implemented by the Gateway).
// What an install would do, found by every check that comes before it changes anything.
struct InstallPlan {
  std::string module_id, version, abi_version, publisher;
  std::string current_version;  // what the city runs now; empty = a new module
};

class CityOperations {
 public:
  virtual ~CityOperations() = default;
  // NOT_FOUND for an unknown city.
  virtual absl::StatusOr<common::BackupInfo> Backup(
      const std::string& city_id, const std::function<void(int64_t)>& progress) = 0;
  virtual std::string BackupDir(const std::string& city_id) const = 0;
  // Adds a city from YAML (one entry of `cities:`), kept across restarts.
  virtual absl::StatusOr<CityConfig> CreateCity(const std::string& city_yaml) = 0;
  // Writes a backup of the city into `dir`.
  virtual absl::StatusOr<common::BackupInfo> ExportCity(
      const std::string& city_id, const std::string& dir,
      const std::function<void(int64_t)>& progress) = 0;
  // Removes a runtime-added city and its data; returns the deleted data folder.
  virtual absl::StatusOr<std::string> DeleteCity(const std::string& city_id,
                                                 const std::string& confirm,
                                                 bool delete_backups) = 0;
  // `cancelled` is asked before the change is committed: true leaves the city as it was.
  virtual absl::StatusOr<ModuleStatus> Install(const v1::InstallModuleRequest& request,
                                               const std::function<bool()>& cancelled) = 0;
  // The checks of Install (bundle, signature, trust, ABI, version order), changing nothing.
  virtual absl::StatusOr<InstallPlan> CheckInstall(const v1::InstallModuleRequest& request) = 0;
  virtual absl::StatusOr<RollbackOutcome> Rollback(const RollbackOptions& options) = 0;
};

// Two instances serve it: one on the gRPC port, where every call needs an admin or operator
// token, and one on the admin Unix socket (`local`), whose file permissions are the access
// control and whose callers act as the instance operator. A peer address never grants anything.
// Every call is audit-logged: method, caller, peer, city, outcome. Over the network (gRPC port,
// and JSON/HTTP through it) the calls that change or read a whole city (install, roll back,
// back up, verify, create/export/delete a city) are limited per subject: kAdminWritesPerMinute a
// minute, kAdminWriteBurst at once (RESOURCE_EXHAUSTED with retry-after; HTTP 429). Lists are
// not limited; the admin socket is not limited.
class AdminService final : public civitas::gateway::v1::AdminService::Service {
 public:
  AdminService(const RouteTableHolder* routes, const Authenticator* auth, bool local,
               CityOperations* modules)
      : routes_(routes), auth_(auth), local_(local), modules_(modules) {}

  static constexpr uint32_t kAdminWritesPerMinute = 30;
  static constexpr uint32_t kAdminWriteBurst = 20;

  grpc::Status ListCities(grpc::ServerContext* ctx, const v1::ListCitiesRequest* request,
                          v1::ListCitiesResponse* response) override;
  grpc::Status ListModules(grpc::ServerContext* ctx, const v1::ListModulesRequest* request,
                           v1::ListModulesResponse* response) override;
  grpc::Status InstallModule(grpc::ServerContext* ctx, const v1::InstallModuleRequest* request,
                             v1::Module* response) override;
  grpc::Status RollbackModule(grpc::ServerContext* ctx, const v1::RollbackModuleRequest* request,
                              v1::RollbackModuleResponse* response) override;
  grpc::Status CreateBackup(grpc::ServerContext* ctx, const v1::CreateBackupRequest* request,
                            grpc::ServerWriter<v1::BackupProgress>* writer) override;
  grpc::Status ListBackups(grpc::ServerContext* ctx, const v1::ListBackupsRequest* request,
                           v1::ListBackupsResponse* response) override;
  grpc::Status VerifyBackup(grpc::ServerContext* ctx, const v1::VerifyBackupRequest* request,
                            v1::Backup* response) override;
  grpc::Status CreateCity(grpc::ServerContext* ctx, const v1::CreateCityRequest* request,
                          v1::City* response) override;
  grpc::Status ExportCity(grpc::ServerContext* ctx, const v1::ExportCityRequest* request,
                          grpc::ServerWriter<v1::BackupProgress>* writer) override;
  grpc::Status DeleteCity(grpc::ServerContext* ctx, const v1::DeleteCityRequest* request,
                          v1::DeleteCityResponse* response) override;

 private:
  // One call, as its audit line tells it.
  struct AdminCall {
    AdminCall(grpc::ServerContext* c, const char* m) : ctx(c), method(m) {}
    grpc::ServerContext* ctx;
    const char* method;
    std::string city;
    std::string subject;
    bool is_operator = false;
  };
  // kCityAdmin: the admin role in the city (or the operator); kOperator: the instance operator
  // (creating and deleting cities, whose config names libraries and trusted publishers).
  enum class Need { kCityAdmin, kOperator };
  // OK if the caller may do `call.method` for `city` ("*" = the whole gateway) and, over the
  // network, is within the write limit; fills in who.
  grpc::Status Authorize(AdminCall& call, const std::string& city, Need need) const;
  // Authorize without the write limit.
  grpc::Status CheckCaller(AdminCall& call, const std::string& city, Need need) const;
  // Logs the call's audit line and returns `status`.
  grpc::Status Audit(const AdminCall& call, grpc::Status status) const;
  const RouteTableHolder* routes_;
  const Authenticator* auth_;
  bool local_;
  CityOperations* modules_;
  // Writes are told from reads by the methods' google.api.http verbs (admin.proto).
  mutable WriteRateLimiter limiter_{[] {
    WriteRateConfig c;
    c.per_subject = {kAdminWritesPerMinute, kAdminWriteBurst};
    c.anonymous_per_peer = {0, 0};
    c.exempt_staff = false;
    return c;
  }()};
};

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_STANDARD_SERVICES_H_
