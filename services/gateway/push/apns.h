// The Apple Push Notification service: HTTP/2 only, authenticated by a provider token (an ES256
// JWT, {alg, kid} over {iss = team id, iat}, signed with the team's .p8 key) that is reused for
// 50 minutes (Apple refuses a new one more often than every 20 minutes and an old one after an
// hour). The request building and the answer's meaning are pure functions (apns_test.cc);
// SendApns is the attempt.
#ifndef CIVITAS_GATEWAY_PUSH_APNS_H_
#define CIVITAS_GATEWAY_PUSH_APNS_H_

#include <memory>
#include <string>
#include <vector>

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

// How long one provider token is used.
inline constexpr absl::Duration kApnsTokenLifetime = absl::Minutes(50);

// The provider token's claims: {"iss": team_id, "iat": now}.
std::string ApnsTokenClaims(absl::string_view team_id, absl::Time now);
// {endpoint}/3/device/{token}, the token percent-encoded beyond letters and digits.
std::string ApnsUrl(const ApnsConfig& config, absl::string_view device_token);
// authorization: bearer, apns-topic, apns-push-type: alert, apns-priority 10 (urgent) or 5,
// apns-expiration (now + 1 day), apns-collapse-id (the message id).
std::vector<std::string> ApnsHeaders(const ApnsConfig& config, const notify::Message& message,
                                     absl::string_view provider_token, absl::Time now);
// {"aps": {"alert": {title, body}}, "message", "topic", "language", "deep_link"}.
std::string ApnsPayloadJson(const notify::Message& message, absl::string_view device_language,
                            absl::string_view default_language);

// Sets result->verdict and ->detail (the answer's "reason") : 410, or 400 BadDeviceToken, means
// the token is gone; 403 ExpiredProviderToken/InvalidProviderToken is the caller's to renew; 404
// (a wrong path: the operator's endpoint) and other 4xx but 429 are refused; 429 and 5xx stay
// kByStatus (retried).
void ClassifyApnsAnswer(AttemptResult* result);
// True for a 403 whose reason says the provider token needs renewing.
bool ProviderTokenRefused(const AttemptResult& result);

// One city's APNs key and its current provider token, shared by the APNs delivery threads.
class ApnsCredentials {
 public:
  explicit ApnsCredentials(ApnsConfig config) : config_(std::move(config)) {}
  const ApnsConfig& config() const { return config_; }
  // The token in use, or a new one when it is older than kApnsTokenLifetime or is `stale` (APNs
  // refused it). FAILED_PRECONDITION / INVALID_ARGUMENT for a key file that is unusable.
  absl::StatusOr<std::string> Token(absl::string_view stale);
  int64_t tokens_made() const;

 private:
  const ApnsConfig config_;
  mutable absl::Mutex mu_;
  std::unique_ptr<JwtSigner> signer_ ABSL_GUARDED_BY(mu_);
  std::string token_ ABSL_GUARDED_BY(mu_);
  absl::Time made_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int64_t tokens_made_ ABSL_GUARDED_BY(mu_) = 0;
};

// One attempt to deliver `message` to an APNS `device`, and once more with a new provider token
// if APNs refused the first.
AttemptResult SendApns(PushConnection& connection, ApnsCredentials& credentials,
                       const notify::Message& message, const notify::Device& device,
                       absl::string_view default_language, long timeout_seconds);

}  // namespace civitas::gateway::push

#endif  // CIVITAS_GATEWAY_PUSH_APNS_H_
