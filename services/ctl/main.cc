// civitasctl: the operator's command line for a civitas gateway.
//
//   civitasctl cities                          [--gateway HOST:PORT] [--token T]
//   civitasctl modules --city C
//   civitasctl token mint --city C --subject S --role R [--role R2] [--ttl 1h]
//                         [--signing-key FILE | --hs256-secret-file FILE] [--kid K]
//                         [--issuer I] [--audience A]
#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "civitas/gateway/v1/admin.grpc.pb.h"
#include "services/auth/token.h"

namespace {

namespace v1 = civitas::gateway::v1;

constexpr char kUsage[] =
    "usage:\n"
    "  civitasctl cities [--gateway HOST:PORT] [--token TOKEN]\n"
    "  civitasctl modules --city CITY [--gateway HOST:PORT] [--token TOKEN]\n"
    "  civitasctl token mint --city CITY --subject SUBJECT [--role ROLE ...] [--ttl 1h]\n"
    "                        [--signing-key FILE | --hs256-secret-file FILE] [--kid KID]\n"
    "                        [--issuer ISS] [--audience AUD]\n"
    "The gateway defaults to $CIVITAS_GATEWAY or 127.0.0.1:50051; the signing key to\n"
    "./state/dev-signing-key.pem, the demo gateway's development key.\n";

struct Args {
  std::vector<std::string> words;
  std::multimap<std::string, std::string> flags;
  std::string Get(const std::string& name, const std::string& fallback = "") const {
    auto it = flags.find(name);
    return it == flags.end() ? fallback : it->second;
  }
};

int Usage(const std::string& error) {
  if (!error.empty()) std::cerr << "civitasctl: " << error << "\n";
  std::cerr << kUsage;
  return 2;
}

bool Parse(int argc, char** argv, Args* args, std::string* error) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) == 0) {
      std::string name = a.substr(2), value;
      if (size_t eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name.resize(eq);
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        *error = "flag --" + name + " needs a value";
        return false;
      }
      args->flags.emplace(name, value);
    } else {
      args->words.push_back(a);
    }
  }
  return true;
}

std::unique_ptr<v1::AdminService::Stub> Connect(const Args& args) {
  const char* env = std::getenv("CIVITAS_GATEWAY");
  std::string target = args.Get("gateway", env ? env : "127.0.0.1:50051");
  return v1::AdminService::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
}

void Prepare(const Args& args, grpc::ClientContext* ctx) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (std::string token = args.Get("token"); !token.empty()) {
    ctx->AddMetadata("authorization", "Bearer " + token);
  }
}

int Failed(const grpc::Status& s) {
  std::cerr << "civitasctl: " << s.error_message() << " (gRPC code " << s.error_code() << ")\n";
  return 1;
}

int Cities(const Args& args) {
  auto stub = Connect(args);
  std::string token;
  do {
    grpc::ClientContext ctx;
    Prepare(args, &ctx);
    v1::ListCitiesRequest request;
    request.set_page_token(token);
    v1::ListCitiesResponse response;
    grpc::Status s = stub->ListCities(&ctx, request, &response);
    if (!s.ok()) return Failed(s);
    for (const v1::City& c : response.cities()) {
      std::cout << c.city_id() << "\t" << c.display_name() << "\t" << c.time_zone() << "\t"
                << c.module_ids_size() << " modules\n";
    }
    token = response.next_page_token();
  } while (!token.empty());
  return 0;
}

int Modules(const Args& args) {
  const std::string city = args.Get("city");
  if (city.empty()) return Usage("modules needs --city");
  auto stub = Connect(args);
  std::string token;
  int failed = 0;
  do {
    grpc::ClientContext ctx;
    Prepare(args, &ctx);
    v1::ListModulesRequest request;
    request.set_parent("cities/" + city);
    request.set_page_token(token);
    v1::ListModulesResponse response;
    grpc::Status s = stub->ListModules(&ctx, request, &response);
    if (!s.ok()) return Failed(s);
    for (const v1::Module& m : response.modules()) {
      const bool serving = m.state() == v1::MODULE_STATE_SERVING;
      failed += serving ? 0 : 1;
      std::cout << m.module_id() << "\t" << (m.version().empty() ? "-" : m.version()) << "\tABI "
                << (m.abi_version().empty() ? "-" : m.abi_version()) << "\t"
                << (serving ? "serving" : "FAILED") << "\n";
      for (const std::string& svc : m.services()) std::cout << "    " << svc << "\n";
      if (!serving) std::cout << "    error: " << m.error() << "\n";
    }
    token = response.next_page_token();
  } while (!token.empty());
  return failed == 0 ? 0 : 3;
}

int MintToken(const Args& args) {
  civitas::auth::MintRequest request;
  request.subject = args.Get("subject");
  const std::string city = args.Get("city");
  if (request.subject.empty() || city.empty())
    return Usage("token mint needs --city and --subject");
  std::vector<std::string> roles;
  for (auto [it, end] = args.flags.equal_range("role"); it != end; ++it) {
    if (!civitas::auth::ParseRole(it->second).ok()) {
      return Usage(std::string(civitas::auth::ParseRole(it->second).status().message()));
    }
    roles.push_back(it->second);
  }
  request.roles_by_city[city] = roles;
  request.issuer = args.Get("issuer");
  request.audience = args.Get("audience");
  if (!absl::ParseDuration(args.Get("ttl", "1h"), &request.ttl) ||
      request.ttl <= absl::ZeroDuration()) {
    return Usage("--ttl must be a positive duration such as 30m or 12h");
  }
  std::unique_ptr<civitas::auth::TokenSigner> signer;
  auto read = [](const std::string& path, std::string* out) {
    std::ifstream in(path);
    if (!in) return false;
    std::stringstream b;
    b << in.rdbuf();
    *out = b.str();
    return true;
  };
  std::string material;
  if (std::string secret_file = args.Get("hs256-secret-file"); !secret_file.empty()) {
    if (!read(secret_file, &material)) return Usage("cannot read " + secret_file);
    signer = civitas::auth::TokenSigner::Hs256(
        std::string(absl::StripTrailingAsciiWhitespace(material)));
  } else {
    std::string key_file = args.Get("signing-key", "./state/dev-signing-key.pem");
    if (!read(key_file, &material)) {
      return Usage("cannot read signing key " + key_file +
                   " (start the demo gateway once to create it, or pass --signing-key)");
    }
    auto s =
        civitas::auth::TokenSigner::FromPrivateKeyPem(material, args.Get("kid", "civitas-dev"));
    if (!s.ok()) return Usage(key_file + ": " + std::string(s.status().message()));
    signer = std::move(*s);
  }
  absl::StatusOr<std::string> token = signer->Mint(request);
  if (!token.ok()) return Usage(std::string(token.status().message()));
  std::cout << *token << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  std::string error;
  if (!Parse(argc, argv, &args, &error)) return Usage(error);
  if (args.words.empty()) return Usage("");
  const std::string& cmd = args.words[0];
  if (cmd == "cities") return Cities(args);
  if (cmd == "modules") return Modules(args);
  if (cmd == "token" && args.words.size() > 1 && args.words[1] == "mint") return MintToken(args);
  return Usage("unknown command '" + cmd + "'");
}
