// The gateway as a process: restart with its data, drain on SIGTERM, port clashes, config checks,
// health and reflection, the embedded demo and civitasctl against it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "civitas/abi.h"
#include "civitas/gateway/v1/admin.grpc.pb.h"
#include "civitas/noticeboard/v1/noticeboard.grpc.pb.h"
#include "civitas/testing/v1/places.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/integration/gateway_process.h"

namespace civitas::testing {
namespace {

namespace nb = civitas::noticeboard::v1;
namespace places = civitas::testing::v1;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

constexpr char kOneCity[] = R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: {dir}/jwks.json
limits:
  drain_seconds: 5
cities:
  - id: witten
    modules:
      - id: civitas.noticeboard
      - id: civitas.testing.places
        path: {fixtures}/civitas.testing.places.so
)";

TEST(LifecycleTest, DataSurvivesRestart) {
  const std::string dir = NewTempDir("gw");
  TestKeys keys(dir);
  std::string name;
  {
    auto gw = GatewayProcess::Start(dir, kOneCity);
    ASSERT_NE(gw, nullptr);
    auto board = nb::NoticeboardService::NewStub(gw->channel());
    grpc::ClientContext ctx;
    Prepare(&ctx, "", keys.Mint("anna", "witten", {}));
    nb::CreateNoticeRequest req;
    req.mutable_notice()->set_title("Flohmarkt am Sonntag");
    nb::Notice out;
    ASSERT_TRUE(board->CreateNotice(&ctx, req, &out).ok());
    name = out.name();
    for (int i = 0; i < 2; ++i) {
      grpc::ClientContext c;
      Prepare(&c, "", keys.Mint("ben", "witten", {}));
      nb::ThankNoticeRequest thank;
      thank.set_name(name);
      ASSERT_TRUE(board->ThankNotice(&c, thank, &out).ok());
    }
    EXPECT_EQ(gw->Terminate(), 0) << gw->log();
    EXPECT_NE(gw->log().find("\"msg\":\"stopped\""), std::string::npos);
  }
  auto gw = GatewayProcess::Start(dir, kOneCity);
  ASSERT_NE(gw, nullptr);
  auto board = nb::NoticeboardService::NewStub(gw->channel());
  grpc::ClientContext ctx;
  Prepare(&ctx);
  nb::GetNoticeRequest get;
  get.set_name(name);
  nb::Notice notice;
  ASSERT_TRUE(board->GetNotice(&ctx, get, &notice).ok());
  EXPECT_EQ(notice.title(), "Flohmarkt am Sonntag");
  EXPECT_EQ(notice.thanks_count(), 2);
}

TEST(LifecycleTest, SigtermLetsCallsInFlightFinishThenExits) {
  const std::string dir = NewTempDir("gw");
  TestKeys keys(dir);
  auto gw = GatewayProcess::Start(dir, kOneCity);
  ASSERT_NE(gw, nullptr);
  auto stub = places::PlacesService::NewStub(gw->channel());
  grpc::Status slow_status;
  places::SleepResponse slow_response;
  std::thread slow([&] {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    places::SleepRequest req;
    req.set_millis(1000);
    slow_status = stub->Sleep(&ctx, req, &slow_response);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(gw->Terminate(), 0);
  slow.join();
  EXPECT_TRUE(slow_status.ok()) << slow_status.error_message();
  EXPECT_TRUE(slow_response.completed());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(LifecycleTest, WatchStreamsEndWithUnavailableOnShutdown) {
  const std::string dir = NewTempDir("gw");
  TestKeys keys(dir);
  auto gw = GatewayProcess::Start(dir, kOneCity);
  ASSERT_NE(gw, nullptr);
  auto board = nb::NoticeboardService::NewStub(gw->channel());
  grpc::ClientContext ctx;
  Prepare(&ctx, "", "", absl::Seconds(30));
  auto reader = board->WatchNotices(&ctx, nb::WatchNoticesRequest());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(gw->Terminate(), 0);
  nb::Notice n;
  while (reader->Read(&n)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
}

constexpr char kTwoCities[] = R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: {dir}/jwks.json
limits:
  write_rate: {per_subject: {per_minute: 0}}
logging:
  access_log: false
cities:
  - id: witten
    modules:
      - id: civitas.noticeboard
)";

// Deleting a city while its module is busy (a live stream, writers) closes its store under no
// one: the stream ends, the writers get an answer, and the other city serves on. Under ASan a
// module instance left holding the closed store would be a use after free here.
TEST(LifecycleTest, DeletingABusyCityLeavesNothingOnItsClosedStore) {
  const std::string dir = NewTempDir("gw");
  TestKeys keys(dir);
  auto gw = GatewayProcess::Start(dir, kTwoCities);
  ASSERT_NE(gw, nullptr);
  auto board = nb::NoticeboardService::NewStub(gw->channel());
  auto admin = civitas::gateway::v1::AdminService::NewStub(gw->admin_channel());
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    civitas::gateway::v1::CreateCityRequest create;
    create.set_city_yaml("id: herne\nmodules:\n  - id: civitas.noticeboard\n");
    civitas::gateway::v1::City city;
    grpc::Status s = admin->CreateCity(&ctx, create, &city);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  const std::string citizen = keys.Mint("anna", "*", {});
  grpc::ClientContext watch;
  Prepare(&watch, "herne", "", absl::Seconds(30));
  auto reader = board->WatchNotices(&watch, nb::WatchNoticesRequest());
  std::atomic<bool> stop{false};
  std::atomic<int> written{0}, refused{0};
  std::thread writer([&] {
    while (!stop.load()) {
      grpc::ClientContext ctx;
      Prepare(&ctx, "herne", citizen);
      nb::CreateNoticeRequest req;
      req.mutable_notice()->set_title("Fundsache am Bahnhof");
      nb::Notice out;
      (board->CreateNotice(&ctx, req, &out).ok() ? written : refused)++;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  grpc::ClientContext ctx;
  Prepare(&ctx);
  civitas::gateway::v1::DeleteCityRequest del;
  del.set_name("cities/herne");
  del.set_confirm("herne");
  civitas::gateway::v1::DeleteCityResponse deleted;
  grpc::Status s = admin->DeleteCity(&ctx, del, &deleted);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop = true;
  writer.join();
  ASSERT_TRUE(s.ok()) << s.error_message() << "\n" << gw->log();
  EXPECT_GT(written.load(), 0) << "the writers reached the city before it went";
  EXPECT_GT(refused.load(), 0) << "and were answered after";
  nb::Notice n;
  while (reader->Read(&n)) {
  }
  EXPECT_NE(reader->Finish().error_code(), grpc::StatusCode::OK) << "the stream ended";

  grpc::ClientContext gone;
  Prepare(&gone, "herne");
  nb::ListNoticesResponse list;
  EXPECT_EQ(board->ListNotices(&gone, nb::ListNoticesRequest(), &list).error_code(),
            grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext other;
  Prepare(&other, "witten", citizen);
  nb::CreateNoticeRequest req;
  req.mutable_notice()->set_title("Noch da");
  nb::Notice out;
  EXPECT_TRUE(board->CreateNotice(&other, req, &out).ok()) << "the other city serves on";
  EXPECT_TRUE(gw->running());
  EXPECT_EQ(gw->Terminate(), 0) << gw->log();
}

TEST(LifecycleTest, APortClashFailsLoudly) {
  const std::string dir = NewTempDir("gw");
  TestKeys keys(dir);
  auto first = GatewayProcess::Start(dir, kOneCity);
  ASSERT_NE(first, nullptr);
  const std::string dir2 = NewTempDir("gw2");
  TestKeys keys2(dir2);
  std::ofstream(dir2 + "/gateway.yaml") << absl::StrReplaceAll(
      kOneCity, {{"{dir}", dir2}, {"{modules}", ModuleDir()}, {"{fixtures}", FixtureDir()}});
  std::string output;
  int rc =
      RunCommand({GatewayBinary(), "--config", dir2 + "/gateway.yaml", "--listen", first->target(),
                  "--http_listen", "127.0.0.1:0", "--metrics_listen", "127.0.0.1:0"},
                 &output);
  EXPECT_NE(rc, 0);
  EXPECT_NE(output.find("cannot listen on " + first->target()), std::string::npos) << output;
}

TEST(LifecycleTest, CheckConfigNamesTheLine) {
  const std::string dir = NewTempDir("cfg");
  std::ofstream(dir + "/bad.yaml") << "cities:\n  - id: witten\n    modulez: []\n";
  std::string output;
  EXPECT_EQ(RunCommand({GatewayBinary(), "--config", dir + "/bad.yaml", "--check-config"}, &output),
            1);
  EXPECT_NE(output.find("bad.yaml:3: cities[0].modulez: unknown key"), std::string::npos) << output;
  std::ofstream(dir + "/good.yaml") << "cities:\n  - id: witten\n";
  EXPECT_EQ(
      RunCommand({GatewayBinary(), "--config", dir + "/good.yaml", "--check_config"}, &output), 0)
      << output;
}

TEST(LifecycleTest, HealthOverallAndPerService) {
  const std::string dir = NewTempDir("gw");
  TestKeys keys(dir);
  auto gw = GatewayProcess::Start(dir, kOneCity);
  ASSERT_NE(gw, nullptr);
  auto health = grpc::health::v1::Health::NewStub(gw->channel());
  auto check = [&](const std::string& service, HealthCheckResponse* resp) {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    HealthCheckRequest req;
    req.set_service(service);
    return health->Check(&ctx, req, resp);
  };
  HealthCheckResponse resp;
  ASSERT_TRUE(check("", &resp).ok());
  EXPECT_EQ(resp.status(), HealthCheckResponse::SERVING);
  ASSERT_TRUE(check("civitas.noticeboard.v1.NoticeboardService", &resp).ok());
  EXPECT_EQ(resp.status(), HealthCheckResponse::SERVING);
  EXPECT_EQ(check("civitas.nothing.v1.Nope", &resp).error_code(), grpc::StatusCode::NOT_FOUND);
}

template <class Stub, class Request, class Response>
std::vector<Response> Reflect(GatewayProcess& gw, const std::vector<Request>& requests) {
  auto stub = Stub::NewStub(gw.channel());
  grpc::ClientContext ctx;
  Prepare(&ctx);
  auto stream = stub->ServerReflectionInfo(&ctx);
  std::vector<Response> out;
  for (const Request& r : requests) {
    EXPECT_TRUE(stream->Write(r));
    Response resp;
    EXPECT_TRUE(stream->Read(&resp));
    out.push_back(resp);
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  return out;
}

TEST(LifecycleTest, ReflectionServesModuleDescriptorsInBothVersions) {
  const std::string dir = NewTempDir("gw");
  TestKeys keys(dir);
  auto gw = GatewayProcess::Start(dir, kOneCity);
  ASSERT_NE(gw, nullptr);
  namespace r1 = grpc::reflection::v1;
  std::vector<r1::ServerReflectionRequest> reqs(4);
  reqs[0].set_list_services("");
  reqs[1].set_file_containing_symbol("civitas.noticeboard.v1.NoticeboardService");
  reqs[2].set_file_by_filename("civitas/type/v1/geo.proto");
  reqs[3].set_file_containing_symbol("no.such.Symbol");
  auto resps =
      Reflect<r1::ServerReflection, r1::ServerReflectionRequest, r1::ServerReflectionResponse>(
          *gw, reqs);
  ASSERT_EQ(resps.size(), 4u);
  std::set<std::string> services;
  for (const auto& s : resps[0].list_services_response().service()) services.insert(s.name());
  EXPECT_TRUE(services.count("civitas.noticeboard.v1.NoticeboardService"));
  EXPECT_TRUE(services.count("civitas.testing.v1.PlacesService"));
  EXPECT_TRUE(services.count("grpc.health.v1.Health"));
  EXPECT_TRUE(services.count("civitas.gateway.v1.AdminService"));

  // The service's file comes with its imports, so a client can build every type.
  std::set<std::string> files;
  for (const auto& bytes : resps[1].file_descriptor_response().file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto f;
    ASSERT_TRUE(f.ParseFromString(bytes));
    files.insert(f.name());
  }
  EXPECT_TRUE(files.count("civitas/noticeboard/v1/noticeboard.proto"));
  EXPECT_TRUE(files.count("civitas/type/v1/geo.proto"));
  EXPECT_TRUE(files.count("google/protobuf/timestamp.proto"));
  EXPECT_EQ(resps[2].file_descriptor_response().file_descriptor_proto_size(), 1);
  EXPECT_EQ(resps[3].error_response().error_code(), grpc::StatusCode::NOT_FOUND);

  namespace ra = grpc::reflection::v1alpha;
  std::vector<ra::ServerReflectionRequest> alpha(1);
  alpha[0].set_list_services("");
  auto alpha_resps =
      Reflect<ra::ServerReflection, ra::ServerReflectionRequest, ra::ServerReflectionResponse>(
          *gw, alpha);
  EXPECT_EQ(alpha_resps[0].list_services_response().service_size(),
            resps[0].list_services_response().service_size());
}

// The README's first command ends in `civitas-gateway` with no config: the embedded demo.
TEST(LifecycleTest, DemoServesSampleDataAndAcceptsCtlTokens) {
  const std::string dir = NewTempDir("demo");
  const std::string port_file = dir + "/port";
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open((dir + "/log").c_str(), O_WRONLY | O_CREAT, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::string bin = GatewayBinary(), data = "--data_dir=" + dir + "/state",
                listen = "--listen=127.0.0.1:0", pf = "--port_file=" + port_file,
                http = "--http_listen=127.0.0.1:0", metrics = "--metrics_listen=127.0.0.1:0";
    char* argv[] = {bin.data(),  data.data(),    listen.data(), pf.data(),
                    http.data(), metrics.data(), nullptr};
    execv(argv[0], argv);
    _exit(127);
  }
  int port = 0;
  for (int i = 0; i < 3000 && port == 0; ++i) {
    std::ifstream(port_file) >> port;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GT(port, 0);
  const std::string target = "127.0.0.1:" + std::to_string(port);
  auto board = nb::NoticeboardService::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    nb::ListNoticesRequest req;
    req.set_page_size(100);
    nb::ListNoticesResponse resp;
    ASSERT_TRUE(board->ListNotices(&ctx, req, &resp).ok());
    EXPECT_GE(resp.notices_size(), 8);
  }
  std::string token, output;
  ASSERT_EQ(RunCommand({CtlBinary(), "token", "mint", "--city", "demo", "--subject", "anna",
                        "--role", "citizen", "--signing-key", dir + "/state/dev-signing-key.pem"},
                       &token),
            0)
      << token;
  token = std::string(absl::StripAsciiWhitespace(token));
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "", token);
    nb::CreateNoticeRequest req;
    req.mutable_notice()->set_title("Fahrrad gefunden");
    nb::Notice out;
    grpc::Status s = board->CreateNotice(&ctx, req, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(out.author(), "anna");
  }
  // The README's way: civitasctl next to the demo's ./state reaches its admin socket, no token.
  ASSERT_EQ(RunCommand({"sh", "-c", "cd '" + dir + "' && " + CtlBinary() + " cities"}, &output), 0)
      << output;
  EXPECT_NE(output.find("demo\tDemo-Stadt"), std::string::npos) << output;
  // Over TCP, even from loopback, administration needs a token.
  EXPECT_NE(RunCommand({CtlBinary(), "cities", "--gateway", target}, &output), 0);
  EXPECT_NE(output.find("UNAUTHENTICATED"), std::string::npos) << output;
  const std::string socket = dir + "/state/admin.sock";
  ASSERT_EQ(
      RunCommand({CtlBinary(), "modules", "--city", "demo", "--admin-socket", socket}, &output), 0)
      << output;
  EXPECT_NE(output.find(absl::StrCat("civitas.noticeboard\t1.0.0\tABI ", CIVITAS_ABI_MAJOR, ".",
                                     CIVITAS_ABI_MINOR, "\tserving\terasure")),
            std::string::npos)
      << output;
  EXPECT_NE(
      RunCommand({CtlBinary(), "modules", "--city", "nowhere", "--admin-socket", socket}, &output),
      0);
  EXPECT_NE(output.find("'nowhere' is not hosted"), std::string::npos) << output;

  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace civitas::testing
