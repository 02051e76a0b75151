// civitasctl's command groups and what they share.
#ifndef CIVITAS_CTL_COMMANDS_H_
#define CIVITAS_CTL_COMMANDS_H_

#include <grpcpp/grpcpp.h>

#include <map>
#include <string>
#include <vector>

namespace civitas::ctl {

struct Args {
  std::vector<std::string> words;  // positional words, command first
  std::multimap<std::string, std::string> flags;
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  bool Has(const std::string& name) const { return flags.count(name) > 0; }
};

// Prints the problem and the usage; returns the exit code 2.
int Usage(const std::string& error);
// Prints a gRPC failure; returns the exit code 1.
int Failed(const grpc::Status& status);
int Failed(const std::string& message);

bool ReadFile(const std::string& path, std::string* out);
bool WriteFile(const std::string& path, const std::string& data, bool private_file = false);

// Prints a failed admin call, explaining an unreachable admin socket.
int FailedAdmin(const Args& args, const grpc::Status& status);

// The gateway's public gRPC port: --gateway, $CIVITAS_GATEWAY, or 127.0.0.1:50051.
std::shared_ptr<grpc::Channel> GatewayChannel(const Args& args);
// AdminService: --admin-socket PATH, --gateway HOST:PORT (needs a token), $CIVITAS_ADMIN_SOCKET,
// $CIVITAS_GATEWAY, or the demo's ./state/admin.sock.
std::string AdminTarget(const Args& args);
std::shared_ptr<grpc::Channel> AdminChannel(const Args& args);
// Adds --token (or $CIVITAS_TOKEN) as the bearer token.
void Prepare(const Args& args, grpc::ClientContext* ctx, int timeout_seconds = 30);

int Cities(const Args& args);
int Modules(const Args& args);
int ModuleInstall(const Args& args, bool upgrade);
int ModuleRollback(const Args& args);
int CityCreate(const Args& args);
int CityExport(const Args& args);
int CityDelete(const Args& args);

int KeysGenerate(const Args& args);
int ModulePack(const Args& args);
int ModuleSign(const Args& args);
int ModuleVerify(const Args& args);
int ModuleInspect(const Args& args);
int ModulePublish(const Args& args);
int RegistryList(const Args& args);
int RegistryToken(const Args& args);
int RegistryAddPublisher(const Args& args);

int TokenMint(const Args& args);

int ImportNews(const Args& args);
int ImportEvents(const Args& args);

int PushSend(const Args& args);
int PushStatus(const Args& args);
int PushCancel(const Args& args);
int PushDevices(const Args& args);

int BackupCreate(const Args& args);
int BackupList(const Args& args);
int BackupVerify(const Args& args);
int BackupRestore(const Args& args);

}  // namespace civitas::ctl

#endif  // CIVITAS_CTL_COMMANDS_H_
