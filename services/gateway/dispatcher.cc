#include "services/gateway/dispatcher.h"

#include <grpcpp/support/byte_buffer.h>

#include <chrono>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "services/gateway/authenticator.h"
#include "services/gateway/city_store.h"
#include "services/gateway/log.h"
#include "services/gateway/rate_limiter.h"
#include "services/gateway/status_details.h"
#include "services/gateway/subject_hash.h"

namespace civitas::gateway {

namespace {

// Calls the gateway keeps requested per completion queue, so a burst of new calls does not wait
// for the previous one to be matched.
constexpr int kRequestsInFlightPerQueue = 128;

absl::string_view Ref(const grpc::string_ref& r) { return absl::string_view(r.data(), r.size()); }

std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  out.reserve(buffer.Length());
  for (const grpc::Slice& s : slices) {
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

// gRPC's peer string without the port: "ipv4:10.0.0.7:51234" -> "ipv4:10.0.0.7",
// "ipv6:[::1]:51234" -> "ipv6:[::1]"; anything else (unix:) as it is.
std::string AddressOf(const std::string& peer) {
  if (peer.rfind("ipv4:", 0) != 0 && peer.rfind("ipv6:", 0) != 0) return peer;
  const size_t colon = peer.rfind(':');
  return colon <= 4 ? peer : peer.substr(0, colon);
}

// "/pkg.Service/Method" -> "pkg.Service"
std::string ServiceOf(const std::string& path) {
  absl::string_view p = path;
  if (!p.empty() && p.front() == '/') p.remove_prefix(1);
  return std::string(p.substr(0, p.find('/')));
}

grpc::ByteBuffer ToBuffer(std::string bytes) {
  grpc::Slice slice(std::move(bytes));
  return grpc::ByteBuffer(&slice, 1);
}

grpc::Status ModuleCallStatus(int32_t code, const std::string& message, const MethodInfo& method,
                              const LoadedModule& module) {
  if (code <= 0 || code > 16) {
    return GatewayError(grpc::StatusCode::UNKNOWN,
                        absl::StrCat("module '", module.module_id(), "' answered ",
                                     method.full_path, " with invalid status code ", code),
                        "MODULE_INVALID_STATUS",
                        {{"module", module.module_id()}, {"method", method.full_path}});
  }
  // The module's "[REASON] " prefix (civitas/error_reason.h) becomes its ErrorInfo.
  return ModuleError(static_cast<grpc::StatusCode>(code), message, module.module_id(),
                     method.full_path);
}

// A FIFO of slices that allocates nothing until it is used: most calls are unary and never
// queue a message, and a std::deque allocates its map and a first block even when empty (four
// allocations per call for the two queues of a call, a few per cent of a cached read's CPU).
class SliceQueue {
 public:
  bool empty() const { return head_ == items_.size(); }
  size_t size() const { return items_.size() - head_; }
  grpc::Slice& front() { return items_[head_]; }
  void push_back(grpc::Slice slice) { items_.push_back(std::move(slice)); }
  void pop_front() {
    items_[head_++] = grpc::Slice();
    if (head_ == items_.size()) {
      clear();
    } else if (head_ >= 64 && 2 * head_ >= items_.size()) {  // a long stream: drop what was sent
      items_.erase(items_.begin(), items_.begin() + static_cast<ptrdiff_t>(head_));
      head_ = 0;
    }
  }
  void clear() {
    items_.clear();
    head_ = 0;
  }

 private:
  std::vector<grpc::Slice> items_;
  size_t head_ = 0;  // items_[0, head_) were sent (and emptied)
};

}  // namespace

// One RPC. Its lifetime is a reference count: every pending completion-queue operation, a
// running handler and a registration on a change feed each hold one reference.
class GenericCall final : public HostCall, public StreamFollower {
 public:
  GenericCall(Dispatcher* d, grpc::ServerCompletionQueue* cq) : d_(d), cq_(cq) {}

  // Asks gRPC for the next call on `cq`.
  void Request() {
    ctx_.AsyncNotifyWhenDone(&done_tag_);
    d_->service_->RequestCall(&ctx_, &stream_, cq_, cq_, &request_tag_);
  }

  enum class Op { kRequest, kRead, kWrite, kFinish, kDone };
  struct Tag {
    GenericCall* call;
    Op op;
  };

  void Proceed(Op op, bool ok) {
    switch (op) {
      case Op::kRequest:
        if (!ok) {  // the server is shutting down; this call never started
          Unref();
          return;
        }
        refs_.fetch_add(1);  // the done tag will come
        if (!d_->shutting_down_.load()) d_->RequestCall(cq_);
        d_->stats_.calls.fetch_add(1, std::memory_order_relaxed);
        d_->stats_.active_calls.fetch_add(1, std::memory_order_acq_rel);
        Start();
        break;
      case Op::kRead:
        OnRead(ok);
        break;
      case Op::kWrite:
        OnWriteDone(ok);
        break;
      case Op::kFinish:
        OnFinishDone();
        break;
      case Op::kDone:
        OnDone();
        break;
    }
    Unref();
  }

  // ---- HostCall ------------------------------------------------------------------------------
  std::optional<std::string> Metadata(std::string_view key) const override {
    auto it = ctx_.client_metadata().find(grpc::string_ref(key.data(), key.size()));
    if (it == ctx_.client_metadata().end()) return std::nullopt;
    return std::string(Ref(it->second));
  }

  int64_t DeadlineMicros() const override { return deadline_micros_; }

  bool IsCancelled() const override {
    return cancelled_.load(std::memory_order_relaxed) ||
           absl::ToUnixMicros(absl::Now()) > deadline_micros_;
  }

  int32_t Send(std::string message) override {
    absl::MutexLock lock(&mu_);
    const size_t limit = d_->limits_.stream_buffer_messages;
    while (outbox_.size() >= limit && !broken_) {
      if (IsCancelled()) return CIVITAS_CANCELLED;
      cv_.WaitWithTimeout(&mu_, absl::Milliseconds(100));
    }
    if (broken_ || IsCancelled()) return CIVITAS_CANCELLED;
    EnqueueLocked(grpc::Slice(std::move(message)));
    return CIVITAS_OK;
  }

  int32_t Follow(std::string topic) override {
    int32_t rc = HostCall::Follow(topic);
    if (rc != CIVITAS_OK) return rc;
    {
      absl::MutexLock lock(&mu_);
      if (following_ || !followed_topic_.empty()) return CIVITAS_FAILED_PRECONDITION;
    }
    peer_ = ClientPeer();
    {
      // A client may hold only so many live streams, per connection and per city: each costs
      // memory for as long as it is open.
      absl::MutexLock lock(&d_->followers_mu_);
      uint32_t& by_peer = d_->follows_by_peer_[peer_];
      uint32_t& by_address = d_->follows_by_address_[AddressOf(peer_)];
      uint32_t& by_city = d_->follows_by_city_[city_id_];
      const uint32_t per_address = d_->limits_.max_follows_per_address;
      std::string refused, limit;
      if (by_peer >= d_->limits_.max_follows_per_connection) {
        limit = "max_follows_per_connection";
        refused = absl::StrCat("this connection already has ", by_peer,
                               " live streams (limits.max_follows_per_connection); close one or "
                               "open another connection");
      } else if (per_address != 0 && by_address >= per_address) {
        limit = "max_follows_per_address";
        refused = absl::StrCat("this client address already has ", by_address,
                               " live streams (limits.max_follows_per_address); close one");
      } else if (by_city >= d_->limits_.max_follows_per_city) {
        limit = "max_follows_per_city";
        refused = absl::StrCat("city '", city_id_, "' already has ", by_city,
                               " live streams (limits.max_follows_per_city); retry later");
      }
      if (!refused.empty()) {
        if (by_peer == 0) d_->follows_by_peer_.erase(peer_);
        if (by_address == 0) d_->follows_by_address_.erase(AddressOf(peer_));
        if (by_city == 0) d_->follows_by_city_.erase(city_id_);
        absl::MutexLock call_lock(&mu_);
        refused_follow_ = std::move(refused);
        refused_limit_ = std::move(limit);
        return CIVITAS_RESOURCE_EXHAUSTED;
      }
      ++by_peer;
      ++by_address;
      ++by_city;
      d_->following_.insert(this);
    }
    {
      absl::MutexLock lock(&mu_);
      following_ = true;
      followed_topic_ = topic;
    }
    counted_.store(true);
    refs_.fetch_add(1);  // released when the finish completes
    d_->stats_.active_streams.fetch_add(1, std::memory_order_relaxed);
    // Subscribe now, not when the handler returns: a handler that follows first and then sends
    // its snapshot misses nothing in between (and what is published meanwhile comes after the
    // snapshot, see Deliver).
    route_.instance->Follow(topic, this);
    return CIVITAS_OK;
  }

  // ---- StreamFollower ------------------------------------------------------------------------
  bool Deliver(const grpc::Slice& message) override {
    bool cancel = false;
    {
      absl::MutexLock lock(&mu_);
      if (!following_ || broken_ || finish_sent_) return true;
      if (outbox_.size() + published_meanwhile_.size() < d_->limits_.stream_buffer_messages) {
        // While the handler still sends its own messages (a snapshot, or what changed since a
        // resume token), what is published waits behind them: a client never sees an older
        // version of something after a newer one. References to the shared bytes either way.
        if (handler_running_) {
          published_meanwhile_.push_back(message);
        } else {
          EnqueueLocked(message);
        }
        return true;
      }
      // A client that does not read must not hold the city's memory: the stream ends now,
      // leaves the feed and is no longer counted, whatever the client does next.
      following_ = false;
      broken_ = true;
      outbox_.clear();
      published_meanwhile_.clear();
      final_status_ = GatewayError(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          absl::StrCat("this stream fell more than ", d_->limits_.stream_buffer_messages,
                       " messages behind; reconnect and resynchronise"),
          "STREAM_FELL_BEHIND",
          {{"buffer_messages", std::to_string(d_->limits_.stream_buffer_messages)}});
      if (!writing_ && !handler_running_) {
        StartFinishLocked();
      } else if (writing_) {
        cancel = true;  // a write the client never takes: only a cancel frees it
      }
      cv_.SignalAll();
    }
    Uncount();
    if (cancel) ctx_.TryCancel();
    return false;  // the instance drops this follower
  }

  void Close(const std::string& reason) override {
    EndFollowing(GatewayError(grpc::StatusCode::UNAVAILABLE, reason, "STREAM_CLOSED"));
  }

  // Ends a following stream at shutdown.
  void EndFollowing(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    if (!following_) return;
    following_ = false;
    final_status_ = status;
    if (!writing_ && !handler_running_ && !finish_sent_) StartFinishLocked();
  }

 private:
  friend class Dispatcher;

  void Unref() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      if (entered_ != nullptr) entered_->Leave();
      delete this;
    }
  }

  // Routes, authenticates and checks the call, then reads its request. Runs again for a call that
  // waited while its service was held.
  void Start() {
    start_time_ = absl::Now();
    const auto deadline = ctx_.deadline();
    deadline_micros_ =
        deadline == std::chrono::system_clock::time_point::max()
            ? INT64_MAX
            : std::chrono::duration_cast<std::chrono::microseconds>(deadline.time_since_epoch())
                  .count();
    table_ = d_->routes_->Get();
    const CityRoutes* city = nullptr;
    absl::string_view city_md, authorization;
    for (const auto& [k, v] : ctx_.client_metadata()) {
      if (Ref(k) == "x-civitas-city") city_md = Ref(v);
      if (Ref(k) == "authorization") authorization = Ref(v);
    }
    city_id_ = std::string(city_md);
    grpc::Status status =
        d_->draining_.load()
            ? GatewayError(grpc::StatusCode::UNAVAILABLE,
                           "the gateway is shutting down; retry on another instance",
                           "GATEWAY_DRAINING")
            : table_->ResolveCity(city_md, ctx_.host(), &city);
    if (status.ok()) {
      city_id_ = city->config.id;
      if (RouteTable::IsHeld(*city, ctx_.method())) {
        // The module's data is changing shape: wait for the table that serves it again.
        refs_.fetch_add(1);  // the parking's; released after the call is started again
        if (d_->Park(Dispatcher::HoldKey(city_id_, ServiceOf(ctx_.method())), this)) return;
        refs_.fetch_sub(1);
        return Start();  // released meanwhile: route by the current table
      }
      status = table_->ResolveMethod(*city, ctx_.method(), &route_);
      if (status.ok()) {
        if (route_.instance->Enter()) {
          entered_ = route_.instance;
        } else {
          route_ = Route{};
          status = GatewayError(
              grpc::StatusCode::UNAVAILABLE,
              absl::StrCat("city '", city->config.id, "' is being removed from this gateway"),
              "CITY_BEING_REMOVED", {{"city", city->config.id}});
        }
      }
    }
    Caller caller;
    if (status.ok()) status = d_->auth_->Authenticate(authorization, city->config.id, &caller);
    if (status.ok()) {
      status = Authenticator::CheckRole(caller, route_.method->required_role, ctx_.method(),
                                        city->config.id);
    }
    if (status.ok()) status = AdmitWrite(caller, city->config.id);
    if (!status.ok()) {
      absl::MutexLock lock(&mu_);
      final_status_ = status;
      StartFinishLocked();
      return;
    }
    Bind(std::move(caller), route_.method->kind);
    if (request_read_) {  // routed again (see RunHandler): the request is already here
      absl::MutexLock lock(&mu_);
      SubmitLocked();
      return;
    }
    refs_.fetch_add(1);
    stream_.Read(&request_buf_, &read_tag_);
  }

  // The client: the connection's peer, or for a JSON/HTTP call (which arrives on the
  // in-process channel) the HTTP client the transcoder names, so that the write-rate and
  // live-stream limits count HTTP clients as they count gRPC ones.
  std::string ClientPeer() const {
    std::string peer = ctx_.peer();
    if (!absl::StartsWith(peer, "ipv4:") && !absl::StartsWith(peer, "ipv6:") &&
        !absl::StartsWith(peer, "unix:")) {
      peer = Metadata("x-civitas-http-peer").value_or(peer);
    }
    return peer;
  }

  // Write-rate limits (WriteRateLimiter), before the request is even read.
  grpc::Status AdmitWrite(const Caller& caller, const std::string& city) {
    WriteRateLimiter* limiter = d_->write_limiter_.get();
    if (limiter == nullptr) return grpc::Status::OK;
    std::string peer = ClientPeer();
    std::optional<std::string> forwarded;
    if (!d_->limits_.write_rate.client_ip_header.empty()) {
      forwarded = Metadata(d_->limits_.write_rate.client_ip_header);
    }
    int64_t retry_after = 0;
    const bool staff = (caller.roles & (CIVITAS_ROLE_BIT(CIVITAS_ROLE_EDITOR) |
                                        CIVITAS_ROLE_BIT(CIVITAS_ROLE_MODERATOR) |
                                        CIVITAS_ROLE_BIT(CIVITAS_ROLE_ADMIN))) != 0;
    const std::string forwarded_address = forwarded.value_or("");
    grpc::Status s = limiter->Admit({city, caller.subject, staff, peer, forwarded_address,
                                     route_.method->full_path, route_.method->descriptor},
                                    &retry_after);
    if (retry_after > 0) ctx_.AddTrailingMetadata("retry-after", std::to_string(retry_after));
    if (s.ok() && caller.subject.empty()) {
      // Charged against the address's daily byte budget once the request is read (OnRead).
      anonymous_write_ = {city, std::move(peer), forwarded_address};
    }
    return s;
  }

  // The daily byte budget of anonymous writes from one address (WriteRateLimiter).
  grpc::Status ChargeAnonymousBytes(size_t bytes) {
    if (!anonymous_write_) return grpc::Status::OK;
    int64_t retry_after = 0;
    grpc::Status s = d_->write_limiter_->ChargeAnonymousBytes(
        {anonymous_write_->city, "", false, anonymous_write_->peer, anonymous_write_->forwarded,
         route_.method->full_path, route_.method->descriptor},
        bytes, &retry_after);
    if (retry_after > 0) ctx_.AddTrailingMetadata("retry-after", std::to_string(retry_after));
    return s;
  }

  void OnRead(bool ok) {
    absl::MutexLock lock(&mu_);
    if (!ok) {
      final_status_ = GatewayError(grpc::StatusCode::INVALID_ARGUMENT,
                                   "the client closed the call without sending a request message",
                                   "REQUEST_MISSING");
      StartFinishLocked();
      return;
    }
    request_ = Flatten(request_buf_);
    request_buf_.Clear();
    request_read_ = true;
    if (grpc::Status s = ChargeAnonymousBytes(request_.size()); !s.ok()) {
      final_status_ = s;
      StartFinishLocked();
      return;
    }
    SubmitLocked();
  }

  // Hands the handler to the pool, or answers RESOURCE_EXHAUSTED when its queue is full.
  void SubmitLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    handler_running_ = true;
    refs_.fetch_add(1);
    if (!d_->pool_.TrySubmit([this] { RunHandler(); })) {
      handler_running_ = false;
      refs_.fetch_sub(1);
      d_->stats_.rejected_busy.fetch_add(1, std::memory_order_relaxed);
      final_status_ = GatewayError(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                   "the gateway is at its limit of queued calls; retry with "
                                   "backoff",
                                   "GATEWAY_BUSY", {}, 1);
      StartFinishLocked();
    }
  }

  void RunHandler() {
    int32_t code = CIVITAS_CANCELLED;
    // A unary call's commits are not fsynced one by one: its answer waits for the city's next
    // WAL sync instead, which serves every call that committed before it (see DeferredSync).
    std::optional<DeferredSync> writes;
    if (kind() == CIVITAS_METHOD_UNARY) writes.emplace();
    if (!IsCancelled()) code = route_.instance->Handle(this, *route_.method, request_);
    if (code == ModuleInstance::kFenced) {
      // The module is changing version in this city: route the call again, so that it waits
      // for (or reaches) the version that serves next instead of failing.
      {
        absl::MutexLock lock(&mu_);
        handler_running_ = false;
      }
      if (entered_ != nullptr) std::exchange(entered_, nullptr)->Leave();
      route_ = Route{};
      Start();
      Unref();
      return;
    }
    // A handler that gave up because the deadline passed says so in its own words (often
    // CANCELLED); the client should see what happened: DEADLINE_EXCEEDED.
    if (code != CIVITAS_OK && !cancelled_.load() &&
        absl::ToUnixMicros(absl::Now()) > deadline_micros_) {
      code = CIVITAS_DEADLINE_EXCEEDED;
      SetError(absl::StrCat("the call's deadline passed while ", route_.method->full_path,
                            " was running"));
    }
    if (writes && writes->store() != nullptr) {
      // handler_running_ stays set until the answer goes out, so a cancellation meanwhile does
      // not finish the call under the waiting answer. This call's reference moves to the sync's
      // callback.
      d_->deferred_replies_.fetch_add(1, std::memory_order_acq_rel);
      writes->store()->WhenDurable(writes->ticket(), [this, code](absl::Status synced) {
        Complete(code, synced);
        d_->deferred_replies_.fetch_sub(1, std::memory_order_acq_rel);
        Unref();
      });
      return;
    }
    Complete(code, absl::OkStatus());
    Unref();
  }

  // Sends the call's outcome once the handler has returned (and, for a call that wrote, once
  // its writes are durable: `synced` says whether they are).
  void Complete(int32_t code, const absl::Status& synced) {
    {
      absl::MutexLock lock(&mu_);
      handler_running_ = false;
      cv_.SignalAll();
      if (kind() == CIVITAS_METHOD_UNARY && finish_sent_) {
        // Never finish twice (nothing else finishes a unary call while its handler runs).
      } else if (kind() == CIVITAS_METHOD_UNARY && !synced.ok()) {
        final_status_ = GatewayError(grpc::StatusCode::UNAVAILABLE, std::string(synced.message()),
                                     "STORAGE_UNAVAILABLE");
        StartFinishLocked();
      } else if (kind() == CIVITAS_METHOD_UNARY) {
        if (code == CIVITAS_OK && replied()) {
          finish_sent_ = true;
          RecordOutcome(0);
          refs_.fetch_add(1);
          stream_.WriteAndFinish(ToBuffer(std::move(reply())), grpc::WriteOptions(),
                                 grpc::Status::OK, &finish_tag_);
        } else {
          final_status_ =
              code == CIVITAS_OK
                  ? GatewayError(
                        grpc::StatusCode::INTERNAL,
                        absl::StrCat("module '", route_.instance->module().module_id(),
                                     "' returned no response for ", route_.method->full_path),
                        "MODULE_NO_RESPONSE",
                        {{"module", route_.instance->module().module_id()},
                         {"method", route_.method->full_path}})
                  : ModuleCallStatus(code, error(), *route_.method, route_.instance->module());
          StartFinishLocked();
        }
      } else {
        std::vector<grpc::Slice> meanwhile = std::exchange(published_meanwhile_, {});
        if (code == CIVITAS_OK && following_ && !broken_) {
          for (grpc::Slice& m : meanwhile) EnqueueLocked(std::move(m));
        }
        if (code != CIVITAS_OK) {
          following_ = false;
          final_status_ =
              code == CIVITAS_RESOURCE_EXHAUSTED && !refused_follow_.empty()
                  ? GatewayError(grpc::StatusCode::RESOURCE_EXHAUSTED, refused_follow_,
                                 "STREAM_LIMIT", {{"limit", refused_limit_}})
                  : ModuleCallStatus(code, error(), *route_.method, route_.instance->module());
        }
        if (broken_ && code == CIVITAS_OK && final_status_.ok()) {
          final_status_ = grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
        }
        if (!following_ && !writing_ && !finish_sent_) StartFinishLocked();
      }
    }
  }

  void EnqueueLocked(grpc::Slice message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    outbox_.push_back(std::move(message));
    if (!writing_) StartWriteLocked();
  }

  void StartWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    writing_ = true;
    current_write_ = grpc::ByteBuffer(&outbox_.front(), 1);  // refers to the slice, no copy
    outbox_.pop_front();
    refs_.fetch_add(1);
    stream_.Write(current_write_, &write_tag_);
  }

  void StartFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finish_sent_) return;
    finish_sent_ = true;
    RecordOutcome(final_status_.error_code());
    refs_.fetch_add(1);
    // Every error carries an ErrorInfo; the sites above name their reasons.
    stream_.Finish(EnsureErrorInfo(final_status_), &finish_tag_);
  }

  // Metrics and the access log, once per call, when its status is known.
  void RecordOutcome(int code) {
    const absl::Duration latency = absl::Now() - start_time_;
    if (route_.stats != nullptr) {
      route_.stats->Record(code, latency);
    } else if (d_->metrics_ != nullptr) {
      d_->metrics_->RecordRejected(code);
    }
    if (!d_->access_log_ || !LogEnabled(LogLevel::kInfo)) return;
    // The client's x-request-id, or one of ours, so a log line can be matched to a report.
    std::string request_id;
    if (auto it = ctx_.client_metadata().find("x-request-id"); it != ctx_.client_metadata().end()) {
      request_id.assign(it->second.data(), std::min<size_t>(it->second.size(), 128));
    } else {
      request_id = absl::StrFormat("gw-%x", d_->next_request_id_.fetch_add(1));
    }
    const std::string latency_ms = absl::StrFormat("%.3f", absl::ToDoubleMilliseconds(latency));
    const std::string& subject = caller().subject;
    const std::string subject_hash = SubjectHash(subject);  // keyed: see subject_hash.h
    Log(LogLevel::kInfo, "call",
        {{"request_id", request_id},
         {"city", city_id_},
         {"method", ctx_.method()},
         {"code", common::CodeName(code)},
         {"latency_ms", latency_ms},
         {"subject", subject_hash}});
  }

  void OnWriteDone(bool ok) {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    cv_.SignalAll();
    if (!ok) {
      broken_ = true;
      following_ = false;
      outbox_.clear();
      if (final_status_.ok()) {
        final_status_ = grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
      }
    }
    if (!outbox_.empty() && !broken_) {
      StartWriteLocked();
    } else if (!handler_running_ && !following_ && !finish_sent_) {
      StartFinishLocked();
    }
  }

  void OnFinishDone() {
    d_->stats_.active_calls.fetch_sub(1, std::memory_order_acq_rel);
    std::string topic;
    {
      absl::MutexLock lock(&mu_);
      following_ = false;
      topic = followed_topic_;
    }
    if (!topic.empty()) {
      route_.instance->Unfollow(topic, this);
      Uncount();
      Unref();  // the follow reference
    }
  }

  // Takes this stream out of the live-stream counts, once.
  void Uncount() {
    if (!counted_.exchange(false)) return;
    {
      absl::MutexLock lock(&d_->followers_mu_);
      d_->following_.erase(this);
      auto peer = d_->follows_by_peer_.find(peer_);
      if (peer != d_->follows_by_peer_.end() && --peer->second == 0) {
        d_->follows_by_peer_.erase(peer);
      }
      auto address = d_->follows_by_address_.find(AddressOf(peer_));
      if (address != d_->follows_by_address_.end() && --address->second == 0) {
        d_->follows_by_address_.erase(address);
      }
      auto city = d_->follows_by_city_.find(city_id_);
      if (city != d_->follows_by_city_.end() && --city->second == 0) {
        d_->follows_by_city_.erase(city);
      }
    }
    d_->stats_.active_streams.fetch_sub(1, std::memory_order_relaxed);
  }

  void OnDone() {
    if (!ctx_.IsCancelled()) return;
    cancelled_.store(true);
    absl::MutexLock lock(&mu_);
    broken_ = true;
    following_ = false;
    outbox_.clear();
    cv_.SignalAll();
    if (final_status_.ok()) final_status_ = grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    if (!writing_ && !handler_running_ && !finish_sent_) StartFinishLocked();
  }

  Dispatcher* const d_;
  grpc::ServerCompletionQueue* const cq_;
  grpc::GenericServerContext ctx_;
  grpc::GenericServerAsyncReaderWriter stream_{&ctx_};
  std::atomic<int> refs_{1};  // the request tag

  Tag request_tag_{this, Op::kRequest};
  Tag read_tag_{this, Op::kRead};
  Tag write_tag_{this, Op::kWrite};
  Tag finish_tag_{this, Op::kFinish};
  Tag done_tag_{this, Op::kDone};

  std::shared_ptr<const RouteTable> table_;  // keeps the module instance alive for this call
  Route route_;
  ModuleInstance* entered_ = nullptr;  // Enter()ed at routing, Leave()s when the call is deleted
  int64_t deadline_micros_ = INT64_MAX;
  absl::Time start_time_;
  std::string city_id_;  // as configured once resolved; as sent until then (logs only)
  std::atomic<bool> cancelled_{false};
  grpc::ByteBuffer request_buf_;
  std::string request_;

  absl::Mutex mu_;
  absl::CondVar cv_;
  SliceQueue outbox_ ABSL_GUARDED_BY(mu_);
  // Published on the followed topic while the handler was still running: sent after its own
  // messages, once it returns OK.
  std::vector<grpc::Slice> published_meanwhile_ ABSL_GUARDED_BY(mu_);
  std::string refused_follow_ ABSL_GUARDED_BY(mu_);  // why Follow answered RESOURCE_EXHAUSTED
  std::string refused_limit_ ABSL_GUARDED_BY(mu_);   // ... and which limit (the config key)
  std::string peer_;                                 // the connection, for the per-connection cap
  std::atomic<bool> counted_{false};                 // in the live-stream counts
  grpc::ByteBuffer current_write_ ABSL_GUARDED_BY(mu_);
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool handler_running_ ABSL_GUARDED_BY(mu_) = false;
  bool following_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_sent_ ABSL_GUARDED_BY(mu_) = false;
  bool request_read_ = false;  // set once, before the first handler submission
  // An anonymous write admitted by AdmitWrite, whose request bytes OnRead charges to its address.
  struct AnonymousWrite {
    std::string city, peer, forwarded;
  };
  std::optional<AnonymousWrite> anonymous_write_;
  std::string followed_topic_ ABSL_GUARDED_BY(mu_);
};

Dispatcher::Dispatcher(grpc::AsyncGenericService* service,
                       std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues,
                       const RouteTableHolder* routes, const Authenticator* auth,
                       const LimitsConfig& limits, Metrics* metrics, bool access_log)
    : service_(service),
      queues_(std::move(queues)),
      routes_(routes),
      auth_(auth),
      limits_(limits),
      metrics_(metrics),
      access_log_(access_log),
      pool_(limits.handler_threads != 0 ? limits.handler_threads
                                        : std::max(1u, std::thread::hardware_concurrency()),
            limits.handler_queue),
      write_limiter_(std::make_unique<WriteRateLimiter>(limits.write_rate)) {}

Dispatcher::~Dispatcher() { Stop(); }

void Dispatcher::RequestCall(grpc::ServerCompletionQueue* cq) {
  (new GenericCall(this, cq))->Request();
}

void Dispatcher::Start() {
  for (auto& cq : queues_) {
    for (int i = 0; i < kRequestsInFlightPerQueue; ++i) RequestCall(cq.get());
    threads_.emplace_back([this, q = cq.get()] { Poll(q); });
  }
}

void Dispatcher::Poll(grpc::ServerCompletionQueue* cq) {
  void* tag = nullptr;
  bool ok = false;
  while (cq->Next(&tag, &ok)) {
    auto* t = static_cast<GenericCall::Tag*>(tag);
    t->call->Proceed(t->op, ok);
  }
}

void Dispatcher::StartAgain(const std::vector<GenericCall*>& calls) {
  for (GenericCall* call : calls) {
    call->Start();
    call->Unref();
  }
}

std::string Dispatcher::HoldKey(absl::string_view city, absl::string_view service) {
  return absl::StrCat(city, "/", service);
}

void Dispatcher::Hold(const std::string& city, const std::vector<std::string>& services) {
  absl::MutexLock lock(&held_mu_);
  for (const std::string& s : services) held_.try_emplace(HoldKey(city, s));
}

bool Dispatcher::Park(const std::string& key, GenericCall* call) {
  absl::MutexLock lock(&held_mu_);
  auto it = held_.find(key);
  if (it == held_.end()) return false;
  it->second.push_back(call);
  return true;
}

void Dispatcher::Release(const std::string& city, const std::vector<std::string>& services) {
  std::vector<GenericCall*> waiting;
  {
    absl::MutexLock lock(&held_mu_);
    for (const std::string& s : services) {
      auto it = held_.find(HoldKey(city, s));
      if (it == held_.end()) continue;
      waiting.insert(waiting.end(), it->second.begin(), it->second.end());
      held_.erase(it);
    }
  }
  StartAgain(waiting);
}

int64_t Dispatcher::held_calls() const {
  absl::MutexLock lock(&held_mu_);
  int64_t n = 0;
  for (const auto& [key, calls] : held_) n += static_cast<int64_t>(calls.size());
  return n;
}

int64_t Dispatcher::Drain(absl::Time deadline) {
  draining_.store(true);
  {
    // Held calls start again, and are answered UNAVAILABLE like every new call now.
    std::vector<GenericCall*> waiting;
    {
      absl::MutexLock lock(&held_mu_);
      for (auto& [key, calls] : held_) waiting.insert(waiting.end(), calls.begin(), calls.end());
      held_.clear();
    }
    StartAgain(waiting);
  }
  {
    absl::MutexLock lock(&followers_mu_);
    for (GenericCall* call : following_) {
      call->EndFollowing(GatewayError(grpc::StatusCode::UNAVAILABLE,
                                      "the gateway is shutting down; reconnect",
                                      "GATEWAY_DRAINING"));
    }
  }
  int64_t active = stats_.active_calls.load();
  while (active > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
    active = stats_.active_calls.load();
  }
  return active;
}

void Dispatcher::Stop() {
  shutting_down_.store(true);
  if (threads_.empty()) return;
  pool_.Join();
  // Answers waiting for a WAL sync go out before the queues close (a sync takes milliseconds).
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (deferred_replies_.load(std::memory_order_acquire) > 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  for (auto& cq : queues_) cq->Shutdown();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace civitas::gateway
