// civitas-registry: where partner cities publish and find signed module bundles.
//   civitas-registry --config registry.yaml [--listen HOST:PORT] [--data_dir DIR] [--port_file F]
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "services/bundle/bundle.h"
#include "services/registry/registry_service.h"

int main(int argc, char** argv) {
  std::string config_path, listen, data_dir, port_file;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) {
        std::cerr << "civitas-registry: " << a << " needs a value\n";
        exit(2);
      }
      *out = argv[++i];
    };
    if (a == "--config")
      value(&config_path);
    else if (a == "--listen")
      value(&listen);
    else if (a == "--data_dir" || a == "--data-dir")
      value(&data_dir);
    else if (a == "--port_file" || a == "--port-file")
      value(&port_file);
    else {
      std::cerr << "usage: civitas-registry --config FILE [--listen HOST:PORT] [--data_dir DIR]\n";
      return 2;
    }
  }
  if (config_path.empty()) {
    std::cerr << "civitas-registry: --config is required\n";
    return 2;
  }
  auto config = civitas::registry::LoadRegistryConfig(config_path);
  if (!config.ok()) {
    std::cerr << "civitas-registry: " << config.status().message() << "\n";
    return 1;
  }
  if (!listen.empty()) config->listen = listen;
  if (!data_dir.empty()) config->data_dir = data_dir;

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto service = civitas::registry::RegistryService::Open(*config);
  if (!service.ok()) {
    std::cerr << "civitas-registry: " << service.status().message() << "\n";
    return 1;
  }
  grpc::ServerBuilder builder;
  int port = 0;
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (!config->tls_cert_file.empty()) {
    std::ifstream cert_in(config->tls_cert_file), key_in(config->tls_key_file);
    std::stringstream cert, key;
    cert << cert_in.rdbuf();
    key << key_in.rdbuf();
    if (!cert_in || !key_in || cert.str().empty() || key.str().empty()) {
      std::cerr << "civitas-registry: cannot read tls.cert_file '" << config->tls_cert_file
                << "' or tls.key_file '" << config->tls_key_file << "'\n";
      return 1;
    }
    grpc::SslServerCredentialsOptions tls;
    tls.pem_key_cert_pairs.push_back({key.str(), cert.str()});
    credentials = grpc::SslServerCredentials(tls);
  }
  builder.AddListeningPort(config->listen, credentials, &port);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(static_cast<int>(civitas::bundle::kMaxBundleBytes + (1 << 20)));
  builder.SetMaxSendMessageSize(static_cast<int>(civitas::bundle::kMaxBundleBytes + (1 << 20)));
  builder.RegisterService(service->get());
  auto server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::cerr << "civitas-registry: cannot listen on " << config->listen << "\n";
    return 1;
  }
  if (!port_file.empty()) {
    std::ofstream(port_file + ".tmp") << port << "\n";
    std::rename((port_file + ".tmp").c_str(), port_file.c_str());
  }
  std::cerr << "{\"level\":\"info\",\"msg\":\"registry serving\",\"port\":\"" << port << "\"}\n";
  int sig = 0;
  sigwait(&signals, &sig);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return 0;
}
