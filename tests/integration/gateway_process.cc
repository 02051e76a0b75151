#include "tests/integration/gateway_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_replace.h"

namespace civitas::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream b;
  b << in.rdbuf();
  return b.str();
}

}  // namespace

std::string GatewayBinary() { return CIVITAS_GATEWAY_BIN; }
std::string RegistryBinary() { return CIVITAS_REGISTRY_BIN; }
std::string CtlBinary() { return CIVITAS_CTL_BIN; }
std::string ModuleDir() { return CIVITAS_MODULE_DIR; }
std::string FixtureDir() { return CIVITAS_FIXTURE_DIR; }

std::string NewTempDir(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string dir = ::testing::TempDir() + "/civitas-" + std::to_string(getpid()) + "-" +
                    (info ? std::string(info->test_suite_name()) + "." + info->name() : "") + "-" +
                    name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

TestKeys::TestKeys(const std::string& dir) {
  const std::string key = dir + "/signing-key.pem";
  jwks_path_ = dir + "/jwks.json";
  EXPECT_TRUE(auth::GenerateDevKeyPair(key, jwks_path_, "test-key").ok());
  auto signer = auth::TokenSigner::FromPrivateKeyPem(ReadFile(key), "test-key");
  EXPECT_TRUE(signer.ok());
  signer_ = std::move(*signer);
}

std::string TestKeys::Mint(const std::string& subject, const std::string& city,
                           const std::vector<std::string>& roles, absl::Duration ttl,
                           absl::Time now) const {
  auth::MintRequest r;
  r.subject = subject;
  r.roles_by_city[city] = roles;
  r.ttl = ttl;
  r.now = now;
  return *signer_->Mint(r);
}

std::unique_ptr<GatewayProcess> GatewayProcess::Start(const std::string& dir,
                                                      const std::string& config_yaml,
                                                      std::vector<std::string> extra_args) {
  return StartBinary(GatewayBinary(), dir, config_yaml, std::move(extra_args));
}

std::unique_ptr<GatewayProcess> GatewayProcess::StartBinary(const std::string& binary,
                                                            const std::string& dir,
                                                            const std::string& config_yaml,
                                                            std::vector<std::string> extra_args) {
  const std::string config_path = dir + "/gateway.yaml";
  const std::string port_file = dir + "/port";
  const std::string log_path = dir + "/gateway.log";
  std::filesystem::remove(port_file);
  std::ofstream(config_path) << absl::StrReplaceAll(
      config_yaml, {{"{dir}", dir}, {"{modules}", ModuleDir()}, {"{fixtures}", FixtureDir()}});

  std::vector<std::string> args = {binary,        "--config",    config_path, "--listen",
                                   "127.0.0.1:0", "--port_file", port_file};
  if (binary == GatewayBinary()) {
    args.push_back("--http_listen");
    args.push_back("127.0.0.1:0");
    args.push_back("--metrics_listen");
    args.push_back("127.0.0.1:0");
  }
  std::unique_ptr<GatewayProcess> p(new GatewayProcess());
  if (binary == GatewayBinary() &&
      std::none_of(extra_args.begin(), extra_args.end(), [](const std::string& a) {
        return a.rfind("--admin_socket", 0) == 0 || a.rfind("--admin-socket", 0) == 0;
      })) {
    args.push_back("--admin_socket=" + ShortSocketPath("gw"));
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  p->dir_ = dir;
  p->pid_ = fork();
  if (p->pid_ == 0) {
    int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(port_file);
    if (in >> p->port_ && p->port_ > 0) {
      in >> p->http_port_ >> p->metrics_port_;
      in >> p->admin_socket_;
      return p;
    }
    p->port_ = 0;
    int status = 0;
    if (waitpid(p->pid_, &status, WNOHANG) == p->pid_) {
      p->pid_ = -1;
      ADD_FAILURE() << "gateway exited during start (status " << status << "):\n"
                    << ReadFile(log_path);
      return nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "gateway did not start within 60 s:\n" << ReadFile(log_path);
  return nullptr;
}

GatewayProcess::~GatewayProcess() {
  if (pid_ > 0) Terminate();
}

std::shared_ptr<grpc::Channel> GatewayProcess::channel() const {
  return grpc::CreateChannel(target(), grpc::InsecureChannelCredentials());
}

std::shared_ptr<grpc::Channel> GatewayProcess::admin_channel() const {
  return grpc::CreateChannel(admin_target(), grpc::InsecureChannelCredentials());
}

std::string ShortSocketPath(const std::string& name) {
  static int counter = 0;
  return "/tmp/civitas-" + std::to_string(getpid()) + "-" + std::to_string(++counter) + "-" + name +
         ".sock";
}

std::string GatewayProcess::log() const { return ReadFile(dir_ + "/gateway.log"); }

int GatewayProcess::Wait() {
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return -WTERMSIG(status);
}

int GatewayProcess::Terminate() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  return Wait();
}

void GatewayProcess::Signal(int signal) {
  if (pid_ > 0) kill(pid_, signal);
}

void GatewayProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  Wait();
}

int RunCommand(const std::vector<std::string>& argv_in, std::string* output) {
  int pipefd[2];
  if (pipe(pipefd) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pipefd[1], 1);
    dup2(pipefd[1], 2);
    close(pipefd[0]);
    std::vector<std::string> args = argv_in;
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(pipefd[1]);
  output->clear();
  char buf[4096];
  ssize_t n;
  while ((n = read(pipefd[0], buf, sizeof(buf))) > 0) output->append(buf, n);
  close(pipefd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::map<std::string, civitas::gateway::v1::Module> ListModules(const GatewayProcess& gw,
                                                                const std::string& city) {
  auto stub = civitas::gateway::v1::AdminService::NewStub(gw.admin_channel());
  grpc::ClientContext ctx;
  Prepare(&ctx);
  civitas::gateway::v1::ListModulesRequest req;
  req.set_parent("cities/" + city);
  civitas::gateway::v1::ListModulesResponse resp;
  grpc::Status s = stub->ListModules(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  std::map<std::string, civitas::gateway::v1::Module> out;
  for (const auto& m : resp.modules()) out[m.module_id()] = m;
  return out;
}

void Prepare(grpc::ClientContext* ctx, const std::string& city, const std::string& token,
             absl::Duration timeout) {
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout)));
  if (!city.empty()) ctx->AddMetadata("x-civitas-city", city);
  if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
}

}  // namespace civitas::testing
