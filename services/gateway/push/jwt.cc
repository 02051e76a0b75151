#include "services/gateway/push/jwt.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace civitas::gateway::push {

namespace {

absl::Status SignFailed() { return absl::InternalError("JWT signature failed (OpenSSL)"); }

bool IsP256(EVP_PKEY* pkey) {
  char group[64] = {0};
  size_t len = 0;
  return EVP_PKEY_is_a(pkey, "EC") &&
         EVP_PKEY_get_group_name(pkey, group, sizeof(group), &len) == 1 &&
         (absl::string_view(group) == "prime256v1" || absl::string_view(group) == "P-256");
}

}  // namespace

absl::StatusOr<std::string> JwsSignature(void* evp_pkey, absl::string_view signing_input) {
  EVP_PKEY* pkey = static_cast<EVP_PKEY*>(evp_pkey);
  const bool es256 = EVP_PKEY_is_a(pkey, "EC");
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  absl::Cleanup free_ctx = [&] { EVP_MD_CTX_free(ctx); };
  const auto* input = reinterpret_cast<const unsigned char*>(signing_input.data());
  size_t len = 0;
  if (ctx == nullptr || EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, pkey) != 1 ||
      EVP_DigestSign(ctx, nullptr, &len, input, signing_input.size()) != 1) {
    return SignFailed();
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, input,
                     signing_input.size()) != 1) {
    return SignFailed();
  }
  sig.resize(len);
  if (!es256) return absl::WebSafeBase64Escape(sig);  // RS256: the PKCS#1 v1.5 signature as is
  // ES256: JWS wants r || s, 32 bytes each, not OpenSSL's DER.
  const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
  ECDSA_SIG* ecdsa = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
  if (ecdsa == nullptr) return SignFailed();
  absl::Cleanup free_ecdsa = [&] { ECDSA_SIG_free(ecdsa); };
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(ecdsa, &r, &s);
  std::string raw(64, '\0');
  if (BN_bn2binpad(r, reinterpret_cast<unsigned char*>(raw.data()), 32) != 32 ||
      BN_bn2binpad(s, reinterpret_cast<unsigned char*>(raw.data()) + 32, 32) != 32) {
    return SignFailed();
  }
  return absl::WebSafeBase64Escape(raw);
}

absl::StatusOr<std::unique_ptr<JwtSigner>> JwtSigner::FromPem(absl::string_view pem,
                                                              absl::string_view what) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  absl::Cleanup free_bio = [&] { BIO_free(bio); };
  EVP_PKEY* pkey = bio ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr;
  if (pkey == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": not a PEM private key"));
  }
  if (IsP256(pkey)) return std::unique_ptr<JwtSigner>(new JwtSigner(pkey, true));
  if (EVP_PKEY_is_a(pkey, "RSA") && EVP_PKEY_get_bits(pkey) >= 2048) {
    return std::unique_ptr<JwtSigner>(new JwtSigner(pkey, false));
  }
  EVP_PKEY_free(pkey);
  return absl::InvalidArgumentError(
      absl::StrCat(what,
                   ": must be an EC P-256 key (ES256) or an RSA key of at least 2048 bits "
                   "(RS256)"));
}

JwtSigner::~JwtSigner() { EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_)); }

absl::StatusOr<std::string> JwtSigner::Sign(absl::string_view extra_header_members,
                                            absl::string_view claims_json) const {
  const std::string header =
      absl::StrCat("{\"alg\":\"", algorithm(), "\"", extra_header_members.empty() ? "" : ",",
                   extra_header_members, "}");
  const std::string input =
      absl::StrCat(absl::WebSafeBase64Escape(header), ".", absl::WebSafeBase64Escape(claims_json));
  absl::StatusOr<std::string> sig = JwsSignature(pkey_, input);
  if (!sig.ok()) return sig.status();
  return absl::StrCat(input, ".", *sig);
}

}  // namespace civitas::gateway::push
