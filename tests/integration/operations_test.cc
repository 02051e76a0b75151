// The operator's view: HTTP probes and metrics with real HTTP clients (curl, Python's urllib),
// the access log, and readiness during a drain.
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
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
  # One citizen writes without pause while a backup runs.
  write_rate: {per_subject: {per_minute: 0}}
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

// GET with curl; returns "<status>\n<body>". /metrics is asked on the metrics listener.
std::string Curl(const GatewayProcess& gw, const std::string& path, int port = 0) {
  if (port == 0) port = path == "/metrics" ? gw.metrics_port() : gw.http_port();
  std::string out;
  RunCommand({"curl", "-s", "-w", "\n%{http_code}", absl::StrCat("http://127.0.0.1:", port, path)},
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
  // Metrics only on their own listener, never next to the public API.
  ASSERT_GT(gw->metrics_port(), 0);
  EXPECT_NE(Curl(*gw, "/metrics", gw->http_port()).find("\n404"), std::string::npos);
  EXPECT_EQ(Curl(*gw, "/readyz", gw->metrics_port()), "ready\n\n200");
  std::string out;
  ASSERT_EQ(RunCommand({"/usr/bin/python3", "-c",
                        absl::StrCat("import urllib.request as u; r = u.urlopen('http://127.0.0.1:",
                                     gw->metrics_port(),
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

  // Three writes in dortmund, each answered after a WAL sync (group commit).
  auto counter = civitas::testing::v1::PlacesService::NewStub(gw->channel());
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "dortmund");
    civitas::testing::v1::IncrementResponse resp;
    ASSERT_TRUE(counter->Increment(&ctx, civitas::testing::v1::IncrementRequest(), &resp).ok());
  }

  const std::string metrics = Curl(*gw, "/metrics");
  EXPECT_NE(metrics.find("civitas_durable_writes_total{city=\"dortmund\"} 3\n"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("civitas_durable_writes_total{city=\"schwerte\"} 0\n"), std::string::npos);
  // One after the other, so each write had a sync of its own.
  EXPECT_NE(metrics.find("civitas_wal_syncs_total{city=\"dortmund\"} 3\n"), std::string::npos);
  // Memory the storage holds: the dortmund writes are in its memtable, which is in the cache.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      metrics, m, std::regex("civitas_memtable_bytes\\{city=\"dortmund\"\\} ([0-9]+)")));
  EXPECT_GT(std::stoull(m[1]), 0u);
  ASSERT_TRUE(std::regex_search(metrics, m, std::regex("civitas_block_cache_bytes ([0-9]+)")));
  EXPECT_GT(std::stoull(m[1]), 0u);
  EXPECT_NE(metrics.find("civitas_table_reader_bytes{city=\"schwerte\"} "), std::string::npos);
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

TEST(OperationsTest, BackupWhileServingAndRestoreIntoAFreshInstance) {
  const std::string dir = NewTempDir("gw");
  TestKeys keys(dir);
  auto gw = GatewayProcess::Start(dir, kConfig);
  ASSERT_NE(gw, nullptr);
  auto board = nb::NoticeboardService::NewStub(gw->channel());
  const std::string token = keys.Mint("anna", "dortmund", {});
  auto create = [&](const std::string& title) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "dortmund", token);
    nb::CreateNoticeRequest req;
    req.mutable_notice()->set_title(title);
    nb::Notice out;
    EXPECT_TRUE(board->CreateNotice(&ctx, req, &out).ok());
    return out;
  };
  nb::Notice first = create("vor dem Backup 0");
  for (int i = 1; i < 20; ++i) create("vor dem Backup " + std::to_string(i));
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "dortmund", token);
    nb::ThankNoticeRequest thank;
    thank.set_name(first.name());
    nb::Notice out;
    ASSERT_TRUE(board->ThankNotice(&ctx, thank, &out).ok());
  }
  // Writes keep coming while the backup runs.
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) create("während des Backups " + std::to_string(i));
  });
  const std::vector<std::string> at = {"--admin-socket", gw->admin_socket()};
  std::string out;
  auto ctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), CtlBinary());
    args.insert(args.end(), at.begin(), at.end());
    return RunCommand(args, &out);
  };
  ASSERT_EQ(ctl({"backup", "create", "--city", "dortmund"}), 0) << out;
  stop = true;
  writer.join();
  EXPECT_NE(out.find("backup 1 of city dortmund"), std::string::npos) << out;
  for (int i = 0; i < 5; ++i) create("nach dem Backup " + std::to_string(i));
  ASSERT_EQ(ctl({"backup", "create", "--city", "dortmund"}), 0) << out;
  ASSERT_EQ(ctl({"backup", "list", "--city", "dortmund"}), 0) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex("^1\t.*\n2\t"))) << out;
  ASSERT_EQ(ctl({"backup", "verify", "--city", "dortmund", "--id", "1"}), 0) << out;

  // Restore backup 1 into a fresh instance: the city as it was then.
  const std::string fresh = NewTempDir("fresh");
  TestKeys fresh_keys(fresh);
  const std::string backups = dir + "/data/backups/dortmund";
  ASSERT_EQ(RunCommand({CtlBinary(), "backup", "restore", "--city", "dortmund", "--backup-dir",
                        backups, "--id", "1", "--data-dir", fresh + "/data"},
                       &out),
            0)
      << out;
  auto restored = GatewayProcess::Start(fresh, kConfig);
  ASSERT_NE(restored, nullptr);
  auto restored_board = nb::NoticeboardService::NewStub(restored->channel());
  std::set<std::string> titles;
  std::string page_token;
  do {
    grpc::ClientContext ctx;
    Prepare(&ctx, "dortmund");
    nb::ListNoticesRequest req;
    req.set_page_size(100);
    req.set_page_token(page_token);
    nb::ListNoticesResponse resp;
    ASSERT_TRUE(restored_board->ListNotices(&ctx, req, &resp).ok());
    for (const auto& n : resp.notices()) titles.insert(n.title());
    page_token = resp.next_page_token();
  } while (!page_token.empty());
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(titles.count("vor dem Backup " + std::to_string(i)));
  for (const std::string& t : titles) EXPECT_EQ(t.find("nach dem Backup"), std::string::npos) << t;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "dortmund");
    nb::GetNoticeRequest get;
    get.set_name(first.name());
    nb::Notice n;
    ASSERT_TRUE(restored_board->GetNotice(&ctx, get, &n).ok());
    EXPECT_EQ(n.thanks_count(), 3);
  }

  // Never over a live database without being told.
  EXPECT_NE(RunCommand({CtlBinary(), "backup", "restore", "--city", "dortmund", "--backup-dir",
                        backups, "--data-dir", fresh + "/data"},
                       &out),
            0);
  EXPECT_NE(out.find("already holds a database"), std::string::npos) << out;

  // Damaged backup files are found by verify (every table file, so backup 1's are among them).
  int damaged = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(backups)) {
    if (entry.is_regular_file() && entry.path().extension() == ".sst" && entry.file_size() > 100) {
      std::fstream f(entry.path(), std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(50);
      const char c = static_cast<char>(f.get());
      f.seekp(50);
      f.put(static_cast<char>(c ^ 0x5a));
      ++damaged;
    }
  }
  ASSERT_GT(damaged, 0);
  EXPECT_NE(ctl({"backup", "verify", "--city", "dortmund", "--id", "1"}), 0);
  EXPECT_NE(out.find("damaged"), std::string::npos) << out;
}

TEST(OperationsTest, CitiesAreAddedExportedAndDeletedWhileServing) {
  const std::string dir = NewTempDir("gw");
  TestKeys keys(dir);
  const std::string config = R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: jwks.json
cities:
  - id: dortmund
    modules:
      - id: civitas.noticeboard
)";
  auto gw = GatewayProcess::Start(dir, config);
  ASSERT_NE(gw, nullptr);
  std::string out;
  auto ctl = [&](const GatewayProcess& g, std::vector<std::string> args) {
    args.insert(args.begin(), CtlBinary());
    args.push_back("--admin-socket");
    args.push_back(g.admin_socket());
    return RunCommand(args, &out);
  };
  std::ofstream(dir + "/hagen.yaml")
      << "id: hagen\ndisplay_name: Stadt Hagen\nmodules:\n  - id: civitas.noticeboard\n";
  ASSERT_EQ(ctl(*gw, {"city", "create", "--file", dir + "/hagen.yaml"}), 0) << out;
  EXPECT_NE(out.find("added city hagen (Stadt Hagen) with 1 modules"), std::string::npos) << out;
  EXPECT_NE(ctl(*gw, {"city", "create", "--file", dir + "/hagen.yaml"}), 0);
  EXPECT_NE(out.find("already hosted"), std::string::npos) << out;

  auto notices = [&](const GatewayProcess& g, const std::string& city) {
    auto board = nb::NoticeboardService::NewStub(g.channel());
    grpc::ClientContext ctx;
    Prepare(&ctx, city);
    nb::ListNoticesResponse resp;
    grpc::Status s = board->ListNotices(&ctx, nb::ListNoticesRequest(), &resp);
    return s.ok() ? resp.notices_size() : -static_cast<int>(s.error_code());
  };
  {
    auto board = nb::NoticeboardService::NewStub(gw->channel());
    grpc::ClientContext ctx;
    Prepare(&ctx, "hagen", keys.Mint("anna", "hagen", {}));
    nb::CreateNoticeRequest req;
    req.mutable_notice()->set_title("Hagen ist dabei");
    nb::Notice n;
    ASSERT_TRUE(board->CreateNotice(&ctx, req, &n).ok());
  }
  EXPECT_EQ(notices(*gw, "hagen"), 1);
  EXPECT_EQ(notices(*gw, "dortmund"), 0);

  // Back after a restart.
  ASSERT_EQ(gw->Terminate(), 0);
  gw = GatewayProcess::Start(dir, config);
  ASSERT_NE(gw, nullptr);
  EXPECT_EQ(notices(*gw, "hagen"), 1);

  // Export, and restore on another instance.
  ASSERT_EQ(ctl(*gw, {"city", "export", "--city", "hagen", "--to", dir + "/hagen-export"}), 0)
      << out;
  const std::string other = NewTempDir("other");
  TestKeys other_keys(other);
  ASSERT_EQ(RunCommand({CtlBinary(), "backup", "restore", "--city", "hagen", "--backup-dir",
                        dir + "/hagen-export", "--data-dir", other + "/data"},
                       &out),
            0)
      << out;
  auto moved = GatewayProcess::Start(other, R"(
data_dir: {dir}/data
module_dir: {modules}
cities:
  - id: hagen
    modules:
      - id: civitas.noticeboard
)");
  ASSERT_NE(moved, nullptr);
  EXPECT_EQ(notices(*moved, "hagen"), 1);

  // Deleting needs the city's name twice, and only runtime cities can be deleted this way.
  EXPECT_NE(ctl(*gw, {"city", "delete", "--city", "hagen"}), 0);
  EXPECT_NE(out.find("set confirm to 'hagen'"), std::string::npos) << out;
  EXPECT_NE(ctl(*gw, {"city", "delete", "--city", "dortmund", "--confirm", "dortmund"}), 0);
  EXPECT_NE(out.find("comes from the config file"), std::string::npos) << out;
  ASSERT_EQ(ctl(*gw, {"city", "delete", "--city", "hagen", "--confirm", "hagen"}), 0) << out;
  EXPECT_FALSE(std::filesystem::exists(dir + "/data/cities/hagen"));
  EXPECT_EQ(notices(*gw, "hagen"), -static_cast<int>(grpc::StatusCode::NOT_FOUND));
  EXPECT_EQ(notices(*gw, "dortmund"), 0) << "the other city keeps serving";
  ASSERT_EQ(gw->Terminate(), 0);
  gw = GatewayProcess::Start(dir, config);
  ASSERT_NE(gw, nullptr);
  EXPECT_EQ(notices(*gw, "hagen"), -static_cast<int>(grpc::StatusCode::NOT_FOUND));
}

}  // namespace
}  // namespace civitas::testing
