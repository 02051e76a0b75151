#include "services/gateway/push/push_delivery.h"

#include <curl/curl.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/gateway/log.h"
#include "services/gateway/push/push_keys.h"
#include "services/gateway/push/push_requests.h"
#include "services/gateway/push/web_push.h"

namespace civitas::gateway::push {

namespace {

// Deliveries one scan of one city hands out at most.
constexpr size_t kScanBatch = 256;
// The longest a Retry-After is honoured.
constexpr int64_t kMaxRetryAfterSeconds = 86400;
// How long the push service keeps an undelivered message (Web Push TTL header).
constexpr int kTtlSeconds = 86400;

std::string ClaimKey(const std::string& city, const DueDelivery& d) {
  return absl::StrCat(city, absl::string_view("\0", 1),
                      DueKey(d.due_micros, d.message_id, d.device_id));
}

std::string WithoutPadding(std::string s) {
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
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

NextStep Decide(const AttemptResult& result, int attempts, const PushDeliveryConfig& config,
                double jitter) {
  NextStep next;
  const long code = result.http_status;
  if (code >= 200 && code < 300) {
    next.state = Delivery::DELIVERED;
    return next;
  }
  if (code == 404 || code == 410) {
    next.state = Delivery::REMOVED;
    next.remove_device = true;
    next.reason = absl::StrCat(code);
    return next;
  }
  const bool transient = code == 0 || code == 429 || code >= 500;
  next.reason = code == 0 ? result.error : absl::StrCat(code);
  if (!transient) {
    next.state = Delivery::FAILED;
    next.failure = "refused";
    next.reason = absl::StrCat("refused with ", code);
    return next;
  }
  if (attempts >= static_cast<int>(config.max_attempts)) {
    next.state = Delivery::FAILED;
    next.failure = "gave_up";
    next.reason = absl::StrCat("gave up after ", attempts, " attempts, the last: ", next.reason);
    return next;
  }
  double backoff = static_cast<double>(config.retry_base_seconds) *
                   std::pow(2.0, static_cast<double>(std::max(0, attempts - 1)));
  backoff = std::min(backoff, static_cast<double>(config.retry_max_seconds));
  double wait = backoff * (0.5 + 0.5 * std::clamp(jitter, 0.0, 1.0));
  if (result.retry_after_seconds >= 0) {
    wait = std::max(
        wait, static_cast<double>(std::min(result.retry_after_seconds, kMaxRetryAfterSeconds)));
  }
  next.state = Delivery::PENDING;
  next.wait = absl::Seconds(wait);
  return next;
}

// One libcurl easy handle, kept across requests so connections to a push service are reused.
class PushDelivery::Sender {
 public:
  explicit Sender(const std::atomic<bool>* stopping)
      : curl_(curl_easy_init()), stopping_(stopping) {}
  ~Sender() { curl_easy_cleanup(curl_); }

  struct Request {
    ResolvedEndpoint endpoint;
    bool allow_loopback = false;
    std::string ca_file;
    std::vector<std::string> headers;
    std::string body;
    long timeout_seconds = 15;
  };

  AttemptResult Post(const Request& r) {
    AttemptResult out;
    if (curl_ == nullptr) {
      out.error = "libcurl could not be set up";
      return out;
    }
    curl_easy_reset(curl_);
    const bool v6 = r.endpoint.address.find(':') != std::string::npos;
    const bool host_v6 = r.endpoint.url.host.find(':') != std::string::npos;
    const std::string host =
        host_v6 ? absl::StrCat("[", r.endpoint.url.host, "]") : r.endpoint.url.host;
    // The URL rebuilt from the checked parts, and the host pinned to the checked address.
    const std::string url =
        absl::StrCat("https://", host, ":", r.endpoint.url.port, r.endpoint.url.path);
    const std::string pin = absl::StrCat(host, ":", r.endpoint.url.port, ":", v6 ? "[" : "",
                                         r.endpoint.address, v6 ? "]" : "");
    curl_slist* resolve = curl_slist_append(nullptr, pin.c_str());
    curl_slist* headers = nullptr;
    for (const std::string& h : r.headers) headers = curl_slist_append(headers, h.c_str());
    allow_loopback_ = r.allow_loopback;
    retry_after_.clear();
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_RESOLVE, resolve);
    curl_easy_setopt(curl_, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(curl_, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl_, CURLOPT_PROXY, "");  // never through a proxy from the environment
    curl_easy_setopt(curl_, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!r.ca_file.empty()) curl_easy_setopt(curl_, CURLOPT_CAINFO, r.ca_file.c_str());
    curl_easy_setopt(curl_, CURLOPT_POST, 1L);
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, r.body.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, static_cast<long>(r.body.size()));
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT, r.timeout_seconds);
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT, std::min(r.timeout_seconds, 10L));
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &Sender::Discard);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, &Sender::Header);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, this);
    // The last guard: whatever libcurl connects to must be a public address too.
    curl_easy_setopt(curl_, CURLOPT_OPENSOCKETFUNCTION, &Sender::OpenSocket);
    curl_easy_setopt(curl_, CURLOPT_OPENSOCKETDATA, this);
    curl_easy_setopt(curl_, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl_, CURLOPT_XFERINFOFUNCTION, &Sender::Progress);
    curl_easy_setopt(curl_, CURLOPT_XFERINFODATA, this);
    CURLcode rc = curl_easy_perform(curl_);
    long new_connections = 0;
    curl_easy_getinfo(curl_, CURLINFO_NUM_CONNECTS, &new_connections);
    if (new_connections == 0 && DiedOnReuse(rc) && !stopping_->load()) {
      // A reused connection the push service had closed: servers end an HTTP/2 connection after
      // so many streams (nginx and Node.js after 1,000), and libcurl 7.88 fails the next request
      // on it instead of opening a new one (curl issues #2365, #3750). Once more on a fresh
      // connection, at once, instead of a retry with backoff for every 1,000 deliveries.
      curl_easy_setopt(curl_, CURLOPT_FRESH_CONNECT, 1L);
      rc = curl_easy_perform(curl_);
    }
    if (rc == CURLE_OK) {
      curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &out.http_status);
      if (!retry_after_.empty())
        out.retry_after_seconds = ParseRetryAfter(retry_after_, absl::Now());
    } else {
      out.error = rc == CURLE_OPERATION_TIMEDOUT ? "timeout" : curl_easy_strerror(rc);
    }
    curl_slist_free_all(headers);
    curl_slist_free_all(resolve);
    return out;
  }

 private:
  static bool DiedOnReuse(CURLcode rc) {
    return rc == CURLE_HTTP2 || rc == CURLE_HTTP2_STREAM || rc == CURLE_SEND_ERROR ||
           rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING;
  }
  static size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }
  static size_t Header(char* data, size_t size, size_t n, void* self) {
    const absl::string_view line(data, size * n);
    if (line.size() > 12 && absl::EqualsIgnoreCase(line.substr(0, 12), "retry-after:")) {
      static_cast<Sender*>(self)->retry_after_ =
          std::string(absl::StripAsciiWhitespace(line.substr(12)));
    }
    return size * n;
  }
  static curl_socket_t OpenSocket(void* self, curlsocktype, curl_sockaddr* address) {
    if (!IsPublicAddress(&address->addr, static_cast<Sender*>(self)->allow_loopback_)) {
      return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype, address->protocol);
  }
  static int Progress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<Sender*>(self)->stopping_->load() ? 1 : 0;
  }

  CURL* curl_;
  const std::atomic<bool>* stopping_;
  bool allow_loopback_ = false;
  std::string retry_after_;
};

PushDelivery::PushDelivery(PushDeliveryConfig config, const PushCities* cities, Resolver resolver)
    : config_(std::move(config)), cities_(cities), resolver_(std::move(resolver)) {}

PushDelivery::~PushDelivery() { Stop(); }

void PushDelivery::Start() {
  // Before any sender thread makes a handle: libcurl's global setup is not for concurrent first
  // use (services/auth/jwks_fetcher.cc does the same).
  static std::once_flag curl_ready;
  std::call_once(curl_ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  scanner_ = std::thread([this] { ScanLoop(); });
  for (uint32_t i = 0; i < config_.web_push_connections; ++i) {
    senders_.emplace_back([this] { SendLoop(); });
  }
}

void PushDelivery::Stop() {
  stopping_ = true;
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (scanner_.joinable()) scanner_.join();
  for (std::thread& t : senders_) {
    if (t.joinable()) t.join();
  }
  senders_.clear();
}

void PushDelivery::Wake() {
  absl::MutexLock lock(&mu_);
  wake_ = true;
}

void PushDelivery::Queued(const std::string& city, int64_t deliveries) {
  {
    absl::MutexLock lock(&counts_mu_);
    counts_[city].queued += static_cast<uint64_t>(std::max<int64_t>(0, deliveries));
  }
  Wake();
}

void PushDelivery::Count(const std::string& city, Delivery::State state,
                         const std::string& failed_reason) {
  absl::MutexLock lock(&counts_mu_);
  PushCityCounts& c = counts_[city];
  switch (state) {
    case Delivery::DELIVERED:
      ++c.delivered;
      break;
    case Delivery::REMOVED:
      ++c.removed;
      break;
    case Delivery::FAILED:
      ++c.failed[failed_reason.empty() ? "other" : failed_reason];
      break;
    default:
      ++c.retried;
  }
}

std::string PushDelivery::RenderMetrics() const {
  std::map<std::string, PushCityCounts> counts;
  {
    absl::MutexLock lock(&counts_mu_);
    counts = counts_;
  }
  std::map<std::string, double> oldest;
  const int64_t now = absl::ToUnixMicros(absl::Now());
  for (const std::string& city : cities_->CityIds()) {
    (void)cities_->Use(city, [&](PushCities::CityView& view) {
      absl::StatusOr<int64_t> due = view.store.EarliestDue();
      if (!due.ok()) return due.status();
      oldest[city] = *due > 0 && *due < now ? static_cast<double>(now - *due) / 1e6 : 0.0;
      return absl::OkStatus();
    });
  }
  return RenderPushMetrics(counts, oldest);
}

std::string RenderPushMetrics(const std::map<std::string, PushCityCounts>& counts,
                              const std::map<std::string, double>& oldest_pending_seconds) {
  std::string out;
  auto counter = [&](const char* name, const char* help, auto value) {
    absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " counter\n");
    for (const auto& [city, c] : counts) {
      absl::StrAppend(&out, name, "{city=\"", city, "\",provider=\"web_push\"} ", value(c), "\n");
    }
  };
  counter("civitas_push_queued_total", "Push deliveries queued by SendMessage.",
          [](const PushCityCounts& c) { return c.queued; });
  counter("civitas_push_delivered_total", "Push deliveries the push service took.",
          [](const PushCityCounts& c) { return c.delivered; });
  counter("civitas_push_retried_total", "Push attempts that failed and will be repeated.",
          [](const PushCityCounts& c) { return c.retried; });
  counter("civitas_push_removed_total",
          "Push deliveries whose subscription was gone (404/410) or whose device was deleted.",
          [](const PushCityCounts& c) { return c.removed; });
  absl::StrAppend(&out,
                  "# HELP civitas_push_failed_total Push deliveries given up, by reason.\n"
                  "# TYPE civitas_push_failed_total counter\n");
  for (const auto& [city, c] : counts) {
    for (const auto& [reason, n] : c.failed) {
      absl::StrAppend(&out, "civitas_push_failed_total{city=\"", city,
                      "\",provider=\"web_push\",reason=\"", reason, "\"} ", n, "\n");
    }
  }
  absl::StrAppend(&out,
                  "# HELP civitas_push_oldest_pending_seconds How long the oldest due push "
                  "delivery has waited.\n# TYPE civitas_push_oldest_pending_seconds gauge\n");
  for (const auto& [city, seconds] : oldest_pending_seconds) {
    absl::StrAppend(&out, "civitas_push_oldest_pending_seconds{city=\"", city, "\"} ", seconds,
                    "\n");
  }
  return out;
}

void PushDelivery::ScanLoop() {
  // Per city, the first due entry the last scan found: every entry before it was gone then, so
  // the next scan starts there instead of stepping over the tombstones of all the deliveries
  // done since the fan-out began (measured: 21 % of the gateway's CPU in a fan-out to 100,000
  // devices, more the further it got). An entry can appear before the cursor only if it was
  // written with a due time already past (a SendMessage whose large transaction committed after
  // a scan); the cursors are dropped every second and whenever a scan finds nothing, so such an
  // entry waits a second at most.
  std::map<std::string, std::string> cursors;
  absl::Time cursors_since = absl::Now();
  while (true) {
    int64_t next_due = 0;
    const int64_t now = absl::ToUnixMicros(absl::Now());
    if (absl::Now() - cursors_since > absl::Seconds(1)) {
      cursors.clear();
      cursors_since = absl::Now();
    }
    for (const std::string& city : cities_->CityIds()) {
      std::vector<DueDelivery> due;
      int64_t city_next = 0;
      std::string& cursor = cursors[city];
      absl::Status s = cities_->Use(city, [&](PushCities::CityView& view) {
        absl::StatusOr<std::vector<DueDelivery>> d =
            view.store.Due(now, kScanBatch, &city_next, cursor);
        if (!d.ok()) return d.status();
        due = *std::move(d);
        return absl::OkStatus();
      });
      if (!s.ok()) continue;
      cursor = due.empty()
                   ? std::string()
                   : DueKey(due.front().due_micros, due.front().message_id, due.front().device_id);
      if (city_next > 0 && (next_due == 0 || city_next < next_due)) next_due = city_next;
      absl::MutexLock lock(&mu_);
      for (DueDelivery& d : due) {
        if (claimed_.insert(ClaimKey(city, d)).second) queue_.push_back({city, std::move(d)});
      }
      // A full batch: there may be more due right now.
      if (due.size() == kScanBatch) next_due = now;
    }
    absl::MutexLock lock(&mu_);
    absl::Duration sleep = absl::Seconds(1);
    if (next_due > 0) {
      sleep = std::clamp(absl::Microseconds(next_due - absl::ToUnixMicros(absl::Now())),
                         absl::Milliseconds(20), absl::Seconds(1));
    }
    // Wait while the senders are busy with a full queue; otherwise until woken or due.
    mu_.AwaitWithTimeout(absl::Condition(
                             +[](PushDelivery* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
                               return self->stop_ || self->wake_;
                             },
                             this),
                         sleep);
    if (stop_) return;
    wake_ = false;
  }
}

void PushDelivery::SendLoop() {
  Sender sender(&stopping_);
  while (true) {
    Job job;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](PushDelivery* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return self->stop_ || !self->queue_.empty();
          },
          this));
      if (stop_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    Attempt(sender, job);
    absl::MutexLock lock(&mu_);
    claimed_.erase(ClaimKey(job.city, job.due));
  }
}

void PushDelivery::Attempt(Sender& sender, const Job& job) {
  // Read what the attempt needs; the store is not held during the request.
  std::optional<Delivery> delivery;
  std::optional<StoredDevice> device;
  std::optional<notify::Message> message;
  std::string vapid_pem, default_language, vapid_subject, ca_file, time_zone;
  EndpointPolicy policy;
  absl::Status read = cities_->Use(job.city, [&](PushCities::CityView& view) {
    absl::StatusOr<std::optional<Delivery>> d = view.store.GetDelivery(job.due);
    if (!d.ok()) return d.status();
    delivery = *d;
    if (!delivery || delivery->state() != Delivery::PENDING) return absl::OkStatus();
    absl::StatusOr<std::optional<StoredDevice>> dev = view.store.GetDevice(job.due.device_id);
    if (!dev.ok()) return dev.status();
    device = *dev;
    absl::StatusOr<std::optional<notify::Message>> m = view.store.GetMessage(job.due.message_id);
    if (!m.ok()) return m.status();
    message = *m;
    absl::StatusOr<std::string> pem = view.store.VapidKeyPem();
    if (!pem.ok()) return pem.status();
    vapid_pem = *pem;
    default_language = view.config.default_language;
    time_zone = view.config.time_zone;
    vapid_subject = view.config.push.vapid_subject;
    ca_file = view.config.push.ca_file;
    policy = {view.config.push.allowed_hosts, view.config.push.allow_loopback};
    return absl::OkStatus();
  });
  if (!read.ok()) return;  // the city is gone, or the store failed: the next scan tries again
  auto finish = [&](Delivery next, const StoredDevice* remove) {
    (void)cities_->Use(job.city, [&](PushCities::CityView& view) {
      absl::Status s = view.store.UpdateDelivery(job.due, next, remove);
      if (!s.ok()) {
        Log(LogLevel::kWarning, "push delivery state not written",
            {{"city", job.city}, {"message", job.due.message_id}, {"error", s.ToString()}});
      }
      return s;
    });
  };
  if (!delivery || delivery->state() != Delivery::PENDING ||
      delivery->due_micros() != job.due.due_micros) {
    // A stale due entry (the delivery moved, ended or is gone): drop it, keep the delivery.
    (void)cities_->Use(job.city, [&](PushCities::CityView& view) {
      return view.store.DropDue(job.due, delivery ? &*delivery : nullptr);
    });
    return;
  }
  Delivery next = *delivery;
  if (!device || !message) {
    next.set_state(Delivery::REMOVED);
    next.set_last_error(!device ? "device unregistered" : "message missing");
    Count(job.city, Delivery::REMOVED, "");
    finish(next, nullptr);
    return;
  }
  const absl::Time now = absl::Now();
  if (!message->urgent() && device->device().has_quiet_hours()) {
    absl::TimeZone zone;
    if (!absl::LoadTimeZone(time_zone, &zone)) zone = absl::UTCTimeZone();
    const absl::Time end = QuietHoursEnd(device->device().quiet_hours(), now, zone);
    if (end > now) {
      next.set_due_micros(absl::ToUnixMicros(end));
      finish(next, nullptr);
      return;
    }
  }
  if (device->device().platform() != notify::Device::WEB_PUSH) {
    next.set_state(Delivery::FAILED);
    next.set_last_error("delivery to this platform is not built yet");
    Count(job.city, Delivery::FAILED, "platform_not_built");
    finish(next, nullptr);
    return;
  }
  next.set_attempts(next.attempts() + 1);
  AttemptResult result;
  absl::StatusOr<ResolvedEndpoint> endpoint =
      CheckEndpoint(device->device().web_push().endpoint(), policy, resolver_);
  if (!endpoint.ok() && endpoint.status().code() == absl::StatusCode::kInvalidArgument) {
    // Registered when it passed, refused now (its name resolves elsewhere): never connect.
    next.set_state(Delivery::FAILED);
    next.set_last_error("endpoint refused");
    Count(job.city, Delivery::FAILED, "endpoint_refused");
    Log(LogLevel::kWarning, "push endpoint refused at send time",
        {{"city", job.city},
         {"device", device->device().name()},
         {"reason", std::string(endpoint.status().message())}});
    finish(next, nullptr);
    return;
  }
  if (!endpoint.ok()) {
    result.error = std::string(endpoint.status().message());
  } else {
    std::string p256dh, auth;
    absl::WebSafeBase64Unescape(WithoutPadding(device->device().web_push().p256dh()), &p256dh);
    absl::WebSafeBase64Unescape(WithoutPadding(device->device().web_push().auth()), &auth);
    absl::StatusOr<std::string> body = EncryptWebPush(
        PayloadJson(*message, device->device().language_code(), default_language), p256dh, auth);
    absl::StatusOr<std::string> authorization =
        vapid_.Get(vapid_pem, vapid_subject, endpoint->url.origin, now);
    if (!body.ok() || !authorization.ok()) {
      next.set_state(Delivery::FAILED);
      next.set_last_error(
          std::string(!body.ok() ? body.status().message() : authorization.status().message()));
      Count(job.city, Delivery::FAILED, "encryption");
      finish(next, nullptr);
      return;
    }
    Sender::Request request;
    request.endpoint = *endpoint;
    request.allow_loopback = policy.allow_loopback;
    request.ca_file = ca_file;
    request.body = *std::move(body);
    request.timeout_seconds = static_cast<long>(config_.request_timeout_seconds);
    request.headers = {
        "Content-Type: application/octet-stream",
        "Content-Encoding: aes128gcm",
        absl::StrCat("TTL: ", kTtlSeconds),
        absl::StrCat("Urgency: ", message->urgent() ? "high" : "normal"),
        // RFC 8030 §5.4: at most 32 characters of the base64url alphabet; a message id is 32 hex
        // digits. A repeated delivery of the same message replaces the one still waiting.
        absl::StrCat("Topic: ", job.due.message_id),
        absl::StrCat("Authorization: ", *authorization),
        "Expect:",
    };
    result = sender.Post(request);
    if (stopping_.load()) return;  // aborted by Stop(): stays pending as it was
  }
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const NextStep step =
      Decide(result, next.attempts(), config_, std::uniform_real_distribution<double>(0, 1)(rng));
  next.set_state(step.state);
  next.set_last_error(step.reason);
  Count(job.city, step.state, step.failure);
  if (step.state == Delivery::PENDING) {
    next.set_due_micros(absl::ToUnixMicros(absl::Now() + step.wait));
  }
  if (step.state != Delivery::DELIVERED) {
    Log(LogLevel::kInfo, "push delivery not done",
        {{"city", job.city},
         {"message", job.due.message_id},
         {"device", device->device().name()},
         {"state", Delivery::State_Name(step.state)},
         {"reason", step.reason}});
  }
  finish(next, step.remove_device ? &*device : nullptr);
}

}  // namespace civitas::gateway::push
