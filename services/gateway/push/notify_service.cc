#include "services/gateway/push/notify_service.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/gateway/authenticator.h"
#include "services/gateway/gateway_call.h"
#include "services/gateway/log.h"
#include "services/gateway/push/module_push.h"
#include "services/gateway/push/push_keys.h"
#include "services/gateway/push/push_requests.h"
#include "services/gateway/push/web_push.h"

namespace civitas::gateway::push {

namespace {

constexpr char kRegister[] = "/civitas.notify.v1.NotifyService/RegisterDevice";
constexpr char kUpdate[] = "/civitas.notify.v1.NotifyService/UpdateDevice";
constexpr char kDelete[] = "/civitas.notify.v1.NotifyService/DeleteDevice";
constexpr char kSetTopics[] = "/civitas.notify.v1.NotifyService/SetDeviceTopics";
constexpr char kListTopics[] = "/civitas.notify.v1.NotifyService/ListTopics";
constexpr char kSend[] = "/civitas.notify.v1.NotifyService/SendMessage";
constexpr char kGetMessage[] = "/civitas.notify.v1.NotifyService/GetMessage";
constexpr char kCancelMessage[] = "/civitas.notify.v1.NotifyService/CancelMessage";

// The limits notify.proto states. Reads (ListTopics, GetMessage) are not limited.
WriteRateConfig Limits(std::string client_ip_header) {
  WriteRateConfig c;
  c.per_subject = {30, 30};
  c.anonymous_per_peer = {30, 30};
  c.exempt_staff = false;
  c.anonymous_bytes_per_peer_per_day = 0;
  c.client_ip_header = std::move(client_ip_header);
  WriteRateConfig::Override reg;
  reg.per_subject = RateLimit{10, 5};
  reg.anonymous_per_peer = RateLimit{10, 5};
  c.methods[kRegister] = reg;
  WriteRateConfig::Override send;
  send.per_subject = RateLimit{10, 5};
  c.methods[kSend] = send;
  return c;
}

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

grpc::Status Invalid(std::string message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::move(message));
}

void SetTime(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t micros = absl::ToUnixMicros(t);
  out->set_seconds(micros / 1000000);
  out->set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
}

std::string Sha256(absl::string_view s) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), digest);
  return std::string(reinterpret_cast<char*>(digest), sizeof(digest));
}

std::string NewSecret() {
  unsigned char bytes[32];
  RAND_bytes(bytes, sizeof(bytes));
  return Base64Url(absl::string_view(reinterpret_cast<char*>(bytes), sizeof(bytes)));
}

// What the API returns of a stored device: never its push address.
notify::Device Public(const StoredDevice& stored) {
  notify::Device d = stored.device();
  d.clear_web_push();
  d.clear_token();
  return d;
}

// "devices/<id>" -> id; empty if malformed.
std::string IdOf(absl::string_view name, absl::string_view collection) {
  if (!absl::StartsWith(name, collection)) return "";
  absl::string_view id = name.substr(collection.size());
  return IsId(id) ? std::string(id) : "";
}

}  // namespace

NotifyService::NotifyService(
    const RouteTableHolder* routes, const Authenticator* auth, const PushCities* cities,
    Resolver resolver, std::function<void(const std::string& city, int64_t deliveries)> on_queued,
    std::string client_ip_header)
    : routes_(routes),
      auth_(auth),
      cities_(cities),
      resolver_(std::move(resolver)),
      on_queued_(std::move(on_queued)),
      limiter_(Limits(client_ip_header)),
      limiter_client_ip_header_(std::move(client_ip_header)) {}

grpc::ServerUnaryReactor* NotifyService::Run(grpc::CallbackServerContext* ctx, const char* method,
                                             civitas_role role, Work work) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  HandlerPool* pool = pool_.load(std::memory_order_acquire);
  AdmittedCall admitted;
  if (grpc::Status refused = AdmitGatewayCall(
          ctx, method, role, !draining_.load(std::memory_order_acquire) && pool != nullptr,
          routes_->Get(), {auth_, &limiter_, limiter_client_ip_header_, /*staff_allowance=*/true},
          &admitted);
      !refused.ok()) {
    reactor->Finish(std::move(refused));
    return reactor;
  }
  const CityRoutes* city = admitted.city;
  Caller caller = std::move(admitted.caller);
  const bool submitted = pool->TrySubmit([this, reactor, table = std::move(admitted.table), city,
                                          caller = std::move(caller), work = std::move(work)]() {
    grpc::Status result;
    absl::Status used = cities_->Use(city->config.id, [&](PushCities::CityView& view) {
      result = work(view, *city, caller);
      return absl::OkStatus();
    });
    reactor->Finish(used.ok() ? result : ToGrpc(used));
  });
  if (!submitted) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     "the gateway is at its limit of queued calls; retry with backoff"));
  }
  return reactor;
}

absl::StatusOr<StoredDevice> NotifyService::Authorized(PushStore& store, const std::string& name,
                                                       const std::string& secret,
                                                       const Caller& caller) const {
  const std::string id = IdOf(name, "devices/");
  if (id.empty()) {
    return absl::InvalidArgumentError("name must be \"devices/\" and 32 hexadecimal digits");
  }
  if (secret.size() > 256) {
    return absl::InvalidArgumentError("registration_secret must have at most 256 bytes");
  }
  absl::StatusOr<std::optional<StoredDevice>> device = store.GetDevice(id);
  if (!device.ok()) return device.status();
  if (!device->has_value()) return absl::NotFoundError("device '" + name + "' does not exist");
  const StoredDevice& d = **device;
  const std::string hash = Sha256(secret);
  const bool secret_ok = !secret.empty() && d.secret_sha256().size() == hash.size() &&
                         CRYPTO_memcmp(hash.data(), d.secret_sha256().data(), hash.size()) == 0;
  const bool owner_ok = !caller.subject.empty() && caller.subject == d.owner();
  if (!secret_ok && !owner_ok) {
    return absl::PermissionDeniedError(
        "the registration_secret does not match this device, and the caller is not its owner");
  }
  return d;
}

absl::Status NotifyService::CheckAddress(const notify::Device& device,
                                         const CityPushConfig& config) const {
  if (absl::Status s = CheckPushAddress(device); !s.ok()) return s;
  if (device.platform() != notify::Device::WEB_PUSH) return absl::OkStatus();
  EndpointPolicy policy{config.allowed_hosts, config.allow_loopback};
  absl::StatusOr<ResolvedEndpoint> checked =
      CheckEndpoint(device.web_push().endpoint(), policy, resolver_);
  return checked.status();
}

grpc::ServerUnaryReactor* NotifyService::RegisterDevice(
    grpc::CallbackServerContext* ctx, const notify::RegisterDeviceRequest* request,
    notify::RegisterDeviceResponse* response) {
  return Run(ctx, kRegister, CIVITAS_ROLE_ANONYMOUS,
             [this, request, response](PushCities::CityView& city, const CityRoutes& routes,
                                       const Caller& caller) {
               const notify::Device& in = request->device();
               if (absl::Status s = CheckAddress(in, city.config.push); !s.ok()) return ToGrpc(s);
               if (absl::Status s =
                       CheckDeviceSettings(in, TopicsOf(CityTopics(routes, city.config.push)));
                   !s.ok()) {
                 return ToGrpc(s);
               }
               StoredDevice stored;
               notify::Device& d = *stored.mutable_device();
               d.set_name("devices/" + NewId());
               d.set_platform(in.platform());
               if (in.platform() == notify::Device::WEB_PUSH) {
                 *d.mutable_web_push() = in.web_push();
               } else {
                 d.set_token(in.token());
               }
               d.set_language_code(in.language_code());
               *d.mutable_topics() = in.topics();
               if (in.has_quiet_hours()) *d.mutable_quiet_hours() = in.quiet_hours();
               d.set_has_owner(!caller.subject.empty());
               const absl::Time now = absl::Now();
               SetTime(now, d.mutable_create_time());
               SetTime(now, d.mutable_update_time());
               const std::string secret = NewSecret();
               stored.set_secret_sha256(Sha256(secret));
               stored.set_owner(caller.subject);
               if (absl::Status s = city.store.PutNewDevice(stored); !s.ok()) return ToGrpc(s);
               *response->mutable_device() = Public(stored);
               response->set_registration_secret(secret);
               return grpc::Status::OK;
             });
}

grpc::ServerUnaryReactor* NotifyService::UpdateDevice(grpc::CallbackServerContext* ctx,
                                                      const notify::UpdateDeviceRequest* request,
                                                      notify::Device* response) {
  return Run(
      ctx, kUpdate, CIVITAS_ROLE_ANONYMOUS,
      [this, request, response](PushCities::CityView& city, const CityRoutes& routes,
                                const Caller& caller) {
        if (request->update_mask().paths().empty()) {
          return Invalid("update_mask must name the fields to change");
        }
        absl::StatusOr<StoredDevice> before = Authorized(city.store, request->device().name(),
                                                         request->registration_secret(), caller);
        if (!before.ok()) return ToGrpc(before.status());
        StoredDevice after = *before;
        notify::Device& d = *after.mutable_device();
        const notify::Device& in = request->device();
        bool address_changed = false;
        for (const std::string& path : request->update_mask().paths()) {
          if (path == "web_push") {
            *d.mutable_web_push() = in.web_push();
            address_changed = true;
          } else if (path == "token") {
            d.set_token(in.token());
            address_changed = true;
          } else if (path == "language_code") {
            d.set_language_code(in.language_code());
          } else if (path == "topics") {
            *d.mutable_topics() = in.topics();
          } else if (path == "quiet_hours") {
            if (in.has_quiet_hours()) {
              *d.mutable_quiet_hours() = in.quiet_hours();
            } else {
              d.clear_quiet_hours();
            }
          } else {
            return Invalid(
                absl::StrCat("update_mask may name web_push, token, language_code, topics and "
                             "quiet_hours; got '",
                             path.substr(0, 64), "'"));
          }
        }
        if (address_changed) {
          if (absl::Status s = CheckAddress(d, city.config.push); !s.ok()) return ToGrpc(s);
        }
        if (absl::Status s = CheckDeviceSettings(d, TopicsOf(CityTopics(routes, city.config.push)));
            !s.ok()) {
          return ToGrpc(s);
        }
        SetTime(absl::Now(), d.mutable_update_time());
        if (absl::Status s = city.store.ReplaceDevice(*before, after); !s.ok()) {
          return ToGrpc(s);
        }
        *response = Public(after);
        return grpc::Status::OK;
      });
}

grpc::ServerUnaryReactor* NotifyService::DeleteDevice(grpc::CallbackServerContext* ctx,
                                                      const notify::DeleteDeviceRequest* request,
                                                      google::protobuf::Empty*) {
  return Run(ctx, kDelete, CIVITAS_ROLE_ANONYMOUS,
             [this, request](PushCities::CityView& city, const CityRoutes&, const Caller& caller) {
               absl::StatusOr<StoredDevice> device =
                   Authorized(city.store, request->name(), request->registration_secret(), caller);
               if (!device.ok()) return ToGrpc(device.status());
               return ToGrpc(city.store.DeleteDevice(*device));
             });
}

grpc::ServerUnaryReactor* NotifyService::SetDeviceTopics(
    grpc::CallbackServerContext* ctx, const notify::SetDeviceTopicsRequest* request,
    notify::Device* response) {
  return Run(ctx, kSetTopics, CIVITAS_ROLE_ANONYMOUS,
             [this, request, response](PushCities::CityView& city, const CityRoutes& routes,
                                       const Caller& caller) {
               if (absl::Status s = CheckTopics(request->topics(),
                                                TopicsOf(CityTopics(routes, city.config.push)));
                   !s.ok()) {
                 return ToGrpc(s);
               }
               absl::StatusOr<StoredDevice> before =
                   Authorized(city.store, request->name(), request->registration_secret(), caller);
               if (!before.ok()) return ToGrpc(before.status());
               StoredDevice after = *before;
               *after.mutable_device()->mutable_topics() = request->topics();
               SetTime(absl::Now(), after.mutable_device()->mutable_update_time());
               if (absl::Status s = city.store.ReplaceDevice(*before, after); !s.ok()) {
                 return ToGrpc(s);
               }
               *response = Public(after);
               return grpc::Status::OK;
             });
}

grpc::ServerUnaryReactor* NotifyService::ListTopics(grpc::CallbackServerContext* ctx,
                                                    const notify::ListTopicsRequest* request,
                                                    notify::ListTopicsResponse* response) {
  return Run(ctx, kListTopics, CIVITAS_ROLE_ANONYMOUS,
             [request, response](PushCities::CityView& city, const CityRoutes& routes,
                                 const Caller& caller) {
               const bool editor = (caller.roles & (CIVITAS_ROLE_BIT(CIVITAS_ROLE_EDITOR) |
                                                    CIVITAS_ROLE_BIT(CIVITAS_ROLE_ADMIN))) != 0;
               const std::string& want = request->language_code();
               if (want.size() > 35)
                 return Invalid("language_code must have at most 35 characters");
               for (const CityTopic& c : CityTopics(routes, city.config.push)) {
                 const PushTopic& t = c.topic;
                 notify::Topic* topic = response->add_topics();
                 topic->set_name("topics/" + t.id);
                 topic->set_topic_id(t.id);
                 topic->set_module(c.module);
                 for (const auto& [lang, title] : t.titles)
                   (*topic->mutable_titles())[lang] = title;
                 std::string title = t.titles.begin()->second;
                 for (const std::string& lang : {city.config.default_language, want}) {
                   if (auto it = t.titles.find(lang); it != t.titles.end()) title = it->second;
                 }
                 topic->set_title(title);
                 if (editor) {
                   absl::StatusOr<int64_t> n = city.store.CountTopicDevices(t.id);
                   if (!n.ok()) return ToGrpc(n.status());
                   topic->set_device_count(*n);
                 }
               }
               absl::StatusOr<std::string> pem = city.store.VapidKeyPem();
               if (!pem.ok()) return ToGrpc(pem.status());
               absl::StatusOr<std::unique_ptr<VapidKey>> key = VapidKey::FromPem(*pem);
               if (!key.ok()) return ToGrpc(key.status());
               response->set_web_push_public_key((*key)->public_key_base64url());
               return grpc::Status::OK;
             });
}

grpc::ServerUnaryReactor* NotifyService::SendMessage(grpc::CallbackServerContext* ctx,
                                                     const notify::SendMessageRequest* request,
                                                     notify::Message* response) {
  return Run(ctx, kSend, CIVITAS_ROLE_EDITOR,
             [this, request, response](PushCities::CityView& city, const CityRoutes& routes,
                                       const Caller& caller) {
               const absl::Time now = absl::Now();
               if (absl::Status s = CheckMessage(
                       request->message(), TopicsOf(CityTopics(routes, city.config.push)), now);
                   !s.ok()) {
                 return ToGrpc(s);
               }
               notify::Message m;
               m.set_name("messages/" + NewId());
               m.set_topic(request->message().topic());
               *m.mutable_texts() = request->message().texts();
               m.set_deep_link(request->message().deep_link());
               m.set_image_url(request->message().image_url());
               m.set_urgent(request->message().urgent());
               absl::Time due = now;
               if (request->message().has_send_time()) {
                 *m.mutable_send_time() = request->message().send_time();
                 due = std::max(now, absl::FromUnixSeconds(m.send_time().seconds()));
               }
               SetTime(now, m.mutable_create_time());
               m.set_sender(caller.subject);
               if (absl::Status s = city.store.CreateMessage(&m, absl::ToUnixMicros(due));
                   !s.ok()) {
                 return ToGrpc(s);
               }
               Log(LogLevel::kInfo, "push message queued",
                   {{"city", city.config.id},
                    {"message", m.name()},
                    {"topic", m.topic()},
                    {"devices", std::to_string(m.device_count())}});
               *response = m;
               response->mutable_counts()->set_pending(m.device_count());
               if (on_queued_) on_queued_(city.config.id, m.device_count());
               return grpc::Status::OK;
             });
}

namespace {

// The stored message `name` with its delivery counts now.
grpc::Status MessageWithCounts(PushStore& store, const std::string& name, notify::Message* out) {
  const std::string id = IdOf(name, "messages/");
  if (id.empty()) return Invalid("name must be \"messages/\" and 32 hexadecimal digits");
  absl::StatusOr<std::optional<notify::Message>> m = store.GetMessage(id);
  if (!m.ok()) return ToGrpc(m.status());
  if (!m->has_value()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "message '" + name + "' does not exist");
  }
  absl::StatusOr<notify::DeliveryCounts> counts = store.CountDeliveries(id);
  if (!counts.ok()) return ToGrpc(counts.status());
  *out = **m;
  *out->mutable_counts() = *counts;
  return grpc::Status::OK;
}

}  // namespace

grpc::ServerUnaryReactor* NotifyService::GetMessage(grpc::CallbackServerContext* ctx,
                                                    const notify::GetMessageRequest* request,
                                                    notify::Message* response) {
  return Run(ctx, kGetMessage, CIVITAS_ROLE_EDITOR,
             [request, response](PushCities::CityView& city, const CityRoutes&, const Caller&) {
               return MessageWithCounts(city.store, request->name(), response);
             });
}

grpc::ServerUnaryReactor* NotifyService::CancelMessage(grpc::CallbackServerContext* ctx,
                                                       const notify::CancelMessageRequest* request,
                                                       notify::Message* response) {
  return Run(
      ctx, kCancelMessage, CIVITAS_ROLE_EDITOR,
      [request, response](PushCities::CityView& city, const CityRoutes&, const Caller& caller) {
        notify::Message before;
        if (grpc::Status s = MessageWithCounts(city.store, request->name(), &before); !s.ok()) {
          return s;
        }
        const std::string id = IdOf(request->name(), "messages/");
        if (absl::Status s = city.store.CancelMessage(id); !s.ok()) return ToGrpc(s);
        Log(LogLevel::kInfo, "push message cancelled",
            {{"city", city.config.id},
             {"message", request->name()},
             {"subject", caller.subject},
             {"withdrawn", std::to_string(before.counts().pending())}});
        return MessageWithCounts(city.store, request->name(), response);
      });
}

}  // namespace civitas::gateway::push
