// civitasctl commands for module publishers: keys, bundles, the registry.
#include <google/protobuf/util/json_util.h>

#include <iostream>
#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "civitas/registry/v1/registry.grpc.pb.h"
#include "services/bundle/bundle.h"
#include "services/ctl/commands.h"

namespace civitas::ctl {
namespace {

namespace rv1 = civitas::registry::v1;

// --registry HOST:PORT, over TLS when --registry-ca FILE names the CA that signed its certificate.
std::shared_ptr<grpc::Channel> RegistryChannel(const Args& args) {
  grpc::ChannelArguments ch;
  ch.SetMaxSendMessageSize(static_cast<int>(bundle::kMaxBundleBytes + (1 << 20)));
  ch.SetMaxReceiveMessageSize(static_cast<int>(bundle::kMaxBundleBytes + (1 << 20)));
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (args.Has("registry-ca")) {
    grpc::SslCredentialsOptions tls;
    if (!ReadFile(args.Get("registry-ca"), &tls.pem_root_certs)) {
      std::cerr << "civitasctl: cannot read --registry-ca " << args.Get("registry-ca") << "\n";
      exit(2);
    }
    credentials = grpc::SslCredentials(tls);
  }
  return grpc::CreateCustomChannel(args.Get("registry"), credentials, ch);
}

}  // namespace

int KeysGenerate(const Args& args) {
  const std::string out = args.Get("out");
  if (out.empty()) return Usage("keys generate needs --out PREFIX");
  absl::StatusOr<bundle::KeyPair> pair = bundle::GenerateKeyPair();
  if (!pair.ok()) return Failed(std::string(pair.status().message()));
  if (!WriteFile(out + ".key", pair->private_pem, /*private_file=*/true) ||
      !WriteFile(out + ".pub", pair->public_key + "\n")) {
    return Failed("cannot write " + out + ".key / " + out + ".pub");
  }
  std::cout << "private key: " << out << ".key (keep it secret)\n"
            << "public key:  " << out << ".pub\n"
            << pair->public_key << "\n";
  return 0;
}

int ModulePack(const Args& args) {
  if (args.words.size() < 3) return Usage("module pack needs MODULE.so");
  const std::string out = args.Get("out");
  if (out.empty()) return Usage("module pack needs --out FILE");
  bundle::PackOptions options;
  options.publisher = args.Get("publisher");
  options.license = args.Get("license");
  options.description = args.Get("description");
  absl::StatusOr<std::string> packed = bundle::Pack(args.words[2], options);
  if (!packed.ok()) return Failed(std::string(packed.status().message()));
  if (!WriteFile(out, *packed)) return Failed("cannot write " + out);
  absl::StatusOr<bundle::OpenedBundle> opened = bundle::OpenBundle(*packed);
  std::cout << "packed " << opened->manifest.module_id() << " " << opened->manifest.version()
            << " (ABI " << opened->manifest.abi_version() << ") into " << out
            << "; sign it with: civitasctl module sign " << out << " --key KEY\n";
  return 0;
}

int ModuleSign(const Args& args) {
  if (args.words.size() < 3 || !args.Has("key")) return Usage("module sign needs BUNDLE and --key");
  std::string data, key;
  if (!ReadFile(args.words[2], &data)) return Failed("cannot read " + args.words[2]);
  if (!ReadFile(args.Get("key"), &key)) return Failed("cannot read " + args.Get("key"));
  absl::StatusOr<std::string> signed_bundle = bundle::SignBundle(data, key);
  if (!signed_bundle.ok()) return Failed(std::string(signed_bundle.status().message()));
  const std::string out = args.Get("out", args.words[2]);
  if (!WriteFile(out, *signed_bundle)) return Failed("cannot write " + out);
  std::cout << "signed " << out << "\n";
  return 0;
}

int ModuleVerify(const Args& args) {
  if (args.words.size() < 3) return Usage("module verify needs BUNDLE");
  std::string data;
  if (!ReadFile(args.words[2], &data)) return Failed("cannot read " + args.words[2]);
  absl::StatusOr<bundle::OpenedBundle> opened = bundle::OpenBundle(data);
  if (!opened.ok()) return Failed(std::string(opened.status().message()));
  std::vector<bundle::TrustedKey> trusted;
  for (auto [it, end] = args.flags.equal_range("publisher-key"); it != end; ++it) {
    std::vector<std::string> kv = absl::StrSplit(it->second, absl::MaxSplits('=', 1));
    if (kv.size() != 2) return Usage("--publisher-key takes NAME=PUBLIC_KEY");
    trusted.push_back({kv[0], kv[1], false});
  }
  if (trusted.empty()) return Usage("module verify needs at least one --publisher-key NAME=KEY");
  if (absl::Status s = bundle::CheckTrust(*opened, trusted); !s.ok()) {
    return Failed(std::string(s.message()));
  }
  std::cout << "OK: " << opened->manifest.module_id() << " " << opened->manifest.version()
            << " signed by " << opened->manifest.publisher() << ", all hashes match\n";
  return 0;
}

int ModuleInspect(const Args& args) {
  if (args.words.size() < 3) return Usage("module inspect needs BUNDLE");
  std::string data;
  if (!ReadFile(args.words[2], &data)) return Failed("cannot read " + args.words[2]);
  absl::StatusOr<bundle::OpenedBundle> opened = bundle::OpenBundle(data);
  if (!opened.ok()) return Failed(std::string(opened.status().message()));
  std::cout << opened->manifest_json << "\n"
            << (opened->files.count(bundle::kSignatureFile) ? "signed" : "NOT signed") << "\n";
  return 0;
}

int ModulePublish(const Args& args) {
  if (args.words.size() < 3 || !args.Has("registry") || !args.Has("publisher-token")) {
    return Usage("module publish needs BUNDLE, --registry and --publisher-token");
  }
  rv1::PublishBundleRequest request;
  if (!ReadFile(args.words[2], request.mutable_bundle())) {
    return Failed("cannot read " + args.words[2]);
  }
  auto stub = rv1::RegistryService::NewStub(RegistryChannel(args));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  ctx.AddMetadata("authorization", "Bearer " + args.Get("publisher-token"));
  rv1::ModuleVersion version;
  grpc::Status s = stub->PublishBundle(&ctx, request, &version);
  if (!s.ok()) return Failed(s);
  std::cout << "published " << version.name() << " (" << version.size_bytes() << " bytes, sha256 "
            << version.sha256() << ")\n";
  return 0;
}

int RegistryList(const Args& args) {
  if (!args.Has("registry")) return Usage("registry list needs --registry HOST:PORT");
  auto stub = rv1::RegistryService::NewStub(RegistryChannel(args));
  std::string token;
  do {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    rv1::ListModulesRequest request;
    request.set_search(args.Get("search"));
    request.set_page_token(token);
    rv1::ListModulesResponse response;
    grpc::Status s = stub->ListModules(&ctx, request, &response);
    if (!s.ok()) return Failed(s);
    for (const auto& m : response.modules()) {
      std::cout << m.module_id() << "\t" << m.latest_version() << "\t" << m.publisher() << "\t"
                << m.license() << "\t" << m.description() << "\n";
    }
    token = response.next_page_token();
  } while (!token.empty());
  return 0;
}

int RegistryAddPublisher(const Args& args) {
  if (args.words.size() < 3 || !args.Has("publisher") || !args.Has("registry") ||
      !args.Has("publisher-token")) {
    return Usage(
        "registry add-publisher needs MODULE, --publisher NAME, --registry and "
        "--publisher-token (the owner's)");
  }
  auto stub = rv1::RegistryService::NewStub(RegistryChannel(args));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  ctx.AddMetadata("authorization", "Bearer " + args.Get("publisher-token"));
  rv1::AddModulePublisherRequest request;
  request.set_parent("modules/" + args.words[2]);
  request.set_publisher(args.Get("publisher"));
  rv1::AddModulePublisherResponse response;
  grpc::Status s = stub->AddModulePublisher(&ctx, request, &response);
  if (!s.ok()) return Failed(s);
  std::cout << args.words[2] << " (owner " << response.owner() << ") may be published by:";
  for (const std::string& p : response.publishers()) std::cout << " " << p;
  std::cout << "\n";
  return 0;
}

int RegistryToken(const Args&) {
  std::random_device rd;
  std::string raw(32, '\0');
  for (char& c : raw) c = static_cast<char>(rd());
  const std::string token = absl::WebSafeBase64Escape(raw);
  std::cout << "token:        " << token << "\n"
            << "token_sha256: " << bundle::Sha256Hex(token) << "\n"
            << "Give the token to the publisher; put token_sha256 in the registry's config.\n";
  return 0;
}

}  // namespace civitas::ctl
