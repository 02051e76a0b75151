// The pure parts of the key fetcher: which URLs it fetches, how long keys are kept, and what a
// discovery document must say. Fetching itself is tested against a real HTTP server in
// tests/integration/login_test.cc.
#include "services/auth/jwks_fetcher.h"

#include <gtest/gtest.h>

namespace civitas::auth {
namespace {

TEST(CheckKeyUrlTest, HttpsEverywhereHttpOnlyOnLoopback) {
  EXPECT_TRUE(CheckKeyUrl("https://login.dortmund.example/realms/buerger").ok());
  EXPECT_TRUE(CheckKeyUrl("http://127.0.0.1:8180/realms/demo").ok());
  EXPECT_TRUE(CheckKeyUrl("http://localhost/realms/demo").ok());
  EXPECT_TRUE(CheckKeyUrl("http://[::1]:8180/realms/demo").ok());
  EXPECT_FALSE(CheckKeyUrl("http://login.dortmund.example/realms/buerger").ok());
  EXPECT_FALSE(CheckKeyUrl("http://127.0.0.1.evil.example/").ok());
  EXPECT_FALSE(CheckKeyUrl("ftp://login.example/").ok());
  EXPECT_FALSE(CheckKeyUrl("https:///realms").ok());
  EXPECT_FALSE(CheckKeyUrl("https://user@login.example/").ok());
  EXPECT_NE(CheckKeyUrl("http://login.example/").message().find("plain http"), std::string::npos);
}

TEST(MaxAgeTest, ReadsTheDirective) {
  EXPECT_EQ(MaxAge("public, max-age=300"), absl::Seconds(300));
  EXPECT_EQ(MaxAge("Max-Age=60, must-revalidate"), absl::Seconds(60));
  EXPECT_EQ(MaxAge("no-cache"), std::nullopt);
  EXPECT_EQ(MaxAge("max-age=-5"), std::nullopt);
  EXPECT_EQ(MaxAge(""), std::nullopt);
}

TEST(DiscoveryTest, TheDocumentMustBeAboutTheIssuerAndPointAtHttps) {
  const std::string issuer = "https://login.dortmund.example/realms/buerger";
  auto uri = JwksUriFromDiscovery(
      R"({"issuer": "https://login.dortmund.example/realms/buerger",
          "jwks_uri": "https://login.dortmund.example/realms/buerger/protocol/openid-connect/certs"})",
      issuer);
  ASSERT_TRUE(uri.ok()) << uri.status();
  EXPECT_EQ(*uri, "https://login.dortmund.example/realms/buerger/protocol/openid-connect/certs");
  auto other = JwksUriFromDiscovery(
      R"({"issuer": "https://evil.example", "jwks_uri": "https://evil.example/certs"})", issuer);
  EXPECT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("names issuer 'https://evil.example'"),
            std::string::npos);
  EXPECT_FALSE(JwksUriFromDiscovery(R"({"issuer": "https://login.dortmund.example/realms/buerger",
                                        "jwks_uri": "http://login.dortmund.example/certs"})",
                                    issuer)
                   .ok());
  EXPECT_FALSE(
      JwksUriFromDiscovery(R"({"issuer": "https://login.dortmund.example/realms/buerger"})", issuer)
          .ok());
  EXPECT_FALSE(JwksUriFromDiscovery("not json", issuer).ok());
}

}  // namespace
}  // namespace civitas::auth
