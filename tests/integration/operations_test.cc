// The operator's view: HTTP probes and metrics with real HTTP clients (curl, Python's urllib),
// the access log, and readiness during a drain.
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <regex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "civitas/noticeboard/v1/noticeboard.grpc.pb.h"
#include "civitas/testing/v1/places.grpc.pb.h"
#include "tests/integration/gateway_process.h"

namespace civitas::testing {
namespace {

namespace nb = civitas::noticeboard::v1;

constexpr char kConfig[] = R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: jwks.json
limits:
  drain_seconds: 10
cities:
  - id: dortmund
    modules:
      - id: civitas.noticeboard
      - id: civitas.testing.places
        path: {fixtures}/civitas.testing.places.so
  - id: schwerte
    modules:
      - id: civitas.noticeboard
)";

// GET with curl; returns "<status>\n<body>".
std::string Curl(const GatewayProcess& gw, const std::string& path) {
  std::string out;
  RunCommand({"curl", "-s", "-w", "\n%{http_code}",
              absl::StrCat("http://127.0.0.1:", gw.http_port(), path)},
             &out);
  return out;
}

TEST(OperationsTest, ProbesAnswerWithRealHttpClients) {
  const std::string dir = NewTempDir("gw");
  TestKeys keys(dir);
  auto gw = GatewayProcess::Start(dir, kConfig);
  ASSERT_NE(gw, nullptr);
  ASSERT_GT(gw->http_port(), 0);
  EXPECT_EQ(Curl(*gw, "/healthz"), "ok\n\n200");
  EXPECT_EQ(Curl(*gw, "/readyz"), "ready\n\n200");
  EXPECT_NE(Curl(*gw, "/nope").find("404"), std::string::npos);
  std::string out;
  ASSERT_EQ(RunCommand({"/usr/bin/python3", "-c",
                        absl::StrCat("import urllib.request as u; r = u.urlopen('http://127.0.0.1:",
                                     gw->http_port(),
                                     "/metrics'); print(r.status, r.headers['Content-Type'])")},
                       &out),
            0)
      << out;
  EXPECT_EQ(out, "200 text/plain; version=0.0.4; charset=utf-8\n");
}

TEST(OperationsTest, MetricsCountRealMethodsAndNeverClientChosenNames) {
  const std::string dir = NewTempDir("gw");
  TestKeys keys(dir);
  auto gw = GatewayProcess::Start(dir, kConfig);
  ASSERT_NE(gw, nullptr);
  auto board = nb::NoticeboardService::NewStub(gw->channel());
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "dortmund");
    ctx.AddMetadata("x-request-id", "req-" + std::to_string(i));
    nb::ListNoticesResponse resp;
    ASSERT_TRUE(board->ListNotices(&ctx, nb::ListNoticesRequest(), &resp).ok());
  }
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "dortmund", keys.Mint("anna@example.org", "dortmund", {}));
    nb::GetNoticeRequest get;
    get.set_name("notices/00000000000000000000");
    nb::Notice n;
    EXPECT_EQ(board->GetNotice(&ctx, get, &n).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  // Invented city and method: answered, counted, but never named in a label.
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "atlantis-xyz");
    nb::ListNoticesResponse resp;
    EXPECT_EQ(board->ListNotices(&ctx, nb::ListNoticesRequest(), &resp).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  grpc::GenericStub generic(gw->channel());
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "dortmund");
    grpc::CompletionQueue cq;
    grpc::ByteBuffer request, reply;
    auto call = generic.PrepareUnaryCall(&ctx, "/evil.v1.Invented/Method12345", request, &cq);
    call->StartCall();
    grpc::Status status;
    call->Finish(&reply, &status, reinterpret_cast<void*>(1));
    void* tag;
    bool ok;
    cq.Next(&tag, &ok);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  }

  const std::string metrics = Curl(*gw, "/metrics");
  const std::string list =
      "city=\"dortmund\",method=\"/civitas.noticeboard.v1.NoticeboardService/ListNotices\"";
  EXPECT_NE(metrics.find("civitas_calls_total{" + list + ",code=\"OK\"} 3"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("civitas_calls_total{city=\"dortmund\",method=\"/civitas.noticeboard.v1."
                         "NoticeboardService/GetNotice\",code=\"NOT_FOUND\"} 1"),
            std::string::npos);
  EXPECT_NE(metrics.find("civitas_call_duration_seconds_count{" + list + "} 3"), std::string::npos);
  EXPECT_NE(metrics.find("civitas_call_duration_seconds_bucket{" + list + ",le=\"+Inf\"} 3"),
            std::string::npos);
  EXPECT_NE(metrics.find("civitas_rejected_calls_total{code=\"NOT_FOUND\"} 1"), std::string::npos);
  EXPECT_NE(metrics.find("civitas_rejected_calls_total{code=\"UNIMPLEMENTED\"} 1"),
            std::string::npos);
  EXPECT_NE(metrics.find("civitas_module_up{city=\"schwerte\",module=\"civitas.noticeboard\","
                         "version=\"1.0.0\"} 1"),
            std::string::npos);
  EXPECT_EQ(metrics.find("atlantis"), std::string::npos);
  EXPECT_EQ(metrics.find("evil"), std::string::npos);
  EXPECT_EQ(metrics.find("Invented"), std::string::npos);

  // The access log: one JSON line per call, with the request id, and the caller only as a hash.
  const std::string log = gw->log();
  EXPECT_TRUE(std::regex_search(
      log,
      std::regex(
          R"(\{"ts":"[^"]+","level":"info","msg":"call","request_id":"req-2","city":"dortmund","method":"/civitas.noticeboard.v1.NoticeboardService/ListNotices","code":"OK","latency_ms":"[0-9.]+","subject":""\})")))
      << log;
  EXPECT_TRUE(std::regex_search(
      log, std::regex(R"("code":"NOT_FOUND","latency_ms":"[0-9.]+","subject":"[0-9a-f]{16}")")))
      << log;
  EXPECT_EQ(log.find("anna@example.org"), std::string::npos) << "subjects are not logged";
}

TEST(OperationsTest, ReadinessFailsWhileDraining) {
  const std::string dir = NewTempDir("gw");
  TestKeys keys(dir);
  auto gw = GatewayProcess::Start(dir, kConfig);
  ASSERT_NE(gw, nullptr);
  auto places = civitas::testing::v1::PlacesService::NewStub(gw->channel());
  grpc::Status slow;
  std::thread call([&] {
    grpc::ClientContext ctx;
    Prepare(&ctx, "dortmund");
    civitas::testing::v1::SleepRequest req;
    req.set_millis(1500);
    civitas::testing::v1::SleepResponse resp;
    slow = places->Sleep(&ctx, req, &resp);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  gw->Signal(SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Curl(*gw, "/readyz"), "draining\n\n503");
  EXPECT_EQ(Curl(*gw, "/healthz"), "ok\n\n200") << "alive while draining";
  call.join();
  EXPECT_TRUE(slow.ok()) << slow.error_message();
  EXPECT_EQ(gw->Wait(), 0);
}

}  // namespace
}  // namespace civitas::testing
