// Firebase Cloud Messaging, HTTP v1 API: the service account's OAuth 2 access token by the
// JWT-bearer grant (RFC 7523; an RS256 assertion for the firebase.messaging scope), cached until
// five minutes before it expires, and one `messages:send` per delivery. The request building and
// the answer's meaning are pure functions (fcm_test.cc); SendFcm is the attempt.
#ifndef CIVITAS_GATEWAY_PUSH_FCM_H_
#define CIVITAS_GATEWAY_PUSH_FCM_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "civitas/notify/v1/notify.pb.h"
#include "services/gateway/config.h"
#include "services/gateway/push/jwt.h"
#include "services/gateway/push/push_connection.h"

namespace civitas::gateway::push {

namespace notify = ::civitas::notify::v1;

inline constexpr char kFcmScope[] = "https://www.googleapis.com/auth/firebase.messaging";

// What the gateway uses of a service account's JSON key.
struct ServiceAccount {
  std::string client_email;
  std::string private_key_pem;  // RSA, PKCS#8 PEM
  std::string private_key_id;   // the JWT's kid (optional)
  std::string token_uri;        // https; default https://oauth2.googleapis.com/token
};
// INVALID_ARGUMENT naming the missing or malformed field (never quoting the key).
absl::StatusOr<ServiceAccount> ParseServiceAccount(absl::string_view json);

// The assertion's claims: iss = client_email, scope, aud = token_uri, iat = now, exp = now + 1 h.
std::string FcmAssertionClaims(const ServiceAccount& account, absl::Time now);
// The token request's form body: grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer and the
// assertion.
std::string FcmTokenRequestBody(absl::string_view assertion);

struct AccessToken {
  std::string value;
  absl::Time refresh_at;  // five minutes before it expires (at once if it lives shorter)
};
// The token endpoint's 200 answer: {"access_token", "expires_in", "token_type": "Bearer"}.
absl::StatusOr<AccessToken> ParseAccessTokenAnswer(absl::string_view body, absl::Time now);

// {endpoint}/v1/projects/{project_id}/messages:send
std::string FcmSendUrl(const FcmConfig& config);
// {"message": {"token", "notification": {title, body}, "data": {message, topic, language,
// title, body, deep_link, urgent: all strings}, "android": {priority, collapse_key, ttl}}}.
std::string FcmMessageJson(const notify::Message& message, absl::string_view token,
                           absl::string_view device_language, absl::string_view default_language);

// Sets result->verdict and ->detail from an answer of messages:send: 404, or an error naming
// UNREGISTERED, means the token is gone; other 4xx but 401 and 429 are refused; 401 (the
// access token) and 429/5xx stay kByStatus for the caller and Decide().
void ClassifyFcmAnswer(AttemptResult* result);

// One city's service account and its access token, shared by the FCM delivery threads.
class FcmCredentials {
 public:
  explicit FcmCredentials(FcmConfig config) : config_(std::move(config)) {}
  const FcmConfig& config() const { return config_; }

  // The cached access token, or a new one fetched through `connection` (one fetch at a time;
  // `stale` is the token a 401 refused: fetch anew unless another thread already has). On
  // failure: why, as an attempt's result (kBadCredentials for an unusable key file, kByStatus
  // for a token endpoint that is down, kAuthRejected for one that refuses the assertion).
  absl::StatusOr<std::string> Token(PushConnection& connection, absl::string_view stale,
                                    long timeout_seconds, AttemptResult* failure);
  // Token requests made so far (tests and logs).
  int64_t fetches() const;

 private:
  absl::Status Load() ABSL_EXCLUSIVE_LOCKS_REQUIRED(fetch_mu_);

  const FcmConfig config_;
  absl::Mutex fetch_mu_;  // one token request at a time
  ServiceAccount account_ ABSL_GUARDED_BY(fetch_mu_);
  std::unique_ptr<JwtSigner> signer_ ABSL_GUARDED_BY(fetch_mu_);
  mutable absl::Mutex mu_;
  AccessToken token_ ABSL_GUARDED_BY(mu_);
  int64_t fetches_ ABSL_GUARDED_BY(mu_) = 0;
};

// One attempt to deliver `message` to an FCM `device`: the access token, the send, and once
// more with a new token if the first was refused (401).
AttemptResult SendFcm(PushConnection& connection, FcmCredentials& credentials,
                      const notify::Message& message, const notify::Device& device,
                      absl::string_view default_language, long timeout_seconds);

}  // namespace civitas::gateway::push

#endif  // CIVITAS_GATEWAY_PUSH_FCM_H_
