#include "services/gateway/push/jwt.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"

namespace civitas::gateway::push {
namespace {

std::string Pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(bio);
  return out;
}

std::string Unb64(absl::string_view s) {
  std::string out;
  EXPECT_TRUE(absl::WebSafeBase64Unescape(s, &out)) << s;
  return out;
}

// Verifies a compact JWT with OpenSSL itself; for ES256 the r || s signature back to DER.
bool Verifies(EVP_PKEY* key, const std::string& jwt) {
  const std::vector<std::string> parts = absl::StrSplit(jwt, '.');
  if (parts.size() != 3) return false;
  const std::string input = parts[0] + "." + parts[1];
  std::string sig = Unb64(parts[2]);
  if (EVP_PKEY_is_a(key, "EC")) {
    if (sig.size() != 64) return false;
    ECDSA_SIG* ecdsa = ECDSA_SIG_new();
    ECDSA_SIG_set0(ecdsa,
                   BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()), 32, nullptr),
                   BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()) + 32, 32, nullptr));
    unsigned char* der = nullptr;
    const int len = i2d_ECDSA_SIG(ecdsa, &der);
    sig.assign(reinterpret_cast<char*>(der), static_cast<size_t>(len));
    OPENSSL_free(der);
    ECDSA_SIG_free(ecdsa);
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

TEST(JwtSigner, Es256VerifiesWithOpenSsl) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  absl::StatusOr<std::unique_ptr<JwtSigner>> signer = JwtSigner::FromPem(Pem(key), "test key");
  ASSERT_TRUE(signer.ok()) << signer.status();
  EXPECT_STREQ((*signer)->algorithm(), "ES256");
  absl::StatusOr<std::string> jwt = (*signer)->Sign("\"kid\":\"KEY1234567\"", R"({"iss":"T"})");
  ASSERT_TRUE(jwt.ok()) << jwt.status();
  const std::vector<std::string> parts = absl::StrSplit(*jwt, '.');
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(Unb64(parts[0]), R"({"alg":"ES256","kid":"KEY1234567"})");
  EXPECT_EQ(Unb64(parts[1]), R"({"iss":"T"})");
  EXPECT_EQ(parts[2].find('='), std::string::npos) << "no padding";
  EXPECT_TRUE(Verifies(key, *jwt));
  EXPECT_FALSE(Verifies(key, *jwt + "A"));
  EVP_PKEY_free(key);
}

TEST(JwtSigner, Rs256VerifiesWithOpenSsl) {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  absl::StatusOr<std::unique_ptr<JwtSigner>> signer = JwtSigner::FromPem(Pem(key), "test key");
  ASSERT_TRUE(signer.ok()) << signer.status();
  EXPECT_STREQ((*signer)->algorithm(), "RS256");
  absl::StatusOr<std::string> jwt = (*signer)->Sign("\"typ\":\"JWT\"", R"({"aud":"x"})");
  ASSERT_TRUE(jwt.ok()) << jwt.status();
  EXPECT_EQ(Unb64(jwt->substr(0, jwt->find('.'))), R"({"alg":"RS256","typ":"JWT"})");
  EXPECT_TRUE(Verifies(key, *jwt));
  EVP_PKEY_free(key);
}

TEST(JwtSigner, RefusesOtherKeys) {
  EVP_PKEY* p384 = EVP_EC_gen("P-384");
  EXPECT_EQ(JwtSigner::FromPem(Pem(p384), "k").status().code(), absl::StatusCode::kInvalidArgument);
  EVP_PKEY_free(p384);
  EVP_PKEY* small = EVP_RSA_gen(1024);
  absl::StatusOr<std::unique_ptr<JwtSigner>> s = JwtSigner::FromPem(Pem(small), "push.x");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("push.x: must be an EC P-256 key"), std::string::npos);
  EVP_PKEY_free(small);
  s = JwtSigner::FromPem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "k");
  EXPECT_NE(s.status().message().find("k: not a PEM private key"), std::string::npos);
}

}  // namespace
}  // namespace civitas::gateway::push
