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
// Deliveries waiting in one provider's queue at most (beyond them they wait in the due index):
// memory stays bounded while a provider is slow or hangs and a large fan-out is due.
constexpr size_t kMaxQueued = 1024;
// Deliveries of full queues a scan passes over before it stops (see ScanLoop).
constexpr size_t kMaxPassedOver = 4096;
// Devices whose provider the scanner remembers (their platform never changes).
constexpr size_t kMaxRemembered = 1 << 18;
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

const char* ProviderName(Provider provider) {
  switch (provider) {
    case Provider::kFcm:
      return "fcm";
    case Provider::kApns:
      return "apns";
    default:
      return "web_push";
  }
}

Provider ProviderOf(const notify::Device& device) {
  switch (device.platform()) {
    case notify::Device::FCM:
      return Provider::kFcm;
    case notify::Device::APNS:
      return Provider::kApns;
    default:
      return Provider::kWebPush;
  }
}

NextStep Decide(const AttemptResult& result, int attempts, const PushDeliveryConfig& config,
                double jitter) {
  NextStep next;
  const long code = result.http_status;
  const std::string detail = result.detail.empty() ? "" : absl::StrCat(" ", result.detail);
  switch (result.verdict) {
    case Verdict::kGone:
      next.state = Delivery::REMOVED;
      next.remove_device = true;
      next.reason = absl::StrCat(code, detail);
      return next;
    case Verdict::kRefused:
    case Verdict::kAuthRejected:
    case Verdict::kBadCredentials:
      next.state = Delivery::FAILED;
      next.failure = result.verdict == Verdict::kAuthRejected     ? "auth_rejected"
                     : result.verdict == Verdict::kBadCredentials ? "credentials"
                     : result.failure.empty()                     ? "refused"
                                                                  : result.failure;
      next.reason = code == 0 ? result.error : absl::StrCat("refused with ", code, detail);
      return next;
    case Verdict::kByStatus:
      break;
  }
  if (code >= 200 && code < 300) {
    next.state = Delivery::DELIVERED;
    return next;
  }
  if (code == 404 || code == 410) {
    next.state = Delivery::REMOVED;
    next.remove_device = true;
    next.reason = absl::StrCat(code, detail);
    return next;
  }
  const bool transient = code == 0 || code == 429 || code >= 500;
  next.reason = code == 0 ? result.error : absl::StrCat(code, detail);
  if (!transient) {
    next.state = Delivery::FAILED;
    next.failure = "refused";
    next.reason = absl::StrCat("refused with ", code, detail);
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

PushDelivery::PushDelivery(PushDeliveryConfig config, const PushCities* cities, Resolver resolver)
    : config_(std::move(config)), cities_(cities), resolver_(std::move(resolver)) {}

PushDelivery::~PushDelivery() { Stop(); }

void PushDelivery::Start() {
  // Before any sender thread makes a handle: libcurl's global setup is not for concurrent first
  // use (services/auth/jwks_fetcher.cc does the same).
  static std::once_flag curl_ready;
  std::call_once(curl_ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  scanner_ = std::thread([this] { ScanLoop(); });
  const std::pair<Provider, uint32_t> pools[] = {{Provider::kWebPush, config_.web_push_connections},
                                                 {Provider::kFcm, config_.fcm_connections},
                                                 {Provider::kApns, config_.apns_connections}};
  for (const auto& [provider, threads] : pools) {
    for (uint32_t i = 0; i < threads; ++i) {
      senders_.emplace_back([this, p = provider] { SendLoop(p); });
    }
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

void PushDelivery::Count(const std::string& city, Provider provider, Delivery::State state,
                         const std::string& failed_reason) {
  absl::MutexLock lock(&counts_mu_);
  PushProviderCounts& c = counts_[city].providers[ProviderName(provider)];
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

void PushDelivery::LogOnce(const std::string& city, Provider provider, const std::string& what,
                           const std::string& detail) {
  {
    absl::MutexLock lock(&credentials_mu_);
    if (!logged_.insert(absl::StrCat(city, "/", ProviderName(provider), "/", what)).second) return;
  }
  Log(LogLevel::kWarning, what,
      {{"city", city}, {"provider", ProviderName(provider)}, {"detail", detail}});
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
  absl::StrAppend(&out,
                  "# HELP civitas_push_queued_total Push deliveries queued by SendMessage.\n"
                  "# TYPE civitas_push_queued_total counter\n");
  for (const auto& [city, c] : counts) {
    absl::StrAppend(&out, "civitas_push_queued_total{city=\"", city, "\"} ", c.queued, "\n");
  }
  auto counter = [&](const char* name, const char* help, auto value) {
    absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " counter\n");
    for (const auto& [city, c] : counts) {
      for (const auto& [provider, p] : c.providers) {
        absl::StrAppend(&out, name, "{city=\"", city, "\",provider=\"", provider, "\"} ", value(p),
                        "\n");
      }
    }
  };
  counter("civitas_push_delivered_total", "Push deliveries the push service took.",
          [](const PushProviderCounts& c) { return c.delivered; });
  counter("civitas_push_retried_total", "Push attempts that failed and will be repeated.",
          [](const PushProviderCounts& c) { return c.retried; });
  counter("civitas_push_removed_total",
          "Push deliveries whose subscription or token was gone or whose device was deleted.",
          [](const PushProviderCounts& c) { return c.removed; });
  absl::StrAppend(&out,
                  "# HELP civitas_push_failed_total Push deliveries given up, by reason.\n"
                  "# TYPE civitas_push_failed_total counter\n");
  for (const auto& [city, c] : counts) {
    for (const auto& [provider, p] : c.providers) {
      for (const auto& [reason, n] : p.failed) {
        absl::StrAppend(&out, "civitas_push_failed_total{city=\"", city, "\",provider=\"", provider,
                        "\",reason=\"", reason, "\"} ", n, "\n");
      }
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
      std::vector<std::pair<Provider, DueDelivery>> due;
      int64_t city_next = 0;
      size_t scanned = 0;
      std::string& cursor = cursors[city];
      absl::Status s = cities_->Use(city, [&](PushCities::CityView& view) {
        // The pool of a device (its platform never changes, so it is remembered across scans);
        // a device that is gone ends in any pool (REMOVED).
        auto provider_of = [&](const std::string& device_id) {
          {
            absl::MutexLock lock(&mu_);
            auto it = providers_.find(device_id);
            if (it != providers_.end()) return it->second;
          }
          absl::StatusOr<std::optional<StoredDevice>> device = view.store.GetDevice(device_id);
          const Provider p = device.ok() && device->has_value() ? ProviderOf((*device)->device())
                                                                : Provider::kWebPush;
          absl::MutexLock lock(&mu_);
          if (providers_.size() >= kMaxRemembered) providers_.clear();
          providers_.emplace(device_id, p);
          return p;
        };
        // Passed over: deliveries already handed out, and those of a provider whose queue is
        // full. So a provider that hangs does not hide the others' due deliveries behind its
        // own. The walk past a full queue's deliveries is bounded (kMaxPassedOver a scan): in a
        // fan-out to 100,000 devices the rest would otherwise be read in every scan.
        size_t passed_full = 0;
        auto pass_over = [&](const DueDelivery& d) {
          using Step = PushStore::DueStep;
          {
            absl::MutexLock lock(&mu_);
            if (claimed_.count(ClaimKey(city, d)) > 0) return Step::kPassOver;
            bool any_full = false;
            for (const Pool& pool : pools_) any_full |= pool.queue.size() >= kMaxQueued;
            if (!any_full) return Step::kTake;
          }
          const Provider p = provider_of(d.device_id);
          absl::MutexLock lock(&mu_);
          if (pools_[static_cast<int>(p)].queue.size() < kMaxQueued) return Step::kTake;
          return ++passed_full > kMaxPassedOver ? Step::kStop : Step::kPassOver;
        };
        absl::StatusOr<std::vector<DueDelivery>> d =
            view.store.Due(now, kScanBatch, &city_next, pass_over, cursor);
        if (!d.ok()) return d.status();
        scanned = d->size();
        for (DueDelivery& one : *d) {
          const Provider p = provider_of(one.device_id);
          due.emplace_back(p, std::move(one));
        }
        return absl::OkStatus();
      });
      if (!s.ok()) continue;
      cursor = due.empty() ? std::string()
                           : DueKey(due.front().second.due_micros, due.front().second.message_id,
                                    due.front().second.device_id);
      if (city_next > 0 && (next_due == 0 || city_next < next_due)) next_due = city_next;
      absl::MutexLock lock(&mu_);
      for (auto& [provider, d] : due) {
        if (claimed_.insert(ClaimKey(city, d)).second) {
          pools_[static_cast<int>(provider)].queue.push_back({city, std::move(d)});
        }
      }
      // A full batch: there may be more due right now.
      if (scanned == kScanBatch) next_due = now;
    }
    absl::MutexLock lock(&mu_);
    absl::Duration sleep = absl::Seconds(1);
    if (next_due > 0) {
      sleep = std::clamp(absl::Microseconds(next_due - absl::ToUnixMicros(absl::Now())),
                         absl::Milliseconds(20), absl::Seconds(1));
    }
    // Until woken (a message was queued) or the next due time, at most a second (a pool's queue
    // may have room again).
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

void PushDelivery::SendLoop(Provider provider) {
  PushConnection connection(&stopping_);
  Pool& pool = pools_[static_cast<int>(provider)];
  struct Ready {
    PushDelivery* self;
    Pool* pool;
  } ready{this, &pool};
  while (true) {
    Job job;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Ready* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->self->mu_) {
            return r->self->stop_ || !r->pool->queue.empty();
          },
          &ready));
      if (stop_) return;
      job = std::move(pool.queue.front());
      pool.queue.pop_front();
      // Room again in a queue the scanner found full (or an empty one): scan now rather than
      // at the next tick, so that the senders do not run dry during a large fan-out.
      if (pool.queue.size() == kMaxQueued / 2 || pool.queue.empty()) wake_ = true;
    }
    Attempt(provider, connection, job);
    absl::MutexLock lock(&mu_);
    claimed_.erase(ClaimKey(job.city, job.due));
  }
}

std::shared_ptr<FcmCredentials> PushDelivery::FcmFor(const std::string& city,
                                                     const CityPushConfig& push) {
  if (!push.fcm) return nullptr;
  const FcmConfig& c = *push.fcm;
  absl::MutexLock lock(&credentials_mu_);
  std::shared_ptr<FcmCredentials>& slot = fcm_[city];
  // A city deleted and created again, or another config: new credentials.
  if (slot == nullptr || slot->config().project_id != c.project_id ||
      slot->config().service_account_file != c.service_account_file ||
      slot->config().endpoint != c.endpoint || slot->config().ca_file != c.ca_file) {
    slot = std::make_shared<FcmCredentials>(c);
  }
  return slot;
}

std::shared_ptr<ApnsCredentials> PushDelivery::ApnsFor(const std::string& city,
                                                       const CityPushConfig& push) {
  if (!push.apns) return nullptr;
  const ApnsConfig& c = *push.apns;
  absl::MutexLock lock(&credentials_mu_);
  std::shared_ptr<ApnsCredentials>& slot = apns_[city];
  if (slot == nullptr || slot->config().team_id != c.team_id || slot->config().key_id != c.key_id ||
      slot->config().key_file != c.key_file || slot->config().topic != c.topic ||
      slot->config().endpoint != c.endpoint || slot->config().ca_file != c.ca_file) {
    slot = std::make_shared<ApnsCredentials>(c);
  }
  return slot;
}

AttemptResult PushDelivery::AttemptWebPush(PushConnection& connection, const Job& job,
                                           const notify::Device& device,
                                           const notify::Message& message,
                                           const CityPushConfig& push,
                                           const std::string& default_language,
                                           const std::string& vapid_pem) {
  AttemptResult result;
  const EndpointPolicy policy{push.allowed_hosts, push.allow_loopback};
  absl::StatusOr<ResolvedEndpoint> endpoint =
      CheckEndpoint(device.web_push().endpoint(), policy, resolver_);
  if (!endpoint.ok() && endpoint.status().code() == absl::StatusCode::kInvalidArgument) {
    // Registered when it passed, refused now (its name resolves elsewhere): never connect.
    Log(LogLevel::kWarning, "push endpoint refused at send time",
        {{"city", job.city},
         {"device", device.name()},
         {"reason", std::string(endpoint.status().message())}});
    result.verdict = Verdict::kRefused;
    result.failure = "endpoint_refused";
    result.error = "endpoint refused";
    return result;
  }
  if (!endpoint.ok()) {
    result.error = std::string(endpoint.status().message());
    return result;  // a resolver failure: retried
  }
  std::string p256dh, auth;
  absl::WebSafeBase64Unescape(WithoutPadding(device.web_push().p256dh()), &p256dh);
  absl::WebSafeBase64Unescape(WithoutPadding(device.web_push().auth()), &auth);
  absl::StatusOr<std::string> body =
      EncryptWebPush(PayloadJson(message, device.language_code(), default_language), p256dh, auth);
  absl::StatusOr<std::string> authorization =
      vapid_.Get(vapid_pem, push.vapid_subject, endpoint->url.origin, absl::Now());
  if (!body.ok() || !authorization.ok()) {
    result.verdict = Verdict::kRefused;
    result.failure = "encryption";
    result.error =
        std::string(!body.ok() ? body.status().message() : authorization.status().message());
    return result;
  }
  PushRequest request;
  request.url = PushConnection::PinnedUrl(*endpoint);
  request.pinned = *endpoint;
  request.allow_loopback = policy.allow_loopback;
  request.ca_file = push.ca_file;
  request.body = *std::move(body);
  request.timeout_seconds = static_cast<long>(config_.request_timeout_seconds);
  request.headers = {
      "Content-Type: application/octet-stream",
      "Content-Encoding: aes128gcm",
      absl::StrCat("TTL: ", kTtlSeconds),
      absl::StrCat("Urgency: ", message.urgent() ? "high" : "normal"),
      // RFC 8030 §5.4: at most 32 characters of the base64url alphabet; a message id is 32 hex
      // digits. A repeated delivery of the same message replaces the one still waiting.
      absl::StrCat("Topic: ", job.due.message_id),
      absl::StrCat("Authorization: ", *authorization),
      "Expect:",
  };
  return connection.Post(request);
}

void PushDelivery::Attempt(Provider provider, PushConnection& connection, const Job& job) {
  // Read what the attempt needs; the store is not held during the request.
  std::optional<Delivery> delivery;
  std::optional<StoredDevice> device;
  std::optional<notify::Message> message;
  std::string vapid_pem, default_language, time_zone;
  CityPushConfig push;
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
    if (device && device->device().platform() == notify::Device::WEB_PUSH) {
      absl::StatusOr<std::string> pem = view.store.VapidKeyPem();
      if (!pem.ok()) return pem.status();
      vapid_pem = *pem;
    }
    default_language = view.config.default_language;
    time_zone = view.config.time_zone;
    push = view.config.push;
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
    Count(job.city, provider, Delivery::REMOVED, "");
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
  std::shared_ptr<FcmCredentials> fcm;
  std::shared_ptr<ApnsCredentials> apns;
  if (provider == Provider::kFcm) fcm = FcmFor(job.city, push);
  if (provider == Provider::kApns) apns = ApnsFor(job.city, push);
  if (provider != Provider::kWebPush && fcm == nullptr && apns == nullptr) {
    // Not retried: the city would have to be configured first.
    next.set_state(Delivery::FAILED);
    next.set_last_error(absl::StrCat("the city has no push.", ProviderName(provider), " config"));
    Count(job.city, provider, Delivery::FAILED, "provider_not_configured");
    LogOnce(job.city, provider, "push provider not configured",
            absl::StrCat("devices of this platform are not delivered to; set push.",
                         ProviderName(provider), " in the city's config"));
    finish(next, nullptr);
    return;
  }
  next.set_attempts(next.attempts() + 1);
  const long timeout = static_cast<long>(config_.request_timeout_seconds);
  AttemptResult result;
  switch (provider) {
    case Provider::kFcm:
      result = SendFcm(connection, *fcm, *message, device->device(), default_language, timeout);
      break;
    case Provider::kApns:
      result = SendApns(connection, *apns, *message, device->device(), default_language, timeout);
      break;
    default:
      result = AttemptWebPush(connection, job, device->device(), *message, push, default_language,
                              vapid_pem);
  }
  if (stopping_.load()) return;  // aborted by Stop(): stays pending as it was
  if (result.verdict == Verdict::kBadCredentials || result.verdict == Verdict::kAuthRejected) {
    LogOnce(
        job.city, provider, "push provider credentials refused",
        result.error.empty() ? absl::StrCat(result.http_status, " ", result.detail) : result.error);
  }
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const NextStep step =
      Decide(result, next.attempts(), config_, std::uniform_real_distribution<double>(0, 1)(rng));
  next.set_state(step.state);
  next.set_last_error(step.reason);
  Count(job.city, provider, step.state, step.failure);
  if (step.state == Delivery::PENDING) {
    next.set_due_micros(absl::ToUnixMicros(absl::Now() + step.wait));
  }
  if (step.state != Delivery::DELIVERED) {
    Log(LogLevel::kInfo, "push delivery not done",
        {{"city", job.city},
         {"message", job.due.message_id},
         {"device", device->device().name()},
         {"provider", ProviderName(provider)},
         {"state", Delivery::State_Name(step.state)},
         {"reason", step.reason}});
  }
  finish(next, step.remove_device ? &*device : nullptr);
}

}  // namespace civitas::gateway::push
