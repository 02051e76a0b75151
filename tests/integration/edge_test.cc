// The edge from deploy/nginx in front of two gateway processes hosting different cities: calls
// reach their city's instance; when one instance stops, its city answers UNAVAILABLE and the
// other keeps serving. nginx is Debian's, started by the test with the shipped routing files.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "civitas/gateway/v1/admin.grpc.pb.h"
#include "civitas/noticeboard/v1/noticeboard.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/integration/gateway_process.h"

namespace civitas::testing {
namespace {

namespace nb = civitas::noticeboard::v1;
namespace fs = std::filesystem;

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

bool Accepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

std::string CityConfig(const std::string& city, const std::string& jwks) {
  return absl::StrCat("data_dir: {dir}/data\nmodule_dir: {modules}\nauth:\n  jwks_file: ", jwks,
                      "\ncities:\n  - id: ", city,
                      "\n    modules:\n      - id: civitas.noticeboard\n");
}

TEST(EdgeTest, NginxRoutesCitiesToTheirInstances) {
  const std::string keys_dir = NewTempDir("keys");
  TestKeys keys(keys_dir);
  auto dortmund =
      GatewayProcess::Start(NewTempDir("dortmund"), CityConfig("dortmund", keys.jwks_path()));
  auto schwerte =
      GatewayProcess::Start(NewTempDir("schwerte"), CityConfig("schwerte", keys.jwks_path()));
  ASSERT_NE(dortmund, nullptr);
  ASSERT_NE(schwerte, nullptr);

  const std::string dir = NewTempDir("nginx");
  fs::create_directories(dir + "/civitas");
  fs::create_directories(dir + "/tmp");
  for (const char* f : {"civitas-limits.conf", "civitas-maps.conf", "civitas-grpc-location.conf"}) {
    fs::copy_file(std::string(CIVITAS_SOURCE_DIR) + "/deploy/nginx/" + f, dir + "/civitas/" + f);
  }
  std::ofstream(dir + "/civitas/cities.map")
      << "dortmund civitas_dortmund;\nschwerte civitas_schwerte;\n";
  std::ofstream(dir + "/civitas/hosts.map") << "app.dortmund.example civitas_dortmund;\n";
  const int edge_port = FreePort();
  std::ofstream(dir + "/nginx.conf") << absl::StrCat(
      "daemon off;\nmaster_process off;\npid ", dir, "/nginx.pid;\nerror_log ", dir,
      "/error.log info;\nevents { worker_connections 256; }\nhttp {\n  access_log off;\n",
      "  client_body_temp_path ", dir, "/tmp/body;\n  proxy_temp_path ", dir, "/tmp/proxy;\n",
      "  fastcgi_temp_path ", dir, "/tmp/fcgi;\n  uwsgi_temp_path ", dir, "/tmp/uwsgi;\n",
      "  scgi_temp_path ", dir, "/tmp/scgi;\n", "  upstream civitas_dortmund { server ",
      dortmund->target(), "; }\n", "  upstream civitas_schwerte { server ", schwerte->target(),
      "; }\n", "  include civitas/civitas-limits.conf;\n  include civitas/civitas-maps.conf;\n",
      "  server {\n    listen 127.0.0.1:", edge_port, " http2;\n",
      "    include civitas/civitas-grpc-location.conf;\n  }\n}\n");
  pid_t nginx = fork();
  if (nginx == 0) {
    int fd = open((dir + "/stderr.log").c_str(), O_WRONLY | O_CREAT, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    execl("/usr/sbin/nginx", "nginx", "-p", (dir + "/").c_str(), "-c",
          (dir + "/nginx.conf").c_str(), nullptr);
    _exit(127);
  }
  for (int i = 0; i < 500 && !Accepts(edge_port); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(Accepts(edge_port)) << "nginx did not start";
  auto edge = nb::NoticeboardService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", edge_port), grpc::InsecureChannelCredentials()));

  auto create = [&](const std::string& city, const std::string& title) {
    grpc::ClientContext ctx;
    Prepare(&ctx, city, keys.Mint("anna", city, {}));
    nb::CreateNoticeRequest req;
    req.mutable_notice()->set_title(title);
    nb::Notice out;
    return edge->CreateNotice(&ctx, req, &out);
  };
  auto list = [&](const std::string& city, nb::ListNoticesResponse* resp) {
    grpc::ClientContext ctx;
    Prepare(&ctx, city);
    return edge->ListNotices(&ctx, nb::ListNoticesRequest(), resp);
  };
  ASSERT_TRUE(create("dortmund", "Dortmund via edge").ok());
  ASSERT_TRUE(create("schwerte", "Schwerte via edge").ok());
  nb::ListNoticesResponse resp;
  ASSERT_TRUE(list("dortmund", &resp).ok());
  ASSERT_EQ(resp.notices_size(), 1);
  EXPECT_EQ(resp.notices(0).title(), "Dortmund via edge");
  resp.Clear();
  ASSERT_TRUE(list("schwerte", &resp).ok());
  ASSERT_EQ(resp.notices_size(), 1);
  EXPECT_EQ(resp.notices(0).title(), "Schwerte via edge");

  // By host name, without metadata.
  {
    grpc::ChannelArguments args;
    args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, "app.dortmund.example");
    auto by_host = nb::NoticeboardService::NewStub(grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", edge_port), grpc::InsecureChannelCredentials(), args));
    grpc::ClientContext ctx;
    Prepare(&ctx);
    nb::ListNoticesResponse r;
    grpc::Status s = by_host->ListNotices(&ctx, nb::ListNoticesRequest(), &r);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(r.notices_size(), 1);
    EXPECT_EQ(r.notices(0).title(), "Dortmund via edge");
  }
  // Administration does not pass the edge, not even with an operator token the instance behind
  // it would accept.
  {
    const std::string operator_token = keys.Mint("ops", "*", {"operator"});
    auto direct = civitas::gateway::v1::AdminService::NewStub(dortmund->channel());
    grpc::ClientContext direct_ctx;
    Prepare(&direct_ctx, "", operator_token);
    civitas::gateway::v1::ListCitiesResponse cities;
    ASSERT_TRUE(
        direct->ListCities(&direct_ctx, civitas::gateway::v1::ListCitiesRequest(), &cities).ok());
    auto via_edge = civitas::gateway::v1::AdminService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", edge_port), grpc::InsecureChannelCredentials()));
    for (const std::string city : {"dortmund", ""}) {
      grpc::ClientContext ctx;
      Prepare(&ctx, city, operator_token);
      grpc::Status s =
          via_edge->ListCities(&ctx, civitas::gateway::v1::ListCitiesRequest(), &cities);
      EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
      EXPECT_NE(s.error_message().find("not reachable through the edge"), std::string::npos)
          << s.error_message();
    }
    // Spelled with an encoded slash, the path is still AdminService's.
    std::string output;
    RunCommand({"curl", "-s", "--http2-prior-knowledge", "-o", "/dev/null", "-D", "-", "-X", "POST",
                "-H", "content-type: application/grpc", "-H", "x-civitas-city: dortmund", "-H",
                "authorization: Bearer " + operator_token,
                absl::StrCat("http://127.0.0.1:", edge_port,
                             "/civitas.gateway.v1.AdminService%2FListCities")},
               &output);
    EXPECT_NE(output.find("grpc-status: 7"), std::string::npos) << output;
  }

  // A city no instance serves.
  resp.Clear();
  grpc::Status unknown = list("atlantis", &resp);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND) << unknown.error_message();
  EXPECT_NE(unknown.error_message().find("no civitas instance serves this city"),
            std::string::npos);

  // Server reflection has no route from outside either (closed unless $civitas_reflection is
  // on); AdminService is refused at the edge above.
  {
    auto reflection = grpc::reflection::v1alpha::ServerReflection::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", edge_port), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    Prepare(&ctx, "dortmund");
    auto stream = reflection->ServerReflectionInfo(&ctx);
    grpc::reflection::v1alpha::ServerReflectionRequest req;
    req.set_list_services("");
    stream->Write(req);
    stream->WritesDone();
    grpc::reflection::v1alpha::ServerReflectionResponse resp;
    EXPECT_FALSE(stream->Read(&resp));
    grpc::Status s = stream->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED) << s.error_message();
  }

  // Per client address, at most a burst of 100 calls passes at once (50 a second after that):
  // a client that hammers the edge is answered RESOURCE_EXHAUSTED, without reaching the gateway.
  {
    // Four clients at once, so the rate is far above 50 a second even on a slow machine.
    std::atomic<int> limited{0}, passed{0};
    std::vector<std::thread> clients;
    for (int t = 0; t < 4; ++t) {
      clients.emplace_back([&] {
        for (int i = 0; i < 250 && limited.load() < 20; ++i) {
          nb::ListNoticesResponse r;
          grpc::Status s = list("dortmund", &r);
          if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
              s.error_message().find("too many calls from this address") != std::string::npos) {
            ++limited;
          } else if (s.ok()) {
            ++passed;
          } else {
            ADD_FAILURE() << "edge answered " << s.error_code() << ": " << s.error_message();
          }
        }
      });
    }
    for (auto& c : clients) c.join();
    EXPECT_GE(limited.load(), 1);
    EXPECT_GE(passed.load(), 50);  // the burst, less what the calls above used
    std::this_thread::sleep_for(std::chrono::seconds(3));  // the bucket refills
  }

  // One instance stops: its city is UNAVAILABLE, the other keeps serving.
  EXPECT_EQ(schwerte->Terminate(), 0);
  resp.Clear();
  EXPECT_EQ(list("schwerte", &resp).error_code(), grpc::StatusCode::UNAVAILABLE);
  resp.Clear();
  EXPECT_TRUE(list("dortmund", &resp).ok());
  EXPECT_TRUE(create("dortmund", "still serving").ok());

  kill(nginx, SIGTERM);
  int status = 0;
  waitpid(nginx, &status, 0);
}

}  // namespace
}  // namespace civitas::testing
