#include "services/auth/jwks_fetcher.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <mutex>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace civitas::auth {

namespace {

constexpr char kDiscoveryPath[] = "/.well-known/openid-configuration";

// "localhost", "[::1]" or an IPv4 literal in 127.0.0.0/8 (a name that merely starts with
// "127." is not one).
bool IsLoopbackHost(absl::string_view host) {
  if (host == "localhost" || host == "[::1]") return true;
  in_addr v4;
  return inet_pton(AF_INET, std::string(host).c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

struct Body {
  std::string data;
  size_t limit = 0;
  bool too_big = false;
  std::string cache_control;
};

size_t OnData(char* bytes, size_t size, size_t count, void* user) {
  auto* body = static_cast<Body*>(user);
  const size_t n = size * count;
  if (body->data.size() + n > body->limit) {
    body->too_big = true;
    return 0;  // aborts the transfer
  }
  body->data.append(bytes, n);
  return n;
}

size_t OnHeader(char* bytes, size_t size, size_t count, void* user) {
  auto* body = static_cast<Body*>(user);
  const absl::string_view line(bytes, size * count);
  absl::string_view value = line;
  if (line.size() > 14 && absl::EqualsIgnoreCase(line.substr(0, 14), "cache-control:")) {
    value.remove_prefix(14);
    body->cache_control = std::string(absl::StripAsciiWhitespace(value));
  }
  return size * count;
}

}  // namespace

absl::Status CheckKeyUrl(std::string_view u) {
  const absl::string_view url(u.data(), u.size());
  absl::string_view rest = url;
  if (absl::ConsumePrefix(&rest, "https://")) {
    // fine
  } else if (absl::ConsumePrefix(&rest, "http://")) {
    const absl::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    absl::string_view host = authority;
    if (!absl::StartsWith(host, "[")) host = host.substr(0, host.rfind(':'));
    if (absl::StartsWith(authority, "[")) host = authority.substr(0, authority.find(']') + 1);
    if (!IsLoopbackHost(host)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", url, "' is plain http: keys are fetched over https (http only from loopback)"));
    }
  } else {
    return absl::InvalidArgumentError(absl::StrCat("'", url, "' is not an https URL"));
  }
  if (rest.empty() || rest[0] == '/' || rest.find('@') < rest.find('/')) {
    return absl::InvalidArgumentError(absl::StrCat("'", url, "' has no host (or has user info)"));
  }
  return absl::OkStatus();
}

std::optional<absl::Duration> MaxAge(std::string_view v) {
  for (absl::string_view part : absl::StrSplit(absl::string_view(v.data(), v.size()), ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (part.size() > 8 && absl::EqualsIgnoreCase(part.substr(0, 8), "max-age=")) {
      int64_t seconds = 0;
      if (absl::SimpleAtoi(absl::StripPrefix(part.substr(8), "\""), &seconds) && seconds >= 0) {
        return absl::Seconds(seconds);
      }
    }
  }
  return std::nullopt;
}

absl::StatusOr<std::string> JwksUriFromDiscovery(std::string_view document,
                                                 std::string_view issuer) {
  google::protobuf::Struct doc;
  if (!google::protobuf::util::JsonStringToMessage(std::string(document), &doc).ok()) {
    return absl::InvalidArgumentError("the discovery document is not a JSON object");
  }
  auto field = [&](const char* name) -> std::string {
    auto it = doc.fields().find(name);
    if (it == doc.fields().end() || !it->second.has_string_value()) return "";
    return it->second.string_value();
  };
  // OpenID Connect Discovery §4.3: the document must be about the issuer it was fetched for.
  if (field("issuer") != issuer) {
    return absl::InvalidArgumentError(
        absl::StrCat("the discovery document names issuer '", field("issuer"), "', not '",
                     absl::string_view(issuer.data(), issuer.size()), "'"));
  }
  const std::string jwks_uri = field("jwks_uri");
  if (jwks_uri.empty()) return absl::InvalidArgumentError("the discovery document has no jwks_uri");
  if (absl::Status s = CheckKeyUrl(jwks_uri); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("jwks_uri: ", s.message()));
  }
  return jwks_uri;
}

JwksFetcher::JwksFetcher(JwksFetcherOptions options, TokenVerifier* verifier)
    : options_(std::move(options)), verifier_(verifier) {
  static std::once_flag curl_ready;
  std::call_once(curl_ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  for (const std::string& issuer : options_.issuers) issuers_[issuer];
}

JwksFetcher::~JwksFetcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void JwksFetcher::Start(absl::Duration wait) {
  thread_ = std::thread([this] { Run(); });
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, absl::ToChronoMilliseconds(wait), [this] {
    return std::all_of(issuers_.begin(), issuers_.end(),
                       [](const auto& entry) { return entry.second.rounds > 0; });
  });
}

void JwksFetcher::KeyUnknown(const std::string& issuer) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = issuers_.find(issuer);
  if (it == issuers_.end()) return;
  const absl::Time soonest = it->second.last_attempt + options_.min_refetch;
  if (it->second.due > soonest) {
    it->second.due = soonest;
    cv_.notify_all();
  }
}

std::map<std::string, JwksFetcher::IssuerState> JwksFetcher::State() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, IssuerState> out;
  for (const auto& [issuer, entry] : issuers_) out[issuer] = entry.state;
  return out;
}

void JwksFetcher::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    std::string next;
    absl::Time due = absl::InfiniteFuture();
    for (const auto& [issuer, entry] : issuers_) {
      if (entry.due < due) {
        due = entry.due;
        next = issuer;
      }
    }
    const absl::Time now = absl::Now();
    if (next.empty() || due > now) {
      if (due == absl::InfiniteFuture()) {
        cv_.wait(lock);
      } else {
        cv_.wait_for(lock, absl::ToChronoMilliseconds(due - now));
      }
      continue;
    }
    issuers_[next].last_attempt = now;
    lock.unlock();
    const absl::Time again = Fetch(next);
    lock.lock();
    Issuer& entry = issuers_[next];
    entry.due = std::max(again, entry.last_attempt + options_.min_refetch);
    ++entry.rounds;
    cv_.notify_all();
  }
}

absl::Time JwksFetcher::Fetch(const std::string& issuer) {
  auto fail = [&](const absl::Status& s) {
    std::lock_guard<std::mutex> lock(mu_);
    Issuer& entry = issuers_[issuer];
    entry.state.error = std::string(s.message());
    // 30 s, 1 min, 2 min, ... up to 10 min between attempts while the provider is down.
    entry.backoff = std::clamp(entry.backoff * 2, absl::Seconds(30), absl::Minutes(10));
    const absl::Duration wait = entry.backoff;
    if (options_.report) options_.report(issuer, s, 0);
    return absl::Now() + wait;
  };
  std::string ignored, cache_control;
  std::string discovery_url(absl::StripSuffix(issuer, "/"));
  discovery_url += kDiscoveryPath;
  absl::StatusOr<std::string> document = Get(discovery_url, &ignored);
  if (!document.ok()) return fail(document.status());
  absl::StatusOr<std::string> jwks_uri = JwksUriFromDiscovery(*document, issuer);
  if (!jwks_uri.ok()) return fail(jwks_uri.status());
  absl::StatusOr<std::string> jwks = Get(*jwks_uri, &cache_control);
  if (!jwks.ok()) return fail(jwks.status());
  absl::StatusOr<std::shared_ptr<const KeySet>> keys = KeySet::Parse(*jwks, issuer);
  if (!keys.ok()) {
    return fail(absl::InvalidArgumentError(
        absl::StrCat("the key set at ", *jwks_uri, ": ", keys.status().message())));
  }
  const size_t count = (*keys)->size();
  verifier_->SetIssuerKeys(*std::move(keys));
  const absl::Duration refresh = std::clamp(MaxAge(cache_control).value_or(options_.refresh),
                                            options_.min_refresh, options_.max_refresh);
  std::lock_guard<std::mutex> lock(mu_);
  Issuer& entry = issuers_[issuer];
  entry.state = {*jwks_uri, count, absl::Now(), ""};
  entry.backoff = absl::ZeroDuration();
  if (options_.report) options_.report(issuer, absl::OkStatus(), count);
  return absl::Now() + refresh;
}

absl::StatusOr<std::string> JwksFetcher::Get(const std::string& url,
                                             std::string* cache_control) const {
  if (absl::Status s = CheckKeyUrl(url); !s.ok()) return s;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return absl::InternalError("libcurl could not start a transfer");
  Body body;
  body.limit = options_.max_document_bytes;
  char error[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https,http");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options_.timeout)));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnData);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &body);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "civitas-gateway");
  if (!options_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
  const CURLcode code = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  if (body.too_big) {
    return absl::ResourceExhaustedError(absl::StrCat(
        url, " is larger than ", options_.max_document_bytes, " bytes; not a key document"));
  }
  if (code != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat(
        "fetching ", url, " failed: ", error[0] != '\0' ? error : curl_easy_strerror(code)));
  }
  if (status != 200) {
    return absl::UnavailableError(absl::StrCat("fetching ", url, " answered HTTP ", status));
  }
  *cache_control = body.cache_control;
  return std::move(body.data);
}

}  // namespace civitas::auth
