// Installing, upgrading and rolling back a city's modules while it serves.
//
// Every change builds a new route table and swaps it in: calls in flight finish on the version they
// started with, new calls reach the new one, and streams that followed the old instance are told
// to reconnect. A refused change leaves the city exactly as it was.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "civitas/registry/v1/registry.grpc.pb.h"
#include "services/gateway/gateway.h"
#include "services/gateway/log.h"

namespace civitas::gateway {
namespace {

// "1.1" -> {1, 1}
bool ParseAbi(const std::string& abi, uint32_t* major, uint32_t* minor) {
  std::vector<std::string> parts = absl::StrSplit(abi, '.');
  return parts.size() == 2 && absl::SimpleAtoi(parts[0], major) &&
         absl::SimpleAtoi(parts[1], minor);
}

const ModuleStatus* FindStatus(const CityRoutes& routes, const std::string& module_id) {
  for (const ModuleStatus& m : routes.modules) {
    if (m.module_id == module_id) return &m;
  }
  return nullptr;
}

// `routes` without the module: its instance, its status, its services.
CityRoutes Without(const CityRoutes& routes, const std::string& module_id,
                   std::shared_ptr<ModuleInstance>* removed) {
  CityRoutes next = routes;
  next.instances.clear();
  for (const auto& instance : routes.instances) {
    if (instance->module().module_id() == module_id) {
      if (removed) *removed = instance;
    } else {
      next.instances.push_back(instance);
    }
  }
  next.modules.erase(
      std::remove_if(next.modules.begin(), next.modules.end(),
                     [&](const ModuleStatus& m) { return m.module_id == module_id; }),
      next.modules.end());
  next.Index();
  return next;
}

}  // namespace

absl::StatusOr<const CityRoutes*> Gateway::FindCity(const RouteTable& table,
                                                    const std::string& city_id,
                                                    CityStore** store) const {
  auto it = table.cities().find(city_id);
  if (it == table.cities().end()) {
    return absl::NotFoundError("city '" + city_id + "' is not hosted by this gateway");
  }
  *store = stores_.at(city_id).get();
  return &it->second;
}

void Gateway::Publish(const std::string& city, CityRoutes routes) {
  std::shared_ptr<const RouteTable> current = routes_.Get();
  std::map<std::string, CityRoutes> cities = current->cities();
  cities[city] = std::move(routes);
  routes_.Set(std::make_shared<const RouteTable>(std::move(cities)));
}

absl::StatusOr<std::string> Gateway::DownloadBundle(const v1::RegistrySource& src,
                                                    const CityConfig& city) const {
  if (src.target().empty() || src.module_id().empty() || src.version().empty()) {
    return absl::InvalidArgumentError("registry needs target, module_id and version");
  }
  if (absl::Status s = bundle::CheckModuleRef(src.module_id(), src.version()); !s.ok()) return s;
  // Only the registries the city's config names, by name (or by their target): the gateway
  // never dials an address a caller made up.
  const RegistryEndpoint* registry = nullptr;
  std::vector<std::string> names;
  for (const RegistryEndpoint& r : city.registries) {
    names.push_back(r.name);
    if (r.name == src.target() || r.target == src.target()) registry = &r;
  }
  if (registry == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat("city '", city.id, "' installs only from the registries its config names (",
                     names.empty() ? "none" : absl::StrJoin(names, ", "), "); '", src.target(),
                     "' is not one of them"));
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!registry->ca_file.empty()) {
    std::ifstream in(registry->ca_file, std::ios::binary);
    std::stringstream ca;
    ca << in.rdbuf();
    if (!in || ca.str().empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot read the CA file '", registry->ca_file, "' of registry '", registry->name, "'"));
    }
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = ca.str();
    credentials = grpc::SslCredentials(tls);
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(static_cast<int>(bundle::kMaxBundleBytes + (1 << 20)));
  auto stub = registry::v1::RegistryService::NewStub(
      grpc::CreateCustomChannel(registry->target, credentials, args));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  registry::v1::GetBundleRequest get;
  get.set_name(absl::StrCat("modules/", src.module_id(), "/versions/", src.version()));
  registry::v1::Bundle bundle;
  grpc::Status s = stub->GetBundle(&ctx, get, &bundle);
  if (s.error_code() == grpc::StatusCode::NOT_FOUND ||
      s.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        absl::StrCat("registry '", registry->name, "': ", s.error_message()));
  }
  if (!s.ok()) {
    // One message for every transport failure (refused, timed out, TLS): the details go to
    // the log, not to the caller.
    Log(LogLevel::kWarning, "registry download failed",
        {{"registry", registry->name},
         {"target", registry->target},
         {"code", std::to_string(static_cast<int>(s.error_code()))},
         {"error", s.error_message()}});
    return absl::UnavailableError(absl::StrCat("registry '", registry->name,
                                               "' could not be reached or did not answer; see "
                                               "the gateway's log"));
  }
  return std::move(*bundle.mutable_content());
}

absl::StatusOr<std::string> Gateway::ReadImportedBundle(const std::string& path) const {
  const std::string& import_dir = config_.admin.bundle_import_dir;
  const std::string refused = absl::StrCat(
      "bundle_path must name a regular file below the import "
      "folder '",
      import_dir, "' (admin.bundle_import_dir), got '", path, "'");
  char* real_dir = realpath(import_dir.c_str(), nullptr);
  if (real_dir == nullptr) return absl::PermissionDeniedError(refused);
  const std::string dir = std::string(real_dir) + "/";
  free(real_dir);
  // Open without following a final symbolic link, then ask the kernel where the opened file
  // really is: no check-then-open race with a link swapped in between.
  int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    return errno == ELOOP ? absl::PermissionDeniedError(refused)
                          : absl::NotFoundError(absl::StrCat("cannot read bundle '", path, "'"));
  }
  absl::Cleanup close_fd = [fd] { close(fd); };
  struct stat st;
  char where[PATH_MAX + 1];
  const ssize_t n = readlink(absl::StrCat("/proc/self/fd/", fd).c_str(), where, PATH_MAX);
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || n <= 0 ||
      !absl::StartsWith(absl::string_view(where, n), dir)) {
    return absl::PermissionDeniedError(refused);
  }
  if (static_cast<uint64_t>(st.st_size) > bundle::kMaxBundleBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("bundle is larger than ", bundle::kMaxBundleBytes >> 20, " MiB"));
  }
  std::string data;
  char buf[65536];
  ssize_t got;
  while ((got = read(fd, buf, sizeof(buf))) > 0) {
    data.append(buf, got);
    if (data.size() > bundle::kMaxBundleBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("bundle is larger than ", bundle::kMaxBundleBytes >> 20, " MiB"));
    }
  }
  if (got < 0) return absl::NotFoundError(absl::StrCat("cannot read bundle '", path, "'"));
  return data;
}

absl::StatusOr<std::string> Gateway::FetchBundle(const v1::InstallModuleRequest& request,
                                                 const CityConfig& city) const {
  if (request.has_registry()) return DownloadBundle(request.registry(), city);
  if (request.bundle_path().empty()) {
    return absl::InvalidArgumentError("give a bundle_path or a registry source");
  }
  return ReadImportedBundle(request.bundle_path());
}

absl::StatusOr<ModuleStatus> Gateway::Install(const v1::InstallModuleRequest& request,
                                              const std::function<bool()>& cancelled) {
  const std::string& parent = request.parent();
  if (parent.rfind("cities/", 0) != 0) {
    return absl::InvalidArgumentError("parent must be 'cities/{city_id}', got '" + parent + "'");
  }
  const std::string city_id = parent.substr(7);
  // Downloading and reading the bundle (up to a minute) happen before the lock: a slow registry
  // must not hold up every other install, upgrade and rollback of the gateway.
  absl::StatusOr<std::string> bytes;
  {
    std::shared_ptr<const RouteTable> before = routes_.Get();
    auto it = before->cities().find(city_id);
    if (it == before->cities().end()) {
      return absl::NotFoundError("city '" + city_id + "' is not hosted by this gateway");
    }
    bytes = FetchBundle(request, it->second.config);
  }
  if (!bytes.ok()) return bytes.status();

  absl::MutexLock lock(&change_mu_);
  std::shared_ptr<const RouteTable> table = routes_.Get();
  CityStore* store = nullptr;
  absl::StatusOr<const CityRoutes*> found = FindCity(*table, city_id, &store);
  if (!found.ok()) return found.status();
  const CityRoutes& city = **found;

  absl::StatusOr<bundle::OpenedBundle> opened = bundle::OpenBundle(*bytes);
  if (!opened.ok()) return opened.status();
  const registry::v1::BundleManifest& manifest = opened->manifest;
  const std::string what = absl::StrCat(manifest.module_id(), " ", manifest.version());
  if (request.has_registry() && (manifest.module_id() != request.registry().module_id() ||
                                 manifest.version() != request.registry().version())) {
    return absl::PermissionDeniedError(
        absl::StrCat("the registry answered ", request.registry().module_id(), " ",
                     request.registry().version(), " with a bundle of ", what, "; refused"));
  }
  if (absl::Status trust = bundle::CheckTrust(*opened, TrustOf(city.config)); !trust.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("city '", city_id, "' refuses ", what, ": ", trust.message()));
  }
  uint32_t major = 0, minor = 0;
  if (!ParseAbi(manifest.abi_version(), &major, &minor) || major != CIVITAS_ABI_MAJOR ||
      minor > CIVITAS_ABI_MINOR) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " was built for civitas ABI ", manifest.abi_version(),
                     "; this gateway speaks ", CIVITAS_ABI_MAJOR, ".", CIVITAS_ABI_MINOR,
                     " (same major, minor up to ", CIVITAS_ABI_MINOR, ")"));
  }

  const ModuleStatus* current = FindStatus(city, manifest.module_id());
  const std::string current_version =
      current && current->module && current->error.empty() ? current->module->version() : "";
  if (current_version == manifest.version()) {
    return absl::AlreadyExistsError(absl::StrCat("city '", city_id, "' already runs ", what));
  }
  if (request.require_installed() && current_version.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        manifest.module_id(), " is not running in city '", city_id, "'; install it first"));
  }
  if (!current_version.empty() &&
      bundle::CompareVersions(manifest.version(), current_version) < 0 && !request.force()) {
    return absl::FailedPreconditionError(absl::StrCat("installing ", what,
                                                      " would downgrade city '", city_id, "' from ",
                                                      current_version, "; use rollback, or force"));
  }
  absl::StatusOr<std::optional<ModulePin>> pin = ReadPin(*store, manifest.module_id());
  if (!pin.ok()) return pin.status();

  absl::StatusOr<std::string> library = module_store_->Put(*opened);
  if (!library.ok()) return library.status();

  std::string config_json = request.config_json();
  if (config_json.empty() && pin->has_value()) config_json = (*pin)->config_json;
  if (config_json.empty()) {
    for (const ModuleConfig& mc : city.config.modules) {
      if (mc.id == manifest.module_id()) config_json = mc.config_json;
    }
  }
  std::shared_ptr<ModuleInstance> old_instance;
  CityRoutes next = Without(city, manifest.module_id(), &old_instance);
  std::shared_ptr<ModuleInstance> instance;
  ModuleStatus status = StartModule(
      city.config, store,
      {manifest.module_id(), *library, config_json, manifest.publisher(), current_version}, next,
      &instance);
  if (!status.error.empty()) return absl::FailedPreconditionError(status.error);
  if (status.module->version() != manifest.version()) {
    return absl::FailedPreconditionError(absl::StrCat("bundle manifest says ", what,
                                                      " but its library reports version ",
                                                      status.module->version()));
  }

  // Nothing of the city has changed yet: a caller that went away finds it as it was.
  if (cancelled && cancelled()) {
    return absl::CancelledError(
        absl::StrCat("the install of ", what, " was cancelled by the client; nothing changed"));
  }
  // A migration runs once, after a checkpoint that a failure or a rollback restores.
  std::string checkpoint;
  if (instance->module().migrate() != nullptr && !current_version.empty()) {
    checkpoint = module_store_->NewCheckpointPath(city_id, manifest.module_id(), current_version,
                                                  manifest.version());
    if (absl::Status s = CheckpointCity(*store, checkpoint); !s.ok()) return s;
    if (absl::Status s = instance->Migrate(current_version); !s.ok()) {
      absl::Status restored =
          RestoreModuleKeys(*store, *storage_, checkpoint, manifest.module_id());
      Log(LogLevel::kError, "migration failed; module data restored",
          {{"city", city_id},
           {"module", manifest.module_id()},
           {"error", s.ToString()},
           {"restore", restored.ToString()}});
      return s;
    }
  }
  ModulePin next_pin{manifest.module_id(),
                     manifest.version(),
                     manifest.publisher(),
                     current_version,
                     checkpoint,
                     request.config_json().empty() && pin->has_value() ? (*pin)->config_json
                                                                       : request.config_json()};
  if (absl::Status s = WritePin(*store, next_pin); !s.ok()) return s;
  next.modules.push_back(status);
  Publish(city_id, std::move(next));
  if (old_instance) {
    old_instance->CloseFollowers(
        absl::StrCat(manifest.module_id(), " was upgraded to ", manifest.version(), "; reconnect"));
  }
  Log(LogLevel::kInfo, current_version.empty() ? "module installed" : "module upgraded",
      {{"city", city_id},
       {"module", manifest.module_id()},
       {"version", manifest.version()},
       {"from", current_version},
       {"publisher", manifest.publisher()}});
  return status;
}

absl::StatusOr<ModuleStatus> Gateway::Rollback(const std::string& city_id,
                                               const std::string& module_id) {
  absl::MutexLock lock(&change_mu_);
  std::shared_ptr<const RouteTable> table = routes_.Get();
  CityStore* store = nullptr;
  absl::StatusOr<const CityRoutes*> found = FindCity(*table, city_id, &store);
  if (!found.ok()) return found.status();
  const CityRoutes& city = **found;
  absl::StatusOr<std::optional<ModulePin>> pin = ReadPin(*store, module_id);
  if (!pin.ok()) return pin.status();
  if (!pin->has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat(module_id, " was not installed from a bundle in city '", city_id,
                     "'; nothing to roll "
                     "back"));
  }
  const ModulePin current = **pin;
  if (current.previous_version.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("city '", city_id, "' has no version of ",
                                                      module_id, " before ", current.version,
                                                      " to return to"));
  }
  absl::StatusOr<bundle::OpenedBundle> previous =
      module_store_->Get(module_id, current.previous_version);
  if (!previous.ok()) return previous.status();
  if (absl::Status trust = bundle::CheckTrust(*previous, TrustOf(city.config)); !trust.ok()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot return to ", module_id, " ", current.previous_version, ": ", trust.message()));
  }

  std::shared_ptr<ModuleInstance> old_instance;
  CityRoutes next = Without(city, module_id, &old_instance);
  if (!current.checkpoint.empty()) {
    // Restoring data under a running module would mix old and new writes: pause its services,
    // let running handlers finish, restore, then start the previous version.
    CityRoutes paused = city;
    const std::string reason =
        absl::StrCat(module_id, " is being rolled back in city '", city_id, "'; retry in a moment");
    if (old_instance) {
      for (const ServiceInfo& s : old_instance->module().services()) {
        paused.paused[s.full_name] = reason;
      }
    }
    Publish(city_id, std::move(paused));
    if (old_instance) {
      old_instance->CloseFollowers(reason);
      const absl::Time deadline = absl::Now() + absl::Seconds(config_.limits.drain_seconds);
      while (old_instance->in_flight() > 0 && absl::Now() < deadline) {
        absl::SleepFor(absl::Milliseconds(5));
      }
    }
    if (absl::Status s = RestoreModuleKeys(*store, *storage_, current.checkpoint, module_id);
        !s.ok()) {
      Publish(city_id, city);  // serve the current version again, unchanged
      return s;
    }
  }
  std::shared_ptr<ModuleInstance> instance;
  ModuleStatus status =
      StartModule(city.config, store,
                  {module_id, module_store_->LibraryPath(module_id, current.previous_version),
                   current.config_json, previous->manifest.publisher(), ""},
                  next, &instance);
  if (!status.error.empty()) {
    Publish(city_id, city);
    return absl::FailedPreconditionError(status.error);
  }
  ModulePin back{module_id, current.previous_version, previous->manifest.publisher(), "",
                 "",        current.config_json};
  if (absl::Status s = WritePin(*store, back); !s.ok()) return s;
  next.modules.push_back(status);
  Publish(city_id, std::move(next));
  if (old_instance && current.checkpoint.empty()) {
    old_instance->CloseFollowers(absl::StrCat(module_id, " was rolled back; reconnect"));
  }
  Log(LogLevel::kInfo, "module rolled back",
      {{"city", city_id},
       {"module", module_id},
       {"version", current.previous_version},
       {"from", current.version},
       {"data_restored", current.checkpoint.empty() ? "no" : "yes"}});
  return status;
}

}  // namespace civitas::gateway
