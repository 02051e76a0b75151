// JSON Web Tokens (RFC 7519) signed with OpenSSL's EVP API, for the push providers' credentials:
// ES256 (ECDSA P-256 with SHA-256, the signature as r || s, RFC 7518 §3.4) for VAPID and the
// APNs provider token, RS256 (RSASSA-PKCS1-v1_5 with SHA-256) for the FCM service account's
// OAuth 2 assertion.
#ifndef CIVITAS_GATEWAY_PUSH_JWT_H_
#define CIVITAS_GATEWAY_PUSH_JWT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace civitas::gateway::push {

// The JWS signature of `signing_input` ("<header>.<claims>", both base64url) with
// `evp_pkey` (an EVP_PKEY*, borrowed: the caller keeps it): ES256 for an EC P-256 key, RS256
// for an RSA key. base64url without padding.
absl::StatusOr<std::string> JwsSignature(void* evp_pkey, absl::string_view signing_input);

// A private key that signs JWTs.
class JwtSigner {
 public:
  // A PEM private key (PKCS#8 "PRIVATE KEY", or "EC PRIVATE KEY" / "RSA PRIVATE KEY"): EC
  // P-256 signs ES256, RSA of at least 2,048 bits RS256; any other key is refused. `what` names
  // the key in errors ("push.apns.key_file").
  static absl::StatusOr<std::unique_ptr<JwtSigner>> FromPem(absl::string_view pem,
                                                            absl::string_view what);
  ~JwtSigner();
  JwtSigner(const JwtSigner&) = delete;
  JwtSigner& operator=(const JwtSigner&) = delete;

  // "ES256" or "RS256".
  const char* algorithm() const { return es256_ ? "ES256" : "RS256"; }
  // The compact JWT: the header {"alg": algorithm(), <extra_header_members>} (members as JSON
  // text without braces, e.g. "\"kid\":\"ABC123DEFG\"", or empty), and `claims_json` (an object).
  absl::StatusOr<std::string> Sign(absl::string_view extra_header_members,
                                   absl::string_view claims_json) const;

 private:
  JwtSigner(void* pkey, bool es256) : pkey_(pkey), es256_(es256) {}
  void* pkey_;  // EVP_PKEY*, owned
  bool es256_;
};

}  // namespace civitas::gateway::push

#endif  // CIVITAS_GATEWAY_PUSH_JWT_H_
