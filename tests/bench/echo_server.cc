// A bare gRPC C++ echo server built with the same toolchain: the framework's limit on this
// machine, measured in the same run as the gateway.
//   echo_server --listen 127.0.0.1:0 --port_file F --api callback|sync
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <fstream>
#include <iostream>
#include <string>

#include "absl/synchronization/mutex.h"
#include "civitas/bench/v1/echo.grpc.pb.h"

namespace {

using civitas::bench::v1::EchoRequest;
using civitas::bench::v1::EchoResponse;
using civitas::bench::v1::EchoService;

class CallbackEcho final : public EchoService::CallbackService {
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* ctx, const EchoRequest* req,
                                 EchoResponse* resp) override {
    resp->set_payload(req->payload());
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

class SyncEcho final : public EchoService::Service {
  grpc::Status Echo(grpc::ServerContext*, const EchoRequest* req, EchoResponse* resp) override {
    resp->set_payload(req->payload());
    return grpc::Status::OK;
  }
};

}  // namespace

int main(int argc, char** argv) {
  // The same setting as the gateway's (services/gateway/main.cc): no deadlock detector on every
  // lock, so the ratio compares like with like.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::string listen = "127.0.0.1:0", port_file, api = "callback";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--listen") listen = argv[i + 1];
    if (flag == "--port_file") port_file = argv[i + 1];
    if (flag == "--api") api = argv[i + 1];
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  CallbackEcho callback;
  SyncEcho sync;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  if (api == "sync") {
    builder.RegisterService(&sync);
  } else {
    builder.RegisterService(&callback);
  }
  auto server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::cerr << "echo_server: cannot listen on " << listen << "\n";
    return 1;
  }
  if (!port_file.empty()) std::ofstream(port_file) << port << "\n";
  int sig = 0;
  sigwait(&signals, &sig);
  server->Shutdown(std::chrono::system_clock::now());
  return 0;
}
