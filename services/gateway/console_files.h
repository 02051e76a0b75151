// The staff console (services/console) as the gateway serves it on its HTTP port: the built
// static files under /console/, the console's settings (/console/settings.json) and, only while
// the demo's development key is in use, a development sign-in (/console/dev-token).
#ifndef CIVITAS_GATEWAY_CONSOLE_FILES_H_
#define CIVITAS_GATEWAY_CONSOLE_FILES_H_

#include <memory>
#include <string>
#include <vector>

#include "services/auth/token.h"
#include "services/gateway/config.h"
#include "services/gateway/http_server.h"

namespace civitas::gateway {

// <executable dir>/../share/civitas/console: the build tree and an installed tree alike.
std::string DefaultConsoleDir();

class ConsoleFiles {
 public:
  // `dir` holds index.html and the bundle. `dev_signing_key` (PEM) is empty unless the gateway
  // verifies tokens with the demo's development key: only then is /console/dev-token served.
  ConsoleFiles(std::string dir, const GatewayConfig& config, const std::string& dev_signing_key);
  ~ConsoleFiles();

  // True for the paths this class answers: "/", "/console" and everything below "/console/".
  static bool Handles(const std::string& path);

  // `path` is the request target without its query.
  HttpResponse Serve(const HttpRequest& request, const std::string& path) const;

  bool dev_sign_in() const { return signer_ != nullptr; }

 private:
  HttpResponse ServeFile(const HttpRequest& request, const std::string& relative) const;
  HttpResponse Settings() const;
  HttpResponse DevToken(const HttpRequest& request) const;

  struct City {
    std::string id, display_name, default_language, time_zone;
    ConsoleConfig console;
  };
  std::vector<std::pair<std::string, std::string>> SecurityHeaders() const;
  HttpResponse Plain(int status, std::string text) const;
  HttpResponse JsonBody(int status, std::string json) const;
  HttpResponse JsonProblem(int status, const std::string& message) const;
  // No inline script, nothing from other origins but the cities' identity providers (connect)
  // and map tile servers (images).
  std::string content_security_policy_;
  std::string dir_;
  std::vector<City> cities_;
  std::string roles_claim_;
  std::unique_ptr<auth::TokenSigner> signer_;
};

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_CONSOLE_FILES_H_
