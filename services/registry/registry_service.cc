#include "services/registry/registry_service.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/bundle/bundle.h"

namespace civitas::registry {
namespace {

constexpr char kVersionPrefix[] = "v/";
constexpr char kBundlePrefix[] = "b/";
constexpr char kOwnerPrefix[] = "o/";        // o/<id> -> publisher who first published it
constexpr char kCoPublisherPrefix[] = "c/";  // c/<id>\0<publisher> -> ""

std::string Key(const char* prefix, const std::string& id, const std::string& version) {
  return absl::StrCat(prefix, id, std::string(1, '\0'), version);
}

grpc::Status Error(grpc::StatusCode code, const std::string& message) {
  return grpc::Status(code, message);
}

bool ParseVersionName(const std::string& name, std::string* id, std::string* version) {
  // modules/{id}/versions/{version}
  const std::string a = "modules/", b = "/versions/";
  if (!absl::StartsWith(name, a)) return false;
  size_t mid = name.find(b, a.size());
  if (mid == std::string::npos) return false;
  *id = name.substr(a.size(), mid - a.size());
  *version = name.substr(mid + b.size());
  return !id->empty() && !version->empty() && id->find('/') == std::string::npos;
}

}  // namespace

absl::StatusOr<RegistryConfig> LoadRegistryConfig(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ":", e.mark.line + 1, ": ", e.msg));
  }
  auto fail = [&](const YAML::Node& n, const std::string& key, const std::string& why) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", n.Mark().line + 1, ": ", key, ": ", why));
  };
  RegistryConfig c;
  if (!root.IsMap()) return fail(root, "(root)", "must be a mapping");
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    if (key == "listen") {
      c.listen = kv.second.as<std::string>();
    } else if (key == "data_dir") {
      c.data_dir = kv.second.as<std::string>();
    } else if (key == "tls") {
      if (!kv.second.IsMap() || !kv.second["cert_file"] || !kv.second["key_file"]) {
        return fail(kv.second, key, "needs cert_file and key_file (PEM)");
      }
      for (const auto& t : kv.second) {
        const std::string k = t.first.as<std::string>();
        if (k != "cert_file" && k != "key_file") {
          return fail(t.first, "tls." + k, "unknown key; expected cert_file or key_file");
        }
      }
      c.tls_cert_file = kv.second["cert_file"].as<std::string>();
      c.tls_key_file = kv.second["key_file"].as<std::string>();
    } else if (key == "publishers") {
      if (!kv.second.IsSequence()) return fail(kv.second, key, "must be a list");
      for (size_t i = 0; i < kv.second.size(); ++i) {
        const YAML::Node p = kv.second[i];
        const std::string at = absl::StrCat("publishers[", i, "]");
        if (!p.IsMap() || !p["name"] || !p["key"] || !p["token_sha256"]) {
          return fail(p, at, "needs name, key and token_sha256");
        }
        Publisher pub{p["name"].as<std::string>(), p["key"].as<std::string>(),
                      absl::AsciiStrToLower(p["token_sha256"].as<std::string>())};
        if (pub.token_sha256.size() != 64) {
          return fail(p["token_sha256"], at + ".token_sha256", "must be 64 hex digits");
        }
        c.publishers.push_back(pub);
      }
    } else {
      return fail(kv.first, key, "unknown key; expected listen, data_dir, publishers or tls");
    }
  }
  return c;
}

absl::StatusOr<std::unique_ptr<RegistryService>> RegistryService::Open(
    const RegistryConfig& config) {
  std::unique_ptr<RegistryService> r(new RegistryService());
  r->config_ = config;
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, config.data_dir, &raw);
  if (!s.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open registry data '", config.data_dir, "': ", s.ToString()));
  }
  r->db_.reset(raw);
  return r;
}

const Publisher* RegistryService::CallingPublisher(grpc::ServerContext* ctx) const {
  auto auth = ctx->client_metadata().find("authorization");
  std::string token;
  if (auth != ctx->client_metadata().end()) {
    token = std::string(auth->second.data(), auth->second.size());
    if (absl::StartsWithIgnoreCase(token, "bearer ")) token = token.substr(7);
  }
  if (token.empty()) return nullptr;
  const std::string token_hash = bundle::Sha256Hex(token);
  for (const Publisher& p : config_.publishers) {
    if (p.token_sha256 == token_hash) return &p;
  }
  return nullptr;
}

std::string RegistryService::OwnerOf(const std::string& module_id) const {
  std::string owner;
  if (db_->Get(rocksdb::ReadOptions(), absl::StrCat(kOwnerPrefix, module_id), &owner).ok()) {
    return owner;
  }
  // Published before owners were recorded: the publisher of its first version owns it.
  std::vector<v1::ModuleVersion> versions = Versions(module_id);
  return versions.empty() ? "" : versions.back().manifest().publisher();
}

std::vector<std::string> RegistryService::CoPublishersOf(const std::string& module_id) const {
  std::vector<std::string> out;
  const std::string prefix = Key(kCoPublisherPrefix, module_id, "");
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    out.push_back(it->key().ToString().substr(prefix.size()));
  }
  return out;
}

grpc::Status RegistryService::AddModulePublisher(grpc::ServerContext* ctx,
                                                 const v1::AddModulePublisherRequest* request,
                                                 v1::AddModulePublisherResponse* response) {
  const Publisher* caller = CallingPublisher(ctx);
  if (caller == nullptr) {
    return Error(grpc::StatusCode::UNAUTHENTICATED,
                 "adding a publisher needs 'authorization: Bearer <publisher token>' of the "
                 "module's owner");
  }
  const std::string id =
      absl::StartsWith(request->parent(), "modules/") ? request->parent().substr(8) : "";
  if (!bundle::IsModuleId(id)) {
    return Error(grpc::StatusCode::INVALID_ARGUMENT,
                 "parent must be 'modules/{module_id}', got '" + request->parent() + "'");
  }
  const bool registered =
      std::any_of(config_.publishers.begin(), config_.publishers.end(),
                  [&](const Publisher& p) { return p.name == request->publisher(); });
  if (!registered) {
    return Error(grpc::StatusCode::INVALID_ARGUMENT,
                 absl::StrCat("no publisher '", request->publisher(), "' is registered here"));
  }
  absl::MutexLock lock(&publish_mu_);
  const std::string owner = OwnerOf(id);
  if (owner.empty()) {
    return Error(grpc::StatusCode::NOT_FOUND, "no module '" + id + "' is published here");
  }
  if (owner != caller->name) {
    return Error(grpc::StatusCode::PERMISSION_DENIED,
                 absl::StrCat(id, " belongs to publisher '", owner,
                              "'; only they may add "
                              "publishers"));
  }
  if (request->publisher() != owner) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    if (rocksdb::Status s = db_->Put(wo, Key(kCoPublisherPrefix, id, request->publisher()), "");
        !s.ok()) {
      return Error(grpc::StatusCode::INTERNAL, "cannot store the publisher: " + s.ToString());
    }
  }
  response->set_owner(owner);
  response->add_publishers(owner);
  for (const std::string& p : CoPublishersOf(id)) response->add_publishers(p);
  return grpc::Status::OK;
}

grpc::Status RegistryService::PublishBundle(grpc::ServerContext* ctx,
                                            const v1::PublishBundleRequest* request,
                                            v1::ModuleVersion* response) {
  const Publisher* publisher = CallingPublisher(ctx);
  if (publisher == nullptr) {
    return Error(grpc::StatusCode::UNAUTHENTICATED,
                 "publishing needs 'authorization: Bearer <publisher token>' of a publisher "
                 "registered here");
  }
  absl::StatusOr<bundle::OpenedBundle> opened = bundle::OpenBundle(request->bundle());
  if (!opened.ok()) {
    return Error(opened.status().code() == absl::StatusCode::kPermissionDenied
                     ? grpc::StatusCode::PERMISSION_DENIED
                     : grpc::StatusCode::INVALID_ARGUMENT,
                 std::string(opened.status().message()));
  }
  const auto& m = opened->manifest;
  if (m.publisher() != publisher->name) {
    return Error(grpc::StatusCode::PERMISSION_DENIED,
                 absl::StrCat("the bundle names publisher '", m.publisher(), "' but the token is '",
                              publisher->name, "'s"));
  }
  if (absl::Status trust = bundle::CheckTrust(*opened, {{publisher->name, publisher->public_key}});
      !trust.ok()) {
    return Error(grpc::StatusCode::PERMISSION_DENIED,
                 absl::StrCat("the bundle is not signed with the key registered for '",
                              publisher->name, "': ", trust.message()));
  }
  absl::MutexLock lock(&publish_mu_);
  // A module id belongs to whoever published it first; nobody else takes it over.
  const std::string owner = OwnerOf(m.module_id());
  if (!owner.empty() && owner != publisher->name) {
    const std::vector<std::string> co = CoPublishersOf(m.module_id());
    if (std::find(co.begin(), co.end(), publisher->name) == co.end()) {
      return Error(
          grpc::StatusCode::PERMISSION_DENIED,
          absl::StrCat(m.module_id(), " belongs to publisher '", owner, "'; '", publisher->name,
                       "' may publish it only once the owner adds them (civitasctl "
                       "registry add-publisher)"));
    }
  }
  std::string existing;
  if (db_->Get(rocksdb::ReadOptions(), Key(kVersionPrefix, m.module_id(), m.version()), &existing)
          .ok()) {
    return Error(grpc::StatusCode::ALREADY_EXISTS,
                 absl::StrCat(m.module_id(), " ", m.version(),
                              " is already published; a published version never changes, "
                              "publish a new version"));
  }
  v1::ModuleVersion version;
  version.set_name(absl::StrCat("modules/", m.module_id(), "/versions/", m.version()));
  *version.mutable_manifest() = m;
  const int64_t now = absl::ToUnixMicros(absl::Now());
  version.mutable_publish_time()->set_seconds(now / 1000000);
  version.mutable_publish_time()->set_nanos(static_cast<int32_t>(now % 1000000) * 1000);
  version.set_size_bytes(static_cast<int64_t>(request->bundle().size()));
  version.set_sha256(bundle::Sha256Hex(request->bundle()));
  rocksdb::WriteBatch batch;
  batch.Put(Key(kBundlePrefix, m.module_id(), m.version()), request->bundle());
  batch.Put(Key(kVersionPrefix, m.module_id(), m.version()), version.SerializeAsString());
  batch.Put(absl::StrCat(kOwnerPrefix, m.module_id()), owner.empty() ? publisher->name : owner);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  if (rocksdb::Status s = db_->Write(wo, &batch); !s.ok()) {
    return Error(grpc::StatusCode::INTERNAL, "cannot store the bundle: " + s.ToString());
  }
  *response = version;
  return grpc::Status::OK;
}

std::vector<v1::ModuleVersion> RegistryService::Versions(const std::string& module_id) const {
  std::vector<v1::ModuleVersion> out;
  const std::string prefix = Key(kVersionPrefix, module_id, "");
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    v1::ModuleVersion v;
    if (v.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      out.push_back(std::move(v));
    }
  }
  std::sort(out.begin(), out.end(), [](const v1::ModuleVersion& a, const v1::ModuleVersion& b) {
    return bundle::CompareVersions(a.manifest().version(), b.manifest().version()) > 0;
  });
  return out;
}

grpc::Status RegistryService::ListModules(grpc::ServerContext*,
                                          const v1::ListModulesRequest* request,
                                          v1::ListModulesResponse* response) {
  if (request->page_size() < 0 || request->page_size() > 100) {
    return Error(grpc::StatusCode::INVALID_ARGUMENT,
                 absl::StrCat("page_size must be between 0 and 100, got ", request->page_size()));
  }
  const int size = request->page_size() == 0 ? 50 : request->page_size();
  std::map<std::string, v1::ModuleVersion> latest;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(kVersionPrefix); it->Valid() && it->key().starts_with(kVersionPrefix); it->Next()) {
    v1::ModuleVersion v;
    if (!v.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) continue;
    auto [pos, fresh] = latest.emplace(v.manifest().module_id(), v);
    if (!fresh &&
        bundle::CompareVersions(v.manifest().version(), pos->second.manifest().version()) > 0) {
      pos->second = v;
    }
  }
  const std::string search = absl::AsciiStrToLower(request->search());
  std::string last;
  for (auto m = latest.upper_bound(request->page_token()); m != latest.end(); ++m) {
    const auto& mf = m->second.manifest();
    if (!search.empty() &&
        !absl::StrContains(absl::AsciiStrToLower(absl::StrCat(mf.module_id(), " ", mf.publisher(),
                                                              " ", mf.description())),
                           search)) {
      continue;
    }
    if (response->modules_size() == size) {
      response->set_next_page_token(last);
      break;
    }
    v1::RegistryModule* out = response->add_modules();
    out->set_name("modules/" + mf.module_id());
    out->set_module_id(mf.module_id());
    out->set_latest_version(mf.version());
    out->set_publisher(mf.publisher());
    out->set_description(mf.description());
    out->set_license(mf.license());
    last = mf.module_id();
  }
  return grpc::Status::OK;
}

grpc::Status RegistryService::ListModuleVersions(grpc::ServerContext*,
                                                 const v1::ListModuleVersionsRequest* request,
                                                 v1::ListModuleVersionsResponse* response) {
  if (!absl::StartsWith(request->parent(), "modules/") || request->parent().size() <= 8) {
    return Error(grpc::StatusCode::INVALID_ARGUMENT,
                 "parent must be 'modules/{module_id}', got '" + request->parent() + "'");
  }
  const std::string id = request->parent().substr(8);
  if (!bundle::IsModuleId(id)) {
    return Error(grpc::StatusCode::INVALID_ARGUMENT,
                 absl::StrCat("module id '", id, "' is not valid; it must match ",
                              bundle::kModuleIdPattern));
  }
  std::vector<v1::ModuleVersion> versions = Versions(id);
  if (versions.empty()) {
    return Error(grpc::StatusCode::NOT_FOUND, "no module '" + id + "' is published here");
  }
  for (auto& v : versions) *response->add_versions() = std::move(v);
  return grpc::Status::OK;
}

grpc::Status RegistryService::GetBundle(grpc::ServerContext*, const v1::GetBundleRequest* request,
                                        v1::Bundle* response) {
  std::string id, version;
  if (!ParseVersionName(request->name(), &id, &version)) {
    return Error(
        grpc::StatusCode::INVALID_ARGUMENT,
        "name must be 'modules/{module_id}/versions/{version}', got '" + request->name() + "'");
  }
  if (absl::Status valid = bundle::CheckModuleRef(id, version); !valid.ok()) {
    return Error(grpc::StatusCode::INVALID_ARGUMENT, std::string(valid.message()));
  }
  std::string content;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), Key(kBundlePrefix, id, version), &content);
  if (s.IsNotFound()) {
    return Error(grpc::StatusCode::NOT_FOUND,
                 absl::StrCat(id, " ", version, " is not published here"));
  }
  if (!s.ok()) return Error(grpc::StatusCode::INTERNAL, s.ToString());
  response->set_name(request->name());
  response->set_content(std::move(content));
  return grpc::Status::OK;
}

}  // namespace civitas::registry
