#include "services/auth/token.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "civitas/abi.h"

namespace civitas::auth {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

absl::Status Unauthenticated(absl::string_view why) {
  return absl::UnauthenticatedError(absl::StrCat("invalid bearer token: ", why));
}

absl::StatusOr<Struct> ParseJsonObject(absl::string_view json) {
  Struct out;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(std::string(json), &out, options).ok()) {
    return absl::InvalidArgumentError("not a JSON object");
  }
  return out;
}

std::string StringField(const Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  if (it == s.fields().end() || it->second.kind_case() != Value::kStringValue) return "";
  return it->second.string_value();
}

bool NumberField(const Struct& s, const std::string& key, double* out) {
  auto it = s.fields().find(key);
  if (it == s.fields().end() || it->second.kind_case() != Value::kNumberValue) return false;
  *out = it->second.number_value();
  return true;
}

std::string B64(absl::string_view bytes) { return absl::WebSafeBase64Escape(bytes); }

bool UnB64(absl::string_view in, std::string* out) { return absl::WebSafeBase64Unescape(in, out); }

std::string Sha256Hmac(absl::string_view key, absl::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  return std::string(reinterpret_cast<char*>(mac), len);
}

EVP_PKEY* KeyFromParams(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* pkey = nullptr;
  if (ctx && params && EVP_PKEY_fromdata_init(ctx) == 1) {
    if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) pkey = nullptr;
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  return pkey;
}

EVP_PKEY* RsaPublicKey(const std::string& n, const std::string& e) {
  BIGNUM* bn_n = BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()),
                           static_cast<int>(n.size()), nullptr);
  BIGNUM* bn_e = BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()),
                           static_cast<int>(e.size()), nullptr);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  absl::Cleanup free_all = [&] {
    BN_free(bn_n);
    BN_free(bn_e);
    OSSL_PARAM_BLD_free(bld);
  };
  if (!bn_n || !bn_e || !bld) return nullptr;
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n);
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e);
  return KeyFromParams("RSA", bld);
}

EVP_PKEY* P256PublicKey(const std::string& x, const std::string& y) {
  if (x.size() != 32 || y.size() != 32) return nullptr;
  std::string point = "\x04" + x + y;
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  absl::Cleanup free_bld = [&] { OSSL_PARAM_BLD_free(bld); };
  if (!bld) return nullptr;
  char group[] = "prime256v1";
  OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  return KeyFromParams("EC", bld);
}

bool DigestVerify(EVP_PKEY* key, absl::string_view data, absl::string_view sig) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  absl::Cleanup free_ctx = [&] { EVP_MD_CTX_free(ctx); };
  if (!ctx || EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) != 1) return false;
  return EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
}

// JOSE ES256 signatures are r||s (32 bytes each); OpenSSL wants DER.
bool EcdsaJoseToDer(absl::string_view jose, std::string* der) {
  if (jose.size() != 64) return false;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(jose.data()), 32, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(jose.data()) + 32, 32, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return false;
  }
  unsigned char* out = nullptr;
  int len = i2d_ECDSA_SIG(sig, &out);
  ECDSA_SIG_free(sig);
  if (len <= 0) return false;
  der->assign(reinterpret_cast<char*>(out), len);
  OPENSSL_free(out);
  return true;
}

bool EcdsaDerToJose(absl::string_view der, std::string* jose) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (!sig) return false;
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig, &r, &s);
  unsigned char buf[64];
  bool ok = BN_bn2binpad(r, buf, 32) == 32 && BN_bn2binpad(s, buf + 32, 32) == 32;
  ECDSA_SIG_free(sig);
  if (ok) jose->assign(reinterpret_cast<char*>(buf), 64);
  return ok;
}

}  // namespace

absl::StatusOr<int> ParseRole(absl::string_view name) {
  if (name == "citizen") return CIVITAS_ROLE_CITIZEN;
  if (name == "editor") return CIVITAS_ROLE_EDITOR;
  if (name == "moderator") return CIVITAS_ROLE_MODERATOR;
  if (name == "admin") return CIVITAS_ROLE_ADMIN;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown role '", name, "'; roles are citizen, editor, moderator and admin"));
}

const char* RoleName(int role) {
  switch (role) {
    case CIVITAS_ROLE_ANONYMOUS:
      return "anonymous";
    case CIVITAS_ROLE_CITIZEN:
      return "citizen";
    case CIVITAS_ROLE_EDITOR:
      return "editor";
    case CIVITAS_ROLE_MODERATOR:
      return "moderator";
    case CIVITAS_ROLE_ADMIN:
      return "admin";
  }
  return "unknown";
}

struct KeySet::Key {
  std::string kid;
  std::string alg;  // RS256 or ES256
  EVP_PKEY* pkey = nullptr;
  ~Key() { EVP_PKEY_free(pkey); }
};

KeySet::~KeySet() = default;

absl::StatusOr<std::shared_ptr<const KeySet>> KeySet::Parse(absl::string_view jwks_json,
                                                            std::string issuer) {
  std::shared_ptr<KeySet> set(new KeySet());
  set->issuer_ = std::move(issuer);
  absl::StatusOr<Struct> jwks = ParseJsonObject(jwks_json);
  if (!jwks.ok()) return absl::InvalidArgumentError("JWKS is not a JSON object");
  auto keys = jwks->fields().find("keys");
  if (keys == jwks->fields().end() || keys->second.kind_case() != Value::kListValue) {
    return absl::InvalidArgumentError("JWKS has no \"keys\" list");
  }
  int index = 0;
  for (const Value& k : keys->second.list_value().values()) {
    if (k.kind_case() != Value::kStructValue) {
      return absl::InvalidArgumentError(absl::StrCat("JWKS key #", index, " is not an object"));
    }
    const Struct& jwk = k.struct_value();
    // An identity provider's set also lists encryption keys ("use": "enc") and algorithms we do
    // not verify; only a key of the operator's own file must be one we can use.
    const std::string use = StringField(jwk, "use");
    const std::string kty = StringField(jwk, "kty");
    const bool fetched = !set->issuer_.empty();
    if (fetched && ((!use.empty() && use != "sig") || (kty != "RSA" && kty != "EC") ||
                    (kty == "EC" && StringField(jwk, "crv") != "P-256"))) {
      ++index;
      continue;
    }
    auto key = std::make_unique<Key>();
    key->kid = StringField(jwk, "kid");
    std::string a, b;
    if (kty == "RSA") {
      key->alg = "RS256";
      if (!UnB64(StringField(jwk, "n"), &a) || !UnB64(StringField(jwk, "e"), &b) || a.empty() ||
          b.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("JWKS key #", index, " (RSA) needs base64url n and e"));
      }
      key->pkey = RsaPublicKey(a, b);
    } else if (kty == "EC") {
      key->alg = "ES256";
      if (StringField(jwk, "crv") != "P-256") {
        return absl::InvalidArgumentError(absl::StrCat("JWKS key #", index, " uses curve '",
                                                       StringField(jwk, "crv"),
                                                       "'; only P-256 (ES256) is supported"));
      }
      if (!UnB64(StringField(jwk, "x"), &a) || !UnB64(StringField(jwk, "y"), &b)) {
        return absl::InvalidArgumentError(
            absl::StrCat("JWKS key #", index, " (EC) needs base64url x and y"));
      }
      key->pkey = P256PublicKey(a, b);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "JWKS key #", index, " has kty '", kty, "'; supported are RSA (RS256) and EC (ES256)"));
    }
    if (key->pkey == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("JWKS key #", index, " is not a valid key"));
    }
    set->keys_.push_back(std::move(key));
    ++index;
  }
  return std::shared_ptr<const KeySet>(std::move(set));
}

TokenVerifier::~TokenVerifier() = default;

bool TokenVerifier::accepts_tokens() const {
  return (file_keys_ && file_keys_->size() > 0) || !options_.hs256_secret.empty() ||
         !fetched_issuers_.empty();
}

absl::StatusOr<std::unique_ptr<TokenVerifier>> TokenVerifier::Create(
    const VerifierOptions& options) {
  std::unique_ptr<TokenVerifier> v(new TokenVerifier());
  v->options_ = options;
  if (options.jwks_json.empty()) return v;
  absl::StatusOr<std::shared_ptr<const KeySet>> keys = KeySet::Parse(options.jwks_json);
  if (!keys.ok()) return keys.status();
  v->file_keys_ = *std::move(keys);
  return v;
}

void TokenVerifier::SetIssuerKeys(std::shared_ptr<const KeySet> keys) {
  {
    std::lock_guard<std::mutex> lock(keys_mu_);
    issuer_keys_[keys->issuer()] = std::move(keys);
  }
  std::lock_guard<std::mutex> lock(cache_mu_);
  cache_.clear();
}

void TokenVerifier::ExpectIssuerKeys(std::vector<std::string> issuers,
                                     std::function<void(const std::string&)> on_unknown_key) {
  fetched_issuers_ = std::move(issuers);
  on_unknown_key_ = std::move(on_unknown_key);
}

size_t TokenVerifier::cached_tokens() const {
  std::lock_guard<std::mutex> lock(cache_mu_);
  return cache_.size();
}

void TokenVerifier::EvictLocked(double now_s) const {
  const double leeway = absl::ToDoubleSeconds(options_.leeway);
  for (auto it = cache_.begin(); it != cache_.end();) {
    if (now_s > it->second.exp + leeway) {
      cache_.erase(it++);
    } else {
      ++it;
    }
  }
  if (cache_.size() < kVerifiedTokenCacheSize) return;
  // Still full of live tokens: the older half goes (amortised O(1) per insertion), so the
  // tokens of the callers active right now stay cached.
  std::vector<std::pair<uint64_t, std::string>> ages;
  ages.reserve(cache_.size());
  for (const auto& [token, entry] : cache_) ages.emplace_back(entry.inserted, token);
  const size_t drop = ages.size() / 2;
  std::nth_element(ages.begin(), ages.begin() + drop, ages.end());
  for (size_t i = 0; i < drop; ++i) cache_.erase(ages[i].second);
}

absl::StatusOr<TokenClaims> TokenVerifier::Verify(absl::string_view token, absl::Time now) const {
  // A token that verified once needs only its time window checked again: the signature check
  // (ECDSA or RSA) is by far the most expensive step of a signed-in call.
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache_.find(token);
    if (it != cache_.end()) {
      if (absl::Status s = CheckTimeWindow(it->second.exp, it->second.nbf, now); !s.ok()) return s;
      return it->second.claims;
    }
  }
  double exp = 0, nbf = 0;
  absl::StatusOr<TokenClaims> claims = VerifyUncached(token, now, &exp, &nbf);
  if (claims.ok()) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (cache_.size() >= kVerifiedTokenCacheSize) {
      EvictLocked(absl::ToDoubleSeconds(now - absl::UnixEpoch()));
    }
    cache_.emplace(std::string(token), CachedToken{*claims, exp, nbf, ++insertions_});
  }
  return claims;
}

absl::Status TokenVerifier::CheckTimeWindow(double exp, double nbf, absl::Time now) const {
  const double now_s = absl::ToDoubleSeconds(now - absl::UnixEpoch());
  const double leeway = absl::ToDoubleSeconds(options_.leeway);
  if (now_s > exp + leeway) {
    absl::Status expired = Unauthenticated("it has expired; get a new token");
    expired.SetPayload(kTokenExpiredPayload, absl::Cord("1"));
    return expired;
  }
  if (now_s + leeway < nbf) return Unauthenticated("it is not valid yet (nbf is in the future)");
  return absl::OkStatus();
}

absl::StatusOr<TokenClaims> TokenVerifier::VerifyUncached(absl::string_view token, absl::Time now,
                                                          double* exp_out, double* nbf_out) const {
  if (!accepts_tokens()) {
    return absl::UnauthenticatedError(
        "this gateway accepts no bearer tokens (no auth.jwks_file configured); call anonymously");
  }
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) return Unauthenticated("expected three base64url parts separated by '.'");
  std::string header_json, payload_json, signature;
  if (!UnB64(parts[0], &header_json) || !UnB64(parts[1], &payload_json) ||
      !UnB64(parts[2], &signature)) {
    return Unauthenticated("a part is not base64url");
  }
  absl::StatusOr<Struct> header = ParseJsonObject(header_json);
  if (!header.ok()) return Unauthenticated("the header is not a JSON object");
  const std::string alg = StringField(*header, "alg");
  const std::string kid = StringField(*header, "kid");
  const std::string signed_part = absl::StrCat(parts[0], ".", parts[1]);

  bool verified = false;
  if (alg == "HS256") {
    if (options_.hs256_secret.empty()) {
      return Unauthenticated("HS256 tokens are not accepted here (auth.allow_hs256 is off)");
    }
    std::string mac = Sha256Hmac(options_.hs256_secret, signed_part);
    verified = signature.size() == mac.size() &&
               CRYPTO_memcmp(signature.data(), mac.data(), mac.size()) == 0;
  } else if (alg == "RS256" || alg == "ES256") {
    // The issuer picks the key set: keys fetched from an issuer's discovery document verify
    // only that issuer's tokens. The payload is read here for `iss` alone; nothing in it is
    // believed before the signature matches.
    std::string iss;
    if (absl::StatusOr<Struct> peek = ParseJsonObject(payload_json); peek.ok()) {
      iss = StringField(*peek, "iss");
    }
    std::vector<std::shared_ptr<const KeySet>> sets;
    {
      std::lock_guard<std::mutex> lock(keys_mu_);
      if (auto it = issuer_keys_.find(iss); it != issuer_keys_.end()) sets.push_back(it->second);
    }
    if (file_keys_) sets.push_back(file_keys_);
    const KeySet::Key* key = nullptr;
    for (const auto& set : sets) {
      for (const auto& k : set->keys_) {
        if (k->alg == alg && (kid.empty() || k->kid == kid)) {
          key = k.get();
          break;
        }
      }
      if (key != nullptr) break;
    }
    if (key == nullptr) {
      if (std::find(fetched_issuers_.begin(), fetched_issuers_.end(), iss) !=
          fetched_issuers_.end()) {
        if (on_unknown_key_) on_unknown_key_(iss);
        return Unauthenticated(absl::StrCat(
            "no ", alg, " key of issuer '", iss, "' has kid '", kid,
            "' yet; the gateway is fetching the issuer's current keys, retry in a few seconds"));
      }
      return Unauthenticated(absl::StrCat("no configured ", alg, " key has kid '", kid, "'"));
    }
    if (alg == "ES256") {
      std::string der;
      verified = EcdsaJoseToDer(signature, &der) && DigestVerify(key->pkey, signed_part, der);
    } else {
      verified = DigestVerify(key->pkey, signed_part, signature);
    }
  } else {
    return Unauthenticated(
        absl::StrCat("algorithm '", alg, "' is not accepted; use RS256 or ES256"));
  }
  if (!verified) return Unauthenticated("the signature does not match");

  absl::StatusOr<Struct> claims = ParseJsonObject(payload_json);
  if (!claims.ok()) return Unauthenticated("the payload is not a JSON object");
  double exp = 0, nbf = -1e300;  // no nbf: valid from the beginning
  double iat = 0;
  // A time claim of another JSON type (a string "1800000000") is a broken or forged token, not
  // a missing claim.
  for (const char* key : {"exp", "nbf", "iat"}) {
    auto it = claims->fields().find(key);
    if (it != claims->fields().end() && it->second.kind_case() != Value::kNumberValue) {
      return Unauthenticated(absl::StrCat("its ", key,
                                          " claim must be a number (seconds since "
                                          "1970), got another JSON type"));
    }
  }
  if (!NumberField(*claims, "exp", &exp)) return Unauthenticated("it has no exp (expiry) claim");
  NumberField(*claims, "nbf", &nbf);
  const bool has_iat = NumberField(*claims, "iat", &iat);
  *exp_out = exp;
  *nbf_out = nbf;
  if (absl::Status s = CheckTimeWindow(exp, nbf, now); !s.ok()) return s;
  const double now_s = absl::ToDoubleSeconds(now - absl::UnixEpoch());
  const double lifetime = exp - (has_iat ? iat : now_s);
  const double max_lifetime = absl::ToDoubleSeconds(options_.max_lifetime);
  if (lifetime > max_lifetime) {
    return Unauthenticated(absl::StrCat("it lives ", static_cast<int64_t>(lifetime),
                                        " seconds; this gateway accepts at most ",
                                        static_cast<int64_t>(max_lifetime),
                                        " (auth.max_token_lifetime_seconds); get a shorter-lived "
                                        "token"));
  }
  if (!options_.issuer.empty() && StringField(*claims, "iss") != options_.issuer) {
    return Unauthenticated(absl::StrCat("it was issued by '", StringField(*claims, "iss"),
                                        "', not by '", options_.issuer, "'"));
  }
  if (!options_.audience.empty()) {
    bool match = StringField(*claims, "aud") == options_.audience;
    auto aud = claims->fields().find("aud");
    if (!match && aud != claims->fields().end() && aud->second.kind_case() == Value::kListValue) {
      for (const Value& a : aud->second.list_value().values()) {
        if (a.kind_case() == Value::kStringValue && a.string_value() == options_.audience) {
          match = true;
        }
      }
    }
    if (!match)
      return Unauthenticated(absl::StrCat("its audience is not '", options_.audience, "'"));
  }
  TokenClaims out;
  out.issuer = StringField(*claims, "iss");
  if (auto aud = claims->fields().find("aud"); aud != claims->fields().end()) {
    if (aud->second.kind_case() == Value::kStringValue) {
      out.audiences.push_back(aud->second.string_value());
    } else if (aud->second.kind_case() == Value::kListValue) {
      for (const Value& a : aud->second.list_value().values()) {
        if (a.kind_case() == Value::kStringValue) out.audiences.push_back(a.string_value());
      }
    }
  }
  out.subject = StringField(*claims, "sub");
  if (out.subject.empty()) return Unauthenticated("it has no sub (subject) claim");
  auto roles = claims->fields().find(options_.roles_claim);
  if (roles != claims->fields().end()) {
    if (roles->second.kind_case() != Value::kStructValue) {
      return Unauthenticated(
          absl::StrCat("claim '", options_.roles_claim, "' must map city ids to lists of roles"));
    }
    for (const auto& [city, list] : roles->second.struct_value().fields()) {
      if (list.kind_case() != Value::kListValue) {
        return Unauthenticated(absl::StrCat("roles of city '", city, "' must be a list"));
      }
      uint32_t bits = 0;
      for (const Value& r : list.list_value().values()) {
        // Unknown role names are ignored: an identity provider may know roles we do not.
        if (city == "*" && r.string_value() == kOperatorRole) out.instance_operator = true;
        absl::StatusOr<int> role = ParseRole(r.string_value());
        if (role.ok()) bits |= CIVITAS_ROLE_BIT(*role);
      }
      out.roles_by_city[city] = bits;
    }
  }
  return out;
}

TokenSigner::~TokenSigner() { EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_)); }

std::unique_ptr<TokenSigner> TokenSigner::Hs256(std::string secret) {
  std::unique_ptr<TokenSigner> s(new TokenSigner());
  s->alg_ = "HS256";
  s->secret_ = std::move(secret);
  return s;
}

absl::StatusOr<std::unique_ptr<TokenSigner>> TokenSigner::FromPrivateKeyPem(const std::string& pem,
                                                                            std::string kid) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (pkey == nullptr) return absl::InvalidArgumentError("not a PEM private key");
  std::unique_ptr<TokenSigner> s(new TokenSigner());
  s->pkey_ = pkey;
  s->kid_ = std::move(kid);
  if (EVP_PKEY_is_a(pkey, "EC")) {
    s->alg_ = "ES256";
  } else if (EVP_PKEY_is_a(pkey, "RSA")) {
    s->alg_ = "RS256";
  } else {
    return absl::InvalidArgumentError("the private key is neither P-256 nor RSA");
  }
  return s;
}

absl::StatusOr<std::string> TokenSigner::Mint(const MintRequest& request) const {
  Struct header;
  (*header.mutable_fields())["alg"].set_string_value(alg_);
  (*header.mutable_fields())["typ"].set_string_value("JWT");
  if (!kid_.empty()) (*header.mutable_fields())["kid"].set_string_value(kid_);
  Struct claims;
  auto& f = *claims.mutable_fields();
  f["sub"].set_string_value(request.subject);
  const double now = std::floor(absl::ToDoubleSeconds(request.now - absl::UnixEpoch()));
  f["iat"].set_number_value(now);
  f["nbf"].set_number_value(now);
  f["exp"].set_number_value(now + std::floor(absl::ToDoubleSeconds(request.ttl)));
  if (!request.issuer.empty()) f["iss"].set_string_value(request.issuer);
  if (!request.audience.empty()) f["aud"].set_string_value(request.audience);
  Struct* roles = f[request.roles_claim].mutable_struct_value();
  for (const auto& [city, names] : request.roles_by_city) {
    auto* list = (*roles->mutable_fields())[city].mutable_list_value();
    for (const std::string& n : names) list->add_values()->set_string_value(n);
  }
  std::string header_json, claims_json;
  if (!google::protobuf::util::MessageToJsonString(header, &header_json).ok() ||
      !google::protobuf::util::MessageToJsonString(claims, &claims_json).ok()) {
    return absl::InternalError("cannot encode token JSON");
  }
  const std::string signed_part = absl::StrCat(B64(header_json), ".", B64(claims_json));
  std::string signature;
  if (alg_ == "HS256") {
    signature = Sha256Hmac(secret_, signed_part);
  } else {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    absl::Cleanup free_ctx = [&] { EVP_MD_CTX_free(ctx); };
    size_t len = 0;
    auto* key = static_cast<EVP_PKEY*>(pkey_);
    const auto* data = reinterpret_cast<const unsigned char*>(signed_part.data());
    if (!ctx || EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) != 1 ||
        EVP_DigestSign(ctx, nullptr, &len, data, signed_part.size()) != 1) {
      return absl::InternalError("signing failed");
    }
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, data,
                       signed_part.size()) != 1) {
      return absl::InternalError("signing failed");
    }
    sig.resize(len);
    if (alg_ == "ES256") {
      if (!EcdsaDerToJose(sig, &signature)) return absl::InternalError("bad ECDSA signature");
    } else {
      signature = std::move(sig);
    }
  }
  return absl::StrCat(signed_part, ".", B64(signature));
}

absl::Status GenerateDevKeyPair(const std::string& private_key_path, const std::string& jwks_path,
                                const std::string& kid) {
  EVP_PKEY* pkey = EVP_EC_gen("P-256");
  if (pkey == nullptr) return absl::InternalError("cannot generate a P-256 key");
  absl::Cleanup free_key = [&] { EVP_PKEY_free(pkey); };
  BIGNUM* x = nullptr;
  BIGNUM* y = nullptr;
  absl::Cleanup free_bn = [&] {
    BN_free(x);
    BN_free(y);
  };
  unsigned char xb[32], yb[32];
  if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
      EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1 ||
      BN_bn2binpad(x, xb, 32) != 32 || BN_bn2binpad(y, yb, 32) != 32) {
    return absl::InternalError("cannot read the public key");
  }
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  char* pem_data = nullptr;
  long pem_len = BIO_get_mem_data(bio, &pem_data);
  std::string pem(pem_data, pem_len);
  BIO_free(bio);

  const std::string tmp = private_key_path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return absl::FailedPreconditionError(absl::StrCat("cannot write ", tmp));
    chmod(tmp.c_str(), 0600);
    out << pem;
  }
  std::ofstream jwks(jwks_path, std::ios::trunc);
  if (!jwks) return absl::FailedPreconditionError(absl::StrCat("cannot write ", jwks_path));
  jwks << "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES256\",\"use\":\"sig\","
       << "\"kid\":\"" << kid << "\",\"x\":\""
       << B64(absl::string_view(reinterpret_cast<char*>(xb), 32)) << "\",\"y\":\""
       << B64(absl::string_view(reinterpret_cast<char*>(yb), 32)) << "\"}]}\n";
  jwks.close();
  if (rename(tmp.c_str(), private_key_path.c_str()) != 0) {
    return absl::FailedPreconditionError(absl::StrCat("cannot write ", private_key_path));
  }
  return absl::OkStatus();
}

}  // namespace civitas::auth
