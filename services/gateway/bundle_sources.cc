// Where an install's bundle comes from: one of the city's registries, or a file the operator put
// into the import folder. Both do blocking I/O, so ModuleInstaller::Install calls them before it
// takes its mutex; both refuse before touching anything a caller names but the config does not.
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
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "civitas/registry/v1/registry.grpc.pb.h"
#include "services/gateway/log.h"
#include "services/gateway/module_installer.h"

namespace civitas::gateway {

absl::StatusOr<std::string> ModuleInstaller::DownloadBundle(const v1::RegistrySource& src,
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

absl::StatusOr<std::string> ModuleInstaller::ReadImportedBundle(const std::string& path) const {
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

absl::StatusOr<std::string> ModuleInstaller::FetchBundle(const v1::InstallModuleRequest& request,
                                                         const CityConfig& city) const {
  if (request.has_registry()) return DownloadBundle(request.registry(), city);
  if (request.bundle_path().empty()) {
    return absl::InvalidArgumentError("give a bundle_path or a registry source");
  }
  return ReadImportedBundle(request.bundle_path());
}

}  // namespace civitas::gateway
