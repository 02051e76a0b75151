#include "services/gateway/appconfig/appconfig_service.h"

#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "services/gateway/appconfig/appconfig_edit.h"
#include "services/gateway/appconfig/appconfig_rules.h"
#include "services/gateway/authenticator.h"
#include "services/gateway/gateway_call.h"
#include "services/gateway/log.h"
#include "services/gateway/status_details.h"

namespace civitas::gateway::appconfig {

namespace {

constexpr char kGet[] = "/civitas.appconfig.v1.AppConfigService/GetAppConfig";
constexpr char kUpdate[] = "/civitas.appconfig.v1.AppConfigService/UpdateAppConfig";
constexpr char kList[] = "/civitas.appconfig.v1.AppConfigService/ListAppConfigVersions";
constexpr char kGetVersion[] = "/civitas.appconfig.v1.AppConfigService/GetAppConfigVersion";
constexpr char kRestore[] = "/civitas.appconfig.v1.AppConfigService/RestoreAppConfigVersion";

constexpr int32_t kMaxPageSize = 100;
constexpr int32_t kDefaultPageSize = 20;

// The limits appconfig.proto states: admins' writes, 30 a minute per subject (burst 10). Reads
// (the GET methods) are not limited; anonymous callers never reach a write (role check first).
WriteRateConfig Limits(std::string client_ip_header) {
  WriteRateConfig c;
  c.per_subject = {30, 10};
  c.anonymous_per_peer = {30, 10};
  c.exempt_staff = false;
  c.anonymous_bytes_per_peer_per_day = 0;
  c.client_ip_header = std::move(client_ip_header);
  return c;
}

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

grpc::Status Refused(const Refusal& r) {
  return GatewayError(r.code, r.message, r.reason, {{"field", r.field}});
}

// The version an etag names, or the refusal: missing (ETAG_REQUIRED) or not ours / stale
// (ETAG_MISMATCH).
grpc::Status CheckEtag(const std::string& etag, int64_t current, const char* field) {
  if (etag.empty()) {
    return GatewayError(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat(field,
                                     " is required: send the etag of the configuration you "
                                     "changed (GetAppConfig), now '",
                                     EtagOf(current), "'"),
                        "ETAG_REQUIRED", {{"field", field}});
  }
  const std::optional<int64_t> v = VersionOfEtag(etag);
  if (!v || *v != current) {
    return GatewayError(grpc::StatusCode::ABORTED,
                        absl::StrCat("etag '", etag.substr(0, 40),
                                     "' is stale: the app configuration was changed meanwhile "
                                     "(now '",
                                     EtagOf(current), "'); read it again and reapply your change"),
                        "ETAG_MISMATCH", {{"field", field}, {"etag", EtagOf(current)}});
  }
  return grpc::Status::OK;
}

// "appconfig/versions/<n>" -> n; nullopt if malformed.
std::optional<int64_t> VersionOfName(const std::string& name) {
  absl::string_view s = name;
  int64_t v = 0;
  if (!absl::ConsumePrefix(&s, "appconfig/versions/") || s.empty() || s.size() > 19 ||
      s[0] == '0' || !absl::SimpleAtoi(s, &v) || v < 1) {
    return std::nullopt;
  }
  return v;
}

grpc::Status VersionNotFound(const std::string& name) {
  return GatewayError(
      grpc::StatusCode::NOT_FOUND,
      absl::StrCat("app configuration version '", name.substr(0, 64), "' does not exist"),
      "APP_CONFIG_VERSION_NOT_FOUND", {{"name", name.substr(0, 64)}});
}

grpc::Status BadName(const std::string& name) {
  return GatewayError(grpc::StatusCode::INVALID_ARGUMENT,
                      absl::StrCat("name must be \"appconfig/versions/\" and a version number, "
                                   "got '",
                                   name.substr(0, 64), "'"),
                      "APP_CONFIG_INVALID", {{"field", "name"}});
}

}  // namespace

AppConfigService::AppConfigService(const RouteTableHolder* routes, const Authenticator* auth,
                                   const push::PushCities* cities, std::string client_ip_header)
    : routes_(routes),
      auth_(auth),
      cities_(cities),
      limiter_(Limits(client_ip_header)),
      limiter_client_ip_header_(std::move(client_ip_header)) {}

grpc::ServerUnaryReactor* AppConfigService::Run(grpc::CallbackServerContext* ctx,
                                                const char* method, civitas_role role, Work work) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  HandlerPool* pool = pool_.load(std::memory_order_acquire);
  AdmittedCall admitted;
  if (grpc::Status refused = AdmitGatewayCall(
          ctx, method, role, !draining_.load(std::memory_order_acquire) && pool != nullptr,
          routes_->Get(), {auth_, &limiter_, limiter_client_ip_header_, /*staff_allowance=*/false},
          &admitted);
      !refused.ok()) {
    reactor->Finish(std::move(refused));
    return reactor;
  }
  std::shared_ptr<const RouteTable> kept = std::move(admitted.table);
  const CityRoutes* city = admitted.city;
  Caller caller = std::move(admitted.caller);
  const bool submitted = pool->TrySubmit(
      [this, reactor, kept, city, method, caller = std::move(caller), work = std::move(work)]() {
        grpc::Status result;
        absl::Status used = cities_->Use(city->config.id, [&](push::PushCities::CityView& view) {
          AppConfigStore store(&view.database);
          result = work(*city, store, caller);
          return absl::OkStatus();
        });
        if (!used.ok()) result = ToGrpc(used);
        if (const absl::string_view m = method; m == kUpdate || m == kRestore) {
          LogAudit("admin call",
                   {{"method", method},
                    {"subject", caller.subject.empty() ? "(none)" : caller.subject},
                    {"city", city->config.id},
                    {"outcome", result.ok() ? "OK" : ErrorReasonOf(EnsureErrorInfo(result))},
                    {"error", result.error_message()}});
        }
        reactor->Finish(EnsureErrorInfo(std::move(result)));
      });
  if (!submitted) {
    reactor->Finish(GatewayError(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                 "the gateway is at its limit of queued calls; retry with backoff",
                                 "GATEWAY_BUSY", {}, 1));
  }
  return reactor;
}

grpc::Status AppConfigService::Store(const CityRoutes& city, AppConfigStore& store,
                                     const ac::AppConfig& config, int64_t based_on,
                                     int64_t restored_from, ac::AppConfig* response) const {
  ac::AppConfig served;
  ModuleScreens screens;
  ServedModules(city, &served, &screens);
  if (std::optional<Refusal> r = CheckAppConfig(config, screens)) return Refused(*r);
  absl::StatusOr<ac::AppConfigVersion> stored =
      store.Append(config, based_on, restored_from, absl::Now());
  if (!stored.ok()) {
    if (stored.status().code() == absl::StatusCode::kAborted) {
      return GatewayError(
          grpc::StatusCode::ABORTED,
          absl::StrCat(stored.status().message(), "; read it again and reapply your change"),
          "ETAG_MISMATCH", {{"field", "etag"}});
    }
    return ToGrpc(stored.status());
  }
  *response = Answer(*stored);
  *response->mutable_modules() = served.modules();
  return grpc::Status::OK;
}

absl::Status AppConfigService::SeedIfEmpty(const CityRoutes& city,
                                           const ac::AppConfig& config) const {
  return cities_->Use(city.config.id, [&](push::PushCities::CityView& view) -> absl::Status {
    AppConfigStore store(&view.database);
    absl::StatusOr<int64_t> current = store.CurrentVersion();
    if (!current.ok()) return current.status();
    if (*current != 0) return absl::OkStatus();
    ac::AppConfig answer;
    const grpc::Status s = Store(city, store, config, 0, 0, &answer);
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("sample app configuration: ", s.error_message()));
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AppConfigService::GetAppConfig(grpc::CallbackServerContext* ctx,
                                                         const ac::GetAppConfigRequest*,
                                                         ac::AppConfig* response) {
  return Run(ctx, kGet, CIVITAS_ROLE_ANONYMOUS,
             [response](const CityRoutes& city, AppConfigStore& store, const Caller&) {
               absl::StatusOr<int64_t> current = store.CurrentVersion();
               if (!current.ok()) return ToGrpc(current.status());
               if (*current == 0) {
                 *response = DefaultAppConfig(city.config);
               } else {
                 absl::StatusOr<std::optional<ac::AppConfigVersion>> v = store.Get(*current);
                 if (!v.ok()) return ToGrpc(v.status());
                 if (!v->has_value()) {
                   return grpc::Status(grpc::StatusCode::DATA_LOSS,
                                       "the current app configuration version is missing");
                 }
                 *response = Answer(**v);
               }
               ServedModules(city, response, nullptr);
               return grpc::Status::OK;
             });
}

grpc::ServerUnaryReactor* AppConfigService::UpdateAppConfig(
    grpc::CallbackServerContext* ctx, const ac::UpdateAppConfigRequest* request,
    ac::AppConfig* response) {
  return Run(
      ctx, kUpdate, CIVITAS_ROLE_ADMIN,
      [this, request, response](const CityRoutes& city, AppConfigStore& store, const Caller&) {
        absl::StatusOr<int64_t> current = store.CurrentVersion();
        if (!current.ok()) return ToGrpc(current.status());
        if (grpc::Status s = CheckEtag(request->app_config().etag(), *current, "app_config.etag");
            !s.ok()) {
          return s;
        }
        ac::AppConfig next = DefaultAppConfig(city.config);
        if (*current > 0) {
          absl::StatusOr<std::optional<ac::AppConfigVersion>> v = store.Get(*current);
          if (!v.ok()) return ToGrpc(v.status());
          if (v->has_value()) next = (*v)->app_config();
        }
        if (std::optional<Refusal> r =
                ApplyUpdate(request->app_config(), request->update_mask(), &next)) {
          return Refused(*r);
        }
        return Store(city, store, next, *current, 0, response);
      });
}

grpc::ServerUnaryReactor* AppConfigService::ListAppConfigVersions(
    grpc::CallbackServerContext* ctx, const ac::ListAppConfigVersionsRequest* request,
    ac::ListAppConfigVersionsResponse* response) {
  return Run(
      ctx, kList, CIVITAS_ROLE_ADMIN,
      [request, response](const CityRoutes&, AppConfigStore& store, const Caller&) {
        if (request->page_size() < 0 || request->page_size() > kMaxPageSize) {
          return GatewayError(grpc::StatusCode::INVALID_ARGUMENT,
                              absl::StrCat("page_size must be between 0 and ", kMaxPageSize,
                                           ", got ", request->page_size()),
                              "APP_CONFIG_INVALID", {{"field", "page_size"}});
        }
        const int32_t size = request->page_size() == 0 ? kDefaultPageSize : request->page_size();
        absl::StatusOr<int64_t> current = store.CurrentVersion();
        if (!current.ok()) return ToGrpc(current.status());
        int64_t from = *current;
        if (!request->page_token().empty()) {
          absl::string_view t = request->page_token();
          if (!absl::ConsumePrefix(&t, "v") || !absl::SimpleAtoi(t, &from) || from < 1 ||
              from > *current) {
            return GatewayError(grpc::StatusCode::INVALID_ARGUMENT,
                                "page_token is not one this server issued for this list; start "
                                "from the first page",
                                "PAGE_TOKEN_INVALID", {{"field", "page_token"}});
          }
        }
        int64_t v = from;
        for (; v >= 1 && response->versions_size() < size; --v) {
          absl::StatusOr<std::optional<ac::AppConfigVersion>> got = store.Get(v);
          if (!got.ok()) return ToGrpc(got.status());
          if (!got->has_value()) continue;
          ac::AppConfigVersion* out = response->add_versions();
          *out = std::move(**got);
          out->clear_app_config();
        }
        if (v >= 1) response->set_next_page_token(absl::StrCat("v", v));
        return grpc::Status::OK;
      });
}

grpc::ServerUnaryReactor* AppConfigService::GetAppConfigVersion(
    grpc::CallbackServerContext* ctx, const ac::GetAppConfigVersionRequest* request,
    ac::AppConfigVersion* response) {
  return Run(ctx, kGetVersion, CIVITAS_ROLE_ADMIN,
             [request, response](const CityRoutes&, AppConfigStore& store, const Caller&) {
               const std::optional<int64_t> version = VersionOfName(request->name());
               if (!version) return BadName(request->name());
               absl::StatusOr<std::optional<ac::AppConfigVersion>> v = store.Get(*version);
               if (!v.ok()) return ToGrpc(v.status());
               if (!v->has_value()) return VersionNotFound(request->name());
               *response = std::move(**v);
               *response->mutable_app_config() = Answer(*response);
               return grpc::Status::OK;
             });
}

grpc::ServerUnaryReactor* AppConfigService::RestoreAppConfigVersion(
    grpc::CallbackServerContext* ctx, const ac::RestoreAppConfigVersionRequest* request,
    ac::AppConfig* response) {
  return Run(
      ctx, kRestore, CIVITAS_ROLE_ADMIN,
      [this, request, response](const CityRoutes& city, AppConfigStore& store, const Caller&) {
        const std::optional<int64_t> version = VersionOfName(request->name());
        if (!version) return BadName(request->name());
        absl::StatusOr<int64_t> current = store.CurrentVersion();
        if (!current.ok()) return ToGrpc(current.status());
        if (grpc::Status s = CheckEtag(request->etag(), *current, "etag"); !s.ok()) {
          return s;
        }
        absl::StatusOr<std::optional<ac::AppConfigVersion>> v = store.Get(*version);
        if (!v.ok()) return ToGrpc(v.status());
        if (!v->has_value()) return VersionNotFound(request->name());
        return Store(city, store, (*v)->app_config(), *current, *version, response);
      });
}

}  // namespace civitas::gateway::appconfig
