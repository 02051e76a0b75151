#include "services/gateway/push/push_endpoint.h"

#include <gtest/gtest.h>

#include <map>

namespace civitas::gateway::push {
namespace {

TEST(IsPublicAddress, RefusesEveryNonPublicRange) {
  for (const char* a : {"127.0.0.1",
                        "127.8.9.10",
                        "10.1.2.3",
                        "172.16.0.1",
                        "172.31.255.255",
                        "192.168.1.1",
                        "169.254.169.254",
                        "169.254.0.1",
                        "100.64.0.1",
                        "0.0.0.0",
                        "224.0.0.1",
                        "255.255.255.255",
                        "192.0.2.5",
                        "198.51.100.7",
                        "203.0.113.9",
                        "198.18.0.1",
                        "::1",
                        "::",
                        "fe80::1",
                        "fc00::1",
                        "fd00:ec2::254",
                        "ff02::1",
                        "2001:db8::1",
                        "::ffff:127.0.0.1",
                        "::ffff:10.0.0.1",
                        "2002:7f00:1::1",
                        "2001:0:4136:e378::1",
                        "64:ff9b::7f00:1",
                        "not an address"}) {
    EXPECT_FALSE(IsPublicAddress(a, false)) << a;
  }
}

TEST(IsPublicAddress, AcceptsPublicAddresses) {
  for (const char* a :
       {"8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2a00:1450:4001::1", "::ffff:8.8.8.8"}) {
    EXPECT_TRUE(IsPublicAddress(a, false)) << a;
  }
}

TEST(IsPublicAddress, LoopbackOnlyWhenAllowed) {
  EXPECT_TRUE(IsPublicAddress("127.0.0.1", true));
  EXPECT_TRUE(IsPublicAddress("::1", true));
  // Allowing loopback allows nothing else.
  EXPECT_FALSE(IsPublicAddress("10.0.0.1", true));
  EXPECT_FALSE(IsPublicAddress("169.254.169.254", true));
  EXPECT_FALSE(IsPublicAddress("fe80::1", true));
}

TEST(ParseEndpointUrl, TakesHttpsUrlsApart) {
  absl::StatusOr<EndpointUrl> u = ParseEndpointUrl("https://Push.Example:8443/wpush/v2/abc?x=1");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->host, "push.example");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->path, "/wpush/v2/abc?x=1");
  EXPECT_EQ(u->origin, "https://push.example:8443");
  u = ParseEndpointUrl("https://[2a00:1450::1]/x");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->host, "2a00:1450::1");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->origin, "https://[2a00:1450::1]");
}

TEST(ParseEndpointUrl, RefusesWhatCouldMisdirect) {
  for (const char* url :
       {"http://push.example/x", "ftp://push.example/", "https://user@127.0.0.1/",
        "https://push.example@127.0.0.1/", "https://push.example:0/", "https://push.example:99999/",
        "https:///x", "https://push example/", "https://push.example\\@127.0.0.1/", "https://[::1/",
        "https://push.example/\x01"}) {
    EXPECT_FALSE(ParseEndpointUrl(url).ok()) << url;
  }
}

Resolver FakeDns(std::map<std::string, std::vector<std::string>> names) {
  return [names](const std::string& host) -> absl::StatusOr<std::vector<std::string>> {
    auto it = names.find(host);
    if (it == names.end()) return absl::InvalidArgumentError("no such host");
    return it->second;
  };
}

TEST(CheckEndpoint, ChecksTheResolvedAddresses) {
  const Resolver dns = FakeDns({{"push.example", {"93.184.216.34"}},
                                {"rebind.example", {"93.184.216.34", "127.0.0.1"}},
                                {"metadata.example", {"169.254.169.254"}},
                                {"loop.example", {"127.0.0.1"}}});
  absl::StatusOr<ResolvedEndpoint> ok = CheckEndpoint("https://push.example/s/1", {}, dns);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->address, "93.184.216.34");
  for (const char* url :
       {"https://rebind.example/", "https://metadata.example/", "https://loop.example/",
        "https://127.0.0.1/", "https://[::1]:8443/", "https://10.0.0.8/", "https://[fe80::1]/"}) {
    absl::StatusOr<ResolvedEndpoint> r = CheckEndpoint(url, {}, dns);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << url;
    // The refusal never repeats the URL (a push address is personal data).
    EXPECT_EQ(std::string(r.status().message()).find("example"), std::string::npos) << url;
  }
  EXPECT_TRUE(CheckEndpoint("https://loop.example/", {{}, true}, dns).ok());
  EXPECT_FALSE(CheckEndpoint("https://metadata.example/", {{}, true}, dns).ok());
}

TEST(CheckEndpoint, AllowList) {
  const Resolver dns = FakeDns({{"push.example", {"93.184.216.34"}},
                                {"a.push.example", {"93.184.216.34"}},
                                {"evilpush.example", {"93.184.216.34"}}});
  EndpointPolicy exact{{"push.example"}, false};
  EXPECT_TRUE(CheckEndpoint("https://push.example/", exact, dns).ok());
  EXPECT_FALSE(CheckEndpoint("https://a.push.example/", exact, dns).ok());
  EndpointPolicy sub{{"*.push.example"}, false};
  EXPECT_TRUE(CheckEndpoint("https://a.push.example/", sub, dns).ok());
  EXPECT_FALSE(CheckEndpoint("https://push.example/", sub, dns).ok());
  EXPECT_FALSE(CheckEndpoint("https://evilpush.example/", sub, dns).ok());
}

}  // namespace
}  // namespace civitas::gateway::push
