// Bearer tokens (JWT, RFC 7519): verification for the gateway and minting for civitasctl and
// tests. RS256 and ES256 keys come from a JSON Web Key Set; HS256 only when explicitly allowed.
#ifndef CIVITAS_AUTH_TOKEN_H_
#define CIVITAS_AUTH_TOKEN_H_

#include <cstdint>
#include <functional>
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

// Public keys parsed from a JSON Web Key Set (RFC 7517): RSA (RS256) and EC P-256 (ES256).
class KeySet {
 public:
  // `issuer` binds the keys to one issuer (keys fetched from that issuer's discovery document
  // verify only tokens whose `iss` is that issuer); empty = keys of the operator's file, which
  // verify any issuer.
  static absl::StatusOr<std::shared_ptr<const KeySet>> Parse(absl::string_view jwks_json,
                                                             std::string issuer = "");
  ~KeySet();
  size_t size() const { return keys_.size(); }
  const std::string& issuer() const { return issuer_; }

 private:
  friend class TokenVerifier;
  struct Key;
  KeySet() = default;
  std::string issuer_;
  std::vector<std::unique_ptr<Key>> keys_;
};

// The payload (absl::Status::GetPayload) that marks a refusal of TokenVerifier::Verify as "the
// token has expired", so the gateway can tell a client to refresh it (TOKEN_EXPIRED) rather than
// to sign in again.
inline constexpr char kTokenExpiredPayload[] = "civitas.city/token-expired";

class TokenVerifier {
 public:
  static absl::StatusOr<std::unique_ptr<TokenVerifier>> Create(const VerifierOptions& options);
  ~TokenVerifier();

  // UNAUTHENTICATED with a reason a client developer can act on, or the claims. Tokens that
  // verified are remembered (up to kVerifiedTokenCacheSize): later calls check only their
  // expiry and not-before times.
  absl::StatusOr<TokenClaims> Verify(absl::string_view token, absl::Time now) const;
  bool accepts_tokens() const;

  // Replaces the keys of `keys->issuer()` (an identity provider's key rotation). Tokens verified
  // earlier are verified again, so a key the provider withdrew stops working at once.
  void SetIssuerKeys(std::shared_ptr<const KeySet> keys);
  // Issuers whose keys come from SetIssuerKeys: a token of such an issuer whose `kid` no key
  // has is refused, and `on_unknown_key(issuer)` is called (the key fetcher then looks for a
  // rotated key set). Set before the verifier is used.
  void ExpectIssuerKeys(std::vector<std::string> issuers,
                        std::function<void(const std::string&)> on_unknown_key);

  static constexpr size_t kVerifiedTokenCacheSize = 16384;
  // Entries in the verified-token cache now (tests).
  size_t cached_tokens() const;

 private:
  struct CachedToken {
    TokenClaims claims;
    double exp, nbf;    // unix seconds
    uint64_t inserted;  // order of insertion, for eviction
  };
  TokenVerifier() = default;
  absl::StatusOr<TokenClaims> VerifyUncached(absl::string_view token, absl::Time now, double* exp,
                                             double* nbf) const;
  // UNAUTHENTICATED unless `now` is within [nbf, exp] (unix seconds), give or take the leeway.
  absl::Status CheckTimeWindow(double exp, double nbf, absl::Time now) const;
  // Makes room in a full cache: expired tokens first, then the oldest half.
  void EvictLocked(double now_s) const;
  VerifierOptions options_;
  mutable std::mutex keys_mu_;
  std::shared_ptr<const KeySet> file_keys_;                           // set by Create
  std::map<std::string, std::shared_ptr<const KeySet>> issuer_keys_;  // guarded by keys_mu_
  std::vector<std::string> fetched_issuers_;                          // set once
  std::function<void(const std::string&)> on_unknown_key_;            // set once
  mutable std::mutex cache_mu_;
  mutable absl::flat_hash_map<std::string, CachedToken> cache_;
  mutable uint64_t insertions_ = 0;  // guarded by cache_mu_
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
