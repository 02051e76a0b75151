// The embedded default: what `civitas-gateway` with no flags serves. One city, "demo", with the
// bundled modules enabled, German sample content, and a development signing key so that
// `civitasctl token mint` produces tokens this gateway accepts.
#ifndef CIVITAS_GATEWAY_DEMO_H_
#define CIVITAS_GATEWAY_DEMO_H_

#include <string>

#include "absl/status/statusor.h"
#include "services/gateway/config.h"

namespace civitas::gateway {

// Paths of the development key pair inside a data directory.
std::string DevSigningKeyPath(const std::string& data_dir);
std::string DevJwksPath(const std::string& data_dir);

// The demo configuration with its data in `data_dir`; creates the development key pair there on
// first use.
absl::StatusOr<GatewayConfig> DemoConfig(const std::string& data_dir);

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_DEMO_H_
