#include "services/gateway/status_details.h"

#include <gtest/gtest.h>

#include "civitas/error_reason.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "services/gateway/http_transcoder.h"

namespace civitas::gateway {
namespace {

google::rpc::Status Details(const grpc::Status& s) {
  google::rpc::Status d;
  EXPECT_TRUE(d.ParseFromString(s.error_details()));
  return d;
}

TEST(ErrorReasonTest, SplitsOnlyAWellFormedPrefix) {
  auto split = SplitErrorReason("[ETAG_MISMATCH] etag 'x' is stale");
  EXPECT_EQ(split.reason, "ETAG_MISMATCH");
  EXPECT_EQ(split.message, "etag 'x' is stale");
  for (const char* plain : {"etag 'x' is stale", "[etag] lower case", "[A] too short",
                            "[NO_SPACE]after", "[TRAILING_] underscore", "[1ST] digit first",
                            "[UNCLOSED no bracket", "[] empty", "[OK]"}) {
    auto s = SplitErrorReason(plain);
    EXPECT_EQ(s.reason, "") << plain;
    EXPECT_EQ(s.message, plain);
  }
  EXPECT_EQ(WithErrorReason("EVENT_FULL", "no seats left"), "[EVENT_FULL] no seats left");
  EXPECT_EQ(WithErrorReason("", "no seats left"), "no seats left");
  EXPECT_EQ(SplitErrorReason(WithErrorReason("EVENT_FULL", "[X] y")).message, "[X] y");
}

TEST(StatusDetailsTest, GatewayErrorCarriesErrorInfoAndRetryInfo) {
  grpc::Status s = GatewayError(grpc::StatusCode::RESOURCE_EXHAUSTED, "too many writes",
                                "WRITE_RATE_LIMITED", {{"limited", "account"}, {"empty", ""}}, 7);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(s.error_message(), "too many writes");
  google::rpc::Status d = Details(s);
  EXPECT_EQ(d.code(), 8);
  EXPECT_EQ(d.message(), "too many writes");
  ASSERT_EQ(d.details_size(), 2);
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(d.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "WRITE_RATE_LIMITED");
  EXPECT_EQ(info.domain(), "civitas.city");
  EXPECT_EQ(info.metadata().at("limited"), "account");
  EXPECT_FALSE(info.metadata().contains("empty"));  // empty values are left out
  google::rpc::RetryInfo retry;
  ASSERT_TRUE(d.details(1).UnpackTo(&retry));
  EXPECT_EQ(retry.retry_delay().seconds(), 7);
}

TEST(StatusDetailsTest, ModuleReasonComesFromThePrefixInTheModulesDomain) {
  grpc::Status s = ModuleError(grpc::StatusCode::ABORTED, "[ETAG_MISMATCH] etag 'x' is stale",
                               "civitas.news", "/civitas.news.v1.NewsService/UpdateArticle");
  EXPECT_EQ(s.error_message(), "etag 'x' is stale");
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(Details(s).details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "ETAG_MISMATCH");
  EXPECT_EQ(info.domain(), "civitas.news");
  EXPECT_EQ(info.metadata().at("method"), "/civitas.news.v1.NewsService/UpdateArticle");

  // A module that names no reason (any module built before the convention): the code's name.
  grpc::Status old = ModuleError(grpc::StatusCode::NOT_FOUND, "article 'a' does not exist",
                                 "civitas.news", "/civitas.news.v1.NewsService/GetArticle");
  EXPECT_EQ(old.error_message(), "article 'a' does not exist");
  EXPECT_EQ(ErrorReasonOf(old), "NOT_FOUND");
  // No message at all: the method failed.
  EXPECT_EQ(ModuleError(grpc::StatusCode::INTERNAL, "", "m.x", "/a.B/C").error_message(),
            "/a.B/C failed");
}

TEST(StatusDetailsTest, EveryErrorGetsOneErrorInfoAndKeepsOneItHas) {
  EXPECT_TRUE(EnsureErrorInfo(grpc::Status::OK).ok());
  EXPECT_TRUE(EnsureErrorInfo(grpc::Status::OK).error_details().empty());
  grpc::Status plain = EnsureErrorInfo(grpc::Status(grpc::StatusCode::UNAVAILABLE, "later"));
  EXPECT_EQ(ErrorReasonOf(plain), "UNAVAILABLE");
  grpc::Status named = GatewayError(grpc::StatusCode::NOT_FOUND, "no", "CITY_NOT_FOUND");
  EXPECT_EQ(EnsureErrorInfo(named).error_details(), named.error_details());
  EXPECT_EQ(Details(EnsureErrorInfo(named)).details_size(), 1);
}

TEST(StatusDetailsTest, HttpErrorBodyCarriesTheSameDetails) {
  HttpResponse r = JsonError(GatewayError(grpc::StatusCode::RESOURCE_EXHAUSTED, "slow down",
                                          "WRITE_RATE_LIMITED", {{"limited", "account"}}, 3));
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.body,
            "{\"error\":{\"code\":429,\"status\":\"RESOURCE_EXHAUSTED\",\"message\":\"slow down\","
            "\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\","
            "\"reason\":\"WRITE_RATE_LIMITED\",\"domain\":\"civitas.city\","
            "\"metadata\":{\"limited\":\"account\"}},"
            "{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"3s\"}]}}\n");
  // A status without details gets the fallback.
  HttpResponse plain = JsonError(grpc::StatusCode::NOT_FOUND, "gone");
  EXPECT_NE(plain.body.find("\"reason\":\"NOT_FOUND\",\"domain\":\"civitas.city\""),
            std::string::npos)
      << plain.body;
}

}  // namespace
}  // namespace civitas::gateway
