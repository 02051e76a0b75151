// WriteRateLimiter: token buckets per subject and per client address, which methods count as
// writes, per-method overrides, and the bounded bucket table.
#include "services/gateway/rate_limiter.h"

#include <gtest/gtest.h>

#include "civitas/noticeboard/v1/noticeboard.pb.h"
#include "civitas/reports/v1/reports.pb.h"

namespace civitas::gateway {
namespace {

const google::protobuf::MethodDescriptor* Method(const std::string& service,
                                                 const std::string& name) {
  // Links the generated files in, so the generated pool knows their services.
  (void)civitas::noticeboard::v1::Notice::descriptor();
  (void)civitas::reports::v1::Report::descriptor();
  const auto* s = google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
  EXPECT_NE(s, nullptr) << service;
  const auto* m = s ? s->FindMethodByName(name) : nullptr;
  EXPECT_NE(m, nullptr) << name;
  return m;
}

constexpr char kBoard[] = "civitas.noticeboard.v1.NoticeboardService";
constexpr char kReports[] = "civitas.reports.v1.ReportsService";
constexpr int64_t kT0 = 1'800'000'000'000'000;

WriteRateLimiter::Call Notice(std::string_view subject, std::string_view peer = "ipv4:10.0.0.1:5") {
  static const auto* m = Method(kBoard, "CreateNotice");
  return {"dortmund", subject, false,
          peer,       "",      "/civitas.noticeboard.v1.NoticeboardService/CreateNotice",
          m};
}

TEST(WriteMethodTest, GetAnnotationsAndAipNamesRead) {
  EXPECT_TRUE(IsWriteMethod(Method(kBoard, "CreateNotice")));
  EXPECT_TRUE(IsWriteMethod(Method(kBoard, "ThankNotice")));
  EXPECT_TRUE(IsWriteMethod(Method(kBoard, "DeleteNotice")));
  EXPECT_FALSE(IsWriteMethod(Method(kBoard, "ListNotices")));
  EXPECT_FALSE(IsWriteMethod(Method(kBoard, "GetNotice")));
  EXPECT_FALSE(IsWriteMethod(Method(kBoard, "WatchNotices")));
  EXPECT_TRUE(IsWriteMethod(Method(kReports, "CreateReport")));
  EXPECT_FALSE(IsWriteMethod(Method(kReports, "GetReportPhoto")));
  EXPECT_FALSE(IsWriteMethod(Method(kReports, "GetOpen311")));
}

TEST(PeerAddressTest, StripsPortsAndBrackets) {
  EXPECT_EQ(PeerAddress("ipv4:192.0.2.1:5443"), "192.0.2.1");
  EXPECT_EQ(PeerAddress("ipv6:[2001:db8::1]:5443"), "2001:db8::1");
  EXPECT_EQ(PeerAddress("unix:/run/civitas.sock"), "unix");
}

TEST(WriteRateLimiterTest, CutsOneSubjectAtItsRateWhileOthersStillWrite) {
  WriteRateConfig c;
  c.per_subject = {60, 5};  // one a second, five at once
  WriteRateLimiter limiter(c);
  int64_t retry = 0;
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.Admit(Notice("anna"), &retry, kT0).ok()) << i;
  grpc::Status refused = limiter.Admit(Notice("anna"), &retry, kT0);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(retry, 1);
  EXPECT_NE(refused.error_message().find("60 write calls a minute"), std::string::npos)
      << refused.error_message();
  EXPECT_NE(refused.error_message().find("retry in 1 s"), std::string::npos);
  EXPECT_TRUE(limiter.Admit(Notice("ben"), &retry, kT0).ok()) << "another subject";
  EXPECT_EQ(retry, 0);
  WriteRateLimiter::Call editor = Notice("anna");
  editor.staff = true;
  EXPECT_TRUE(limiter.Admit(editor, &retry, kT0).ok()) << "the city's staff is not limited";
  // Reads never count.
  static const auto* list = Method(kBoard, "ListNotices");
  WriteRateLimiter::Call read = Notice("anna");
  read.method_path = "/civitas.noticeboard.v1.NoticeboardService/ListNotices";
  read.method = list;
  EXPECT_TRUE(limiter.Admit(read, &retry, kT0).ok());
  // A second later one more token is there, and only one.
  EXPECT_TRUE(limiter.Admit(Notice("anna"), &retry, kT0 + 1'000'000).ok());
  EXPECT_FALSE(limiter.Admit(Notice("anna"), &retry, kT0 + 1'000'000).ok());
  // Over a minute: the sustained rate, not the burst.
  int admitted = 0;
  for (int64_t t = 0; t < 60'000'000; t += 100'000) {
    admitted += limiter.Admit(Notice("anna"), &retry, kT0 + 2'000'000 + t).ok() ? 1 : 0;
  }
  EXPECT_GE(admitted, 59);
  EXPECT_LE(admitted, 62);
}

TEST(WriteRateLimiterTest, AnonymousCallersAreLimitedPerAddress) {
  WriteRateConfig c;
  c.anonymous_per_peer = {6, 2};
  WriteRateLimiter limiter(c);
  int64_t retry = 0;
  EXPECT_TRUE(limiter.Admit(Notice("", "ipv4:10.0.0.1:1000"), &retry, kT0).ok());
  EXPECT_TRUE(limiter.Admit(Notice("", "ipv4:10.0.0.1:2000"), &retry, kT0).ok())
      << "another port, same address";
  grpc::Status s = limiter.Admit(Notice("", "ipv4:10.0.0.1:3000"), &retry, kT0);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(retry, 10) << "6 a minute: one every 10 s";
  EXPECT_NE(s.error_message().find("anonymous callers from this address"), std::string::npos);
  EXPECT_TRUE(limiter.Admit(Notice("", "ipv4:10.0.0.2:1000"), &retry, kT0).ok());
  EXPECT_TRUE(limiter.Admit(Notice("carla", "ipv4:10.0.0.1:1000"), &retry, kT0).ok())
      << "signed-in callers have their own limit";
  WriteRateLimiter::Call other_city = Notice("", "ipv4:10.0.0.1:1000");
  other_city.city = "schwerte";
  EXPECT_TRUE(limiter.Admit(other_city, &retry, kT0).ok()) << "per city";
}

TEST(WriteRateLimiterTest, AnonymousBytesHaveADailyBudgetPerAddress) {
  WriteRateConfig c;
  c.anonymous_bytes_per_peer_per_day = 10u << 20;
  WriteRateLimiter limiter(c);
  int64_t retry = 0;
  const WriteRateLimiter::Call anonymous = Notice("", "ipv4:10.0.0.1:1000");
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(limiter.ChargeAnonymousBytes(anonymous, 3u << 20, &retry, kT0).ok()) << i;
  }
  grpc::Status s = limiter.ChargeAnonymousBytes(anonymous, 3u << 20, &retry, kT0);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(s.error_message().find("have written their 10 MiB for the day"), std::string::npos)
      << s.error_message();
  // 2 MiB are missing; the budget refills 10 MiB a day: 2/10 of a day.
  EXPECT_NEAR(retry, 86400 / 5, 1);
  EXPECT_TRUE(limiter.ChargeAnonymousBytes(anonymous, 1u << 20, &retry, kT0).ok())
      << "what is left may still be used";
  // Empty now; 3 MiB come back in 3/10 of a day.
  EXPECT_FALSE(
      limiter.ChargeAnonymousBytes(anonymous, 3u << 20, &retry, kT0 + 86'400'000'000 * 29 / 100)
          .ok());
  EXPECT_TRUE(
      limiter.ChargeAnonymousBytes(anonymous, 3u << 20, &retry, kT0 + 86'400'000'000 * 31 / 100)
          .ok())
      << "refilled";
  EXPECT_TRUE(
      limiter.ChargeAnonymousBytes(Notice("", "ipv4:10.0.0.2:1"), 3u << 20, &retry, kT0).ok())
      << "another address";
  EXPECT_TRUE(
      limiter.ChargeAnonymousBytes(Notice("carla", "ipv4:10.0.0.1:1000"), 3u << 20, &retry, kT0)
          .ok())
      << "signed-in callers are not charged";
  EXPECT_EQ(
      limiter.ChargeAnonymousBytes(Notice("", "ipv4:10.0.0.3:1"), (10u << 20) + 1, &retry, kT0)
          .error_code(),
      grpc::StatusCode::RESOURCE_EXHAUSTED)
      << "one request above the whole budget never passes";
  c.anonymous_bytes_per_peer_per_day = 0;
  WriteRateLimiter off(c);
  EXPECT_TRUE(off.ChargeAnonymousBytes(anonymous, 1u << 30, &retry, kT0).ok());
}

TEST(WriteRateLimiterTest, TheEdgesHeaderNamesTheClientOnlyFromLoopback) {
  WriteRateConfig c;
  c.anonymous_per_peer = {60, 1};
  c.client_ip_header = "x-real-ip";
  WriteRateLimiter limiter(c);
  int64_t retry = 0;
  WriteRateLimiter::Call a = Notice("", "ipv4:127.0.0.1:1000");
  a.forwarded_address = "203.0.113.7";
  WriteRateLimiter::Call b = a;
  b.forwarded_address = "203.0.113.8";
  EXPECT_TRUE(limiter.Admit(a, &retry, kT0).ok());
  EXPECT_TRUE(limiter.Admit(b, &retry, kT0).ok()) << "two clients behind one edge";
  EXPECT_FALSE(limiter.Admit(a, &retry, kT0).ok());
  WriteRateLimiter::Call spoofed = Notice("", "ipv4:198.51.100.1:1000");
  spoofed.forwarded_address = "203.0.113.99";
  EXPECT_TRUE(limiter.Admit(spoofed, &retry, kT0).ok());
  spoofed.forwarded_address = "203.0.113.100";
  EXPECT_FALSE(limiter.Admit(spoofed, &retry, kT0).ok())
      << "a remote caller cannot choose its address by header";
}

TEST(WriteRateLimiterTest, MethodOverridesHaveTheirOwnBuckets) {
  WriteRateConfig c;
  c.per_subject = {600, 100};
  WriteRateConfig::Override strict;
  strict.per_subject = RateLimit{2, 2};
  c.methods["/civitas.noticeboard.v1.NoticeboardService/CreateNotice"] = strict;
  WriteRateLimiter limiter(c);
  int64_t retry = 0;
  EXPECT_TRUE(limiter.Admit(Notice("anna"), &retry, kT0).ok());
  EXPECT_TRUE(limiter.Admit(Notice("anna"), &retry, kT0).ok());
  grpc::Status s = limiter.Admit(Notice("anna"), &retry, kT0);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(retry, 30);
  EXPECT_NE(s.error_message().find("to /civitas.noticeboard.v1.NoticeboardService/CreateNotice"),
            std::string::npos)
      << s.error_message();
  static const auto* thank = Method(kBoard, "ThankNotice");
  WriteRateLimiter::Call other = Notice("anna");
  other.method_path = "/civitas.noticeboard.v1.NoticeboardService/ThankNotice";
  other.method = thank;
  EXPECT_TRUE(limiter.Admit(other, &retry, kT0).ok()) << "other methods keep the shared limit";
}

TEST(WriteRateLimiterTest, TheBucketTableStaysBounded) {
  WriteRateConfig c;
  c.per_subject = {60, 10};
  c.max_buckets = 160;  // 10 per shard
  WriteRateLimiter limiter(c);
  int64_t retry = 0;
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE(limiter.Admit(Notice("user" + std::to_string(i)), &retry, kT0 + i).ok()) << i;
    ASSERT_LE(limiter.buckets(), 160u) << i;
  }
  // Idle buckets that refilled are the first to go.
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(
        limiter.Admit(Notice("late" + std::to_string(i)), &retry, kT0 + 3'600'000'000).ok());
  }
  EXPECT_LE(limiter.buckets(), 160u);
  // A subject that is being limited keeps its state while idle buckets come and go.
  for (int i = 0; i < 10; ++i) limiter.Admit(Notice("flooder"), &retry, kT0 + 3'600'000'001);
  EXPECT_FALSE(limiter.Admit(Notice("flooder"), &retry, kT0 + 3'600'000'001).ok());
}

}  // namespace
}  // namespace civitas::gateway
