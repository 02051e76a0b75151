// One connection to push services: a libcurl easy handle kept across requests (so connections
// are reused, HTTP/2 where the server offers it by ALPN), used by one delivery thread at a time.
// Web Push requests are pinned to the address push_endpoint.h checked and refuse to connect
// anywhere else; FCM and APNs requests go to the operator's configured endpoints.
#ifndef CIVITAS_GATEWAY_PUSH_PUSH_CONNECTION_H_
#define CIVITAS_GATEWAY_PUSH_PUSH_CONNECTION_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/gateway/push/push_endpoint.h"

namespace civitas::gateway::push {

// What an answer means for the delivery, when the status code alone does not say it (the
// providers' error bodies, push_delivery.h's Decide()).
enum class Verdict {
  kByStatus,        // 2xx delivered, 404/410 gone, 429/5xx/no answer retried, else refused
  kGone,            // the provider says the device's token is gone (FCM UNREGISTERED, APNs 410)
  kRefused,         // not delivered and not worth repeating
  kAuthRejected,    // the provider refused our credentials again after a fresh token
  kBadCredentials,  // the operator's key file is missing or unusable
};

// What happened to one attempt, for the retry rule.
struct AttemptResult {
  long http_status = 0;              // 0 = no answer (network error, timeout)
  std::string error;                 // for a network error
  int64_t retry_after_seconds = -1;  // Retry-After of the answer; -1 = none
  Verdict verdict = Verdict::kByStatus;
  std::string detail;     // the provider's reason, e.g. "UNREGISTERED", "BadDeviceToken"
  std::string failure;    // kRefused: the metrics' reason when not "refused" ("encryption", ...)
  std::string body;       // the answer's first 16 KiB
  long http_version = 0;  // CURL_HTTP_VERSION_* of the answer (CURL_HTTP_VERSION_2_0 = 3)
};

// Retry-After as seconds: a number of seconds, or an HTTP date; -1 if neither.
int64_t ParseRetryAfter(absl::string_view value, absl::Time now);

struct PushRequest {
  std::string url;  // https
  // Web Push: the checked endpoint; the request goes to its address only. Unset (empty
  // address): the url's host is resolved by DNS (the operator's FCM/APNs/OAuth endpoints).
  ResolvedEndpoint pinned;
  bool allow_loopback = false;  // with `pinned`: the test switch of push_endpoint.h
  std::string ca_file;          // PEM CA certificates; empty = the system's
  std::vector<std::string> headers;
  std::string body;
  long timeout_seconds = 15;
};

class PushConnection {
 public:
  // `stopping` (borrowed, outlives this) aborts a request in flight when it becomes true.
  explicit PushConnection(const std::atomic<bool>* stopping);
  ~PushConnection();
  PushConnection(const PushConnection&) = delete;
  PushConnection& operator=(const PushConnection&) = delete;

  // A POST; never throws, never logs (URLs may hold device tokens).
  AttemptResult Post(const PushRequest& request);

  // The url of a checked Web Push endpoint, rebuilt from its checked parts.
  static std::string PinnedUrl(const ResolvedEndpoint& endpoint);

 private:
  struct State;  // the libcurl handle and what its callbacks collect (push_connection.cc)
  std::unique_ptr<State> state_;
};

}  // namespace civitas::gateway::push

#endif  // CIVITAS_GATEWAY_PUSH_PUSH_CONNECTION_H_
