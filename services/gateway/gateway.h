// The gateway process: cities with their stores and modules, the gRPC server, and the orderly
// drain on shutdown. Logic lives in the parts; this file only wires them.
#ifndef CIVITAS_GATEWAY_GATEWAY_H_
#define CIVITAS_GATEWAY_GATEWAY_H_

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/server.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "services/gateway/appconfig/appconfig_service.h"
#include "services/gateway/authenticator.h"
#include "services/gateway/city_store.h"
#include "services/gateway/config.h"
#include "services/gateway/console_files.h"
#include "services/gateway/dispatcher.h"
#include "services/gateway/http_server.h"
#include "services/gateway/http_transcoder.h"
#include "services/gateway/metrics.h"
#include "services/gateway/module_installer.h"
#include "services/gateway/module_loader.h"
#include "services/gateway/module_store.h"
#include "services/gateway/privacy_service.h"
#include "services/gateway/push/module_push.h"
#include "services/gateway/push/notify_service.h"
#include "services/gateway/push/push_cities.h"
#include "services/gateway/push/push_delivery.h"
#include "services/gateway/route_table.h"
#include "services/gateway/standard_services.h"

namespace civitas::gateway {

class Gateway final : public CityOperations, private ModuleInstaller::Host {
 public:
  // Opens every city's store, loads and starts its modules, and seeds new cities. A module that
  // is refused does not stop the gateway: its city serves the other modules, and AdminService
  // reports why. A config or storage error does.
  static absl::StatusOr<std::unique_ptr<Gateway>> Create(GatewayConfig config);
  ~Gateway();

  // Listens on config.listen, and on the admin socket. Fails loudly if the port is taken.
  absl::Status Start();
  int port() const { return port_; }
  // The admin Unix socket's path; empty if there is none (admin.socket: none).
  const std::string& admin_socket() const { return admin_socket_; }
  int http_port() const { return http_ ? http_->port() : 0; }
  int metrics_port() const { return metrics_http_ ? metrics_http_->port() : 0; }
  const GatewayConfig& config() const { return config_; }
  std::shared_ptr<const RouteTable> routes() const { return routes_.Get(); }

  // Reports NOT_SERVING, ends streams, lets calls in flight finish within drain_seconds, then
  // closes every city's database.
  void Shutdown();

  // CityOperations: modules through the ModuleInstaller (module_installer.cc).
  absl::StatusOr<ModuleStatus> Install(const v1::InstallModuleRequest& request,
                                       const std::function<bool()>& cancelled) override;
  absl::StatusOr<InstallPlan> CheckInstall(const v1::InstallModuleRequest& request) override;
  absl::StatusOr<RollbackOutcome> Rollback(const RollbackOptions& options) override;
  absl::StatusOr<common::BackupInfo> Backup(const std::string& city_id,
                                            const std::function<void(int64_t)>& progress) override;
  std::string BackupDir(const std::string& city_id) const override;
  // City lifecycle (gateway_cities.cc).
  absl::StatusOr<CityConfig> CreateCity(const std::string& city_yaml) override;
  absl::StatusOr<common::BackupInfo> ExportCity(
      const std::string& city_id, const std::string& dir,
      const std::function<void(int64_t)>& progress) override;
  absl::StatusOr<std::string> DeleteCity(const std::string& city_id, const std::string& confirm,
                                         bool delete_backups) override;

 private:
  explicit Gateway(GatewayConfig config);
  absl::Status OpenCities();
  // Cities added at runtime, from <data_dir>/cities.d/*.yaml.
  absl::Status LoadRuntimeCities();
  std::string RuntimeCityFile(const std::string& city_id) const;
  CityRoutes BuildCity(const CityConfig& city, CityStore* store);
  // ModuleInstaller::Host.
  CityStore* StoreOf(const std::string& city_id) override;
  ModuleStatus StartModule(const CityConfig& city, CityStore* store, const ModuleSpec& spec,
                           CityRoutes& routes, std::shared_ptr<ModuleInstance>* started) override;
  void Hold(const std::string& city, const std::vector<std::string>& services) override;
  void Release(const std::string& city, const std::vector<std::string>& services) override;
  void SeedCities();
  // Binds the admin Unix socket (admin.socket) with its file mode.
  absl::Status StartAdminSocket();
  void ServeHttp(HttpRequest request, HttpServer::Respond respond);
  HttpResponse ServeOperations(const std::string& path);  // /healthz, /readyz, /metrics
  // Once a second, a fresh connection to the gRPC port asks grpc.health.v1 whether it serves;
  // /readyz reports the last answer.
  void StartReadinessProbe();
  void StopReadinessProbe();

  GatewayConfig config_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<StorageEnvironment> storage_;
  std::map<std::string, std::unique_ptr<CityStore>> stores_;
  // Held while stores_ changes and by /metrics (which must not wait for a backup).
  absl::Mutex stores_mu_;
  ModuleLoader loader_;
  std::unique_ptr<ModuleStore> module_store_;
  // What modules' push_send reaches (ABI 1.3); declared before routes_ so that it outlives every
  // module instance.
  std::unique_ptr<push::ModuleOutbox> module_outbox_;
  RouteTableHolder routes_;
  absl::Mutex change_mu_;  // one install / upgrade / rollback / city change at a time
  std::unique_ptr<ModuleInstaller> installer_;
  absl::Mutex backup_mu_;  // one backup at a time (BackupEngine is single-writer); guards stores_
                           // against a city being removed
  std::set<std::string> runtime_cities_;  // added through CreateCity (deletable)

  HealthService health_{&routes_};
  ReflectionV1Service reflection_v1_{&routes_};
  ReflectionV1AlphaService reflection_v1alpha_{&routes_};
  std::unique_ptr<AdminService> admin_;        // on the gRPC port: tokens only
  std::unique_ptr<AdminService> local_admin_;  // on the admin socket
  std::unique_ptr<grpc::Server> admin_server_;
  std::string admin_socket_;
  std::unique_ptr<PrivacyService> privacy_;
  // Push notifications: the cities' push data (attached with their stores, detached before a
  // store closes), NotifyService, and the delivery workers.
  push::PushCities push_cities_;
  std::unique_ptr<push::NotifyService> notify_;
  std::unique_ptr<push::PushDelivery> push_delivery_;
  // The cities' app configuration (in their stores, reached through push_cities_).
  std::unique_ptr<appconfig::AppConfigService> appconfig_;
  grpc::AsyncGenericService generic_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Dispatcher> dispatcher_;
  Metrics metrics_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<HttpServer> metrics_http_;    // /metrics on metrics_listen
  std::unique_ptr<HttpTranscoder> transcoder_;  // JSON/HTTP API through the in-process channel
  std::unique_ptr<ConsoleFiles> console_;       // /console/ (console_files.h)
  std::thread probe_thread_;
  absl::Mutex probe_mu_;
  bool probe_stop_ ABSL_GUARDED_BY(probe_mu_) = false;
  std::atomic<bool> grpc_answers_{false};
  std::atomic<bool> ready_{false};
  int port_ = 0;
  bool shut_down_ = false;
};

// <directory of this executable>/../lib/civitas/modules
std::string DefaultModuleDir();
// The HTTP listener's limits from the config, its connection cap held to RLIMIT_NOFILE / 4.
HttpLimits HttpLimitsOf(const LimitsConfig& limits);

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_GATEWAY_H_
