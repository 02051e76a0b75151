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
