#include "services/gateway/privacy_service.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/gateway/authenticator.h"
#include "services/gateway/gateway_call.h"
#include "services/gateway/log.h"
#include "services/gateway/status_details.h"

namespace civitas::gateway {

namespace {

constexpr char kExport[] = "/civitas.gateway.v1.PrivacyService/ExportMyData";
constexpr char kErase[] = "/civitas.gateway.v1.PrivacyService/EraseMyData";

// The city's module instances, ordered by module id.
std::vector<ModuleInstance*> Modules(const CityRoutes& city) {
  std::vector<ModuleInstance*> out;
  for (const auto& instance : city.instances) out.push_back(instance.get());
  std::sort(out.begin(), out.end(), [](const ModuleInstance* a, const ModuleInstance* b) {
    return a->module().module_id() < b->module().module_id();
  });
  return out;
}

// Runs `fn` on every module that has the hooks; lists the others; one error naming every module
// that failed.
template <class Fn>
absl::Status ForEachModule(const CityRoutes& city,
                           google::protobuf::RepeatedPtrField<std::string>* unsupported, Fn fn) {
  std::vector<std::string> failed;
  absl::StatusCode code = absl::StatusCode::kOk;
  for (ModuleInstance* instance : Modules(city)) {
    if (!instance->module().supports_personal_data()) {
      unsupported->Add(std::string(instance->module().module_id()));
      continue;
    }
    if (!instance->Enter()) {
      failed.push_back(absl::StrCat("module '", instance->module().module_id(),
                                    "' is being removed from this city"));
      code = absl::StatusCode::kUnavailable;
      continue;
    }
    absl::Status s = fn(instance);
    instance->Leave();
    if (!s.ok()) {
      failed.push_back(std::string(s.message()));
      if (code == absl::StatusCode::kOk) code = s.code();
    }
  }
  if (failed.empty()) return absl::OkStatus();
  return absl::Status(code, absl::StrCat(absl::StrJoin(failed, "; "),
                                         " (the other modules are done; repeat the call)"));
}

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

}  // namespace

absl::Status ExportPersonalData(const CityRoutes& city, const std::string& subject,
                                v1::ExportMyDataResponse* response) {
  response->set_subject(subject);
  return ForEachModule(city, response->mutable_unsupported_modules(),
                       [&](ModuleInstance* instance) {
                         std::string json;
                         absl::Status s = instance->ExportPersonalData(subject, &json);
                         if (!s.ok()) return s;
                         v1::ModuleData* data = response->add_modules();
                         data->set_module_id(instance->module().module_id());
                         data->set_data_json(std::move(json));
                         return absl::OkStatus();
                       });
}

absl::Status ErasePersonalData(const CityRoutes& city, const std::string& subject,
                               v1::EraseMyDataResponse* response) {
  return ForEachModule(city, response->mutable_unsupported_modules(),
                       [&](ModuleInstance* instance) {
                         absl::Status s = instance->ErasePersonalData(subject);
                         if (s.ok()) response->add_erased_modules(instance->module().module_id());
                         return s;
                       });
}

template <class Work>
grpc::ServerUnaryReactor* PrivacyService::Run(grpc::CallbackServerContext* ctx, const char* method,
                                              Work work) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  HandlerPool* pool = pool_.load(std::memory_order_acquire);
  AdmittedCall admitted;
  if (grpc::Status refused = AdmitGatewayCall(
          ctx, method, CIVITAS_ROLE_CITIZEN,
          !draining_.load(std::memory_order_acquire) && pool != nullptr, routes_->Get(),
          {auth_, &limiter_, "", /*staff_allowance=*/false}, &admitted);
      !refused.ok()) {
    reactor->Finish(std::move(refused));
    return reactor;
  }
  std::shared_ptr<const RouteTable> table = std::move(admitted.table);
  const CityRoutes* city = admitted.city;
  Caller caller = std::move(admitted.caller);
  // The table (and so the city's module instances) stays alive until the work is done.
  const bool submitted = pool->TrySubmit(
      [reactor, table, city, subject = std::move(caller.subject), work = std::move(work)]() {
        reactor->Finish(EnsureErrorInfo(ToGrpc(work(*city, subject))));
      });
  if (!submitted) {
    reactor->Finish(GatewayError(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                 "the gateway is at its limit of queued calls; retry with backoff",
                                 "GATEWAY_BUSY", {}, 1));
  }
  return reactor;
}

grpc::ServerUnaryReactor* PrivacyService::ExportMyData(grpc::CallbackServerContext* ctx,
                                                       const v1::ExportMyDataRequest*,
                                                       v1::ExportMyDataResponse* response) {
  return Run(ctx, kExport, [this, response](const CityRoutes& city, const std::string& subject) {
    absl::Status s = ExportPersonalData(city, subject, response);
    for (const GatewayData& data : gateway_data_) {
      std::string json;
      absl::Status g = data.export_json(city.config.id, subject, &json);
      if (!g.ok()) {
        if (s.ok()) s = g;
        continue;
      }
      v1::ModuleData* out = response->add_modules();
      out->set_module_id(data.id);
      out->set_data_json(std::move(json));
    }
    std::sort(response->mutable_modules()->begin(), response->mutable_modules()->end(),
              [](const v1::ModuleData& a, const v1::ModuleData& b) {
                return a.module_id() < b.module_id();
              });
    return s;
  });
}

grpc::ServerUnaryReactor* PrivacyService::EraseMyData(grpc::CallbackServerContext* ctx,
                                                      const v1::EraseMyDataRequest* request,
                                                      v1::EraseMyDataResponse* response) {
  if (request->confirm() != "ERASE") {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(GatewayError(grpc::StatusCode::INVALID_ARGUMENT,
                                 "confirm must be \"ERASE\": the erasure cannot be undone",
                                 "CONFIRMATION_REQUIRED"));
    return reactor;
  }
  return Run(ctx, kErase, [this, response](const CityRoutes& city, const std::string& subject) {
    absl::Status s = ErasePersonalData(city, subject, response);
    for (const GatewayData& data : gateway_data_) {
      absl::Status g = data.erase(city.config.id, subject);
      if (g.ok()) {
        response->add_erased_modules(data.id);
      } else if (s.ok()) {
        s = g;
      }
    }
    std::sort(response->mutable_erased_modules()->begin(),
              response->mutable_erased_modules()->end());
    Log(s.ok() ? LogLevel::kInfo : LogLevel::kWarning, "personal data erased",
        {{"city", city.config.id},
         {"modules", absl::StrJoin(response->erased_modules(), ",")},
         {"unsupported", absl::StrJoin(response->unsupported_modules(), ",")},
         {"error", std::string(s.message())}});
    return s;
  });
}

}  // namespace civitas::gateway
