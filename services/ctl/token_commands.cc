// civitasctl token mint: development tokens (ES256/RS256 from a PEM key, or HS256).
#include <iostream>

#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "services/auth/token.h"
#include "services/ctl/commands.h"

namespace civitas::ctl {

int TokenMint(const Args& args) {
  civitas::auth::MintRequest request;
  request.subject = args.Get("subject");
  const std::string city = args.Get("city");
  if (request.subject.empty() || city.empty())
    return Usage("token mint needs --city and --subject");
  std::vector<std::string> roles;
  for (auto [it, end] = args.flags.equal_range("role"); it != end; ++it) {
    if (it->second == civitas::auth::kOperatorRole) {
      request.roles_by_city["*"].push_back(it->second);  // above every city, never per city
      continue;
    }
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
  std::string material;
  if (std::string secret_file = args.Get("hs256-secret-file"); !secret_file.empty()) {
    if (!ReadFile(secret_file, &material)) return Usage("cannot read " + secret_file);
    signer = civitas::auth::TokenSigner::Hs256(
        std::string(absl::StripTrailingAsciiWhitespace(material)));
  } else {
    std::string key_file = args.Get("signing-key", "./state/dev-signing-key.pem");
    if (!ReadFile(key_file, &material)) {
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

}  // namespace civitas::ctl
