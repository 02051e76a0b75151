#include "services/bundle/bundle.h"

#include <dlfcn.h>
#include <google/protobuf/util/json_util.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "civitas/abi.h"
#include "services/auth/token.h"

namespace civitas::bundle {
namespace {

constexpr size_t kBlock = 512;

void PutOctal(char* field, size_t width, uint64_t value) {
  // width includes the terminating NUL
  snprintf(field, width, "%0*llo", static_cast<int>(width - 1),
           static_cast<unsigned long long>(value));
}

uint64_t HeaderChecksum(const char* header) {
  uint64_t sum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(header[i]);
  }
  return sum;
}

bool ParseOctal(const char* field, size_t width, uint64_t* out) {
  uint64_t v = 0;
  size_t i = 0;
  while (i < width && field[i] == ' ') ++i;
  bool any = false;
  for (; i < width && field[i] >= '0' && field[i] <= '7'; ++i) {
    v = v * 8 + (field[i] - '0');
    any = true;
  }
  *out = v;
  return any;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read '", path, "'"));
  std::stringstream b;
  b << in.rdbuf();
  return b.str();
}

EVP_PKEY* PrivateKeyFromPem(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (key != nullptr && EVP_PKEY_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    return nullptr;
  }
  return key;
}

absl::StatusOr<std::string> RawPublicKey(EVP_PKEY* key) {
  unsigned char raw[32];
  size_t len = sizeof(raw);
  if (EVP_PKEY_get_raw_public_key(key, raw, &len) != 1 || len != 32) {
    return absl::InternalError("cannot read the Ed25519 public key");
  }
  return absl::Base64Escape(absl::string_view(reinterpret_cast<char*>(raw), len));
}

struct Version {
  std::vector<uint64_t> numbers;
  std::string pre;  // after '-', empty for a release
};

bool IsIdentifierList(absl::string_view s, bool numeric_no_leading_zero) {
  if (s.empty()) return false;
  for (absl::string_view part : absl::StrSplit(s, '.')) {
    if (part.empty()) return false;
    bool numeric = true;
    for (char c : part) {
      if (!absl::ascii_isalnum(c) && c != '-') return false;
      if (!absl::ascii_isdigit(c)) numeric = false;
    }
    if (numeric_no_leading_zero && numeric && part.size() > 1 && part[0] == '0') return false;
  }
  return true;
}

bool ParseVersion(absl::string_view v, Version* out) {
  if (v.size() > 64) return false;
  absl::string_view core = v;
  if (size_t plus = core.find('+'); plus != absl::string_view::npos) {
    if (!IsIdentifierList(core.substr(plus + 1), false)) return false;
    core = core.substr(0, plus);
  }
  if (size_t dash = core.find('-'); dash != absl::string_view::npos) {
    out->pre = std::string(core.substr(dash + 1));
    if (!IsIdentifierList(out->pre, true)) return false;
    core = core.substr(0, dash);
  }
  std::vector<absl::string_view> parts = absl::StrSplit(core, '.');
  if (parts.size() != 3) return false;
  for (absl::string_view p : parts) {
    uint64_t n;
    if (p.empty() || p.size() > 18 || (p.size() > 1 && p[0] == '0') ||
        !std::all_of(p.begin(), p.end(), [](char c) { return absl::ascii_isdigit(c); }) ||
        !absl::SimpleAtoi(p, &n)) {
      return false;
    }
    out->numbers.push_back(n);
  }
  return true;
}

}  // namespace

std::string WriteTar(const std::map<std::string, std::string>& files) {
  std::string out;
  for (const auto& [name, data] : files) {
    char header[kBlock] = {0};
    snprintf(header, 100, "%s", name.c_str());
    PutOctal(header + 100, 8, 0644);
    PutOctal(header + 108, 8, 0);
    PutOctal(header + 116, 8, 0);
    PutOctal(header + 124, 12, data.size());
    PutOctal(header + 136, 12, 0);
    header[156] = '0';
    memcpy(header + 257, "ustar", 6);
    memcpy(header + 263, "00", 2);
    snprintf(header + 265, 32, "civitas");
    snprintf(header + 297, 32, "civitas");
    const uint64_t sum = HeaderChecksum(header);
    snprintf(header + 148, 8, "%06llo", static_cast<unsigned long long>(sum));
    header[155] = ' ';
    out.append(header, kBlock);
    out.append(data);
    out.append((kBlock - data.size() % kBlock) % kBlock, '\0');
  }
  out.append(2 * kBlock, '\0');
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> ReadTar(absl::string_view archive) {
  std::map<std::string, std::string> files;
  size_t pos = 0;
  while (true) {
    if (pos + kBlock > archive.size()) {
      return absl::InvalidArgumentError("bundle is truncated (no end-of-archive marker)");
    }
    const char* header = archive.data() + pos;
    if (std::all_of(header, header + kBlock, [](char c) { return c == 0; })) break;
    if (memcmp(header + 257, "ustar", 5) != 0) {
      return absl::InvalidArgumentError("bundle is not a ustar archive");
    }
    uint64_t size = 0, checksum = 0;
    if (!ParseOctal(header + 148, 8, &checksum) || checksum != HeaderChecksum(header)) {
      return absl::InvalidArgumentError("bundle has a damaged archive header");
    }
    if (!ParseOctal(header + 124, 12, &size) || size > kMaxBundleBytes) {
      return absl::InvalidArgumentError("bundle has a file of invalid size");
    }
    if (header[156] != '0' && header[156] != '\0') {
      return absl::InvalidArgumentError("bundle may contain regular files only");
    }
    std::string name(header, strnlen(header, 100));
    if (header[345] != '\0') {
      return absl::InvalidArgumentError("bundle file names must be short, plain names");
    }
    pos += kBlock;
    if (pos + size > archive.size()) return absl::InvalidArgumentError("bundle is truncated");
    if (!files.emplace(name, std::string(archive.substr(pos, size))).second) {
      return absl::InvalidArgumentError(absl::StrCat("bundle contains '", name, "' twice"));
    }
    pos += size + (kBlock - size % kBlock) % kBlock;
  }
  return files;
}

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

absl::StatusOr<KeyPair> GenerateKeyPair() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (key == nullptr) return absl::InternalError("cannot generate an Ed25519 key");
  absl::Cleanup free_key = [&] { EVP_PKEY_free(key); };
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  KeyPair pair;
  pair.private_pem.assign(data, len);
  BIO_free(bio);
  absl::StatusOr<std::string> pub = RawPublicKey(key);
  if (!pub.ok()) return pub.status();
  pair.public_key = *pub;
  return pair;
}

absl::StatusOr<std::string> PublicKeyOf(const std::string& private_pem) {
  EVP_PKEY* key = PrivateKeyFromPem(private_pem);
  if (key == nullptr) return absl::InvalidArgumentError("not an Ed25519 private key (PEM)");
  absl::Cleanup free_key = [&] { EVP_PKEY_free(key); };
  return RawPublicKey(key);
}

absl::StatusOr<std::string> Sign(const std::string& private_pem, absl::string_view message) {
  EVP_PKEY* key = PrivateKeyFromPem(private_pem);
  if (key == nullptr) return absl::InvalidArgumentError("not an Ed25519 private key (PEM)");
  absl::Cleanup free_key = [&] { EVP_PKEY_free(key); };
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  absl::Cleanup free_ctx = [&] { EVP_MD_CTX_free(ctx); };
  unsigned char sig[64];
  size_t len = sizeof(sig);
  if (EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key) != 1 ||
      EVP_DigestSign(ctx, sig, &len, reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) != 1) {
    return absl::InternalError("signing failed");
  }
  return std::string(reinterpret_cast<char*>(sig), len);
}

bool VerifySignature(const std::string& public_key, absl::string_view message,
                     absl::string_view signature) {
  std::string raw;
  if (!absl::Base64Unescape(public_key, &raw) || raw.size() != 32 || signature.size() != 64) {
    return false;
  }
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  if (key == nullptr) return false;
  absl::Cleanup free_key = [&] { EVP_PKEY_free(key); };
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  absl::Cleanup free_ctx = [&] { EVP_MD_CTX_free(ctx); };
  return EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key) == 1 &&
         EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

bool IsModuleId(absl::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  std::vector<absl::string_view> parts = absl::StrSplit(id, '.');
  if (parts.size() < 2) return false;
  for (absl::string_view part : parts) {
    if (part.empty() || !absl::ascii_islower(part[0])) return false;
    for (char c : part) {
      if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '_') return false;
    }
  }
  return true;
}

absl::Status CheckModuleRef(absl::string_view id, absl::string_view version) {
  if (!IsModuleId(id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("module id '", absl::CHexEscape(id.substr(0, 140)),
                     "' is not valid; it must match ", kModuleIdPattern));
  }
  if (!IsSemver(version)) {
    return absl::InvalidArgumentError(
        absl::StrCat("version '", absl::CHexEscape(version.substr(0, 80)), "' of ", id,
                     " is not a semantic version (1.2.3, 1.2.3-rc.1; at most 64 characters)"));
  }
  return absl::OkStatus();
}

bool IsSemver(absl::string_view v) {
  Version parsed;
  return ParseVersion(v, &parsed);
}

int CompareVersions(absl::string_view a, absl::string_view b) {
  Version va, vb;
  if (!ParseVersion(a, &va) || !ParseVersion(b, &vb)) return a.compare(b);
  for (size_t i = 0; i < 3; ++i) {
    if (va.numbers[i] != vb.numbers[i]) return va.numbers[i] < vb.numbers[i] ? -1 : 1;
  }
  if (va.pre == vb.pre) return 0;
  if (va.pre.empty()) return 1;  // a release is newer than its pre-releases
  if (vb.pre.empty()) return -1;
  return va.pre < vb.pre ? -1 : 1;
}

absl::StatusOr<std::string> Pack(const std::string& module_path, const PackOptions& options) {
  absl::StatusOr<std::string> library = ReadFile(module_path);
  if (!library.ok()) return library.status();
  void* handle = dlopen(module_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", module_path, "' is not loadable: ", dlerror()));
  }
  auto entry =
      reinterpret_cast<civitas_module_entry_fn>(dlsym(handle, CIVITAS_MODULE_ENTRY_SYMBOL));
  if (entry == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", module_path, "' does not export ", CIVITAS_MODULE_ENTRY_SYMBOL));
  }
  const civitas_module_def* def = entry();
  constexpr size_t kMinDef = offsetof(civitas_module_def, destroy) + sizeof(void*);
  if (def == nullptr || def->struct_size < kMinDef || def->module_id == nullptr ||
      def->version == nullptr) {
    return absl::InvalidArgumentError("the module's definition is incomplete");
  }
  if (!IsModuleId(def->module_id)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "module id '", def->module_id, "' is not valid; it must match ", kModuleIdPattern));
  }
  if (!IsSemver(def->version)) {
    return absl::InvalidArgumentError(
        absl::StrCat("module version '", def->version, "' is not a semantic version (1.2.3)"));
  }
  if (options.publisher.empty()) return absl::InvalidArgumentError("a publisher is required");

  registry::v1::BundleManifest m;
  m.set_module_id(def->module_id);
  m.set_version(def->version);
  m.set_abi_version(absl::StrCat(def->abi_major, ".", def->abi_minor));
  m.set_publisher(options.publisher);
  m.set_license(options.license);
  m.set_description(options.description);
  if (def->build_id != nullptr) m.set_build_id(def->build_id);
  for (size_t s = 0; s < def->service_count; ++s) {
    auto* service = m.add_services();
    service->set_name(def->services[s].full_name ? def->services[s].full_name : "");
    for (size_t k = 0; k < def->services[s].method_count; ++k) {
      const civitas_method_def& md = def->services[s].methods[k];
      auto* method = service->add_methods();
      method->set_name(md.name ? md.name : "");
      method->set_server_streaming(md.kind == CIVITAS_METHOD_SERVER_STREAMING);
      method->set_required_role(auth::RoleName(md.required_role));
    }
  }
  m.mutable_storage()->set_key_namespace(def->module_id);
  m.mutable_storage()->set_estimated_bytes_per_city(options.estimated_bytes_per_city);
  registry::v1::StorageNeeds* storage = m.mutable_storage();
  storage->set_has_migration(CIVITAS_MODULE_HAS(def, migrate) && def->migrate != nullptr);
  storage->set_has_down_migration(CIVITAS_MODULE_HAS(def, migrate_down) &&
                                  def->migrate_down != nullptr);
  storage->set_rollback_compatible(CIVITAS_MODULE_HAS(def, flags) &&
                                   (def->flags & CIVITAS_MODULE_FLAG_ROLLBACK_COMPATIBLE) != 0);
  storage->set_supports_personal_data(CIVITAS_MODULE_HAS(def, erase_personal_data) &&
                                      def->export_personal_data != nullptr &&
                                      def->erase_personal_data != nullptr);

  std::map<std::string, std::string> files;
  files[kModuleFile] = *library;
  files[kDescriptorsFile] = def->descriptor_set == nullptr
                                ? std::string()
                                : std::string(reinterpret_cast<const char*>(def->descriptor_set),
                                              def->descriptor_set_size);
  for (const char* name : {kModuleFile, kDescriptorsFile}) {
    auto* f = m.add_files();
    f->set_path(name);
    f->set_sha256(Sha256Hex(files[name]));
    f->set_size(static_cast<int64_t>(files[name].size()));
  }
  google::protobuf::util::JsonPrintOptions print;
  print.add_whitespace = true;
  print.preserve_proto_field_names = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(m, &json, print).ok()) {
    return absl::InternalError("cannot write the manifest");
  }
  files[kManifestFile] = json;
  return WriteTar(files);
}

absl::StatusOr<std::string> SignBundle(absl::string_view bundle, const std::string& private_pem) {
  absl::StatusOr<OpenedBundle> opened = OpenBundle(bundle);
  if (!opened.ok()) return opened.status();
  absl::StatusOr<std::string> signature = Sign(private_pem, opened->manifest_json);
  if (!signature.ok()) return signature.status();
  opened->files[kSignatureFile] = *signature;
  return WriteTar(opened->files);
}

absl::StatusOr<OpenedBundle> OpenBundle(absl::string_view bundle) {
  if (bundle.size() > kMaxBundleBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("bundle is larger than ", kMaxBundleBytes >> 20, " MiB"));
  }
  absl::StatusOr<std::map<std::string, std::string>> files = ReadTar(bundle);
  if (!files.ok()) return files.status();
  static const std::set<std::string> kAllowed = {kManifestFile, kModuleFile, kDescriptorsFile,
                                                 kSignatureFile};
  for (const auto& [name, data] : *files) {
    if (!kAllowed.count(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bundle contains unexpected file '", name, "'"));
    }
  }
  for (const char* required : {kManifestFile, kModuleFile, kDescriptorsFile}) {
    if (!files->count(required)) {
      return absl::InvalidArgumentError(absl::StrCat("bundle has no ", required));
    }
  }
  OpenedBundle out;
  out.manifest_json = files->at(kManifestFile);
  google::protobuf::util::JsonParseOptions parse;
  parse.ignore_unknown_fields = false;
  if (!google::protobuf::util::JsonStringToMessage(out.manifest_json, &out.manifest, parse).ok()) {
    return absl::InvalidArgumentError("bundle manifest is not a valid BundleManifest");
  }
  const auto& m = out.manifest;
  if (m.module_id().empty() || m.version().empty() || m.publisher().empty()) {
    return absl::InvalidArgumentError(
        "bundle manifest needs module_id, a semantic version and "
        "a publisher");
  }
  // The id and version become folder names in every module store: never a path.
  if (absl::Status s = CheckModuleRef(m.module_id(), m.version()); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("bundle manifest: ", s.message()));
  }
  std::set<std::string> covered;
  for (const auto& f : m.files()) {
    auto it = files->find(f.path());
    if (it == files->end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("manifest lists '", f.path(), "' but the bundle lacks it"));
    }
    if (Sha256Hex(it->second) != f.sha256()) {
      return absl::PermissionDeniedError(absl::StrCat(
          "bundle file '", f.path(), "' does not match its SHA-256 in the manifest (tampered?)"));
    }
    covered.insert(f.path());
  }
  if (!covered.count(kModuleFile) || !covered.count(kDescriptorsFile)) {
    return absl::InvalidArgumentError("manifest must list module.so and descriptors.pb");
  }
  out.files = *std::move(files);
  return out;
}

absl::Status CheckTrust(const OpenedBundle& bundle, const std::vector<TrustedKey>& trusted) {
  const std::string& publisher = bundle.manifest.publisher();
  auto sig = bundle.files.find(kSignatureFile);
  if (sig == bundle.files.end()) {
    return absl::PermissionDeniedError("bundle is not signed (civitasctl module sign)");
  }
  bool known = false;
  for (const TrustedKey& key : trusted) {
    if (key.publisher != publisher) continue;
    known = true;
    if (!VerifySignature(key.public_key, bundle.manifest_json, sig->second)) continue;
    if (key.revoked) {
      return absl::PermissionDeniedError(
          absl::StrCat("bundle is signed with a revoked key of "
                       "publisher '",
                       publisher, "'"));
    }
    return absl::OkStatus();
  }
  if (!known) {
    return absl::PermissionDeniedError(
        absl::StrCat("publisher '", publisher, "' is not trusted here"));
  }
  return absl::PermissionDeniedError(
      absl::StrCat("bundle signature does not match any trusted key of publisher '", publisher,
                   "' (tampered, or signed with another key)"));
}

}  // namespace civitas::bundle
