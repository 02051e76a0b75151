#include "services/gateway/push/web_push.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "services/gateway/push/jwt.h"

namespace civitas::gateway::push {

namespace {

constexpr size_t kRecordSize = 4096;

absl::Status Crypto(const char* what) {
  return absl::InternalError(absl::StrCat("web push crypto: ", what, " failed"));
}

std::string Hmac(absl::string_view key, absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

// A P-256 key from its parts: the public point, and the private scalar if given.
EVP_PKEY* P256Key(absl::string_view public_point, absl::string_view private_raw) {
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  absl::Cleanup free_bld = [&] { OSSL_PARAM_BLD_free(bld); };
  BIGNUM* priv = nullptr;
  absl::Cleanup free_priv = [&] { BN_clear_free(priv); };
  if (bld == nullptr) return nullptr;
  static char group[] = "prime256v1";
  OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, public_point.data(),
                                   public_point.size());
  if (!private_raw.empty()) {
    priv = BN_bin2bn(reinterpret_cast<const unsigned char*>(private_raw.data()),
                     static_cast<int>(private_raw.size()), nullptr);
    if (priv == nullptr) return nullptr;
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv);
  }
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  absl::Cleanup free_params = [&] { OSSL_PARAM_free(params); };
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  absl::Cleanup free_ctx = [&] { EVP_PKEY_CTX_free(ctx); };
  EVP_PKEY* pkey = nullptr;
  if (ctx && params && EVP_PKEY_fromdata_init(ctx) == 1) {
    if (EVP_PKEY_fromdata(ctx, &pkey, private_raw.empty() ? EVP_PKEY_PUBLIC_KEY : EVP_PKEY_KEYPAIR,
                          params) != 1) {
      pkey = nullptr;
    }
  }
  return pkey;
}

std::string PublicPoint(EVP_PKEY* pkey) {
  unsigned char buf[133];
  size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, buf, sizeof(buf), &len) != 1) {
    return "";
  }
  return std::string(reinterpret_cast<char*>(buf), len);
}

EVP_PKEY* NewP256() { return EVP_EC_gen("P-256"); }

// An ephemeral key pair, from a key generation context kept per thread (its setup, a lookup of
// the algorithm and the group by name, costs as much as the generation).
EVP_PKEY* NewEphemeralP256() {
  struct Context {
    Context() : ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr)) {
      if (ctx != nullptr &&
          (EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_CTX_set_group_name(ctx, "P-256") != 1)) {
        EVP_PKEY_CTX_free(ctx);
        ctx = nullptr;
      }
    }
    ~Context() { EVP_PKEY_CTX_free(ctx); }
    EVP_PKEY_CTX* ctx;
  };
  thread_local Context context;
  if (context.ctx == nullptr) return nullptr;
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_keygen(context.ctx, &key) != 1) return nullptr;
  return key;
}

}  // namespace

std::string Base64Url(absl::string_view bytes) { return absl::WebSafeBase64Escape(bytes); }

namespace {

// RFC 8291 §3.3-3.4 with the application server's key pair `own` (public point `as_public`).
absl::StatusOr<WebPushKeys> DeriveWith(EVP_PKEY* own, absl::string_view as_public,
                                       absl::string_view ua_public, absl::string_view auth_secret,
                                       absl::string_view salt) {
  if (ua_public.size() != 65 || as_public.size() != 65 || auth_secret.size() != 16 ||
      salt.size() != 16) {
    return absl::InvalidArgumentError("web push keys have the wrong sizes");
  }
  EVP_PKEY* peer = P256Key(ua_public, "");
  absl::Cleanup free_peer = [&] { EVP_PKEY_free(peer); };
  if (peer == nullptr) {
    return absl::InvalidArgumentError("the subscription's p256dh is not a point on P-256");
  }
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(own, nullptr);
  absl::Cleanup free_ctx = [&] { EVP_PKEY_CTX_free(ctx); };
  WebPushKeys keys;
  size_t len = 0;
  if (ctx == nullptr || EVP_PKEY_derive_init(ctx) != 1 ||
      // No full check of the peer key (it costs another scalar multiplication, half the
      // ECDH): P256Key decoded the point, which refuses one that is not on the curve, and
      // P-256 has cofactor 1, so every point on it is in the group.
      EVP_PKEY_derive_set_peer_ex(ctx, peer, /*validate_peer=*/0) != 1 ||
      EVP_PKEY_derive(ctx, nullptr, &len) != 1) {
    return Crypto("ECDH");
  }
  keys.ecdh_secret.resize(len);
  if (EVP_PKEY_derive(ctx, reinterpret_cast<unsigned char*>(keys.ecdh_secret.data()), &len) != 1) {
    return Crypto("ECDH");
  }
  keys.ecdh_secret.resize(len);
  // HKDF-SHA-256 written out, as RFC 8291 §3.3-3.4 does (each expand is one block).
  const std::string prk_key = Hmac(auth_secret, keys.ecdh_secret);
  const std::string key_info =
      absl::StrCat("WebPush: info", absl::string_view("\0", 1), ua_public, as_public);
  const std::string ikm = Hmac(prk_key, absl::StrCat(key_info, "\x01"));
  const std::string prk = Hmac(salt, ikm);
  keys.cek = Hmac(prk, absl::StrCat("Content-Encoding: aes128gcm", absl::string_view("\0\x01", 2)))
                 .substr(0, 16);
  keys.nonce = Hmac(prk, absl::StrCat("Content-Encoding: nonce", absl::string_view("\0\x01", 2)))
                   .substr(0, 12);
  return keys;
}

// The body, encrypted with the key pair `own` (public point `as_public`) and `salt`.
absl::StatusOr<std::string> EncryptWith(absl::string_view plaintext, absl::string_view ua_public,
                                        absl::string_view auth_secret, EVP_PKEY* own,
                                        absl::string_view as_public, absl::string_view salt) {
  // One record: the plaintext, the delimiter 0x02, the 16-byte tag, within the record size.
  if (plaintext.size() + 1 + 16 > kRecordSize) {
    return absl::InvalidArgumentError("a push payload must fit one 4096-byte record");
  }
  absl::StatusOr<WebPushKeys> keys = DeriveWith(own, as_public, ua_public, auth_secret, salt);
  if (!keys.ok()) return keys.status();
  std::string padded = absl::StrCat(plaintext, "\x02");
  std::string out;
  out.reserve(16 + 4 + 1 + 65 + padded.size() + 16);
  out.append(salt.data(), salt.size());
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((kRecordSize >> shift) & 0xff));
  }
  out.push_back(static_cast<char>(as_public.size()));
  out.append(as_public.data(), as_public.size());
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  absl::Cleanup free_ctx = [&] { EVP_CIPHER_CTX_free(ctx); };
  const auto* cek = reinterpret_cast<const unsigned char*>(keys->cek.data());
  const auto* iv = reinterpret_cast<const unsigned char*>(keys->nonce.data());
  if (ctx == nullptr ||
      EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx, nullptr, nullptr, cek, iv) != 1) {
    return Crypto("AES-128-GCM");
  }
  const size_t header = out.size();
  out.resize(header + padded.size() + 16);
  auto* dst = reinterpret_cast<unsigned char*>(out.data() + header);
  int n = 0, fin = 0;
  if (EVP_EncryptUpdate(ctx, dst, &n, reinterpret_cast<const unsigned char*>(padded.data()),
                        static_cast<int>(padded.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx, dst + n, &fin) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, dst + n + fin) != 1) {
    return Crypto("AES-128-GCM");
  }
  out.resize(header + static_cast<size_t>(n + fin) + 16);
  return out;
}

}  // namespace

absl::StatusOr<WebPushKeys> DeriveWebPushKeys(absl::string_view as_private_raw,
                                              absl::string_view as_public,
                                              absl::string_view ua_public,
                                              absl::string_view auth_secret,
                                              absl::string_view salt) {
  EVP_PKEY* own = P256Key(as_public, as_private_raw);
  absl::Cleanup free_own = [&] { EVP_PKEY_free(own); };
  if (own == nullptr) return Crypto("the application server key");
  return DeriveWith(own, as_public, ua_public, auth_secret, salt);
}

absl::StatusOr<std::string> EncryptWebPushWith(
    absl::string_view plaintext, absl::string_view ua_public, absl::string_view auth_secret,
    absl::string_view as_private_raw, absl::string_view as_public, absl::string_view salt) {
  EVP_PKEY* own = P256Key(as_public, as_private_raw);
  absl::Cleanup free_own = [&] { EVP_PKEY_free(own); };
  if (own == nullptr) return Crypto("the application server key");
  return EncryptWith(plaintext, ua_public, auth_secret, own, as_public, salt);
}

absl::StatusOr<std::string> EncryptWebPush(absl::string_view plaintext, absl::string_view ua_public,
                                           absl::string_view auth_secret) {
  EVP_PKEY* ephemeral = NewEphemeralP256();
  absl::Cleanup free_key = [&] { EVP_PKEY_free(ephemeral); };
  if (ephemeral == nullptr) return Crypto("generating an ephemeral key");
  std::string salt(16, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), 16) != 1) return Crypto("salt");
  // The generated key is used as it is: taking it apart into its scalar and building it again
  // cost more than generating it.
  const std::string pub = PublicPoint(ephemeral);
  if (pub.size() != 65) return Crypto("reading the ephemeral key");
  return EncryptWith(plaintext, ua_public, auth_secret, ephemeral, pub, salt);
}

VapidKey::VapidKey(void* pkey) : pkey_(pkey) {
  public_b64_ = Base64Url(PublicPoint(static_cast<EVP_PKEY*>(pkey_)));
}

VapidKey::~VapidKey() { EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_)); }

absl::StatusOr<std::unique_ptr<VapidKey>> VapidKey::Generate() {
  EVP_PKEY* pkey = NewP256();
  if (pkey == nullptr) return Crypto("generating the VAPID key");
  return std::unique_ptr<VapidKey>(new VapidKey(pkey));
}

absl::StatusOr<std::unique_ptr<VapidKey>> VapidKey::FromPem(absl::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  absl::Cleanup free_bio = [&] { BIO_free(bio); };
  EVP_PKEY* pkey = bio ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr;
  if (pkey == nullptr || !EVP_PKEY_is_a(pkey, "EC")) {
    EVP_PKEY_free(pkey);
    return absl::DataLossError("the city's stored VAPID key does not parse");
  }
  return std::unique_ptr<VapidKey>(new VapidKey(pkey));
}

std::string VapidKey::Pem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  absl::Cleanup free_bio = [&] { BIO_free(bio); };
  if (bio == nullptr || PEM_write_bio_PrivateKey(bio, static_cast<EVP_PKEY*>(pkey_), nullptr,
                                                 nullptr, 0, nullptr, nullptr) != 1) {
    return "";
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

absl::StatusOr<std::string> VapidKey::Authorization(absl::string_view origin,
                                                    absl::string_view subject,
                                                    absl::Time now) const {
  const std::string header = Base64Url(R"({"typ":"JWT","alg":"ES256"})");
  // origin and subject come from checked URLs and config (no quotes or backslashes).
  const std::string claims = Base64Url(
      absl::StrCat("{\"aud\":\"", origin, "\",\"exp\":", absl::ToUnixSeconds(now + absl::Hours(12)),
                   ",\"sub\":\"", subject, "\"}"));
  const std::string signing_input = absl::StrCat(header, ".", claims);
  absl::StatusOr<std::string> signature = JwsSignature(pkey_, signing_input);
  if (!signature.ok()) return Crypto("VAPID signature");
  return absl::StrCat("vapid t=", signing_input, ".", *signature, ", k=", public_b64_);
}

}  // namespace civitas::gateway::push
