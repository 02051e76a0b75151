// Any text as a bearer token: UNAUTHENTICATED with a reason or claims, never a crash.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "services/auth/token.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::unique_ptr<civitas::auth::TokenVerifier> verifier = [] {
    civitas::auth::VerifierOptions o;
    o.jwks_json =
        R"({"keys":[{"kty":"EC","crv":"P-256","kid":"k","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]})";
    o.hs256_secret = "0123456789abcdef0123456789abcdef";
    return std::move(*civitas::auth::TokenVerifier::Create(o));
  }();
  const std::string token(reinterpret_cast<const char*>(data), size);
  (void)verifier->Verify(token, absl::FromUnixSeconds(1800000000));
  return 0;
}
