// Module bundles: one file per module version that partner cities exchange.
//
// A bundle is a plain ustar archive (so `tar -tf` shows it) with exactly these files:
//   manifest.json    civitas.registry.v1.BundleManifest in protobuf's JSON mapping
//   module.so        the module's shared library
//   descriptors.pb   its FileDescriptorSet
//   signature        detached Ed25519 signature over the exact bytes of manifest.json
// The manifest names every other file with its SHA-256, so the signature covers the whole bundle.
#ifndef CIVITAS_BUNDLE_BUNDLE_H_
#define CIVITAS_BUNDLE_BUNDLE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "civitas/registry/v1/bundle.pb.h"

namespace civitas::bundle {

inline constexpr char kManifestFile[] = "manifest.json";
inline constexpr char kModuleFile[] = "module.so";
inline constexpr char kDescriptorsFile[] = "descriptors.pb";
inline constexpr char kSignatureFile[] = "signature";
inline constexpr size_t kMaxBundleBytes = 64u << 20;

// ustar archives of regular files, written reproducibly (sorted, mtime 0, mode 0644).
std::string WriteTar(const std::map<std::string, std::string>& files);
absl::StatusOr<std::map<std::string, std::string>> ReadTar(absl::string_view archive);

std::string Sha256Hex(absl::string_view data);

// Ed25519 keys: the private key as PKCS#8 PEM, the public key as base64 of its 32 raw bytes.
struct KeyPair {
  std::string private_pem;
  std::string public_key;
};
absl::StatusOr<KeyPair> GenerateKeyPair();
absl::StatusOr<std::string> PublicKeyOf(const std::string& private_pem);
absl::StatusOr<std::string> Sign(const std::string& private_pem, absl::string_view message);
bool VerifySignature(const std::string& public_key, absl::string_view message,
                     absl::string_view signature);

// Compares semantic versions ("1.10.0" > "1.9.2"; a pre-release sorts before its release).
// Returns <0, 0 or >0; an unparsable version compares as text.
int CompareVersions(absl::string_view a, absl::string_view b);
// Strict semantic version (semver.org 2.0): 1.2.3, 1.2.3-rc.1, 1.2.3+build.5; no leading zeros,
// at most 64 characters. Never contains '/' or "..": safe as a folder name.
bool IsSemver(absl::string_view v);

// Module ids are dotted lower-case names; never a path.
inline constexpr char kModuleIdPattern[] =
    "[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+, at most 128 characters";
bool IsModuleId(absl::string_view id);
// INVALID_ARGUMENT naming what is wrong unless `id` and `version` are both valid.
absl::Status CheckModuleRef(absl::string_view id, absl::string_view version);

struct PackOptions {
  std::string publisher;
  std::string license;
  std::string description;
  int64_t estimated_bytes_per_city = 0;
};
// Reads the module's own definition (id, version, ABI, services, roles, descriptors) from the
// shared library and writes an unsigned bundle. Loads the library: pack only your own modules.
absl::StatusOr<std::string> Pack(const std::string& module_path, const PackOptions& options);

// Adds (or replaces) the signature with the given private key.
absl::StatusOr<std::string> SignBundle(absl::string_view bundle, const std::string& private_pem);

struct OpenedBundle {
  registry::v1::BundleManifest manifest;
  std::string manifest_json;
  std::map<std::string, std::string> files;  // every file, manifest and signature included
};
// Parses a bundle and checks its structure and every file's hash against the manifest. Does not
// check the signature: see CheckTrust.
absl::StatusOr<OpenedBundle> OpenBundle(absl::string_view bundle);

struct TrustedKey {
  std::string publisher;
  std::string public_key;
  bool revoked = false;
};
// OK if the bundle is signed by a non-revoked key of its manifest's publisher. Otherwise
// PERMISSION_DENIED naming the reason: unknown publisher, revoked key, or no matching signature.
absl::Status CheckTrust(const OpenedBundle& bundle, const std::vector<TrustedKey>& trusted);

}  // namespace civitas::bundle

#endif  // CIVITAS_BUNDLE_BUNDLE_H_
