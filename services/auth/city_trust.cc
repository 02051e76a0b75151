#include "services/auth/city_trust.h"

#include <algorithm>

#include "civitas/abi.h"

namespace civitas::auth {
namespace {

bool Contains(const std::vector<std::string>& list, absl::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

bool IssuedFor(const TokenClaims& claims, const CityTrust& trust) {
  if (!trust.issuers.empty() && !Contains(trust.issuers, claims.issuer)) return false;
  if (!trust.audiences.empty() &&
      std::none_of(claims.audiences.begin(), claims.audiences.end(),
                   [&](const std::string& aud) { return Contains(trust.audiences, aud); })) {
    return false;
  }
  if (!trust.issuers.empty()) return true;
  // No issuer of its own: the token must name the city (or every city) in its roles claim.
  return claims.roles_by_city.count(trust.city) > 0 || claims.roles_by_city.count("*") > 0;
}

uint32_t RolesIn(const TokenClaims& claims, const CityTrust& trust) {
  if (!IssuedFor(claims, trust)) {
    for (const CityTrust& other : trust.citizens_of) {
      if (IssuedFor(claims, other)) return CIVITAS_ROLE_BIT(CIVITAS_ROLE_CITIZEN);
    }
    return 0;
  }
  uint32_t roles = CIVITAS_ROLE_BIT(CIVITAS_ROLE_CITIZEN);
  if (auto it = claims.roles_by_city.find(trust.city); it != claims.roles_by_city.end()) {
    roles |= it->second;
  }
  if (auto it = claims.roles_by_city.find("*"); it != claims.roles_by_city.end()) {
    roles |= it->second;
  }
  return roles;
}

}  // namespace civitas::auth
