#include "services/gateway/push/vapid_cache.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace civitas::gateway::push {
namespace {

std::string NewPem() {
  absl::StatusOr<std::unique_ptr<VapidKey>> key = VapidKey::Generate();
  EXPECT_TRUE(key.ok()) << key.status();
  return (*key)->Pem();
}

// The JWT claims of "vapid t=<header>.<claims>.<signature>, k=<key>".
std::string Claims(const std::string& authorization) {
  const std::string jwt(absl::StripPrefix(
      std::vector<absl::string_view>(absl::StrSplit(authorization, ", k="))[0], "vapid t="));
  const std::vector<std::string> parts = absl::StrSplit(jwt, '.');
  EXPECT_EQ(parts.size(), 3u) << authorization;
  std::string claims;
  EXPECT_TRUE(absl::WebSafeBase64Unescape(parts[1], &claims));
  return claims;
}

const absl::Time kNow = absl::FromUnixSeconds(1796000000);
constexpr char kSubject[] = "mailto:push@unna.example";
constexpr char kMozilla[] = "https://updates.push.services.mozilla.com";
constexpr char kGoogle[] = "https://fcm.googleapis.com";

TEST(VapidAuthorizationCache, TheSameOriginReusesOneSignature) {
  VapidAuthorizationCache cache;
  const std::string pem = NewPem();
  absl::StatusOr<std::string> first = cache.Get(pem, kSubject, kMozilla, kNow);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(absl::StartsWith(*first, "vapid t=")) << *first;
  for (absl::Duration later : {absl::Seconds(1), absl::Minutes(30), absl::Minutes(54)}) {
    absl::StatusOr<std::string> again = cache.Get(pem, kSubject, kMozilla, kNow + later);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *first) << later;
  }
  EXPECT_EQ(cache.signatures(), 1u);
  EXPECT_NE(Claims(*first).find(absl::StrCat("\"exp\":", absl::ToUnixSeconds(kNow) + 12 * 3600)),
            std::string::npos)
      << Claims(*first);
}

TEST(VapidAuthorizationCache, AnotherOriginSubjectOrKeyIsSignedOnItsOwn) {
  VapidAuthorizationCache cache;
  const std::string pem = NewPem();
  const std::string mozilla = *cache.Get(pem, kSubject, kMozilla, kNow);
  const std::string google = *cache.Get(pem, kSubject, kGoogle, kNow);
  EXPECT_NE(google, mozilla);
  EXPECT_NE(Claims(google).find(absl::StrCat("\"aud\":\"", kGoogle, "\"")), std::string::npos)
      << Claims(google);
  EXPECT_NE(Claims(mozilla).find(absl::StrCat("\"aud\":\"", kMozilla, "\"")), std::string::npos);
  const std::string other_subject = *cache.Get(pem, "mailto:push@soest.example", kMozilla, kNow);
  EXPECT_NE(other_subject, mozilla);
  EXPECT_NE(Claims(other_subject).find("soest"), std::string::npos);
  // Another city's key: its own header, with its own public key as k=.
  const std::string other_key = *cache.Get(NewPem(), kSubject, kMozilla, kNow);
  EXPECT_NE(other_key.substr(other_key.find(", k=")), mozilla.substr(mozilla.find(", k=")));
  EXPECT_EQ(cache.signatures(), 4u);
  // And each of them is still reused.
  EXPECT_EQ(*cache.Get(pem, kSubject, kGoogle, kNow + absl::Minutes(1)), google);
  EXPECT_EQ(cache.signatures(), 4u);
}

TEST(VapidAuthorizationCache, AnHourLessTheMarginLaterItIsSignedAgain) {
  VapidAuthorizationCache cache;
  const std::string pem = NewPem();
  const std::string first = *cache.Get(pem, kSubject, kMozilla, kNow);
  const absl::Time later = kNow + absl::Minutes(55);
  const std::string renewed = *cache.Get(pem, kSubject, kMozilla, later);
  EXPECT_NE(renewed, first);
  EXPECT_NE(Claims(renewed).find(absl::StrCat("\"exp\":", absl::ToUnixSeconds(later) + 12 * 3600)),
            std::string::npos)
      << Claims(renewed);
  EXPECT_EQ(*cache.Get(pem, kSubject, kMozilla, later + absl::Minutes(10)), renewed);
  // A thread that read the clock just before another signed reuses the header; a clock set
  // back by more than the window does not.
  EXPECT_EQ(*cache.Get(pem, kSubject, kMozilla, later - absl::Seconds(1)), renewed);
  EXPECT_EQ(cache.signatures(), 2u);
  EXPECT_NE(*cache.Get(pem, kSubject, kMozilla, later - absl::Hours(2)), renewed);
  EXPECT_EQ(cache.signatures(), 3u);
}

TEST(VapidAuthorizationCache, ThreadsThatMissAtOnceSignOnce) {
  VapidAuthorizationCache cache;
  const std::string pem = NewPem();
  std::vector<std::string> seen(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        // Each thread read the clock a little earlier than the one before it.
        absl::StatusOr<std::string> h =
            cache.Get(pem, kSubject, kMozilla, kNow - absl::Milliseconds(t));
        ASSERT_TRUE(h.ok());
        if (seen[t].empty()) seen[t] = *h;
        EXPECT_EQ(*h, seen[t]);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const std::string& s : seen) EXPECT_EQ(s, seen[0]);
  EXPECT_EQ(cache.signatures(), 1u);
}

TEST(VapidAuthorizationCache, StaysBoundedAndKeepsWorkingWhenFull) {
  VapidAuthorizationCache cache({absl::Minutes(55), 4});
  const std::string pem = NewPem();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(cache.Get(pem, kSubject, absl::StrCat("https://push", i, ".example"), kNow).ok());
  }
  EXPECT_EQ(cache.signatures(), 10u);
  const std::string h = *cache.Get(pem, kSubject, "https://push9.example", kNow);
  EXPECT_EQ(*cache.Get(pem, kSubject, "https://push9.example", kNow), h);
  EXPECT_EQ(cache.signatures(), 10u);
}

TEST(VapidAuthorizationCache, AKeyThatDoesNotParseIsDataLoss) {
  VapidAuthorizationCache cache;
  absl::StatusOr<std::string> h = cache.Get("not a pem", kSubject, kMozilla, kNow);
  EXPECT_EQ(h.status().code(), absl::StatusCode::kDataLoss) << h.status();
  EXPECT_EQ(cache.signatures(), 0u);
}

}  // namespace
}  // namespace civitas::gateway::push
