// civitasctl: the command line for operators and module publishers.
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "services/common/code_names.h"
#include "services/ctl/commands.h"

namespace civitas::ctl {

constexpr char kUsage[] = R"(usage:
  administration (through the gateway's admin socket: --admin-socket PATH, default
  $CIVITAS_ADMIN_SOCKET or ./state/admin.sock; or over the network with --gateway HOST:PORT
  and an admin or operator token: --token TOKEN or $CIVITAS_TOKEN):
    civitasctl cities
    civitasctl modules --city CITY
    civitasctl module install MODULE@VERSION --city CITY [--registry NAME] [--config JSON]
    civitasctl module install --bundle FILE --city CITY [--force]
      (FILE must be below the gateway's admin.bundle_import_dir)
    civitasctl module upgrade MODULE@VERSION --city CITY [--registry NAME] [--force]
      (NAME: one of the city's registries:, by name or target; default $CIVITAS_REGISTRY)
    civitasctl module rollback MODULE --city CITY [--dry-run] [--restore-checkpoint --yes]
    civitasctl city create --file CITY.yaml           (one entry of the config's cities:)
    civitasctl city export --city CITY --to DIR        (then backup restore on the new instance)
    civitasctl city delete --city CITY --confirm CITY [--delete-backups]
  backups (create/list/verify through the gateway while it serves; restore offline):
    civitasctl backup create --city CITY
    civitasctl backup list --city CITY
    civitasctl backup verify --city CITY --id N
    civitasctl backup restore --city CITY --backup-dir DIR --data-dir DIR [--id N] [--overwrite]
  bundles and the registry:
    civitasctl keys generate --out PREFIX              (PREFIX.key private, PREFIX.pub public)
    civitasctl module pack MODULE.so --publisher NAME --out FILE [--license SPDX]
                           [--description TEXT]
    civitasctl module sign BUNDLE --key PREFIX.key [--out FILE]
    civitasctl module verify BUNDLE --publisher-key NAME=PUBLIC_KEY
    civitasctl module inspect BUNDLE
    civitasctl module publish BUNDLE --registry HOST:PORT --publisher-token TOKEN
    civitasctl registry list --registry HOST:PORT [--search TEXT]
    civitasctl registry add-publisher MODULE --publisher NAME --registry HOST:PORT
                           --publisher-token OWNER_TOKEN
      (registry commands speak TLS with --registry-ca CA.pem)
    civitasctl registry token          (a new publisher token and the SHA-256 the registry needs)
  importing content (a FILE or an http(s) URL; progress on stderr; --gateway HOST:PORT, default
  $CIVITAS_GATEWAY or 127.0.0.1:50051, with an editor's --token):
    civitasctl import news --city CITY FILE|URL [--source ID] [--category ID] [--language TAG]
                          (RSS 2.0 or Atom 1.0; importing again updates, never duplicates)
    civitasctl import events --city CITY FILE|URL [--category ID]   (iCalendar, by UID)
  push notifications (--gateway HOST:PORT, default $CIVITAS_GATEWAY or 127.0.0.1:50051, with an
  editor's --token):
    civitasctl push send --city CITY --topic TOPIC --title TEXT [--body TEXT] [--language TAG]
                         [--link URL] [--image HTTPS-URL] [--urgent] [--at RFC3339]
    civitasctl push status --city CITY messages/ID      (delivery counts)
    civitasctl push cancel --city CITY messages/ID      (withdraws what was not delivered yet)
    civitasctl push devices --city CITY [--language TAG] (devices per topic; never addresses)
  tokens:
    civitasctl token mint --city CITY --subject SUBJECT [--role ROLE ...] [--ttl 1h]
                          [--signing-key FILE | --hs256-secret-file FILE] [--kid KID]
                          [--issuer ISS] [--audience AUD]
    (the signing key defaults to ./state/dev-signing-key.pem, the demo's development key;
     --role operator makes the instance operator: "*": ["operator"])
)";

std::string Args::Get(const std::string& name, const std::string& fallback) const {
  auto it = flags.find(name);
  return it == flags.end() ? fallback : it->second;
}

int Usage(const std::string& error) {
  if (!error.empty()) std::cerr << "civitasctl: " << error << "\n";
  std::cerr << kUsage;
  return 2;
}

namespace {

std::string UsageOf(const std::vector<std::string>& words) {
  if (words.empty()) return kUsage;
  std::string prefix = "civitasctl";
  for (const std::string& w : words) prefix += " " + w;
  // The usage lines of the commands that start with `words`, each with the lines indented below
  // it (its continuation and notes).
  std::string out;
  std::istringstream lines(kUsage);
  size_t command_indent = std::string::npos;  // npos: not inside a matching command
  for (std::string line; std::getline(lines, line);) {
    const size_t indent = line.find_first_not_of(' ');
    if (indent == std::string::npos) continue;
    const std::string text = line.substr(indent);
    if (text.rfind("civitasctl ", 0) == 0) {
      const bool match = text.rfind(prefix, 0) == 0 &&
                         (text.size() == prefix.size() || text[prefix.size()] == ' ');
      command_indent = match ? indent : std::string::npos;
      if (match) out += line + "\n";
    } else if (command_indent != std::string::npos && indent > command_indent) {
      out += line + "\n";
    } else {
      command_indent = std::string::npos;
    }
  }
  return out.empty() ? std::string(kUsage) : "usage:\n" + out;
}

}  // namespace

int Failed(const grpc::Status& s) {
  const int code = static_cast<int>(s.error_code());
  std::cerr << "civitasctl: " << s.error_message() << " (" << civitas::common::CodeName(code)
            << ")\n";
  return 1;
}

int FailedAdmin(const Args& args, const grpc::Status& s) {
  // gRPC's own words for "nobody answered" (not an UNAVAILABLE the gateway sent).
  const bool unreachable = s.error_code() == grpc::StatusCode::UNAVAILABLE &&
                           (s.error_message().find("failed to connect") != std::string::npos ||
                            s.error_message().find("backends failing") != std::string::npos);
  if (unreachable) {
    const std::string target = AdminTarget(args);
    if (target.rfind("unix:", 0) == 0) {
      std::cerr << "civitasctl: cannot reach the gateway's admin socket " << target.substr(5)
                << " (is the gateway running, and may you open the socket?); pass --admin-socket "
                   "PATH, or --gateway HOST:PORT with --token\n";
      return 1;
    }
  }
  return Failed(s);
}

int Failed(const std::string& message) {
  std::cerr << "civitasctl: " << message << "\n";
  return 1;
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream b;
  b << in.rdbuf();
  *out = b.str();
  return true;
}

bool WriteFile(const std::string& path, const std::string& data, bool private_file) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return false;
    if (private_file) chmod(tmp.c_str(), 0600);
    out << data;
    if (!out) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

std::shared_ptr<grpc::Channel> GatewayChannel(const Args& args) {
  const char* env = std::getenv("CIVITAS_GATEWAY");
  return grpc::CreateChannel(args.Get("gateway", env ? env : "127.0.0.1:50051"),
                             grpc::InsecureChannelCredentials());
}

std::string AdminTarget(const Args& args) {
  if (args.Has("admin-socket")) return "unix:" + args.Get("admin-socket");
  if (args.Has("gateway")) return args.Get("gateway");
  if (const char* socket = std::getenv("CIVITAS_ADMIN_SOCKET"); socket && *socket) {
    return std::string("unix:") + socket;
  }
  if (const char* env = std::getenv("CIVITAS_GATEWAY"); env && *env) return env;
  return "unix:./state/admin.sock";
}

std::shared_ptr<grpc::Channel> AdminChannel(const Args& args) {
  return grpc::CreateChannel(AdminTarget(args), grpc::InsecureChannelCredentials());
}

void Prepare(const Args& args, grpc::ClientContext* ctx, int timeout_seconds) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout_seconds));
  const char* env = std::getenv("CIVITAS_TOKEN");
  if (std::string token = args.Get("token", env ? env : ""); !token.empty()) {
    ctx->AddMetadata("authorization", "Bearer " + token);
  }
}

namespace {

// Flags that take no value.
bool IsSwitch(const std::string& name) {
  return name == "help" || name == "force" || name == "overwrite" || name == "delete-backups" ||
         name == "dry-run" || name == "restore-checkpoint" || name == "yes" || name == "urgent";
}

bool Parse(int argc, char** argv, Args* args, std::string* error) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h") a = "--help";
    if (a.rfind("--", 0) != 0) {
      args->words.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else if (!IsSwitch(name)) {
      if (i + 1 >= argc) {
        *error = "flag --" + name + " needs a value";
        return false;
      }
      value = argv[++i];
    }
    args->flags.emplace(name, value);
  }
  return true;
}

}  // namespace
}  // namespace civitas::ctl

int main(int argc, char** argv) {
  using namespace civitas::ctl;
  Args args;
  std::string error;
  if (!Parse(argc, argv, &args, &error)) return Usage(error);
  const auto& w = args.words;
  // `civitasctl --help`, `civitasctl help module install`, `civitasctl module install --help`.
  if (args.Has("help") || (!w.empty() && w[0] == "help")) {
    std::vector<std::string> words = w;
    if (!words.empty() && words[0] == "help") words.erase(words.begin());
    std::cout << UsageOf(words);
    return 0;
  }
  auto is = [&](const char* a, const char* b = nullptr) {
    return !w.empty() && w[0] == a && (b == nullptr || (w.size() > 1 && w[1] == b));
  };
  if (is("cities")) return Cities(args);
  if (is("modules")) return Modules(args);
  if (is("module", "install")) return ModuleInstall(args, false);
  if (is("module", "upgrade")) return ModuleInstall(args, true);
  if (is("module", "rollback")) return ModuleRollback(args);
  if (is("module", "pack")) return ModulePack(args);
  if (is("module", "sign")) return ModuleSign(args);
  if (is("module", "verify")) return ModuleVerify(args);
  if (is("module", "inspect")) return ModuleInspect(args);
  if (is("module", "publish")) return ModulePublish(args);
  if (is("keys", "generate")) return KeysGenerate(args);
  if (is("registry", "list")) return RegistryList(args);
  if (is("registry", "token")) return RegistryToken(args);
  if (is("registry", "add-publisher")) return RegistryAddPublisher(args);
  if (is("token", "mint")) return TokenMint(args);
  if (is("city", "create")) return CityCreate(args);
  if (is("city", "export")) return CityExport(args);
  if (is("city", "delete")) return CityDelete(args);
  if (is("backup", "create")) return BackupCreate(args);
  if (is("backup", "list")) return BackupList(args);
  if (is("backup", "verify")) return BackupVerify(args);
  if (is("backup", "restore")) return BackupRestore(args);
  if (is("import", "news")) return ImportNews(args);
  if (is("import", "events")) return ImportEvents(args);
  if (is("push", "send")) return PushSend(args);
  if (is("push", "status")) return PushStatus(args);
  if (is("push", "cancel")) return PushCancel(args);
  if (is("push", "devices")) return PushDevices(args);
  return Usage(w.empty() ? "" : "unknown command '" + w[0] + "'");
}
