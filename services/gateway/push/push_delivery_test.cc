#include "services/gateway/push/push_delivery.h"

#include <gtest/gtest.h>

namespace civitas::gateway::push {
namespace {

PushDeliveryConfig Config() {
  PushDeliveryConfig c;
  c.retry_base_seconds = 10;
  c.retry_max_seconds = 300;
  c.max_attempts = 5;
  return c;
}

AttemptResult R(long code, int64_t retry_after = -1) {
  AttemptResult r;
  r.http_status = code;
  r.retry_after_seconds = retry_after;
  return r;
}

TEST(Decide, Outcomes) {
  EXPECT_EQ(Decide(R(201), 1, Config(), 0).state, Delivery::DELIVERED);
  for (long gone : {404L, 410L}) {
    NextStep s = Decide(R(gone), 1, Config(), 0);
    EXPECT_EQ(s.state, Delivery::REMOVED);
    EXPECT_TRUE(s.remove_device);
  }
  for (long refused : {400L, 401L, 403L, 413L}) {
    EXPECT_EQ(Decide(R(refused), 1, Config(), 0).state, Delivery::FAILED) << refused;
  }
  for (long transient : {0L, 429L, 500L, 503L}) {
    EXPECT_EQ(Decide(R(transient), 1, Config(), 0).state, Delivery::PENDING) << transient;
  }
  EXPECT_EQ(Decide(R(503), 5, Config(), 0).state, Delivery::FAILED);  // the last attempt
}

TEST(Decide, ExponentialBackoffWithJitterAndRetryAfter) {
  // base * 2^(n-1), between half (jitter 0) and all (jitter 1) of it, capped.
  EXPECT_EQ(Decide(R(503), 1, Config(), 0).wait, absl::Seconds(5));
  EXPECT_EQ(Decide(R(503), 1, Config(), 1).wait, absl::Seconds(10));
  EXPECT_EQ(Decide(R(503), 3, Config(), 1).wait, absl::Seconds(40));
  EXPECT_EQ(Decide(R(503), 4, Config(), 1).wait, absl::Seconds(80));
  PushDeliveryConfig many = Config();
  many.max_attempts = 50;
  EXPECT_EQ(Decide(R(503), 20, many, 1).wait, absl::Seconds(300));
  // Retry-After waits at least as long as asked, even beyond the backoff.
  const AttemptResult limited = R(429, 120);
  EXPECT_EQ(Decide(limited, 1, Config(), 1).wait, absl::Seconds(120));
  const AttemptResult short_ask = R(429, 1);
  EXPECT_EQ(Decide(short_ask, 1, Config(), 1).wait, absl::Seconds(10));
}

TEST(Decide, ProviderVerdicts) {
  AttemptResult gone = R(400);
  gone.verdict = Verdict::kGone;
  gone.detail = "BadDeviceToken";
  NextStep s = Decide(gone, 1, Config(), 0);
  EXPECT_EQ(s.state, Delivery::REMOVED);
  EXPECT_TRUE(s.remove_device);
  EXPECT_EQ(s.reason, "400 BadDeviceToken");
  AttemptResult bad_path = R(404);
  bad_path.verdict = Verdict::kRefused;
  s = Decide(bad_path, 1, Config(), 0);
  EXPECT_EQ(s.state, Delivery::FAILED);
  EXPECT_FALSE(s.remove_device) << "APNs 404 is the endpoint's fault, not the device's";
  EXPECT_EQ(s.failure, "refused");
  AttemptResult encryption;
  encryption.verdict = Verdict::kRefused;
  encryption.failure = "encryption";
  encryption.error = "bad key";
  s = Decide(encryption, 1, Config(), 0);
  EXPECT_EQ(s.failure, "encryption");
  EXPECT_EQ(s.reason, "bad key");
  AttemptResult auth = R(401);
  auth.verdict = Verdict::kAuthRejected;
  EXPECT_EQ(Decide(auth, 1, Config(), 0).failure, "auth_rejected");
  AttemptResult key;
  key.verdict = Verdict::kBadCredentials;
  key.error = "cannot read push.apns.key_file";
  s = Decide(key, 1, Config(), 0);
  EXPECT_EQ(s.state, Delivery::FAILED);
  EXPECT_EQ(s.failure, "credentials");
  // A provider's 503 with its reason: retried, the reason kept.
  AttemptResult busy = R(503, 5);
  busy.detail = "UNAVAILABLE";
  s = Decide(busy, 1, Config(), 0);
  EXPECT_EQ(s.state, Delivery::PENDING);
  EXPECT_EQ(s.reason, "503 UNAVAILABLE");
}

TEST(Providers, PoolsAndMetrics) {
  notify::Device d;
  d.set_platform(notify::Device::FCM);
  EXPECT_EQ(ProviderOf(d), Provider::kFcm);
  d.set_platform(notify::Device::APNS);
  EXPECT_EQ(ProviderOf(d), Provider::kApns);
  d.set_platform(notify::Device::WEB_PUSH);
  EXPECT_EQ(ProviderOf(d), Provider::kWebPush);
  std::map<std::string, PushCityCounts> counts;
  counts["unna"].queued = 3;
  counts["unna"].providers["fcm"].delivered = 2;
  counts["unna"].providers["apns"].failed["provider_not_configured"] = 1;
  const std::string text = RenderPushMetrics(counts, {{"unna", 0.5}});
  EXPECT_NE(text.find("civitas_push_queued_total{city=\"unna\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("civitas_push_delivered_total{city=\"unna\",provider=\"fcm\"} 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("civitas_push_failed_total{city=\"unna\",provider=\"apns\","
                      "reason=\"provider_not_configured\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("civitas_push_oldest_pending_seconds{city=\"unna\"} 0.5\n"),
            std::string::npos);
}

TEST(ParseRetryAfter, SecondsAndDates) {
  const absl::Time now = absl::FromUnixSeconds(1445412480);  // Wed, 21 Oct 2015 07:28:00 GMT
  EXPECT_EQ(ParseRetryAfter("120", now), 120);
  EXPECT_EQ(ParseRetryAfter(" 7 ", now), 7);
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:30:00 GMT", now), 120);
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:00:00 GMT", now), 0);
  EXPECT_EQ(ParseRetryAfter("soon", now), -1);
  EXPECT_EQ(ParseRetryAfter("-5", now), -1);
}

}  // namespace
}  // namespace civitas::gateway::push
