// Bearer tokens (JWT, RFC 7519): verification for the gateway and minting for civitasctl and
// tests. RS256 and ES256 keys come from a JSON Web Key Set; HS256 only when explicitly allowed.
#ifndef CIVITAS_AUTH_TOKEN_H_
#define CIVITAS_AUTH_TOKEN_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace civitas::auth {

struct VerifierOptions {
  std::string jwks_json;     // empty: no asymmetric keys
  std::string hs256_secret;  // empty: HS256 refused
  std::string issuer;        // required `iss` if non-empty
  std::string audience;      // required in `aud` if non-empty
  std::string roles_claim = "civitas_roles";
  absl::Duration leeway = absl::Seconds(60);
  // Tokens that live longer than this (exp - iat, or exp - now without iat) are refused: a
  // stolen long-lived token would be a standing login.
  absl::Duration max_lifetime = absl::Hours(24);
};

// The role name above a city's admin: `"*": ["operator"]` in the roles claim. It is not a module
// role (modules never see it); only the gateway's AdminService reads it.
inline constexpr char kOperatorRole[] = "operator";

struct TokenClaims {
  std::string subject;
  std::string issuer;                  // `iss`, empty if absent
  std::vector<std::string> audiences;  // `aud` (a string or a list)
  // CIVITAS_ROLE_BIT sets by city id; "*" applies to every city the token is issued for.
  std::map<std::string, uint32_t> roles_by_city;
  bool instance_operator = false;  // "*": [..., "operator", ...]
};

// "citizen" -> CIVITAS_ROLE_CITIZEN etc.
absl::StatusOr<int> ParseRole(absl::string_view name);
const char* RoleName(int role);

class TokenVerifier {
 public:
  static absl::StatusOr<std::unique_ptr<TokenVerifier>> Create(const VerifierOptions& options);
  ~TokenVerifier();

  // UNAUTHENTICATED with a reason a client developer can act on, or the claims. Tokens that
  // verified are remembered (up to kVerifiedTokenCacheSize): later calls check only their
  // expiry and not-before times.
  absl::StatusOr<TokenClaims> Verify(absl::string_view token, absl::Time now) const;
  bool accepts_tokens() const;

  static constexpr size_t kVerifiedTokenCacheSize = 16384;

 private:
  struct Key;
  struct CachedToken {
    TokenClaims claims;
    double exp, nbf;  // unix seconds
  };
  TokenVerifier() = default;
  absl::StatusOr<TokenClaims> VerifyUncached(absl::string_view token, absl::Time now, double* exp,
                                             double* nbf) const;
  // UNAUTHENTICATED unless `now` is within [nbf, exp] (unix seconds), give or take the leeway.
  absl::Status CheckTimeWindow(double exp, double nbf, absl::Time now) const;
  VerifierOptions options_;
  std::vector<std::unique_ptr<Key>> keys_;
  mutable std::mutex cache_mu_;
  mutable absl::flat_hash_map<std::string, CachedToken> cache_;
};

struct MintRequest {
  std::string subject;
  std::map<std::string, std::vector<std::string>> roles_by_city;
  std::string issuer;
  std::string audience;
  absl::Time now = absl::Now();
  absl::Duration ttl = absl::Hours(1);
  std::string roles_claim = "civitas_roles";
};

class TokenSigner {
 public:
  // ES256 for a P-256 key, RS256 for an RSA key (PEM, PKCS#8 or traditional).
  static absl::StatusOr<std::unique_ptr<TokenSigner>> FromPrivateKeyPem(const std::string& pem,
                                                                        std::string kid);
  static std::unique_ptr<TokenSigner> Hs256(std::string secret);
  ~TokenSigner();

  absl::StatusOr<std::string> Mint(const MintRequest& request) const;

 private:
  TokenSigner() = default;
  std::string alg_;
  std::string kid_;
  std::string secret_;
  void* pkey_ = nullptr;  // EVP_PKEY*
};

// Creates a P-256 key pair for development: the private key (PEM, mode 0600) and a JWKS with its
// public half. Used by the demo so that `civitasctl token mint` works out of the box.
absl::Status GenerateDevKeyPair(const std::string& private_key_path, const std::string& jwks_path,
                                const std::string& kid);

}  // namespace civitas::auth

#endif  // CIVITAS_AUTH_TOKEN_H_
