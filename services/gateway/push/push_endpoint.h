// The request-forgery guard of push addresses. A device registers the URL the gateway will POST
// to, so that URL must not reach anything but a push service on the public Internet: https only,
// no user info, and every address its host resolves to must be public (no loopback, private,
// CGNAT, link-local — the cloud metadata address 169.254.169.254 among them —, ULA, multicast,
// documentation or reserved ranges; IPv6 only from global unicast 2000::/3, without 6to4 and
// Teredo, which embed IPv4 addresses). It is checked after DNS resolution, at registration and
// again before every delivery, and the delivery connects to exactly the address that was checked
// (CURLOPT_RESOLVE), so a name that resolves differently a moment later gains nothing.
#ifndef CIVITAS_GATEWAY_PUSH_PUSH_ENDPOINT_H_
#define CIVITAS_GATEWAY_PUSH_PUSH_ENDPOINT_H_

#include <netinet/in.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace civitas::gateway::push {

struct EndpointPolicy {
  // "host" or "*.suffix"; empty = any host.
  std::vector<std::string> allowed_hosts;
  // Tests only: 127.0.0.0/8 and ::1 count as public.
  bool allow_loopback = false;
};

// An https URL taken apart.
struct EndpointUrl {
  std::string host;  // lowercase; an IPv6 literal without brackets
  int port = 443;
  std::string path;    // from the first '/', query included; "/" if none
  std::string origin;  // "https://host[:port]", the VAPID audience
};

// The endpoint ready to connect to: its parts and the address that passed the check.
struct ResolvedEndpoint {
  EndpointUrl url;
  std::string address;  // numeric, e.g. "192.0.2.1" or "2001:db8::1"
};

// INVALID_ARGUMENT naming what is wrong (not https, user info, no host, a bad port, spaces).
absl::StatusOr<EndpointUrl> ParseEndpointUrl(absl::string_view url);

// True for an address a push may be sent to: see the file comment.
bool IsPublicAddress(const sockaddr* address, bool allow_loopback);
// The same for a numeric address string; false if it is not one.
bool IsPublicAddress(absl::string_view numeric, bool allow_loopback);

// Host names to numeric addresses (getaddrinfo in production; tests substitute their own).
using Resolver = std::function<absl::StatusOr<std::vector<std::string>>(const std::string& host)>;
Resolver SystemResolver();

// Parses, checks the allow-list, resolves and checks every address. INVALID_ARGUMENT for an
// endpoint that can never be used (the message never repeats the URL: it is personal data),
// UNAVAILABLE if the name does not resolve right now.
absl::StatusOr<ResolvedEndpoint> CheckEndpoint(absl::string_view url, const EndpointPolicy& policy,
                                               const Resolver& resolve);

}  // namespace civitas::gateway::push

#endif  // CIVITAS_GATEWAY_PUSH_PUSH_ENDPOINT_H_
