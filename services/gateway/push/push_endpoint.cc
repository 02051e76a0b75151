#include "services/gateway/push/push_endpoint.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace civitas::gateway::push {

namespace {

bool InV4(uint32_t a, uint32_t net, int bits) {
  const uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
  return (a & mask) == (net & mask);
}

constexpr uint32_t V4(int a, int b, int c, int d) {
  return (uint32_t(a) << 24) | (uint32_t(b) << 16) | (uint32_t(c) << 8) | uint32_t(d);
}

bool PublicV4(uint32_t a, bool allow_loopback) {
  if (InV4(a, V4(127, 0, 0, 0), 8)) return allow_loopback;
  struct Net {
    uint32_t net;
    int bits;
  };
  static constexpr Net kRefused[] = {
      {V4(0, 0, 0, 0), 8},      {V4(10, 0, 0, 0), 8},      {V4(100, 64, 0, 0), 10},
      {V4(169, 254, 0, 0), 16}, {V4(172, 16, 0, 0), 12},   {V4(192, 0, 0, 0), 24},
      {V4(192, 0, 2, 0), 24},   {V4(192, 88, 99, 0), 24},  {V4(192, 168, 0, 0), 16},
      {V4(198, 18, 0, 0), 15},  {V4(198, 51, 100, 0), 24}, {V4(203, 0, 113, 0), 24},
      {V4(224, 0, 0, 0), 4},    {V4(240, 0, 0, 0), 4},
  };
  for (const Net& n : kRefused) {
    if (InV4(a, n.net, n.bits)) return false;
  }
  return true;
}

bool PublicV6(const unsigned char* b, bool allow_loopback) {
  static const unsigned char kLoopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  if (memcmp(b, kLoopback, 16) == 0) return allow_loopback;
  // IPv4-mapped (::ffff:a.b.c.d): the IPv4 rules.
  static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (memcmp(b, kMapped, 12) == 0) {
    return PublicV4((uint32_t(b[12]) << 24) | (uint32_t(b[13]) << 16) | (uint32_t(b[14]) << 8) |
                        uint32_t(b[15]),
                    allow_loopback);
  }
  if ((b[0] & 0xe0) != 0x20) return false;                                         // not 2000::/3
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return false;  // 2001:db8::/32
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) return false;  // Teredo 2001::/32
  if (b[0] == 0x20 && b[1] == 0x02) return false;                            // 6to4 2002::/16
  return true;
}

// "host" matches itself, "*.suffix" any name ending in ".suffix".
bool HostAllowed(const std::string& host, const std::vector<std::string>& allowed) {
  if (allowed.empty()) return true;
  for (const std::string& a : allowed) {
    if (absl::StartsWith(a, "*.")) {
      if (absl::EndsWith(host, a.substr(1)) && host.size() > a.size() - 1) return true;
    } else if (host == a) {
      return true;
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<EndpointUrl> ParseEndpointUrl(absl::string_view url) {
  constexpr absl::string_view kScheme = "https://";
  if (url.size() < kScheme.size() ||
      !absl::EqualsIgnoreCase(url.substr(0, kScheme.size()), kScheme)) {
    return absl::InvalidArgumentError("web_push.endpoint must be an https URL");
  }
  for (unsigned char c : url) {
    if (c <= 0x20 || c >= 0x7f || c == '\\') {
      return absl::InvalidArgumentError(
          "web_push.endpoint must be a URL without spaces, controls or non-ASCII characters");
    }
  }
  absl::string_view rest = url.substr(kScheme.size());
  const size_t end = rest.find_first_of("/?#");
  absl::string_view authority = rest.substr(0, end);
  EndpointUrl out;
  out.path = end == absl::string_view::npos ? "/" : std::string(rest.substr(end));
  if (!out.path.empty() && out.path[0] != '/') out.path = "/" + out.path;
  if (const size_t hash = out.path.find('#'); hash != std::string::npos) out.path.resize(hash);
  if (authority.find('@') != absl::string_view::npos) {
    return absl::InvalidArgumentError("web_push.endpoint must not contain user info");
  }
  absl::string_view host = authority, port;
  if (absl::StartsWith(authority, "[")) {
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError("web_push.endpoint has an unclosed IPv6 literal");
    }
    host = authority.substr(1, close - 1);
    absl::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return absl::InvalidArgumentError("web_push.endpoint has a bad host");
      port = after.substr(1);
    }
  } else if (const size_t colon = authority.rfind(':'); colon != absl::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty() || host.size() > 253) {
    return absl::InvalidArgumentError("web_push.endpoint needs a host of at most 253 characters");
  }
  if (!port.empty()) {
    int p = 0;
    if (!absl::SimpleAtoi(port, &p) || p < 1 || p > 65535) {
      return absl::InvalidArgumentError("web_push.endpoint has a port outside 1 to 65535");
    }
    out.port = p;
  }
  out.host = absl::AsciiStrToLower(host);
  const bool v6 = out.host.find(':') != std::string::npos;
  out.origin = absl::StrCat("https://", v6 ? "[" : "", out.host, v6 ? "]" : "",
                            out.port == 443 ? "" : absl::StrCat(":", out.port));
  return out;
}

bool IsPublicAddress(const sockaddr* address, bool allow_loopback) {
  if (address->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    return PublicV4(ntohl(in->sin_addr.s_addr), allow_loopback);
  }
  if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    return PublicV6(in6->sin6_addr.s6_addr, allow_loopback);
  }
  return false;
}

bool IsPublicAddress(absl::string_view numeric, bool allow_loopback) {
  const std::string s(numeric);
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) return PublicV4(ntohl(v4.s_addr), allow_loopback);
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) return PublicV6(v6.s6_addr, allow_loopback);
  return false;
}

Resolver SystemResolver() {
  return [](const std::string& host) -> absl::StatusOr<std::vector<std::string>> {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* result = nullptr;
    const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &result);
    if (rc != 0) {
      if (rc == EAI_NONAME) {
        return absl::InvalidArgumentError("the web_push.endpoint's host does not exist");
      }
      return absl::UnavailableError(
          absl::StrCat("the web_push.endpoint's host does not resolve now: ", gai_strerror(rc)));
    }
    std::vector<std::string> out;
    for (addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
      char buf[INET6_ADDRSTRLEN] = {};
      const void* src = ai->ai_family == AF_INET
                            ? static_cast<const void*>(
                                  &reinterpret_cast<const sockaddr_in*>(ai->ai_addr)->sin_addr)
                            : static_cast<const void*>(
                                  &reinterpret_cast<const sockaddr_in6*>(ai->ai_addr)->sin6_addr);
      if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
          inet_ntop(ai->ai_family, src, buf, sizeof(buf)) != nullptr) {
        out.push_back(buf);
      }
    }
    freeaddrinfo(result);
    return out;
  };
}

absl::StatusOr<ResolvedEndpoint> CheckEndpoint(absl::string_view url, const EndpointPolicy& policy,
                                               const Resolver& resolve) {
  absl::StatusOr<EndpointUrl> parsed = ParseEndpointUrl(url);
  if (!parsed.ok()) return parsed.status();
  if (!HostAllowed(parsed->host, policy.allowed_hosts)) {
    return absl::InvalidArgumentError(
        "web_push.endpoint is not at a push service this city allows (push.allowed_hosts)");
  }
  std::vector<std::string> addresses;
  in6_addr probe{};
  if (inet_pton(AF_INET, parsed->host.c_str(), &probe) == 1 ||
      inet_pton(AF_INET6, parsed->host.c_str(), &probe) == 1) {
    addresses.push_back(parsed->host);
  } else {
    absl::StatusOr<std::vector<std::string>> resolved = resolve(parsed->host);
    if (!resolved.ok()) return resolved.status();
    addresses = *std::move(resolved);
  }
  if (addresses.empty()) {
    return absl::UnavailableError("the web_push.endpoint's host has no address now");
  }
  // Every address must be public: a name with one public and one private address could be
  // connected to either.
  for (const std::string& a : addresses) {
    if (!IsPublicAddress(a, policy.allow_loopback)) {
      return absl::InvalidArgumentError(
          "web_push.endpoint must resolve to public addresses only (not loopback, private, "
          "link-local or reserved ranges)");
    }
  }
  return ResolvedEndpoint{*std::move(parsed), addresses.front()};
}

}  // namespace civitas::gateway::push
