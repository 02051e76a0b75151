// Turns a call's `authorization` metadata into a Caller for the call's city.
#ifndef CIVITAS_GATEWAY_AUTHENTICATOR_H_
#define CIVITAS_GATEWAY_AUTHENTICATOR_H_

#include <grpcpp/support/status.h>

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/auth/city_trust.h"
#include "services/auth/jwks_fetcher.h"
#include "services/auth/token.h"
#include "services/gateway/config.h"
#include "services/gateway/module_instance.h"
#include "services/gateway/route_table.h"

namespace civitas::gateway {

class Authenticator {
 public:
  // Reads the JWKS and HS256 secret files named in `config`. Each city's own `auth:` block (which
  // issuers and audiences it accepts) is read from `routes` at every call, so cities added at
  // runtime are covered.
  static absl::StatusOr<std::unique_ptr<Authenticator>> Create(const AuthConfig& config,
                                                               const RouteTableHolder* routes);

  // No authorization: an anonymous caller. A bad token, or one that was not issued for `city`:
  // UNAUTHENTICATED with the reason.
  grpc::Status Authenticate(absl::string_view authorization, absl::string_view city,
                            Caller* caller) const;

  // The token alone, for AdminService: UNAUTHENTICATED if it is missing or bad.
  grpc::Status Verify(absl::string_view authorization, auth::TokenClaims* claims) const;
  // What verified claims grant in `city` (0: the token was not issued for it).
  uint32_t RolesIn(const auth::TokenClaims& claims, absl::string_view city) const;
  // True if the claims make the caller the instance operator (auth.operator_issuers applied).
  bool IsOperator(const auth::TokenClaims& claims) const;

  // OK if `caller` may call a method that requires `role`; otherwise UNAUTHENTICATED (anonymous
  // caller) or PERMISSION_DENIED, naming the method, the role and the city.
  static grpc::Status CheckRole(const Caller& caller, civitas_role role, absl::string_view method,
                                absl::string_view city);

 private:
  auth::CityTrust TrustOf(absl::string_view city) const;
  std::unique_ptr<auth::TokenVerifier> verifier_;
  // After verifier_: stopped before the verifier it feeds goes away.
  std::unique_ptr<auth::JwksFetcher> fetcher_;
  const RouteTableHolder* routes_ = nullptr;
  std::vector<std::string> operator_issuers_;
};

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_AUTHENTICATOR_H_
