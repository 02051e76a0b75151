#include "services/gateway/authenticator.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "civitas/module.h"
#include "services/gateway/log.h"
#include "services/gateway/status_details.h"

namespace civitas::gateway {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", what, " '", path, "'"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::Create(
    const AuthConfig& config, const RouteTableHolder* routes) {
  auth::VerifierOptions options;
  options.max_lifetime = absl::Seconds(config.max_token_lifetime_seconds);
  options.issuer = config.issuer;
  options.audience = config.audience;
  options.roles_claim = config.roles_claim;
  options.leeway = absl::Seconds(config.leeway_seconds);
  if (!config.jwks_file.empty()) {
    absl::StatusOr<std::string> jwks = ReadFile(config.jwks_file, "auth.jwks_file");
    if (!jwks.ok()) return jwks.status();
    options.jwks_json = *jwks;
  }
  if (config.allow_hs256) {
    absl::StatusOr<std::string> secret =
        ReadFile(config.hs256_secret_file, "auth.hs256_secret_file");
    if (!secret.ok()) return secret.status();
    std::string s(absl::StripTrailingAsciiWhitespace(*secret));
    if (s.size() < 32) {
      return absl::InvalidArgumentError(
          "auth.hs256_secret_file: the secret must have at least "
          "32 bytes");
    }
    options.hs256_secret = s;
  }
  absl::StatusOr<std::unique_ptr<auth::TokenVerifier>> verifier =
      auth::TokenVerifier::Create(options);
  if (!verifier.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("auth.jwks_file '", config.jwks_file, "': ", verifier.status().message()));
  }
  auto a = std::make_unique<Authenticator>();
  a->verifier_ = std::move(*verifier);
  a->routes_ = routes;
  a->operator_issuers_ = config.operator_issuers;
  if (!config.oidc_issuers.empty()) {
    auth::JwksFetcherOptions fetch;
    fetch.issuers = config.oidc_issuers;
    fetch.ca_file = config.oidc_ca_file;
    fetch.min_refetch = absl::Seconds(config.oidc_refetch_seconds);
    fetch.report = [](const std::string& issuer, const absl::Status& result, size_t keys) {
      if (result.ok()) {
        Log(LogLevel::kInfo, "identity provider keys fetched",
            {{"issuer", issuer}, {"keys", std::to_string(keys)}});
      } else {
        Log(LogLevel::kWarning, "identity provider keys not fetched; the last ones stay in use",
            {{"issuer", issuer}, {"error", std::string(result.message())}});
      }
    };
    a->fetcher_ = std::make_unique<auth::JwksFetcher>(std::move(fetch), a->verifier_.get());
    auth::JwksFetcher* fetcher = a->fetcher_.get();
    a->verifier_->ExpectIssuerKeys(
        config.oidc_issuers, [fetcher](const std::string& issuer) { fetcher->KeyUnknown(issuer); });
    // A provider that is down does not stop the gateway: its tokens are refused until its keys
    // arrive, everything else serves.
    a->fetcher_->Start(absl::Seconds(5));
  }
  return a;
}

namespace {

auth::CityTrust TrustFrom(const CityConfig& city) {
  return {city.id, city.auth.issuers, city.auth.audiences, {}};
}

}  // namespace

auth::CityTrust Authenticator::TrustOf(absl::string_view city) const {
  std::shared_ptr<const RouteTable> table = routes_ ? routes_->Get() : nullptr;
  if (!table) return {std::string(city), {}, {}, {}};
  auto it = table->cities().find(std::string(city));
  if (it == table->cities().end()) return {std::string(city), {}, {}, {}};
  auth::CityTrust trust = TrustFrom(it->second.config);
  for (const std::string& other : it->second.config.auth.accept_citizens_of) {
    auto o = table->cities().find(other);
    // A city hosted elsewhere is known by name only: its tokens must name it in the roles claim.
    trust.citizens_of.push_back(o == table->cities().end() ? auth::CityTrust{other, {}, {}, {}}
                                                           : TrustFrom(o->second.config));
  }
  return trust;
}

uint32_t Authenticator::RolesIn(const auth::TokenClaims& claims, absl::string_view city) const {
  return auth::RolesIn(claims, TrustOf(city));
}

bool Authenticator::IsOperator(const auth::TokenClaims& claims) const {
  if (!claims.instance_operator) return false;
  return operator_issuers_.empty() || std::find(operator_issuers_.begin(), operator_issuers_.end(),
                                                claims.issuer) != operator_issuers_.end();
}

grpc::Status Authenticator::Verify(absl::string_view authorization,
                                   auth::TokenClaims* claims) const {
  if (authorization.empty()) {
    return GatewayError(grpc::StatusCode::UNAUTHENTICATED,
                        "no 'authorization: Bearer <token>' was sent", "TOKEN_MISSING");
  }
  if (authorization.size() < 7 || !absl::EqualsIgnoreCase(authorization.substr(0, 7), "bearer ")) {
    return GatewayError(grpc::StatusCode::UNAUTHENTICATED,
                        "authorization metadata must be 'Bearer <token>'",
                        "AUTHORIZATION_MALFORMED");
  }
  absl::StatusOr<auth::TokenClaims> verified =
      verifier_->Verify(absl::StripAsciiWhitespace(authorization.substr(7)), absl::Now());
  if (!verified.ok()) {
    const bool expired = verified.status().GetPayload(auth::kTokenExpiredPayload).has_value();
    return GatewayError(grpc::StatusCode::UNAUTHENTICATED, std::string(verified.status().message()),
                        expired ? "TOKEN_EXPIRED" : "TOKEN_INVALID");
  }
  *claims = *std::move(verified);
  return grpc::Status::OK;
}

grpc::Status Authenticator::Authenticate(absl::string_view authorization, absl::string_view city,
                                         Caller* caller) const {
  *caller = Caller{};
  if (authorization.empty()) return grpc::Status::OK;
  if (authorization.size() < 7 || !absl::EqualsIgnoreCase(authorization.substr(0, 7), "bearer ")) {
    return GatewayError(grpc::StatusCode::UNAUTHENTICATED,
                        "authorization metadata must be 'Bearer <token>'",
                        "AUTHORIZATION_MALFORMED");
  }
  auth::TokenClaims claims;
  if (grpc::Status s = Verify(authorization, &claims); !s.ok()) return s;
  const uint32_t roles = RolesIn(claims, city);
  if (roles == 0) {
    return GatewayError(
        grpc::StatusCode::UNAUTHENTICATED,
        absl::StrCat("invalid bearer token: it was not issued for city '", city, "' (issuer '",
                     claims.issuer,
                     "'); sign in with this city's login, or ask its operator to accept yours"),
        "TOKEN_NOT_FOR_CITY", {{"city", std::string(city)}, {"issuer", claims.issuer}});
  }
  caller->subject = claims.subject;
  caller->roles = roles;
  return grpc::Status::OK;
}

grpc::Status Authenticator::CheckRole(const Caller& caller, civitas_role role,
                                      absl::string_view method, absl::string_view city) {
  if (RoleSatisfied(caller.roles, static_cast<Role>(role))) return grpc::Status::OK;
  if (caller.subject.empty()) {
    return GatewayError(
        grpc::StatusCode::UNAUTHENTICATED,
        absl::StrCat(method, " needs a signed-in caller with role ", auth::RoleName(role),
                     " in city '", city, "'; send 'authorization: Bearer <token>'"),
        "SIGN_IN_REQUIRED", {{"required_role", auth::RoleName(role)}, {"city", std::string(city)}});
  }
  return GatewayError(grpc::StatusCode::PERMISSION_DENIED,
                      absl::StrCat(method, " needs role ", auth::RoleName(role), " in city '", city,
                                   "'; '", caller.subject, "' does not have it"),
                      "ROLE_REQUIRED",
                      {{"required_role", auth::RoleName(role)}, {"city", std::string(city)}});
}

}  // namespace civitas::gateway
