// Per-city trust in bearer tokens: a verified token counts in a city only if it was issued for
// that city (its issuers and audiences, or the roles claim naming it), or for a city whose
// citizens it accepts.
#ifndef CIVITAS_AUTH_CITY_TRUST_H_
#define CIVITAS_AUTH_CITY_TRUST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "services/auth/token.h"

namespace civitas::auth {

// How one city decides whether a token was issued for it (its `auth:` block).
struct CityTrust {
  std::string city;
  // Empty: any issuer the gateway's keys verify, and the roles claim must name the city (or "*").
  // Set: `iss` must be one of them (the roles claim may then be absent).
  std::vector<std::string> issuers;
  std::vector<std::string> audiences;  // set: `aud` must contain one of them
  // Tokens issued for these cities make citizens here too (a region sharing one login); they
  // never carry their other roles over.
  std::vector<CityTrust> citizens_of;
};

// True if the token was issued for `trust.city`.
bool IssuedFor(const TokenClaims& claims, const CityTrust& trust);

// The roles a token grants in `trust.city`: citizen and its roles there if it was issued for that
// city, citizen only if it was issued for a city in `citizens_of`, and 0 (nothing: refuse it) if
// neither.
uint32_t RolesIn(const TokenClaims& claims, const CityTrust& trust);

}  // namespace civitas::auth

#endif  // CIVITAS_AUTH_CITY_TRUST_H_
