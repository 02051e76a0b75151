// Turns a call's `authorization` metadata into a Caller for the call's city.
#ifndef CIVITAS_GATEWAY_AUTHENTICATOR_H_
#define CIVITAS_GATEWAY_AUTHENTICATOR_H_

#include <grpcpp/support/status.h>

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/auth/token.h"
#include "services/gateway/config.h"
#include "services/gateway/module_instance.h"

namespace civitas::gateway {

class Authenticator {
 public:
  // Reads the JWKS and HS256 secret files named in `config`.
  static absl::StatusOr<std::unique_ptr<Authenticator>> Create(const AuthConfig& config);

  // No authorization: an anonymous caller. A bad token: UNAUTHENTICATED with the reason.
  grpc::Status Authenticate(absl::string_view authorization, absl::string_view city,
                            Caller* caller) const;

  // OK if `caller` may call a method that requires `role`; otherwise UNAUTHENTICATED (anonymous
  // caller) or PERMISSION_DENIED, naming the method, the role and the city.
  static grpc::Status CheckRole(const Caller& caller, civitas_role role, absl::string_view method,
                                absl::string_view city);

 private:
  std::unique_ptr<auth::TokenVerifier> verifier_;
};

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_AUTHENTICATOR_H_
