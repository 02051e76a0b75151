// Web Push message encryption (RFC 8291: aes128gcm content coding of RFC 8188, one record, keys
// from an ephemeral P-256 ECDH with the subscription's key and its auth secret) and VAPID
// (RFC 8292: an ES256 JWT naming the push service's origin, with the application server's
// public key), with OpenSSL 3.
#ifndef CIVITAS_GATEWAY_PUSH_WEB_PUSH_H_
#define CIVITAS_GATEWAY_PUSH_WEB_PUSH_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace civitas::gateway::push {

// The keys one message is encrypted with (RFC 8291 §3.3-3.4); exposed for the RFC's test vector.
struct WebPushKeys {
  std::string ecdh_secret;  // 32 bytes
  std::string cek;          // 16 bytes
  std::string nonce;        // 12 bytes
};
// ua_public and as_public: uncompressed P-256 points (65 bytes); salt 16 bytes.
absl::StatusOr<WebPushKeys> DeriveWebPushKeys(absl::string_view as_private_raw,
                                              absl::string_view as_public,
                                              absl::string_view ua_public,
                                              absl::string_view auth_secret,
                                              absl::string_view salt);

// The request body for a push: salt, record size 4096, the ephemeral public key, and the
// plaintext padded with the last-record delimiter, encrypted. `ua_public` is the
// subscription's p256dh (65 bytes), `auth_secret` its auth (16 bytes). A new key pair and salt
// for every call.
absl::StatusOr<std::string> EncryptWebPush(absl::string_view plaintext, absl::string_view ua_public,
                                           absl::string_view auth_secret);
// The same with a given key pair and salt (tests).
absl::StatusOr<std::string> EncryptWebPushWith(absl::string_view plaintext,
                                               absl::string_view ua_public,
                                               absl::string_view auth_secret,
                                               absl::string_view as_private_raw,
                                               absl::string_view as_public, absl::string_view salt);

// A city's VAPID key pair (P-256).
class VapidKey {
 public:
  static absl::StatusOr<std::unique_ptr<VapidKey>> Generate();
  static absl::StatusOr<std::unique_ptr<VapidKey>> FromPem(absl::string_view pem);
  ~VapidKey();
  VapidKey(const VapidKey&) = delete;
  VapidKey& operator=(const VapidKey&) = delete;

  // The private key as PKCS#8 PEM (what the city's database keeps).
  std::string Pem() const;
  // base64url of the uncompressed public point: the browser's applicationServerKey, and `k=`.
  const std::string& public_key_base64url() const { return public_b64_; }
  // The Authorization header's value: "vapid t=<ES256 JWT>, k=<public key>", with
  // aud = `origin`, sub = `subject`, exp = now + 12 hours.
  absl::StatusOr<std::string> Authorization(absl::string_view origin, absl::string_view subject,
                                            absl::Time now) const;

 private:
  explicit VapidKey(void* pkey);
  void* pkey_;  // EVP_PKEY*
  std::string public_b64_;
};

std::string Base64Url(absl::string_view bytes);  // no padding

}  // namespace civitas::gateway::push

#endif  // CIVITAS_GATEWAY_PUSH_WEB_PUSH_H_
