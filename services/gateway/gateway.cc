#include "services/gateway/gateway.h"

#include <google/protobuf/util/json_util.h>
#include <grpc/grpc.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "services/gateway/demo.h"
#include "services/gateway/log.h"
#include "services/gateway/push/push_personal_data.h"
#include "services/gateway/seed.h"
#include "services/gateway/subject_hash.h"

namespace civitas::gateway {

std::string DefaultModuleDir() {
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "lib/civitas/modules";
  return (exe.parent_path().parent_path() / "lib" / "civitas" / "modules").string();
}

namespace {

// The console's development sign-in exists only while tokens are verified with the demo's
// development key (the embedded demo, or a config that points at the same key pair).
std::unique_ptr<ConsoleFiles> MakeConsole(const GatewayConfig& config) {
  std::string dev_key;
  if (!config.auth.jwks_file.empty() && config.auth.jwks_file == DevJwksPath(config.data_dir)) {
    std::ifstream in(DevSigningKeyPath(config.data_dir));
    std::stringstream pem;
    pem << in.rdbuf();
    dev_key = pem.str();
  }
  return std::make_unique<ConsoleFiles>(DefaultConsoleDir(), config, dev_key);
}

}  // namespace

HttpLimits HttpLimitsOf(const LimitsConfig& limits) {
  HttpLimits h;
  h.max_body_bytes = limits.max_request_bytes;
  h.max_header_bytes = limits.http_max_header_bytes;
  h.max_url_bytes = limits.http_max_url_bytes;
  h.body_buffer_bytes = size_t{limits.http_body_buffer_mb} << 20;
  h.header_timeout_seconds = static_cast<int>(limits.http_header_timeout_seconds);
  h.body_timeout_seconds = static_cast<int>(limits.http_body_timeout_seconds);
  h.max_connections = limits.http_max_connections;
  // Three quarters of the descriptors stay for gRPC, the stores and the modules: gRPC 1.51 stops
  // accepting for good after one EMFILE, so HTTP must never be what exhausts them.
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY) {
    h.max_connections =
        std::min<size_t>(h.max_connections, std::max<size_t>(8, nofile.rlim_cur / 4));
  }
  return h;
}

std::string ProbeTarget(const std::string& listen, int port) {
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "[::]" || host == "::") host = "[::1]";
  return absl::StrCat(host, ":", port);
}

Gateway::Gateway(GatewayConfig config) : config_(std::move(config)) {}

Gateway::~Gateway() { Shutdown(); }

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Create(GatewayConfig config) {
  std::unique_ptr<Gateway> g(new Gateway(std::move(config)));
  if (g->config_.module_dir.empty()) g->config_.module_dir = DefaultModuleDir();
  absl::StatusOr<std::unique_ptr<Authenticator>> auth =
      Authenticator::Create(g->config_.auth, &g->routes_);
  if (!auth.ok()) return auth.status();
  g->auth_ = std::move(*auth);
  g->admin_ = std::make_unique<AdminService>(&g->routes_, g->auth_.get(), /*local=*/false, g.get());
  g->local_admin_ =
      std::make_unique<AdminService>(&g->routes_, g->auth_.get(), /*local=*/true, g.get());
  if (g->config_.admin.bundle_import_dir.empty()) {
    g->config_.admin.bundle_import_dir = g->config_.data_dir + "/import";
  }
  {
    // Where operators put bundles for InstallModule's bundle_path (nothing else is read).
    std::error_code ec;
    std::filesystem::create_directories(g->config_.admin.bundle_import_dir, ec);
  }
  g->privacy_ = std::make_unique<PrivacyService>(&g->routes_, g->auth_.get());
  g->privacy_->AddGatewayData(
      {"civitas.notify",
       [cities = &g->push_cities_](const std::string& city, const std::string& subject,
                                   std::string* json) {
         return push::ExportPushData(*cities, city, subject, json);
       },
       [cities = &g->push_cities_](const std::string& city, const std::string& subject) {
         return push::ErasePushData(*cities, city, subject);
       }});
  g->push_delivery_ = std::make_unique<push::PushDelivery>(g->config_.push, &g->push_cities_,
                                                           push::SystemResolver());
  g->module_outbox_ = std::make_unique<push::ModuleOutbox>(
      [delivery = g->push_delivery_.get()](const std::string& city, int64_t deliveries) {
        delivery->Queued(city, deliveries);
      });
  g->notify_ = std::make_unique<push::NotifyService>(
      &g->routes_, g->auth_.get(), &g->push_cities_, push::SystemResolver(),
      [delivery = g->push_delivery_.get()](const std::string& city, int64_t deliveries) {
        delivery->Queued(city, deliveries);
      },
      g->config_.limits.write_rate.client_ip_header);
  g->appconfig_ = std::make_unique<appconfig::AppConfigService>(
      &g->routes_, g->auth_.get(), &g->push_cities_, g->config_.limits.write_rate.client_ip_header);
  if (absl::Status s = LoadSubjectHashKey(g->config_.data_dir); !s.ok()) return s;
  g->storage_ = std::make_unique<StorageEnvironment>(g->config_.storage);
  g->module_store_ = std::make_unique<ModuleStore>(g->config_.data_dir);
  g->installer_ = std::make_unique<ModuleInstaller>(g->config_, &g->routes_, g->module_store_.get(),
                                                    g->storage_.get(), &g->change_mu_,
                                                    static_cast<ModuleInstaller::Host*>(g.get()));
  if (absl::Status s = g->LoadRuntimeCities(); !s.ok()) return s;
  {
    rlimit nofile{};
    const uint64_t limit =
        getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY ? nofile.rlim_cur
                                                                                   : 1 << 20;
    const int per_city = g->storage_->FitDescriptors(g->config_.cities.size(), limit);
    Log(LogLevel::kDebug, "table files per city",
        {{"max_open_files", std::to_string(per_city)},
         {"cities", std::to_string(g->config_.cities.size())},
         {"descriptor_limit", std::to_string(limit)}});
  }
  if (absl::Status s = g->OpenCities(); !s.ok()) return s;
  g->SeedCities();
  g->console_ = MakeConsole(g->config_);
  return g;
}

absl::Status Gateway::OpenCities() {
  // A whole state is a few hundred cities: their databases are opened and their modules started
  // by a few threads at once (each city by one of them), as opening waits on the disk more than
  // on the processor.
  const size_t n = config_.cities.size();
  std::vector<absl::StatusOr<std::unique_ptr<CityStore>>> stores(n);
  std::vector<CityRoutes> built(n);
  std::atomic<size_t> next{0};
  auto open = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) {
      const CityConfig& city = config_.cities[i];
      stores[i] = CityStore::Open(*storage_, absl::StrCat(config_.data_dir, "/cities/", city.id));
      if (stores[i].ok()) built[i] = BuildCity(city, stores[i]->get());
    }
  };
  const size_t threads =
      std::min<size_t>(n, std::clamp<size_t>(2 * std::thread::hardware_concurrency(), 2, 8));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(open);
  open();
  for (std::thread& t : pool) t.join();
  std::map<std::string, CityRoutes> cities;
  for (size_t i = 0; i < n; ++i) {
    if (!stores[i].ok()) return stores[i].status();
    push_cities_.Attach(config_.cities[i], stores[i]->get());
    {
      absl::MutexLock lock(&stores_mu_);
      stores_[config_.cities[i].id] = std::move(*stores[i]);
    }
    cities[config_.cities[i].id] = std::move(built[i]);
  }
  routes_.Set(std::make_shared<const RouteTable>(std::move(cities)));
  return absl::OkStatus();
}

ModuleStatus Gateway::StartModule(const CityConfig& city, CityStore* store, const ModuleSpec& spec,
                                  CityRoutes& routes, std::shared_ptr<ModuleInstance>* started) {
  ModuleStatus status;
  status.module_id = spec.module_id;
  status.path = spec.path;
  status.publisher = spec.publisher;
  status.previous_version = spec.previous_version;
  auto refuse = [&](std::string why) {
    status.error = std::move(why);
    Log(LogLevel::kError, "module not serving",
        {{"city", city.id},
         {"module", spec.module_id},
         {"path", spec.path},
         {"error", status.error}});
    return status;
  };
  absl::StatusOr<std::shared_ptr<const LoadedModule>> module = loader_.Load(spec.path);
  if (!module.ok()) return refuse(std::string(module.status().message()));
  status.module = *module;
  if ((*module)->module_id() != spec.module_id) {
    return refuse(absl::StrCat("module '", spec.path, "' refused: it is '", (*module)->module_id(),
                               "', but '", spec.module_id, "' was expected"));
  }
  for (const ServiceInfo& s : (*module)->services()) {
    if (auto it = routes.services.find(s.full_name); it != routes.services.end()) {
      return refuse(absl::StrCat("module '", spec.path, "' refused: service ", s.full_name,
                                 " is already served in city '", city.id, "' by module '",
                                 it->second->module().module_id(), "'"));
    }
  }
  ModuleConfig mc;
  mc.id = spec.module_id;
  mc.config_json = spec.config_json.empty() ? "{}" : spec.config_json;
  absl::StatusOr<std::shared_ptr<ModuleInstance>> instance =
      ModuleInstance::Create(*module, city, mc, store, module_outbox_.get());
  if (!instance.ok()) return refuse(std::string(instance.status().message()));
  for (const ServiceInfo& s : (*module)->services()) status.services.push_back(s.full_name);
  routes.instances.push_back(*instance);
  routes.Index();
  if (started) *started = *instance;
  Log(LogLevel::kInfo, "module serving",
      {{"city", city.id},
       {"module", spec.module_id},
       {"version", (*module)->version()},
       {"services", absl::StrJoin(status.services, ",")}});
  return status;
}

absl::StatusOr<ModuleStatus> Gateway::Install(const v1::InstallModuleRequest& request,
                                              const std::function<bool()>& cancelled) {
  return installer_->Install(request, cancelled);
}

absl::StatusOr<InstallPlan> Gateway::CheckInstall(const v1::InstallModuleRequest& request) {
  return installer_->CheckInstall(request);
}

absl::StatusOr<RollbackOutcome> Gateway::Rollback(const RollbackOptions& options) {
  return installer_->Rollback(options);
}

CityStore* Gateway::StoreOf(const std::string& city_id) {
  absl::MutexLock lock(&stores_mu_);
  auto it = stores_.find(city_id);
  return it == stores_.end() ? nullptr : it->second.get();
}

void Gateway::Hold(const std::string& city, const std::vector<std::string>& services) {
  dispatcher_->Hold(city, services);
}

void Gateway::Release(const std::string& city, const std::vector<std::string>& services) {
  dispatcher_->Release(city, services);
}

std::vector<bundle::TrustedKey> TrustedKeysOf(const CityConfig& city) {
  std::vector<bundle::TrustedKey> keys;
  for (const TrustedPublisher& p : city.trusted_publishers) {
    keys.push_back({p.name, p.public_key, p.revoked});
  }
  return keys;
}

CityRoutes Gateway::BuildCity(const CityConfig& city, CityStore* store) {
  CityRoutes routes;
  routes.config = city;
  routes.metrics = &metrics_;
  std::vector<ModuleSpec> specs;
  std::map<std::string, std::string> config_json;
  for (const ModuleConfig& mc : city.modules) {
    config_json[mc.id] = mc.config_json;
    specs.push_back(
        {mc.id, mc.path.empty() ? absl::StrCat(config_.module_dir, "/", mc.id, ".so") : mc.path,
         mc.config_json, "", ""});
  }
  // Bundles the city installed at runtime take the place of the config file's version.
  absl::StatusOr<std::vector<ModulePin>> pins = ReadPins(*store);
  if (!pins.ok()) {
    Log(LogLevel::kError, "cannot read installed modules",
        {{"city", city.id}, {"error", pins.status().ToString()}});
  }
  for (const ModulePin& pin : pins.ok() ? *pins : std::vector<ModulePin>{}) {
    ModuleSpec spec{pin.module_id, module_store_->LibraryPath(pin.module_id, pin.version),
                    pin.config_json.empty() ? config_json[pin.module_id] : pin.config_json,
                    pin.publisher, pin.previous_version};
    // Checked again at every start: a key may have been revoked since the install.
    absl::StatusOr<bundle::OpenedBundle> stored = module_store_->Get(pin.module_id, pin.version);
    absl::Status trust =
        stored.ok() ? bundle::CheckTrust(*stored, TrustedKeysOf(city)) : stored.status();
    specs.erase(std::remove_if(specs.begin(), specs.end(),
                               [&](const ModuleSpec& s) { return s.module_id == pin.module_id; }),
                specs.end());
    if (!trust.ok()) {
      ModuleStatus refused{pin.module_id,
                           spec.path,
                           nullptr,
                           absl::StrCat("installed ", pin.module_id, " ", pin.version,
                                        " refused: ", trust.message()),
                           {},
                           pin.publisher,
                           pin.previous_version};
      Log(LogLevel::kError, "module not serving",
          {{"city", city.id}, {"module", pin.module_id}, {"error", refused.error}});
      routes.modules.push_back(refused);
      continue;
    }
    specs.push_back(spec);
  }
  for (const ModuleSpec& spec : specs) {
    routes.modules.push_back(StartModule(city, store, spec, routes, nullptr));
  }
  return routes;
}

void Gateway::SeedCities() {
  std::shared_ptr<const RouteTable> table = routes_.Get();
  for (const CityConfig& city : config_.cities) {
    std::string text = city.seed_text, source = "embedded seed of " + city.id;
    if (!city.seed_file.empty()) {
      std::ifstream in(city.seed_file);
      if (!in) {
        Log(LogLevel::kError, "cannot read seed file",
            {{"city", city.id}, {"path", city.seed_file}});
        continue;
      }
      std::stringstream buffer;
      buffer << in.rdbuf();
      text = buffer.str();
      source = city.seed_file;
    }
    if (!city.app_config_seed.empty()) {
      ::civitas::appconfig::v1::AppConfig sample;
      const auto parsed =
          google::protobuf::util::JsonStringToMessage(city.app_config_seed, &sample);
      absl::Status s = parsed.ok()
                           ? absl::OkStatus()
                           : absl::InvalidArgumentError(absl::StrCat("sample app configuration: ",
                                                                     parsed.message().as_string()));
      if (s.ok()) s = appconfig_->SeedIfEmpty(table->cities().at(city.id), sample);
      if (!s.ok()) {
        Log(LogLevel::kError, "seeding the app configuration failed",
            {{"city", city.id}, {"error", s.ToString()}});
      }
    }
    if (text.empty()) continue;
    CityStore* store = stores_.at(city.id).get();
    std::string marker;
    absl::StatusOr<bool> seeded = store->GetSystem("seeded", &marker);
    if (!seeded.ok() || *seeded) continue;
    absl::Status s = RunSeed(table->cities().at(city.id), text, source);
    if (!s.ok()) {
      Log(LogLevel::kError, "seeding failed", {{"city", city.id}, {"error", s.ToString()}});
      continue;
    }
    (void)store->PutSystem("seeded", "1");
    Log(LogLevel::kInfo, "city seeded with sample data", {{"city", city.id}});
  }
}

absl::Status Gateway::Start() {
  if (absl::Status s = StartAdminSocket(); !s.ok()) return s;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config_.listen, grpc::InsecureServerCredentials(), &port_);
  // A second gateway on the same port must fail, not silently share it.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config_.limits.max_request_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(config_.limits.max_response_bytes));
  // Defence in depth for gRPC 1.51's HTTP/2 server (the nginx edge is the front door; see
  // docs/security.md): bounded streams per connection, request headers and memory.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             static_cast<int>(config_.limits.grpc_max_concurrent_streams));
  builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE,
                             static_cast<int>(config_.limits.grpc_max_metadata_bytes));
  builder.AddChannelArgument(
      GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
      static_cast<int>(config_.limits.grpc_handshake_timeout_seconds * 1000));
  grpc::ResourceQuota quota("civitas-gateway");
  quota.Resize(size_t{config_.limits.grpc_memory_mb} << 20);
  builder.SetResourceQuota(quota);
  builder.RegisterService(&health_);
  builder.RegisterService(&reflection_v1_);
  builder.RegisterService(&reflection_v1alpha_);
  builder.RegisterService(admin_.get());
  builder.RegisterService(privacy_.get());
  builder.RegisterService(notify_.get());
  builder.RegisterService(appconfig_.get());
  builder.RegisterAsyncGenericService(&generic_);
  unsigned queues = config_.limits.completion_queues;
  if (queues == 0) queues = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> cqs;
  for (unsigned i = 0; i < queues; ++i) cqs.push_back(builder.AddCompletionQueue());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    server_.reset();
    if (admin_server_) {
      admin_server_->Shutdown();
      admin_server_.reset();
      unlink(admin_socket_.c_str());
    }
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config_.listen,
                     ": the address is in use or not valid (another gateway running?)"));
  }
  dispatcher_ = std::make_unique<Dispatcher>(&generic_, std::move(cqs), &routes_, auth_.get(),
                                             config_.limits, &metrics_, config_.logging.access_log);
  dispatcher_->Start();
  privacy_->SetPool(dispatcher_->handler_pool());
  notify_->SetPool(dispatcher_->handler_pool());
  appconfig_->SetPool(dispatcher_->handler_pool());
  push_delivery_->Start();
  grpc::ChannelArguments in_process;
  in_process.SetMaxReceiveMessageSize(static_cast<int>(config_.limits.max_response_bytes));
  in_process.SetMaxSendMessageSize(static_cast<int>(config_.limits.max_request_bytes));
  transcoder_ =
      std::make_unique<HttpTranscoder>(&routes_, server_->InProcessChannel(in_process),
                                       absl::Milliseconds(config_.limits.http_cache_ttl_ms),
                                       size_t{config_.limits.http_cache_mb} << 20);
  // AdminService's city-scoped calls too (the console's Modules and Backups screens): they check
  // the caller's token exactly as over gRPC, since the in-process call is not the admin socket.
  for (const char* service :
       {v1::PrivacyService::service_full_name(), v1::AdminService::service_full_name(),
        notify::v1::NotifyService::service_full_name()}) {
    if (absl::Status s = transcoder_->ServeGatewayService(service); !s.ok()) {
      Shutdown();
      return s;
    }
  }
  if (absl::Status s = transcoder_->ServeGatewayService(
          ::civitas::appconfig::v1::AppConfigService::service_full_name(),
          {{"GetAppConfig", CIVITAS_ROLE_ANONYMOUS},
           {"UpdateAppConfig", CIVITAS_ROLE_ADMIN},
           {"ListAppConfigVersions", CIVITAS_ROLE_ADMIN},
           {"GetAppConfigVersion", CIVITAS_ROLE_ADMIN},
           {"RestoreAppConfigVersion", CIVITAS_ROLE_ADMIN}});
      !s.ok()) {
    Shutdown();
    return s;
  }
  const HttpLimits http_limits = HttpLimitsOf(config_.limits);
  absl::StatusOr<std::unique_ptr<HttpServer>> http = HttpServer::Start(
      config_.http_listen,
      [this](HttpRequest r, HttpServer::Respond respond) {
        ServeHttp(std::move(r), std::move(respond));
      },
      http_limits);
  if (!http.ok()) {
    Shutdown();
    return http.status();
  }
  http_ = std::move(*http);
  if (!config_.metrics_listen.empty()) {
    // Scrapers and probes only: small requests, few connections.
    HttpLimits metrics_limits = http_limits;
    metrics_limits.max_body_bytes = 1024;
    metrics_limits.body_buffer_bytes = 64 * 1024;
    metrics_limits.max_connections = std::min<size_t>(http_limits.max_connections, 32);
    absl::StatusOr<std::unique_ptr<HttpServer>> metrics = HttpServer::Start(
        config_.metrics_listen,
        [this](HttpRequest r, HttpServer::Respond respond) {
          const std::string path = r.target.substr(0, r.target.find('?'));
          if (r.method != "GET" && r.method != "HEAD") {
            respond({405, "text/plain; charset=utf-8", "only GET\n", {{"Allow", "GET, HEAD"}}});
            return;
          }
          respond(ServeOperations(path));
        },
        metrics_limits);
    if (!metrics.ok()) {
      Shutdown();
      return metrics.status();
    }
    metrics_http_ = std::move(*metrics);
  }
  StartReadinessProbe();
  ready_ = true;
  std::vector<std::string> ids;
  for (const CityConfig& c : config_.cities) ids.push_back(c.id);
  Log(LogLevel::kInfo, "serving",
      {{"listen", config_.listen},
       {"port", std::to_string(port_)},
       {"admin_socket", admin_socket_.empty() ? "none" : admin_socket_},
       {"cities", absl::StrJoin(ids, ",")}});
  return absl::OkStatus();
}

void Gateway::StartReadinessProbe() {
  const std::string target = ProbeTarget(config_.listen, port_);
  auto probe_once = [target] {
    // A channel of its own with its own subchannel: every probe is a new TCP connection and a
    // new HTTP/2 handshake, as a client's would be.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto stub = grpc::health::v1::Health::NewStub(
        grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(900));
    grpc::health::v1::HealthCheckResponse response;
    const grpc::Status s = stub->Check(&ctx, grpc::health::v1::HealthCheckRequest(), &response);
    return s.ok() && response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
  };
  grpc_answers_ = probe_once();
  probe_thread_ = std::thread([this, probe_once] {
    absl::MutexLock lock(&probe_mu_);
    for (uint64_t second = 1; !probe_stop_; ++second) {
      // /readyz answers from the last probe: a flood of /readyz costs no gRPC connections.
      probe_mu_.AwaitWithTimeout(absl::Condition(&probe_stop_), absl::Seconds(1));
      if (probe_stop_) break;
      probe_mu_.Unlock();
      // Once a minute, glibc gives the free pages of its arenas back to the system: it keeps
      // them otherwise, and RSS would show the high-water mark of every thread's arena instead
      // of what is in use (the soak in docs/performance.md).
      if (second % 60 == 0) malloc_trim(0);
      const bool ok = probe_once();
      if (ok != grpc_answers_.load()) {
        Log(ok ? LogLevel::kInfo : LogLevel::kError,
            ok ? "gRPC listener answers again" : "gRPC listener does not answer a health check",
            {{"target", ProbeTarget(config_.listen, port_)}});
      }
      grpc_answers_ = ok;
      probe_mu_.Lock();
    }
  });
}

void Gateway::StopReadinessProbe() {
  {
    absl::MutexLock lock(&probe_mu_);
    probe_stop_ = true;
  }
  if (probe_thread_.joinable()) probe_thread_.join();
}

void Gateway::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  ready_ = false;
  StopReadinessProbe();
  health_.SetDraining();
  if (privacy_) privacy_->SetDraining();
  if (notify_) notify_->SetDraining();
  if (appconfig_) appconfig_->SetDraining();
  if (server_) {
    Log(LogLevel::kInfo, "draining",
        {{"drain_seconds", std::to_string(config_.limits.drain_seconds)}});
    const int64_t left =
        dispatcher_->Drain(absl::Now() + absl::Seconds(config_.limits.drain_seconds));
    if (left > 0) {
      Log(LogLevel::kWarning, "drain deadline passed; cancelling calls",
          {{"calls", std::to_string(left)}});
    }
    // Module calls are done; whatever else is open (health watches, idle connections) is cut.
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(100));
    dispatcher_->Stop();
    server_.reset();
    dispatcher_.reset();
  }
  if (http_) http_->Stop();
  if (metrics_http_) metrics_http_->Stop();
  if (admin_server_) {
    admin_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    admin_server_.reset();
    unlink(admin_socket_.c_str());
  }
  // Module instances and the push workers go before the stores they write to.
  if (push_delivery_) push_delivery_->Stop();
  push_cities_.DetachAll();
  routes_.Set(nullptr);
  for (auto& [id, store] : stores_) {
    if (absl::Status s = store->Close(); !s.ok()) {
      Log(LogLevel::kError, "closing city store failed", {{"city", id}, {"error", s.ToString()}});
    }
  }
  {
    absl::MutexLock lock(&stores_mu_);
    stores_.clear();
  }
  Log(LogLevel::kInfo, "stopped");
}

absl::Status Gateway::StartAdminSocket() {
  if (config_.admin.socket == "none") return absl::OkStatus();
  const std::string path =
      config_.admin.socket.empty() ? config_.data_dir + "/admin.sock" : config_.admin.socket;
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("admin socket '", path, "' is longer than ", sizeof(addr.sun_path) - 1,
                     " bytes (the limit of a Unix socket address); set admin.socket to a shorter "
                     "path"));
  }
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat("admin socket '", path, "' exists and is not a socket; remove it"));
    }
    // A socket someone still answers on belongs to a running gateway; a dead one is left over.
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path.data(), path.size());
    const bool live = fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    if (fd >= 0) close(fd);
    if (live) {
      return absl::UnavailableError(
          absl::StrCat("admin socket '", path, "' is in use (another gateway running?)"));
    }
    unlink(path.c_str());
  }
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + path, grpc::InsecureServerCredentials());
  builder.SetMaxReceiveMessageSize(static_cast<int>(config_.limits.max_request_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(config_.limits.max_response_bytes));
  builder.RegisterService(local_admin_.get());
  // The socket must never exist with wider permissions than configured, not even for a moment:
  // bind under a umask that leaves exactly the configured mode, then set it explicitly.
  const mode_t mode = static_cast<mode_t>(config_.admin.socket_mode);
  const mode_t old_umask = umask(0777 & ~mode);
  admin_server_ = builder.BuildAndStart();
  umask(old_umask);
  if (admin_server_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot listen on the admin socket '", path, "'"));
  }
  if (chmod(path.c_str(), mode) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot set the mode of the admin socket '", path, "'"));
  }
  admin_socket_ = path;
  return absl::OkStatus();
}

}  // namespace civitas::gateway

namespace civitas::gateway {

HttpResponse Gateway::ServeOperations(const std::string& path) {
  if (path == "/healthz") return {200, "text/plain; charset=utf-8", "ok\n", {}};
  if (path == "/readyz") {
    if (ready_.load() && !grpc_answers_.load()) {
      return {503,
              "text/plain; charset=utf-8",
              "not ready: the gRPC listener does not answer a health check\n",
              {}};
    }
    if (ready_.load()) return {200, "text/plain; charset=utf-8", "ready\n", {}};
    return {503, "text/plain; charset=utf-8", shut_down_ ? "draining\n" : "starting\n", {}};
  }
  if (path == "/metrics") {
    GatewayGauges g;
    if (dispatcher_) {
      g.active_calls = dispatcher_->stats().active_calls.load();
      g.handler_queue = static_cast<int64_t>(dispatcher_->queued_handlers());
      g.following_streams = dispatcher_->stats().active_streams.load();
    }
    g.grpc_listener_up = grpc_answers_.load();
    // The listeners are set once, before ready_; /metrics may be asked a moment before that.
    const bool listening = ready_.load();
    for (const auto& [name, server] :
         {std::pair<const char*, const HttpServer*>{"api", listening ? http_.get() : nullptr},
          {"metrics", listening ? metrics_http_.get() : nullptr}}) {
      if (server == nullptr) continue;
      const HttpServerStats& st = server->stats();
      g.listeners.push_back({name, st.connections.load(),
                             static_cast<uint64_t>(st.refused_connections.load()),
                             static_cast<uint64_t>(st.accept_errors.load()),
                             static_cast<uint64_t>(st.rejected_requests.load())});
    }
    if (std::shared_ptr<const RouteTable> table = routes_.Get()) {
      for (const auto& [id, city] : table->cities()) {
        for (const ModuleStatus& m : city.modules) {
          g.modules.push_back(
              {id, m.module_id, m.module ? m.module->version() : "", m.error.empty()});
        }
      }
    }
    g.block_cache_bytes = storage_ ? storage_->block_cache()->GetUsage() : 0;
    if (transcoder_) {
      const RenderedCache& rc = transcoder_->cache();
      g.rendered = {rc.stats().hits.load(), rc.stats().misses.load(),
                    rc.stats().not_modified.load(), rc.stats().evictions.load(), rc.bytes()};
    }
    {
      absl::MutexLock lock(&stores_mu_);
      for (const auto& [id, store] : stores_) {
        const CityStore::SyncCounts c = store->sync_counts();
        g.cities.push_back({id, c.commits, c.syncs, store->MemtableBytes(),
                            store->TableReaderBytes(), store->StorageBytes()});
      }
    }
    std::string extra = RenderGauges(g);
    if (push_delivery_) extra += push_delivery_->RenderMetrics();
    return {200, "text/plain; version=0.0.4; charset=utf-8", metrics_.Render(extra), {}};
  }
  return {404, "text/plain; charset=utf-8", "not found\n", {}};
}

void Gateway::ServeHttp(HttpRequest request, HttpServer::Respond respond) {
  const std::string path = request.target.substr(0, request.target.find('?'));
  if (path == "/healthz" || path == "/readyz") {
    if (request.method != "GET" && request.method != "HEAD") {
      respond({405, "text/plain; charset=utf-8", "only GET\n", {{"Allow", "GET, HEAD"}}});
      return;
    }
    respond(ServeOperations(path));
    return;
  }
  if (ConsoleFiles::Handles(path)) {
    respond(console_->Serve(request, path));
    return;
  }
  // Everything else is the JSON/HTTP API of the modules.
  if (!transcoder_ || shut_down_) {
    respond(JsonError(grpc::StatusCode::UNAVAILABLE, "the gateway is shutting down"));
    return;
  }
  transcoder_->Handle(std::move(request), std::move(respond));
}

}  // namespace civitas::gateway

namespace civitas::gateway {

std::string Gateway::BackupDir(const std::string& city_id) const {
  return absl::StrCat(
      config_.backup_dir.empty() ? config_.data_dir + "/backups" : config_.backup_dir, "/",
      city_id);
}

absl::StatusOr<common::BackupInfo> Gateway::Backup(const std::string& city_id,
                                                   const std::function<void(int64_t)>& progress) {
  absl::MutexLock lock(&backup_mu_);
  auto it = stores_.find(city_id);
  if (it == stores_.end()) {
    return absl::NotFoundError("city '" + city_id + "' is not hosted by this gateway");
  }
  const absl::Time start = absl::Now();
  absl::StatusOr<common::BackupInfo> backup =
      common::CreateBackup(it->second->db(), BackupDir(city_id), progress);
  if (backup.ok()) {
    Log(LogLevel::kInfo, "backup created",
        {{"city", city_id},
         {"backup_id", std::to_string(backup->id)},
         {"bytes", std::to_string(backup->size_bytes)},
         {"seconds", absl::StrCat(absl::ToDoubleSeconds(absl::Now() - start))}});
  }
  return backup;
}

}  // namespace civitas::gateway
