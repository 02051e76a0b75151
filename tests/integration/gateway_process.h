// Starts the real civitas-gateway binary for a test: its own temporary directory, a free loopback
// port (the gateway binds port 0 and reports the port it got), and its log kept for failures.
#ifndef CIVITAS_TESTS_INTEGRATION_GATEWAY_PROCESS_H_
#define CIVITAS_TESTS_INTEGRATION_GATEWAY_PROCESS_H_

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "civitas/gateway/v1/admin.grpc.pb.h"
#include "services/auth/token.h"

namespace civitas::testing {

// A fresh, empty directory under the test's temporary directory.
std::string NewTempDir(const std::string& name);

// A signing key pair in `dir` and tokens signed with it.
class TestKeys {
 public:
  explicit TestKeys(const std::string& dir);
  const std::string& jwks_path() const { return jwks_path_; }
  std::string Mint(const std::string& subject, const std::string& city,
                   const std::vector<std::string>& roles, absl::Duration ttl = absl::Hours(1),
                   absl::Time now = absl::Now()) const;

 private:
  std::string jwks_path_;
  std::unique_ptr<auth::TokenSigner> signer_;
};

class GatewayProcess {
 public:
  // Writes `config_yaml` to <dir>/gateway.yaml after replacing {dir}, {modules} (the bundled
  // modules) and {fixtures} (test fixture modules), and starts the gateway on it, with its admin
  // socket at a short path of its own unless `extra_args` name one (--admin_socket=...). Returns
  // null (and records a test failure with the gateway's log) if it does not come up.
  static std::unique_ptr<GatewayProcess> Start(const std::string& dir,
                                               const std::string& config_yaml,
                                               std::vector<std::string> extra_args = {});
  // The same for another server binary that takes --config, --listen and --port_file
  // (civitas-registry).
  static std::unique_ptr<GatewayProcess> StartBinary(const std::string& binary,
                                                     const std::string& dir,
                                                     const std::string& config_yaml,
                                                     std::vector<std::string> extra_args = {});
  ~GatewayProcess();

  int port() const { return port_; }
  int http_port() const { return http_port_; }
  int metrics_port() const { return metrics_port_; }  // /metrics
  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& dir() const { return dir_; }
  std::shared_ptr<grpc::Channel> channel() const;
  // The gateway's admin Unix socket (AdminService without a token), as a gRPC target
  // "unix:/path", and as a path.
  std::string admin_target() const { return "unix:" + admin_socket_; }
  const std::string& admin_socket() const { return admin_socket_; }
  std::shared_ptr<grpc::Channel> admin_channel() const;
  std::string log() const;

  // SIGTERM and wait; returns the exit status (or -signal).
  int Terminate();
  // Sends a signal without waiting (see Terminate for the wait).
  void Signal(int signal);
  // Waits for the process to end; returns the exit status (or -signal).
  int Wait();
  void Kill();
  bool running() const { return pid_ > 0; }

 private:
  GatewayProcess() = default;
  pid_t pid_ = -1;
  int port_ = 0;
  int http_port_ = 0;
  int metrics_port_ = 0;
  std::string dir_;
  std::string admin_socket_;
};

// A short path for an admin socket (Unix socket paths are limited to 107 bytes; test folders
// are often longer).
std::string ShortSocketPath(const std::string& name);

// Runs a command to completion; returns its exit status and puts stdout+stderr into *output.
int RunCommand(const std::vector<std::string>& argv, std::string* output);

// Adds x-civitas-city and, if token is set, authorization to a client context.
void Prepare(grpc::ClientContext* ctx, const std::string& city = "", const std::string& token = "",
             absl::Duration timeout = absl::Seconds(10));

// AdminService.ListModules of `city`, by module id (through the admin socket).
std::map<std::string, civitas::gateway::v1::Module> ListModules(const GatewayProcess& gw,
                                                                const std::string& city);

std::string GatewayBinary();
std::string RegistryBinary();
std::string CtlBinary();
std::string ModuleDir();
std::string FixtureDir();

}  // namespace civitas::testing

#endif  // CIVITAS_TESTS_INTEGRATION_GATEWAY_PROCESS_H_
