// The module registry: partner cities publish signed bundles here and install from here.
#ifndef CIVITAS_REGISTRY_REGISTRY_SERVICE_H_
#define CIVITAS_REGISTRY_REGISTRY_SERVICE_H_

#include <rocksdb/db.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "civitas/registry/v1/registry.grpc.pb.h"

namespace civitas::registry {

struct Publisher {
  std::string name;          // as in bundle manifests
  std::string public_key;    // base64 Ed25519 public key bundles must be signed with
  std::string token_sha256;  // hex SHA-256 of the publisher's API token
};

struct RegistryConfig {
  std::string listen = "127.0.0.1:50052";
  std::string data_dir = "./registry-data";
  std::vector<Publisher> publishers;
  std::string tls_cert_file;  // PEM certificate chain; with tls_key_file: serve TLS
  std::string tls_key_file;   // PEM private key
};

// YAML: listen, data_dir, publishers: [{name, key, token_sha256}], tls: {cert_file, key_file}.
// Errors name line and key.
absl::StatusOr<RegistryConfig> LoadRegistryConfig(const std::string& path);

class RegistryService final : public v1::RegistryService::Service {
 public:
  static absl::StatusOr<std::unique_ptr<RegistryService>> Open(const RegistryConfig& config);

  grpc::Status PublishBundle(grpc::ServerContext* ctx, const v1::PublishBundleRequest* request,
                             v1::ModuleVersion* response) override;
  grpc::Status AddModulePublisher(grpc::ServerContext* ctx,
                                  const v1::AddModulePublisherRequest* request,
                                  v1::AddModulePublisherResponse* response) override;
  grpc::Status ListModules(grpc::ServerContext* ctx, const v1::ListModulesRequest* request,
                           v1::ListModulesResponse* response) override;
  grpc::Status ListModuleVersions(grpc::ServerContext* ctx,
                                  const v1::ListModuleVersionsRequest* request,
                                  v1::ListModuleVersionsResponse* response) override;
  grpc::Status GetBundle(grpc::ServerContext* ctx, const v1::GetBundleRequest* request,
                         v1::Bundle* response) override;

 private:
  RegistryService() = default;
  std::vector<v1::ModuleVersion> Versions(const std::string& module_id) const;
  // The registered publisher whose token the call carries, or null.
  const Publisher* CallingPublisher(grpc::ServerContext* ctx) const;
  // The owner of a module id ("" if unpublished) and who else may publish it.
  std::string OwnerOf(const std::string& module_id) const;
  std::vector<std::string> CoPublishersOf(const std::string& module_id) const;

  RegistryConfig config_;
  std::unique_ptr<rocksdb::DB> db_;
  absl::Mutex publish_mu_;  // check-then-write of a new version is atomic
};

}  // namespace civitas::registry

#endif  // CIVITAS_REGISTRY_REGISTRY_SERVICE_H_
