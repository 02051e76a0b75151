// The pure parts of the HTTP side's defences: UTF-8 scrubbing of error text, and the
// connection cap's share of the descriptor limit.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include "services/gateway/gateway.h"
#include "services/gateway/http_transcoder.h"

namespace civitas::gateway {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";

TEST(ScrubUtf8Test, KeepsValidText) {
  EXPECT_EQ(ScrubUtf8("plain ascii"), "plain ascii");
  EXPECT_EQ(ScrubUtf8("Gr\xC3\xBC\xC3\x9F"
                      "e \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "Gr\xC3\xBC\xC3\x9F"
            "e \xE2\x82\xAC \xF0\x9F\x98\x80");
  EXPECT_EQ(ScrubUtf8(std::string("a\0b", 3)), std::string("a\0b", 3));
}

TEST(ScrubUtf8Test, ReplacesEachBadByte) {
  const std::string r = kReplacement;
  EXPECT_EQ(ScrubUtf8("\xFF"), r);
  EXPECT_EQ(ScrubUtf8("a\x80z"), "a" + r + "z");            // lone continuation byte
  EXPECT_EQ(ScrubUtf8("\xC0\xAF"), r + r);                  // overlong '/'
  EXPECT_EQ(ScrubUtf8("\xE0\x80\xAF"), r + r + r);          // overlong, three bytes
  EXPECT_EQ(ScrubUtf8("\xED\xA0\x80"), r + r + r);          // UTF-16 surrogate
  EXPECT_EQ(ScrubUtf8("\xF4\x90\x80\x80"), r + r + r + r);  // past U+10FFFF
  EXPECT_EQ(ScrubUtf8("x\xE2\x82"), "x" + r + r);           // cut short at the end
  EXPECT_EQ(ScrubUtf8("\xE2\x82"
                      "a"),
            r + r + "a");  // cut short by ASCII
}

TEST(JsonErrorTest, MessageWithInvalidBytesIsValidJson) {
  HttpResponse r = JsonError(grpc::StatusCode::NOT_FOUND, "no method is mapped to /v1/\xFF\"x");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body,
            std::string("{\"error\":{\"code\":404,\"status\":\"NOT_FOUND\",\"message\":"
                        "\"no method is mapped to /v1/") +
                kReplacement +
                "\\\"x\",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\","
                "\"reason\":\"NOT_FOUND\",\"domain\":\"civitas.city\"}]}}\n");
}

TEST(HttpLimitsTest, ConnectionCapLeavesThreeQuartersOfTheDescriptors) {
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  low.rlim_cur = 200;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  LimitsConfig limits;
  HttpLimits h = HttpLimitsOf(limits);
  EXPECT_EQ(h.max_connections, 50u);
  EXPECT_EQ(h.max_body_bytes, limits.max_request_bytes);
  EXPECT_EQ(h.max_header_bytes, 8u << 10);
  EXPECT_EQ(h.max_url_bytes, 4u << 10);
  EXPECT_EQ(h.body_buffer_bytes, 64u << 20);
  limits.http_max_connections = 10;
  EXPECT_EQ(HttpLimitsOf(limits).max_connections, 10u);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
}

}  // namespace
}  // namespace civitas::gateway
