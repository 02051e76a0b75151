#include "services/gateway/push/web_push.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

namespace civitas::gateway::push {
namespace {

std::string B64(absl::string_view s) {
  std::string out;
  EXPECT_TRUE(absl::WebSafeBase64Unescape(s, &out)) << s;
  return out;
}

// RFC 8291, Section 5 and Appendix A.
const std::string kPlaintext = "When I grow up, I want to be a watermelon";
const std::string kAsPublic =
    B64("BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8");
const std::string kAsPrivate = B64("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw");
const std::string kUaPublic =
    B64("BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4");
const std::string kSalt = B64("DGv6ra1nlYgDCS1FRnbzlw");
const std::string kAuth = B64("BTBZMqHH6r4Tts7J_aSIgg");

TEST(WebPush, KeysOfTheRfcExample) {
  absl::StatusOr<WebPushKeys> keys =
      DeriveWebPushKeys(kAsPrivate, kAsPublic, kUaPublic, kAuth, kSalt);
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ(Base64Url(keys->ecdh_secret), "kyrL1jIIOHEzg3sM2ZWRHDRB62YACZhhSlknJ672kSs");
  EXPECT_EQ(Base64Url(keys->cek), "oIhVW04MRdy2XN9CiKLxTg");
  EXPECT_TRUE(absl::StartsWith(Base64Url(keys->nonce), "4h_95klXJ5E")) << Base64Url(keys->nonce);
}

// Decrypts one aes128gcm record with the keys the RFC's user agent would derive.
std::string Decrypt(const std::string& body) {
  EXPECT_GE(body.size(), 16u + 4 + 1 + 65 + 16);
  const std::string salt = body.substr(0, 16);
  EXPECT_EQ(body.substr(16, 4), std::string("\x00\x00\x10\x00", 4));  // rs 4096
  EXPECT_EQ(body[20], 65);
  const std::string as_public = body.substr(21, 65);
  EXPECT_EQ(as_public, kAsPublic);
  absl::StatusOr<WebPushKeys> keys =
      DeriveWebPushKeys(kAsPrivate, as_public, kUaPublic, kAuth, salt);
  EXPECT_TRUE(keys.ok());
  const std::string cipher = body.substr(86, body.size() - 86 - 16);
  std::string tag = body.substr(body.size() - 16);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  EVP_DecryptInit_ex(ctx, EVP_aes_128_gcm(), nullptr,
                     reinterpret_cast<const unsigned char*>(keys->cek.data()),
                     reinterpret_cast<const unsigned char*>(keys->nonce.data()));
  std::string out(cipher.size(), '\0');
  int n = 0, fin = 0;
  EVP_DecryptUpdate(ctx, reinterpret_cast<unsigned char*>(out.data()), &n,
                    reinterpret_cast<const unsigned char*>(cipher.data()),
                    static_cast<int>(cipher.size()));
  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag.data());
  const bool ok = EVP_DecryptFinal_ex(ctx, reinterpret_cast<unsigned char*>(out.data()) + n, &fin);
  EVP_CIPHER_CTX_free(ctx);
  EXPECT_TRUE(ok) << "the tag does not verify";
  return out;
}

TEST(WebPush, EncryptsOneRecordWithTheDelimiter) {
  absl::StatusOr<std::string> body =
      EncryptWebPushWith(kPlaintext, kUaPublic, kAuth, kAsPrivate, kAsPublic, kSalt);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(body->size(), 86 + kPlaintext.size() + 1 + 16);
  EXPECT_EQ(body->substr(0, 16), kSalt);
  EXPECT_EQ(Decrypt(*body), kPlaintext + "\x02");
}

TEST(WebPush, RefusesBadSubscriptionKeys) {
  EXPECT_FALSE(EncryptWebPush("x", "short", kAuth).ok());
  std::string off_curve = kUaPublic;
  off_curve[40] ^= 1;
  EXPECT_FALSE(EncryptWebPush("x", off_curve, kAuth).ok());
  EXPECT_FALSE(EncryptWebPush(std::string(4096, 'x'), kUaPublic, kAuth).ok());
  EXPECT_TRUE(EncryptWebPush("x", kUaPublic, kAuth).ok());
}

TEST(Vapid, SignsAnEs256TokenForTheOrigin) {
  absl::StatusOr<std::unique_ptr<VapidKey>> key = VapidKey::Generate();
  ASSERT_TRUE(key.ok());
  absl::StatusOr<std::unique_ptr<VapidKey>> again = VapidKey::FromPem((*key)->Pem());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->public_key_base64url(), (*key)->public_key_base64url());
  const absl::Time now = absl::FromUnixSeconds(1800000000);
  absl::StatusOr<std::string> header =
      (*key)->Authorization("https://push.example", "mailto:push@stadt.example", now);
  ASSERT_TRUE(header.ok());
  ASSERT_TRUE(absl::StartsWith(*header, "vapid t="));
  const size_t comma = header->find(", k=");
  ASSERT_NE(comma, std::string::npos);
  EXPECT_EQ(header->substr(comma + 4), (*key)->public_key_base64url());
  const std::string jwt = header->substr(8, comma - 8);
  std::vector<std::string> parts = absl::StrSplit(jwt, '.');
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(B64(parts[0]), R"({"typ":"JWT","alg":"ES256"})");
  EXPECT_EQ(B64(parts[1]),
            R"({"aud":"https://push.example","exp":1800043200,"sub":"mailto:push@stadt.example"})");
  // Verify r || s with the public point, as a push service does.
  const std::string sig = B64(parts[2]);
  ASSERT_EQ(sig.size(), 64u);
  const std::string point = B64((*key)->public_key_base64url());
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  static char group[] = "prime256v1";
  OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  EVP_PKEY* pub = nullptr;
  ASSERT_EQ(EVP_PKEY_fromdata_init(pctx), 1);
  ASSERT_EQ(EVP_PKEY_fromdata(pctx, &pub, EVP_PKEY_PUBLIC_KEY, params), 1);
  ECDSA_SIG* es = ECDSA_SIG_new();
  ECDSA_SIG_set0(es, BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()), 32, nullptr),
                 BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()) + 32, 32, nullptr));
  unsigned char* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(es, &der);
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  ASSERT_EQ(EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, pub), 1);
  const std::string input = parts[0] + "." + parts[1];
  EXPECT_EQ(EVP_DigestVerify(md, der, static_cast<size_t>(der_len),
                             reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  EVP_MD_CTX_free(md);
  OPENSSL_free(der);
  ECDSA_SIG_free(es);
  EVP_PKEY_free(pub);
  EVP_PKEY_CTX_free(pctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
}

}  // namespace
}  // namespace civitas::gateway::push
