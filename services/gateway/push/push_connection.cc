#include "services/gateway/push/push_connection.h"

#include <curl/curl.h>
#include <sys/socket.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace civitas::gateway::push {

namespace {

// The most of an answer's body kept (the providers' error details are small).
constexpr size_t kMaxBody = 16 * 1024;

// What a request that died on a reused connection fails with.
bool DiedOnReuse(CURLcode rc) {
  return rc == CURLE_HTTP2 || rc == CURLE_HTTP2_STREAM || rc == CURLE_SEND_ERROR ||
         rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING;
}

}  // namespace

int64_t ParseRetryAfter(absl::string_view value, absl::Time now) {
  value = absl::StripAsciiWhitespace(value);
  int64_t seconds = 0;
  if (absl::SimpleAtoi(value, &seconds)) return seconds < 0 ? -1 : seconds;
  const std::string date(value);
  const time_t at = curl_getdate(date.c_str(), nullptr);
  if (at < 0) return -1;
  return std::max<int64_t>(0, at - absl::ToUnixSeconds(now));
}

struct PushConnection::State {
  CURL* curl = nullptr;
  const std::atomic<bool>* stopping = nullptr;
  bool pinned = false;
  bool allow_loopback = false;
  std::string retry_after;
  std::string body;

  static size_t Body(char* data, size_t size, size_t n, void* self) {
    std::string& body = static_cast<State*>(self)->body;
    body.append(data, std::min(size * n, kMaxBody - std::min(kMaxBody, body.size())));
    return size * n;
  }
  static size_t Header(char* data, size_t size, size_t n, void* self) {
    const absl::string_view line(data, size * n);
    if (line.size() > 12 && absl::EqualsIgnoreCase(line.substr(0, 12), "retry-after:")) {
      static_cast<State*>(self)->retry_after =
          std::string(absl::StripAsciiWhitespace(line.substr(12)));
    }
    return size * n;
  }
  // The last guard of a Web Push request: whatever libcurl connects to must be a public
  // address too.
  static curl_socket_t OpenSocket(void* self, curlsocktype, curl_sockaddr* address) {
    const State* state = static_cast<State*>(self);
    if (state->pinned && !IsPublicAddress(&address->addr, state->allow_loopback)) {
      return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype, address->protocol);
  }
  static int Progress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<State*>(self)->stopping->load() ? 1 : 0;
  }
};

PushConnection::PushConnection(const std::atomic<bool>* stopping)
    : state_(std::make_unique<State>()) {
  state_->curl = curl_easy_init();
  state_->stopping = stopping;
}

PushConnection::~PushConnection() { curl_easy_cleanup(state_->curl); }

std::string PushConnection::PinnedUrl(const ResolvedEndpoint& endpoint) {
  const bool host_v6 = endpoint.url.host.find(':') != std::string::npos;
  const std::string host = host_v6 ? absl::StrCat("[", endpoint.url.host, "]") : endpoint.url.host;
  return absl::StrCat("https://", host, ":", endpoint.url.port, endpoint.url.path);
}

AttemptResult PushConnection::Post(const PushRequest& r) {
  AttemptResult out;
  CURL* curl = state_->curl;
  if (curl == nullptr) {
    out.error = "libcurl could not be set up";
    return out;
  }
  curl_easy_reset(curl);
  curl_slist* resolve = nullptr;
  state_->pinned = !r.pinned.address.empty();
  if (state_->pinned) {
    // The host pinned to the checked address.
    const bool v6 = r.pinned.address.find(':') != std::string::npos;
    const bool host_v6 = r.pinned.url.host.find(':') != std::string::npos;
    const std::string host =
        host_v6 ? absl::StrCat("[", r.pinned.url.host, "]") : r.pinned.url.host;
    const std::string pin = absl::StrCat(host, ":", r.pinned.url.port, ":", v6 ? "[" : "",
                                         r.pinned.address, v6 ? "]" : "");
    resolve = curl_slist_append(nullptr, pin.c_str());
  }
  curl_slist* headers = nullptr;
  for (const std::string& h : r.headers) headers = curl_slist_append(headers, h.c_str());
  state_->allow_loopback = r.allow_loopback;
  state_->retry_after.clear();
  state_->body.clear();
  curl_easy_setopt(curl, CURLOPT_URL, r.url.c_str());
  if (resolve != nullptr) curl_easy_setopt(curl, CURLOPT_RESOLVE, resolve);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_PROXY, "");  // never through a proxy from the environment
  // h2 by ALPN (APNs speaks nothing else; FCM and most Web Push services offer it).
  curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!r.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, r.ca_file.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, r.body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(r.body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, r.timeout_seconds);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, std::min(r.timeout_seconds, 10L));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &State::Body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, state_.get());
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &State::Header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, state_.get());
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, &State::OpenSocket);
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, state_.get());
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &State::Progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, state_.get());
  CURLcode rc = curl_easy_perform(curl);
  long new_connections = 0;
  curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &new_connections);
  if (new_connections == 0 && DiedOnReuse(rc) && !state_->stopping->load()) {
    // A reused connection the server had closed: servers end an HTTP/2 connection after so many
    // streams (nginx and Node.js after 1,000), and libcurl 7.88 fails the next request on it
    // instead of opening a new one (curl issues #2365, #3750). Once more on a fresh connection,
    // at once, instead of a retry with backoff for every 1,000 deliveries.
    state_->retry_after.clear();
    state_->body.clear();
    curl_easy_setopt(curl, CURLOPT_FRESH_CONNECT, 1L);
    rc = curl_easy_perform(curl);
  }
  if (rc == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out.http_status);
    curl_easy_getinfo(curl, CURLINFO_HTTP_VERSION, &out.http_version);
    if (!state_->retry_after.empty()) {
      out.retry_after_seconds = ParseRetryAfter(state_->retry_after, absl::Now());
    }
    out.body = std::move(state_->body);
  } else {
    out.error = rc == CURLE_OPERATION_TIMEDOUT ? "timeout" : curl_easy_strerror(rc);
  }
  curl_slist_free_all(headers);
  curl_slist_free_all(resolve);
  return out;
}

}  // namespace civitas::gateway::push
