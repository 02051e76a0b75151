#include "services/gateway/push/apns.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "civitas/json.h"

namespace civitas::gateway::push {
namespace {

notify::Message Sample(bool urgent) {
  notify::Message m;
  m.set_name("messages/0123456789abcdef0123456789abcdef");
  m.set_topic("baustellen");
  notify::MessageText* de = m.add_texts();
  de->set_language_code("de");
  de->set_title("Sperrung");
  de->set_body("Ab Montag.");
  if (urgent) m.set_deep_link("civitas://baustellen/1");
  m.set_urgent(urgent);
  return m;
}

ApnsConfig Config() {
  ApnsConfig c;
  c.team_id = "ABCDE12345";
  c.key_id = "KEY1234567";
  c.topic = "de.unna.app";
  return c;
}

bool Has(const std::vector<std::string>& headers, const std::string& h) {
  return std::find(headers.begin(), headers.end(), h) != headers.end();
}

AttemptResult Answer(long code, std::string body) {
  AttemptResult r;
  r.http_status = code;
  r.body = std::move(body);
  return r;
}

TEST(Apns, TokenClaimsUrlAndHeaders) {
  EXPECT_EQ(ApnsTokenClaims("ABCDE12345", absl::FromUnixSeconds(1700000000)),
            R"({"iss":"ABCDE12345","iat":1700000000})");
  EXPECT_EQ(ApnsUrl(Config(), "a1b2c3"), "https://api.push.apple.com/3/device/a1b2c3");
  EXPECT_EQ(ApnsUrl(Config(), "../x?y"), "https://api.push.apple.com/3/device/%2E%2E%2Fx%3Fy")
      << "a token never leaves the device path";
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  const std::vector<std::string> urgent = ApnsHeaders(Config(), Sample(true), "JWT", now);
  EXPECT_TRUE(Has(urgent, "authorization: bearer JWT"));
  EXPECT_TRUE(Has(urgent, "apns-topic: de.unna.app"));
  EXPECT_TRUE(Has(urgent, "apns-push-type: alert"));
  EXPECT_TRUE(Has(urgent, "apns-priority: 10"));
  EXPECT_TRUE(Has(urgent, "apns-expiration: 1700086400"));
  EXPECT_TRUE(Has(urgent, "apns-collapse-id: 0123456789abcdef0123456789abcdef"));
  EXPECT_TRUE(Has(ApnsHeaders(Config(), Sample(false), "JWT", now), "apns-priority: 5"));
}

TEST(Apns, Payload) {
  civitas::JsonValue p;
  ASSERT_TRUE(civitas::ParseJson(ApnsPayloadJson(Sample(true), "", "de"), &p));
  EXPECT_EQ(p["aps"]["alert"]["title"].AsString(), "Sperrung");
  EXPECT_EQ(p["aps"]["alert"]["body"].AsString(), "Ab Montag.");
  EXPECT_EQ(p["message"].AsString(), "messages/0123456789abcdef0123456789abcdef");
  EXPECT_EQ(p["topic"].AsString(), "baustellen");
  EXPECT_EQ(p["deep_link"].AsString(), "civitas://baustellen/1");
  ASSERT_TRUE(civitas::ParseJson(ApnsPayloadJson(Sample(false), "", "de"), &p));
  EXPECT_TRUE(p["deep_link"].is_null());
  EXPECT_TRUE(p["aps"]["mutable-content"].is_null());
  notify::Message pictured = Sample(false);
  pictured.set_image_url("https://stadt.example/sperrung.jpg");
  ASSERT_TRUE(civitas::ParseJson(ApnsPayloadJson(pictured, "", "de"), &p));
  EXPECT_EQ(p["aps"]["mutable-content"].AsNumber(), 1);
  EXPECT_EQ(p["image"].AsString(), "https://stadt.example/sperrung.jpg");
}

TEST(Apns, Answers) {
  AttemptResult r = Answer(200, "");
  ClassifyApnsAnswer(&r);
  EXPECT_EQ(r.verdict, Verdict::kByStatus);
  r = Answer(410, R"({"reason":"Unregistered","timestamp":1700000000000})");
  ClassifyApnsAnswer(&r);
  EXPECT_EQ(r.verdict, Verdict::kGone);
  EXPECT_EQ(r.detail, "Unregistered");
  r = Answer(400, R"({"reason":"BadDeviceToken"})");
  ClassifyApnsAnswer(&r);
  EXPECT_EQ(r.verdict, Verdict::kGone);
  r = Answer(400, R"({"reason":"BadTopic"})");
  ClassifyApnsAnswer(&r);
  EXPECT_EQ(r.verdict, Verdict::kRefused);
  r = Answer(404, R"({"reason":"BadPath"})");
  ClassifyApnsAnswer(&r);
  EXPECT_EQ(r.verdict, Verdict::kRefused) << "the operator's endpoint, not the device";
  for (const char* reason : {"ExpiredProviderToken", "InvalidProviderToken"}) {
    r = Answer(403, std::string(R"({"reason":")") + reason + "\"}");
    ClassifyApnsAnswer(&r);
    EXPECT_TRUE(ProviderTokenRefused(r)) << reason;
    EXPECT_EQ(r.verdict, Verdict::kByStatus) << reason;
  }
  r = Answer(403, R"({"reason":"BadCertificateEnvironment"})");
  ClassifyApnsAnswer(&r);
  EXPECT_FALSE(ProviderTokenRefused(r));
  EXPECT_EQ(r.verdict, Verdict::kRefused);
  for (long code : {429L, 500L, 503L}) {
    r = Answer(code, R"({"reason":"TooManyRequests"})");
    ClassifyApnsAnswer(&r);
    EXPECT_EQ(r.verdict, Verdict::kByStatus) << code;
  }
}

}  // namespace
}  // namespace civitas::gateway::push
