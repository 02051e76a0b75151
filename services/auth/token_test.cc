#include "services/auth/token.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "civitas/abi.h"
#include "services/auth/city_trust.h"

namespace civitas::auth {
namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream b;
  b << in.rdbuf();
  return b.str();
}

CityTrust Trust(std::string city, std::vector<std::string> issuers = {},
                std::vector<std::string> audiences = {}, std::vector<CityTrust> citizens_of = {}) {
  return CityTrust{std::move(city), std::move(issuers), std::move(audiences),
                   std::move(citizens_of)};
}

class TokenTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir() + "/token_test";
    std::filesystem::create_directories(dir_);
    ASSERT_TRUE(GenerateDevKeyPair(dir_ + "/key.pem", dir_ + "/jwks.json", "k1").ok());
    auto signer = TokenSigner::FromPrivateKeyPem(Read(dir_ + "/key.pem"), "k1");
    ASSERT_TRUE(signer.ok());
    signer_ = std::move(*signer);
    options_.jwks_json = Read(dir_ + "/jwks.json");
    options_.issuer = "https://id.example";
    options_.audience = "civitas";
  }

  MintRequest Request() {
    MintRequest r;
    r.subject = "anna";
    r.roles_by_city["dortmund"] = {"editor"};
    r.issuer = "https://id.example";
    r.audience = "civitas";
    r.now = now_;
    return r;
  }

  absl::StatusOr<TokenClaims> Verify(const std::string& token) {
    auto v = TokenVerifier::Create(options_);
    EXPECT_TRUE(v.ok()) << v.status();
    return (*v)->Verify(token, now_);
  }

  std::string dir_;
  std::unique_ptr<TokenSigner> signer_;
  VerifierOptions options_;
  absl::Time now_ = absl::FromUnixSeconds(1800000000);
};

TEST_F(TokenTest, Es256RoundTripWithRolesPerCity) {
  auto token = signer_->Mint(Request());
  ASSERT_TRUE(token.ok());
  auto claims = Verify(*token);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->subject, "anna");
  EXPECT_EQ(RolesIn(*claims, Trust("dortmund")),
            CIVITAS_ROLE_BIT(CIVITAS_ROLE_CITIZEN) | CIVITAS_ROLE_BIT(CIVITAS_ROLE_EDITOR));
  EXPECT_EQ(claims->issuer, "https://id.example");
  EXPECT_EQ(claims->audiences, std::vector<std::string>{"civitas"});
  EXPECT_FALSE(claims->instance_operator);
  // A token for Dortmund is nothing in Schwerte: not even a citizen.
  EXPECT_EQ(RolesIn(*claims, Trust("schwerte")), 0u);
}

TEST_F(TokenTest, ACityTrustsItsOwnIssuersAndAudiences) {
  MintRequest r = Request();
  r.roles_by_city.clear();  // the city's own identity provider knows no civitas roles
  auto claims = Verify(*signer_->Mint(r));
  ASSERT_TRUE(claims.ok()) << claims.status();
  CityTrust dortmund = Trust("dortmund", {"https://id.example"}, {"civitas"});
  EXPECT_EQ(RolesIn(*claims, dortmund), CIVITAS_ROLE_BIT(CIVITAS_ROLE_CITIZEN));
  CityTrust other_issuer = Trust("dortmund", {"https://login.schwerte.example"});
  EXPECT_EQ(RolesIn(*claims, other_issuer), 0u);
  CityTrust other_audience = Trust("dortmund", {"https://id.example"}, {"civitas-schwerte"});
  EXPECT_EQ(RolesIn(*claims, other_audience), 0u);
  // Without issuers of its own a city needs to be named in the roles claim.
  EXPECT_EQ(RolesIn(*claims, Trust("dortmund")), 0u);
}

TEST_F(TokenTest, ASharedLoginMakesCitizensButCarriesNoOtherRole) {
  MintRequest r = Request();
  r.roles_by_city = {{"dortmund", {"editor"}}, {"schwerte", {"admin"}}};
  r.issuer = "https://id.example";
  auto claims = Verify(*signer_->Mint(r));
  ASSERT_TRUE(claims.ok()) << claims.status();
  // Schwerte trusts only its own issuer, but accepts the citizens of Dortmund.
  CityTrust schwerte =
      Trust("schwerte", {"https://login.schwerte.example"}, {}, {Trust("dortmund")});
  EXPECT_EQ(RolesIn(*claims, schwerte), CIVITAS_ROLE_BIT(CIVITAS_ROLE_CITIZEN));
  schwerte.citizens_of.clear();
  EXPECT_EQ(RolesIn(*claims, schwerte), 0u);
}

TEST_F(TokenTest, OperatorIsReadFromTheWildcardOnly) {
  MintRequest r = Request();
  r.roles_by_city = {{"*", {"operator"}}};
  auto claims = Verify(*signer_->Mint(r));
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_TRUE(claims->instance_operator);
  r.roles_by_city = {{"dortmund", {"operator", "admin"}}};
  claims = Verify(*signer_->Mint(r));
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_FALSE(claims->instance_operator);
}

TEST_F(TokenTest, RefusesTokensThatLiveTooLong) {
  options_.max_lifetime = absl::Hours(24);
  MintRequest r = Request();
  r.ttl = absl::Hours(24);
  EXPECT_TRUE(Verify(*signer_->Mint(r)).ok());
  r.ttl = absl::Hours(24) + absl::Seconds(1);
  auto refused = Verify(*signer_->Mint(r));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(refused.status().message().find("max_token_lifetime_seconds"), std::string::npos)
      << refused.status();
}

// Signs a payload as it is, to build tokens TokenSigner would never produce.
std::string SignRaw(const std::string& payload) {
  auto hs = TokenSigner::Hs256("0123456789abcdef0123456789abcdef");
  MintRequest r;
  r.subject = "x";
  std::vector<std::string> parts = absl::StrSplit(*hs->Mint(r), '.');
  const std::string signed_part = parts[0] + "." + absl::WebSafeBase64Escape(payload);
  unsigned char mac[32];
  unsigned int len = 0;
  const std::string key = "0123456789abcdef0123456789abcdef";
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size(), mac, &len);
  return signed_part + "." +
         absl::WebSafeBase64Escape(std::string(reinterpret_cast<char*>(mac), len));
}

TEST_F(TokenTest, RefusesTimeClaimsOfTheWrongTypeAndLifetimesWithoutIat) {
  options_.hs256_secret = "0123456789abcdef0123456789abcdef";
  options_.issuer.clear();
  options_.audience.clear();
  const int64_t now = absl::ToUnixSeconds(now_);
  const std::string good =
      absl::StrCat(R"({"sub":"anna","iat":)", now, R"(,"exp":)", now + 60, R"(,"nbf":)", now, "}");
  ASSERT_TRUE(Verify(SignRaw(good)).ok()) << Verify(SignRaw(good)).status();
  for (const std::string& payload : {
           absl::StrCat(R"({"sub":"anna","exp":")", now + 60, R"("})"),
           absl::StrCat(R"({"sub":"anna","exp":)", now + 60, R"(,"nbf":")", now, R"("})"),
           absl::StrCat(R"({"sub":"anna","exp":)", now + 60, R"(,"iat":null})"),
           absl::StrCat(R"({"sub":"anna","exp":)", now + 60, R"(,"nbf":[1]})"),
       }) {
    auto refused = Verify(SignRaw(payload));
    ASSERT_FALSE(refused.ok()) << payload;
    EXPECT_NE(refused.status().message().find("must be a number"), std::string::npos)
        << refused.status();
  }
  // No iat: the lifetime counts from now.
  auto no_iat = Verify(SignRaw(absl::StrCat(R"({"sub":"anna","exp":)", now + 30 * 86400, "}")));
  ASSERT_FALSE(no_iat.ok());
  EXPECT_NE(no_iat.status().message().find("at most 86400"), std::string::npos) << no_iat.status();
}

TEST_F(TokenTest, AVerifiedTokenIsRememberedButStillExpires) {
  auto v = TokenVerifier::Create(options_);
  ASSERT_TRUE(v.ok()) << v.status();
  MintRequest r = Request();
  r.ttl = absl::Minutes(10);
  const std::string token = *signer_->Mint(r);
  ASSERT_TRUE((*v)->Verify(token, now_).ok());
  auto again = (*v)->Verify(token, now_ + absl::Minutes(5));  // from the cache
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->subject, "anna");
  auto late = (*v)->Verify(token, now_ + absl::Hours(1));
  ASSERT_FALSE(late.ok());
  EXPECT_NE(late.status().message().find("expired"), std::string::npos) << late.status();
  // Marked as expired, so the gateway answers TOKEN_EXPIRED (refresh) rather than TOKEN_INVALID.
  EXPECT_TRUE(late.status().GetPayload(kTokenExpiredPayload).has_value());
  EXPECT_FALSE((*v)->Verify("x.y.z", now_).status().GetPayload(kTokenExpiredPayload).has_value());
  // A token differing in one signature character is verified on its own, and refused.
  std::string forged = token;
  char& c = forged[forged.size() - 10];  // inside the signature, not its padding bits
  c = c == 'A' ? 'B' : 'A';
  EXPECT_FALSE((*v)->Verify(forged, now_).ok());
}

TEST_F(TokenTest, WildcardCityGrantsEverywhere) {
  MintRequest r = Request();
  r.roles_by_city = {{"*", {"admin"}}};
  auto claims = Verify(*signer_->Mint(r));
  ASSERT_TRUE(claims.ok());
  EXPECT_TRUE(RolesIn(*claims, Trust("hagen")) & CIVITAS_ROLE_BIT(CIVITAS_ROLE_ADMIN));
  // ... but only where the token is valid: a city with issuers of its own does not take it.
  EXPECT_EQ(RolesIn(*claims, Trust("hagen", {"https://login.hagen.example"})), 0u);
}

TEST_F(TokenTest, Rs256FromJwks) {
  EVP_PKEY* rsa = EVP_RSA_gen(2048);
  ASSERT_NE(rsa, nullptr);
  BIGNUM *n = nullptr, *e = nullptr;
  ASSERT_EQ(EVP_PKEY_get_bn_param(rsa, OSSL_PKEY_PARAM_RSA_N, &n), 1);
  ASSERT_EQ(EVP_PKEY_get_bn_param(rsa, OSSL_PKEY_PARAM_RSA_E, &e), 1);
  auto bytes = [](BIGNUM* b) {
    std::string s(BN_num_bytes(b), '\0');
    BN_bn2bin(b, reinterpret_cast<unsigned char*>(s.data()));
    return absl::WebSafeBase64Escape(s);
  };
  options_.jwks_json =
      R"({"keys":[{"kty":"RSA","kid":"r1","n":")" + bytes(n) + R"(","e":")" + bytes(e) + R"("}]})";
  BN_free(n);
  BN_free(e);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, rsa, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  auto signer = TokenSigner::FromPrivateKeyPem(std::string(data, len), "r1");
  BIO_free(bio);
  EVP_PKEY_free(rsa);
  ASSERT_TRUE(signer.ok());
  auto claims = Verify(*(*signer)->Mint(Request()));
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->subject, "anna");
}

TEST_F(TokenTest, RefusesWithAReason) {
  MintRequest expired = Request();
  expired.now = now_ - absl::Hours(3);
  MintRequest wrong_aud = Request();
  wrong_aud.audience = "other-app";
  MintRequest wrong_iss = Request();
  wrong_iss.issuer = "https://evil.example";
  MintRequest future = Request();
  future.now = now_ + absl::Hours(1);

  struct Case {
    std::string token;
    std::string reason;
  };
  std::string good = *signer_->Mint(Request());
  std::vector<std::string> parts = absl::StrSplit(good, '.');
  std::string tampered_payload;
  absl::WebSafeBase64Unescape(parts[1], &tampered_payload);
  tampered_payload.replace(tampered_payload.find("anna"), 4, "root");
  std::string none_header = absl::WebSafeBase64Escape(R"({"alg":"none"})");

  std::vector<Case> cases = {
      {*signer_->Mint(expired), "expired"},
      {*signer_->Mint(wrong_aud), "audience"},
      {*signer_->Mint(wrong_iss), "issued by"},
      {*signer_->Mint(future), "not valid yet"},
      {parts[0] + "." + absl::WebSafeBase64Escape(tampered_payload) + "." + parts[2],
       "signature does not match"},
      {none_header + "." + parts[1] + ".", "algorithm 'none'"},
      {"abc", "three base64url parts"},
  };
  for (const Case& c : cases) {
    auto claims = Verify(c.token);
    ASSERT_FALSE(claims.ok()) << c.reason;
    EXPECT_EQ(claims.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_NE(claims.status().message().find(c.reason), std::string::npos)
        << claims.status().message();
  }
}

TEST_F(TokenTest, Hs256OnlyWhenAllowed) {
  auto hs = TokenSigner::Hs256("0123456789abcdef0123456789abcdef");
  std::string token = *hs->Mint(Request());
  auto refused = Verify(token);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("HS256"), std::string::npos);
  options_.hs256_secret = "0123456789abcdef0123456789abcdef";
  EXPECT_TRUE(Verify(token).ok());
  options_.hs256_secret = "another secret of thirty-two bytes!";
  EXPECT_FALSE(Verify(token).ok());
}

TEST(JwksTest, RejectsUnsupportedKeys) {
  VerifierOptions o;
  o.jwks_json = R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":"abc"}]})";
  auto v = TokenVerifier::Create(o);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("kty 'OKP'"), std::string::npos);
  o.jwks_json = "[]";
  EXPECT_FALSE(TokenVerifier::Create(o).ok());
}

TEST_F(TokenTest, FetchedKeysVerifyOnlyTheirIssuerAndRotateWithoutARestart) {
  // Two identity providers; the gateway has no key file, only what it fetched.
  ASSERT_TRUE(GenerateDevKeyPair(dir_ + "/k2.pem", dir_ + "/k2.json", "k2").ok());
  auto second = TokenSigner::FromPrivateKeyPem(Read(dir_ + "/k2.pem"), "k2");
  ASSERT_TRUE(second.ok());
  VerifierOptions o;
  auto v = TokenVerifier::Create(o);
  ASSERT_TRUE(v.ok());
  std::vector<std::string> unknown;
  (*v)->ExpectIssuerKeys({"https://id.example", "https://login.schwerte.example"},
                         [&](const std::string& issuer) { unknown.push_back(issuer); });
  EXPECT_TRUE((*v)->accepts_tokens());
  MintRequest r = Request();
  r.audience.clear();
  const std::string token = *signer_->Mint(r);
  absl::StatusOr<TokenClaims> c = (*v)->Verify(token, now_);
  EXPECT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("fetching the issuer's current keys"), std::string::npos)
      << c.status();
  EXPECT_EQ(unknown, std::vector<std::string>{"https://id.example"});

  auto keys = KeySet::Parse(Read(dir_ + "/jwks.json"), "https://id.example");
  ASSERT_TRUE(keys.ok()) << keys.status();
  (*v)->SetIssuerKeys(*keys);
  ASSERT_TRUE((*v)->Verify(token, now_).ok());
  // The same key cannot vouch for another issuer's tokens.
  r.issuer = "https://login.schwerte.example";
  c = (*v)->Verify(*signer_->Mint(r), now_);
  EXPECT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("no ES256 key of issuer 'https://login.schwerte.example'"),
            std::string::npos)
      << c.status();

  // The provider rotates: k2 replaces k1. Tokens of the new key verify, and the old key's tokens
  // (even one verified and cached before) do not.
  r.issuer = "https://id.example";
  const std::string rotated = *(*second)->Mint(r);
  EXPECT_FALSE((*v)->Verify(rotated, now_).ok());
  keys = KeySet::Parse(Read(dir_ + "/k2.json"), "https://id.example");
  ASSERT_TRUE(keys.ok());
  (*v)->SetIssuerKeys(*keys);
  EXPECT_TRUE((*v)->Verify(rotated, now_).ok());
  EXPECT_FALSE((*v)->Verify(token, now_).ok()) << "the withdrawn key's token";
}

TEST_F(TokenTest, AFullTokenCacheDropsExpiredThenOldTokensNotEverything) {
  VerifierOptions o;
  o.hs256_secret = std::string(32, 's');
  auto v = TokenVerifier::Create(o);
  ASSERT_TRUE(v.ok());
  auto signer = TokenSigner::Hs256(o.hs256_secret);
  MintRequest r = Request();
  r.audience.clear();
  const size_t n = TokenVerifier::kVerifiedTokenCacheSize;
  std::vector<std::string> tokens;
  for (size_t i = 0; i < n; ++i) {
    r.subject = "u" + std::to_string(i);
    r.ttl = i < 100 ? absl::Minutes(1) : absl::Hours(1);  // the first 100 expire soon
    tokens.push_back(*signer->Mint(r));
    ASSERT_TRUE((*v)->Verify(tokens.back(), now_).ok());
  }
  EXPECT_EQ((*v)->cached_tokens(), n);
  // Ten minutes on, one more token: the 100 expired ones make room, nothing else goes.
  const absl::Time later = now_ + absl::Minutes(10);
  r.now = later;
  r.subject = "late";
  r.ttl = absl::Hours(1);
  ASSERT_TRUE((*v)->Verify(*signer->Mint(r), later).ok());
  EXPECT_EQ((*v)->cached_tokens(), n - 100 + 1);
  // Filled again with live tokens: the older half goes, the newer callers stay cached.
  for (int i = 0; i < 100; ++i) {
    r.subject = "more" + std::to_string(i);
    ASSERT_TRUE((*v)->Verify(*signer->Mint(r), later).ok());
  }
  EXPECT_GT((*v)->cached_tokens(), n / 2);
  EXPECT_LE((*v)->cached_tokens(), n);
}

}  // namespace
}  // namespace civitas::auth
