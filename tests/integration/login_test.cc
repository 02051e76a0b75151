// Production login: the gateway fetches an OpenID Connect provider's signing keys from its
// discovery document and follows the provider's key rotation without a restart. The provider
// here is a real HTTP server (Python's http.server) serving a discovery document and a key set
// from files the test rewrites.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "civitas/noticeboard/v1/noticeboard.grpc.pb.h"
#include "services/auth/token.h"
#include "tests/integration/gateway_process.h"

extern char** environ;

namespace civitas::testing {
namespace {

namespace nb = civitas::noticeboard::v1;

constexpr char kServer[] = R"(
import http.server, socketserver, sys
root = sys.argv[1]
class Files(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=root, **k)
    def log_message(self, *a):
        pass
with socketserver.TCPServer(("127.0.0.1", 0), Files) as server:
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])
    server.serve_forever()
)";

constexpr char kConfig[] = R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  oidc_issuers: [{issuer}]
  oidc_refetch_seconds: 1
logging:
  access_log: false
cities:
  - id: hamm
    auth:
      issuers: [{issuer}]
    modules:
      - id: civitas.noticeboard
)";

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream b;
  b << in.rdbuf();
  return b.str();
}

void Write(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path + ".tmp") << text;
  std::filesystem::rename(path + ".tmp", path);
}

class LoginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir("login");
    for (const char* kid : {"k1", "k2"}) {
      ASSERT_TRUE(auth::GenerateDevKeyPair(absl::StrCat(dir_, "/", kid, ".pem"),
                                           absl::StrCat(dir_, "/", kid, ".json"), kid)
                      .ok());
      signers_.push_back(
          *auth::TokenSigner::FromPrivateKeyPem(Read(absl::StrCat(dir_, "/", kid, ".pem")), kid));
    }
    std::ofstream(dir_ + "/server.py") << kServer;
    const std::string root = dir_ + "/idp", port_file = dir_ + "/idp.port";
    std::filesystem::create_directories(root);
    std::vector<std::string> args = {"/usr/bin/python3", dir_ + "/server.py", root, port_file};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ASSERT_EQ(posix_spawn(&idp_, argv[0], nullptr, nullptr, argv.data(), environ), 0);
    for (int i = 0; i < 100 && !std::filesystem::exists(port_file); ++i) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    ASSERT_TRUE(std::filesystem::exists(port_file)) << "the HTTP server did not start";
    issuer_ = absl::StrCat("http://127.0.0.1:", Read(port_file), "/realms/buerger");
    Write(root + "/realms/buerger/.well-known/openid-configuration",
          absl::StrCat(R"({"issuer": ")", issuer_, R"(", "jwks_uri": ")", issuer_,
                       R"(/protocol/openid-connect/certs"})"));
    Publish("k1");
  }
  void TearDown() override {
    if (idp_ > 0) {
      kill(idp_, SIGTERM);
      waitpid(idp_, nullptr, 0);
    }
  }

  // The provider's key set is now the key `kid` alone.
  void Publish(const std::string& kid) {
    Write(dir_ + "/idp/realms/buerger/protocol/openid-connect/certs",
          Read(absl::StrCat(dir_, "/", kid, ".json")));
  }

  std::string Token(int key, const std::string& issuer) {
    auth::MintRequest r;
    r.subject = "buergerin-" + std::to_string(key);
    r.issuer = issuer;
    return *signers_[key]->Mint(r);
  }

  grpc::Status CreateNotice(nb::NoticeboardService::Stub* stub, const std::string& token) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "hamm", token);
    nb::CreateNoticeRequest req;
    req.mutable_notice()->set_title("Fahrrad gefunden");
    nb::Notice out;
    return stub->CreateNotice(&ctx, req, &out);
  }

  std::string dir_;
  std::string issuer_;
  pid_t idp_ = -1;
  std::vector<std::unique_ptr<auth::TokenSigner>> signers_;
};

TEST_F(LoginTest, KeysComeFromTheProviderAndFollowItsRotation) {
  auto gw = GatewayProcess::Start(dir_, absl::StrReplaceAll(kConfig, {{"{issuer}", issuer_}}));
  ASSERT_NE(gw, nullptr);
  auto stub = nb::NoticeboardService::NewStub(gw->channel());
  grpc::Status s = CreateNotice(stub.get(), Token(0, issuer_));
  ASSERT_TRUE(s.ok()) << s.error_message() << "\n" << gw->log();
  EXPECT_NE(gw->log().find("identity provider keys fetched"), std::string::npos);

  // The provider's key vouches for no other issuer, even on the same server.
  s = CreateNotice(stub.get(), Token(0, "http://127.0.0.1:1/realms/other"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);

  // Rotation: the provider signs with k2 from now on and withdraws k1. The first token of the
  // new key makes the gateway fetch again; soon it is accepted, with no restart.
  Publish("k2");
  const std::string rotated = Token(1, issuer_);
  s = CreateNotice(stub.get(), rotated);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(s.error_message().find("fetching the issuer's current keys"), std::string::npos)
      << s.error_message();
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  while (!s.ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(200));
    s = CreateNotice(stub.get(), rotated);
  }
  EXPECT_TRUE(s.ok()) << s.error_message() << "\n" << gw->log();
  s = CreateNotice(stub.get(), Token(0, issuer_));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << "the withdrawn key";

  // The provider goes away: the gateway keeps the keys it has and keeps serving.
  kill(idp_, SIGTERM);
  waitpid(idp_, nullptr, 0);
  idp_ = -1;
  s = CreateNotice(stub.get(), Token(0, issuer_));  // an unknown key: a fetch that fails
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  absl::SleepFor(absl::Seconds(2));
  s = CreateNotice(stub.get(), rotated);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_NE(gw->log().find("identity provider keys not fetched"), std::string::npos) << gw->log();
}

TEST_F(LoginTest, AProviderThatIsDownDoesNotStopTheGateway) {
  std::string config = absl::StrReplaceAll(kConfig, {{"{issuer}", "http://127.0.0.1:1/realms/x"}});
  auto gw = GatewayProcess::Start(dir_, config);
  ASSERT_NE(gw, nullptr);
  auto stub = nb::NoticeboardService::NewStub(gw->channel());
  grpc::Status s = CreateNotice(stub.get(), Token(0, "http://127.0.0.1:1/realms/x"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(s.error_message().find("fetching the issuer's current keys"), std::string::npos)
      << s.error_message();
  grpc::ClientContext ctx;
  Prepare(&ctx, "hamm");
  nb::ListNoticesRequest req;
  nb::ListNoticesResponse out;
  EXPECT_TRUE(stub->ListNotices(&ctx, req, &out).ok()) << "anonymous calls are served";
}

}  // namespace
}  // namespace civitas::testing
