// Keeps the signing keys of OpenID Connect identity providers current, so a provider's key
// rotation needs no restart of the gateway.
//
// For each configured issuer the fetcher reads the discovery document
// (`<issuer>/.well-known/openid-configuration`, OpenID Connect Discovery 1.0 §4), checks that it
// names the same issuer, fetches its `jwks_uri` and hands the keys, bound to that issuer, to the
// TokenVerifier. It fetches again when the key set's `Cache-Control: max-age` has passed (clamped
// to `min_refresh` .. `max_refresh`; `refresh` without one), at once when a token names a key the
// verifier does not know (at most every `min_refetch` per issuer, so forged `kid`s cannot make it
// hammer the provider), and after a failure with a growing delay; a failed fetch keeps the keys
// it had. One background thread does all fetching; verification never waits for the network.
#ifndef CIVITAS_AUTH_JWKS_FETCHER_H_
#define CIVITAS_AUTH_JWKS_FETCHER_H_

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/auth/token.h"

namespace civitas::auth {

// OK if `url` may be fetched for keys: https, or http to a loopback host (a provider on the same
// machine, and tests). Anything else names what is wrong.
absl::Status CheckKeyUrl(std::string_view url);

// The max-age of a Cache-Control header value ("public, max-age=300" -> 300 s), if it has one.
std::optional<absl::Duration> MaxAge(std::string_view cache_control);

// From a discovery document: its `jwks_uri`, after checking that its `issuer` is `issuer`.
absl::StatusOr<std::string> JwksUriFromDiscovery(std::string_view document,
                                                 std::string_view issuer);

struct JwksFetcherOptions {
  std::vector<std::string> issuers;
  std::string ca_file;  // PEM bundle for the providers' TLS; empty = the system's
  absl::Duration refresh = absl::Minutes(10);
  absl::Duration min_refresh = absl::Minutes(1);
  absl::Duration max_refresh = absl::Hours(1);
  absl::Duration min_refetch = absl::Seconds(30);
  absl::Duration timeout = absl::Seconds(10);
  size_t max_document_bytes = 512 << 10;
  // Told about every fetch: the issuer, and OK with the number of keys or the error.
  std::function<void(const std::string& issuer, const absl::Status& result, size_t keys)> report;
};

class JwksFetcher {
 public:
  JwksFetcher(JwksFetcherOptions options, TokenVerifier* verifier);
  ~JwksFetcher();  // stops the thread
  JwksFetcher(const JwksFetcher&) = delete;
  JwksFetcher& operator=(const JwksFetcher&) = delete;

  // Fetches every issuer, waiting at most `wait` for the first round, then keeps them current in
  // the background.
  void Start(absl::Duration wait);
  // A token of `issuer` named a key the verifier does not have: fetch soon.
  void KeyUnknown(const std::string& issuer);

  struct IssuerState {
    std::string jwks_uri;
    size_t keys = 0;
    absl::Time fetched = absl::InfinitePast();  // last success
    std::string error;                          // of the last attempt; empty = it worked
  };
  std::map<std::string, IssuerState> State() const;

 private:
  struct Issuer {
    IssuerState state;
    absl::Time due = absl::InfinitePast();
    absl::Time last_attempt = absl::InfinitePast();
    absl::Duration backoff = absl::ZeroDuration();
    int rounds = 0;  // attempts finished
  };
  void Run();
  // One attempt for `issuer`; returns when to try next.
  absl::Time Fetch(const std::string& issuer);
  absl::StatusOr<std::string> Get(const std::string& url, std::string* cache_control) const;

  const JwksFetcherOptions options_;
  TokenVerifier* const verifier_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Issuer> issuers_;  // guarded by mu_
  bool stop_ = false;                      // guarded by mu_
  std::thread thread_;
};

}  // namespace civitas::auth

#endif  // CIVITAS_AUTH_JWKS_FETCHER_H_
