// civitas-gateway: serves the citizen app's gRPC API for one or a few cities.
//
//   civitas-gateway                          the embedded demo (city "demo", data in ./state)
//   civitas-gateway --config gateway.yaml    a real deployment
//   civitas-gateway --config gateway.yaml --check-config
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "services/gateway/demo.h"
#include "services/gateway/gateway.h"
#include "services/gateway/log.h"

ABSL_FLAG(std::string, config, "", "YAML config file; empty = the embedded demo");
ABSL_FLAG(std::string, listen, "", "HOST:PORT to serve gRPC on (overrides the config)");
ABSL_FLAG(std::string, http_listen, "",
          "HOST:PORT for /healthz, /readyz and the JSON/HTTP API (overrides the config)");
ABSL_FLAG(std::string, metrics_listen, "",
          "HOST:PORT for /metrics (overrides the config; \"off\" = none)");
ABSL_FLAG(std::string, data_dir, "", "where city databases live (overrides the config)");
ABSL_FLAG(std::string, admin_socket, "",
          "Unix socket for AdminService without a token (overrides admin.socket; 'none' = off)");
ABSL_FLAG(bool, check_config, false, "validate the config, print the result and exit");
ABSL_FLAG(std::string, port_file, "",
          "once serving, write the gRPC, HTTP and metrics ports and the admin socket here, one "
          "per line (for tests)");
ABSL_FLAG(std::string, log_level, "", "debug, info, warning or error (overrides the config)");

namespace {

using civitas::gateway::Gateway;
using civitas::gateway::GatewayConfig;

int Fail(const std::string& message) {
  std::cerr << "civitas-gateway: " << message << "\n";
  return 1;
}

// Connections, city databases and modules all take descriptors; the soft limit (often 1024) is
// raised to the hard one so that a flood of connections meets the gateway's own caps first.
void RaiseDescriptorLimit() {
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) != 0 || nofile.rlim_cur >= nofile.rlim_max) return;
  const rlim_t before = nofile.rlim_cur;
  nofile.rlim_cur = nofile.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &nofile) == 0) {
    civitas::gateway::Log(
        civitas::gateway::LogLevel::kDebug, "descriptor limit raised",
        {{"from", std::to_string(before)}, {"to", std::to_string(nofile.rlim_cur)}});
  }
}

// --help and --helpshort list the flags defined in this file (absl's default looks for a file
// named after the binary, "civitas-gateway.cc", and finds none); --helpfull lists every flag.
bool IsGatewayFlagFile(absl::string_view file) {
  return absl::EndsWith(file, "services/gateway/main.cc");
}

// --help (-h, --helpshort): the usage and this binary's flags; --helpfull: every flag linked in.
// Exits 0 (absl's own --help handling exits 1).
void PrintHelp(bool all) {
  std::cout << "civitas-gateway: " << absl::ProgramUsageMessage() << "\n\nFlags:\n";
  std::vector<const absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (all || IsGatewayFlagFile(flag->Filename())) flags.push_back(flag);
  }
  std::sort(flags.begin(), flags.end(),
            [](const auto* a, const auto* b) { return a->Name() < b->Name(); });
  for (const absl::CommandLineFlag* flag : flags) {
    std::cout << "  --" << flag->Name() << "  " << flag->Help();
    if (const std::string d = flag->DefaultValue(); !d.empty())
      std::cout << " (default: " << d << ")";
    std::cout << "\n";
  }
  if (!all) std::cout << "\n--helpfull lists the flags of the libraries too.\n";
}

}  // namespace

int main(int argc, char** argv) {
#ifdef NDEBUG
  // Debian's Abseil is built without NDEBUG, so its deadlock detector would track every lock the
  // process takes (gRPC's included: about a tenth of the gateway's CPU under load). The ASan and
  // fuzz builds (Debug) keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = &IsGatewayFlagFile;
  usage.contains_helpshort_flags = &IsGatewayFlagFile;
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(
      "serves civitas modules over gRPC and JSON/HTTP for one or a few cities.\n\n"
      "  civitas-gateway                          the embedded demo (city \"demo\", data in "
      "./state)\n"
      "  civitas-gateway --config gateway.yaml    a deployment (docs/operations.md)\n"
      "  civitas-gateway --config gateway.yaml --check_config\n\n"
      "Flags may be spelled with '-' or '_' (--data-dir = --data_dir). See README.md.");
  // Accept --data-dir as well as --data_dir: operators type both.
  std::vector<std::string> args(argv, argv + argc);
  for (std::string& a : args) {
    if (a.rfind("--", 0) != 0) continue;
    for (size_t i = 2; i < a.size() && a[i] != '='; ++i) {
      if (a[i] == '-') a[i] = '_';
    }
  }
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h" || a == "--helpshort" || a == "--helpfull") {
      PrintHelp(a == "--helpfull");
      return 0;
    }
  }
  std::vector<char*> normalized;
  for (std::string& a : args) normalized.push_back(a.data());
  absl::ParseCommandLine(static_cast<int>(normalized.size()), normalized.data());

  const bool demo = absl::GetFlag(FLAGS_config).empty();
  absl::StatusOr<GatewayConfig> config =
      demo ? civitas::gateway::DemoConfig(
                 absl::GetFlag(FLAGS_data_dir).empty() ? "./state" : absl::GetFlag(FLAGS_data_dir))
           : civitas::gateway::LoadConfigFile(absl::GetFlag(FLAGS_config));
  if (!config.ok()) return Fail(std::string(config.status().message()));
  if (!absl::GetFlag(FLAGS_listen).empty()) config->listen = absl::GetFlag(FLAGS_listen);
  if (!absl::GetFlag(FLAGS_data_dir).empty()) config->data_dir = absl::GetFlag(FLAGS_data_dir);
  if (!absl::GetFlag(FLAGS_admin_socket).empty()) {
    config->admin.socket = absl::GetFlag(FLAGS_admin_socket);
  }
  if (!absl::GetFlag(FLAGS_http_listen).empty()) {
    config->http_listen = absl::GetFlag(FLAGS_http_listen);
  }
  if (const std::string m = absl::GetFlag(FLAGS_metrics_listen); !m.empty()) {
    config->metrics_listen = m == "off" ? "" : m;
  }
  if (!absl::GetFlag(FLAGS_log_level).empty())
    config->logging.level = absl::GetFlag(FLAGS_log_level);
  using civitas::gateway::LogLevel;
  const std::string& level = config->logging.level;
  if (level == "debug")
    civitas::gateway::SetLogLevel(LogLevel::kDebug);
  else if (level == "info")
    civitas::gateway::SetLogLevel(LogLevel::kInfo);
  else if (level == "warning")
    civitas::gateway::SetLogLevel(LogLevel::kWarning);
  else if (level == "error")
    civitas::gateway::SetLogLevel(LogLevel::kError);
  else
    return Fail("--log_level must be debug, info, warning or error");
  if (absl::GetFlag(FLAGS_check_config)) {
    std::cout << config->source << ": OK (" << config->cities.size() << " cities)\n";
    return 0;
  }

  // SIGTERM/SIGINT are taken by this thread only (sigwait below); block them before any other
  // thread exists so none of them inherits the default action.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  RaiseDescriptorLimit();

  absl::StatusOr<std::unique_ptr<Gateway>> gateway = Gateway::Create(*std::move(config));
  if (!gateway.ok()) return Fail(std::string(gateway.status().message()));
  if (absl::Status s = (*gateway)->Start(); !s.ok()) return Fail(std::string(s.message()));

  const int port = (*gateway)->port();
  if (!absl::GetFlag(FLAGS_port_file).empty()) {
    const std::string path = absl::GetFlag(FLAGS_port_file);
    std::ofstream(path + ".tmp") << port << "\n"
                                 << (*gateway)->http_port() << "\n"
                                 << (*gateway)->metrics_port() << "\n"
                                 << (*gateway)->admin_socket() << "\n";
    std::rename((path + ".tmp").c_str(), path.c_str());
  }
  if (demo) {
    const std::string& dir = (*gateway)->config().data_dir;
    std::cout << "\ncivitas demo gateway is serving city 'demo' on 127.0.0.1:" << port
              << " (data in " << dir << ")\n\n"
              << "  list notices:   npx --prefix tests/tools buf curl --protocol grpc "
                 "--http2-prior-knowledge http://127.0.0.1:"
              << port << "/civitas.noticeboard.v1.NoticeboardService/ListNotices\n"
              << "  a token:        build/bin/civitasctl token mint --city demo --subject "
                 "you --role editor --signing-key "
              << dir << "/dev-signing-key.pem\n"
              << "  modules:        build/bin/civitasctl modules --city demo   (admin socket "
              << (*gateway)->admin_socket() << ")\n"
              << "  console:        http://"
              << (*gateway)->config().http_listen.substr(
                     0, (*gateway)->config().http_listen.rfind(':'))
              << ":" << (*gateway)->http_port() << "/console/   (development sign-in)\n"
              << "  health:         curl http://"
              << (*gateway)->config().http_listen.substr(
                     0, (*gateway)->config().http_listen.rfind(':'))
              << ":" << (*gateway)->http_port()
              << "/readyz   (metrics: " << (*gateway)->config().metrics_listen << "/metrics)\n\n"
              << "Stop with Ctrl-C.\n"
              << std::flush;
  }

  int received = 0;
  sigwait(&signals, &received);
  civitas::gateway::Log(LogLevel::kInfo, "signal received", {{"signal", strsignal(received)}});
  (*gateway)->Shutdown();
  return 0;
}
