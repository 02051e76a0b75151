#include "services/gateway/module_instance.h"

#include <cstdio>
#include <exception>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "services/gateway/host_api.h"
#include "services/gateway/log.h"
#include "services/gateway/push/module_push.h"

namespace civitas::gateway {
namespace {

// The module's config block plus the city's default language and time zone, unless the block
// sets them itself (documented in sdk/include/civitas/json.h).
std::string ConfigWithCityDefaults(const std::string& config_json, const CityConfig& city) {
  google::protobuf::Struct config;
  if (!google::protobuf::util::JsonStringToMessage(config_json.empty() ? "{}" : config_json,
                                                   &config)
           .ok()) {
    return config_json;  // validated when the config was read; pass it on untouched
  }
  auto& fields = *config.mutable_fields();
  if (!fields.contains("default_language")) {
    fields["default_language"].set_string_value(city.default_language);
  }
  if (!fields.contains("time_zone")) fields["time_zone"].set_string_value(city.time_zone);
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(config, &json).ok()) return config_json;
  return json;
}

// Runs one of the module's entries. abi.h allows no exception across the line, and the SDK
// catches its own; a module written against abi.h directly may still let one escape (of any
// type, not only std::exception). It becomes CIVITAS_INTERNAL with `error` saying so: a refusal
// or a failed call, never a terminated gateway.
template <class Fn>
int32_t Guarded(const char* what, char* error, size_t error_size, Fn&& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    std::snprintf(error, error_size, "%s threw an exception: %s", what, e.what());
  } catch (...) {
    std::snprintf(error, error_size, "%s threw an exception (not a std::exception)", what);
  }
  return CIVITAS_INTERNAL;
}

}  // namespace

int32_t HostCall::Follow(std::string topic) {
  if (kind_ != CIVITAS_METHOD_SERVER_STREAMING) return CIVITAS_FAILED_PRECONDITION;
  if (topic.empty()) return CIVITAS_INVALID_ARGUMENT;
  return CIVITAS_OK;
}

ModuleInstance::ModuleInstance(std::shared_ptr<const LoadedModule> module, const CityConfig& city,
                               const ModuleConfig& config, CityStore* store,
                               const push::ModuleOutbox* outbox)
    : module_(std::move(module)),
      city_id_(city.id),
      config_json_(ConfigWithCityDefaults(config.config_json, city)),
      key_prefix_(ModuleKeyPrefix(module_->module_id())),
      store_(store),
      outbox_(outbox) {}

absl::StatusOr<std::shared_ptr<ModuleInstance>> ModuleInstance::Create(
    std::shared_ptr<const LoadedModule> module, const CityConfig& city, const ModuleConfig& config,
    CityStore* store, const push::ModuleOutbox* outbox) {
  std::shared_ptr<ModuleInstance> instance(
      new ModuleInstance(std::move(module), city, config, store, outbox));
  char error[1024] = {0};
  const int32_t rc = Guarded("init", error, sizeof(error), [&] {
    return instance->module_->def().init(HostApiTable(),
                                         reinterpret_cast<civitas_city_host*>(instance.get()),
                                         &instance->instance_, error, sizeof(error));
  });
  if (rc != CIVITAS_OK) {
    error[sizeof(error) - 1] = '\0';
    instance->instance_ = nullptr;
    return absl::FailedPreconditionError(absl::StrCat(
        "module '", instance->module_->module_id(), "' failed to start for city '", city.id,
        "': ", error[0] ? error : "init returned an error", " (code ", rc, ")"));
  }
  return instance;
}

ModuleInstance::~ModuleInstance() {
  if (instance_ == nullptr || module_->def().destroy == nullptr) return;
  char error[256] = {0};
  if (Guarded("destroy", error, sizeof(error), [&] {
        module_->def().destroy(instance_);
        return CIVITAS_OK;
      }) != CIVITAS_OK) {
    Log(LogLevel::kError, "module destroy failed",
        {{"city", city_id_}, {"module", module_->module_id()}, {"error", error}});
  }
}

absl::Status ModuleInstance::Migrate(const std::string& from_version) {
  auto migrate = module_->migrate();
  if (migrate == nullptr) return absl::OkStatus();
  char error[1024] = {0};
  const int32_t rc = Guarded("migrate", error, sizeof(error), [&] {
    return migrate(instance_, from_version.c_str(), error, sizeof(error));
  });
  if (rc == CIVITAS_OK) return absl::OkStatus();
  error[sizeof(error) - 1] = '\0';
  return absl::FailedPreconditionError(
      absl::StrCat("module '", module_->module_id(), "' ", module_->version(),
                   " failed to migrate city '", city_id_, "' from ", from_version, ": ",
                   error[0] ? error : "migrate returned an error", " (code ", rc, ")"));
}

absl::Status ModuleInstance::MigrateDown(const std::string& to_version) {
  auto migrate_down = module_->migrate_down();
  if (migrate_down == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "module '", module_->module_id(), "' ", module_->version(), " has no down-migration"));
  }
  char error[1024] = {0};
  const int32_t rc = Guarded("migrate_down", error, sizeof(error), [&] {
    return migrate_down(instance_, to_version.c_str(), error, sizeof(error));
  });
  if (rc == CIVITAS_OK) return absl::OkStatus();
  error[sizeof(error) - 1] = '\0';
  return absl::FailedPreconditionError(
      absl::StrCat("module '", module_->module_id(), "' ", module_->version(),
                   " failed to migrate city '", city_id_, "' back to ", to_version, ": ",
                   error[0] ? error : "migrate_down returned an error", " (code ", rc, ")"));
}

int32_t ModuleInstance::Handle(HostCall* call, const MethodInfo& method,
                               const std::string& request) {
  // seq_cst on both sides: a handler either sees the fence, or is counted before the fencer
  // reads in_flight_.
  in_flight_.fetch_add(1, std::memory_order_seq_cst);
  if (fenced_.load(std::memory_order_seq_cst)) {
    in_flight_.fetch_sub(1, std::memory_order_acq_rel);
    return kFenced;
  }
  char error[256] = {0};
  const int32_t code = Guarded("the module's handler", error, sizeof(error), [&] {
    return module_->def().handle(instance_, reinterpret_cast<civitas_call_host*>(call),
                                 method.service_index, method.method_index,
                                 reinterpret_cast<const uint8_t*>(request.data()), request.size());
  });
  if (error[0] != '\0') call->SetError(error);
  in_flight_.fetch_sub(1, std::memory_order_acq_rel);
  return code;
}

namespace {

absl::Status ModuleStatusOf(int32_t code, const char* error, const std::string& module_id,
                            const char* what) {
  if (code == CIVITAS_OK) return absl::OkStatus();
  const absl::StatusCode c =
      code > 0 && code <= 16 ? static_cast<absl::StatusCode>(code) : absl::StatusCode::kUnknown;
  return absl::Status(c, absl::StrCat("module '", module_id, "' failed the ", what, ": ",
                                      error[0] ? error : "no reason given"));
}

}  // namespace

absl::Status ModuleInstance::ExportPersonalData(std::string_view subject, std::string* json) {
  auto fn = module_->export_personal_data();
  if (fn == nullptr || module_->erase_personal_data() == nullptr) {
    return absl::UnimplementedError(
        absl::StrCat("module '", module_->module_id(), "' does not support export and erasure"));
  }
  json->clear();
  char error[512] = {0};
  in_flight_.fetch_add(1, std::memory_order_acq_rel);
  const int32_t code = Guarded("export_personal_data", error, sizeof(error), [&] {
    return fn(
        instance_, subject.data(), subject.size(), json,
        [](void* sink, const uint8_t* data, size_t size) {
          static_cast<std::string*>(sink)->append(reinterpret_cast<const char*>(data), size);
        },
        error, sizeof(error));
  });
  in_flight_.fetch_sub(1, std::memory_order_acq_rel);
  error[sizeof(error) - 1] = '\0';
  return ModuleStatusOf(code, error, module_->module_id(), "export");
}

absl::Status ModuleInstance::ErasePersonalData(std::string_view subject) {
  auto fn = module_->erase_personal_data();
  if (fn == nullptr || module_->export_personal_data() == nullptr) {
    return absl::UnimplementedError(
        absl::StrCat("module '", module_->module_id(), "' does not support export and erasure"));
  }
  char error[512] = {0};
  in_flight_.fetch_add(1, std::memory_order_acq_rel);
  const int32_t code = Guarded("erase_personal_data", error, sizeof(error), [&] {
    return fn(instance_, subject.data(), subject.size(), error, sizeof(error));
  });
  in_flight_.fetch_sub(1, std::memory_order_acq_rel);
  error[sizeof(error) - 1] = '\0';
  return ModuleStatusOf(code, error, module_->module_id(), "erasure");
}

absl::StatusOr<std::shared_ptr<const std::vector<PushTopic>>> ModuleInstance::PushTopics() {
  auto fn = module_->push_topics();
  if (fn == nullptr || instance_ == nullptr) {
    static const auto* const kNone = new std::shared_ptr<const std::vector<PushTopic>>(
        std::make_shared<const std::vector<PushTopic>>());
    return *kNone;
  }
  // Noted before asking: a write committed meanwhile makes the next call ask again.
  const uint64_t writes = writes_.load(std::memory_order_acquire);
  {
    absl::MutexLock lock(&topics_mu_);
    if (topics_ != nullptr && topics_writes_ == writes) return topics_;
  }
  std::string json;
  char error[512] = {0};
  in_flight_.fetch_add(1, std::memory_order_acq_rel);
  const int32_t code = Guarded("push_topics", error, sizeof(error), [&] {
    return fn(
        instance_, &json,
        [](void* sink, const uint8_t* data, size_t size) {
          static_cast<std::string*>(sink)->append(reinterpret_cast<const char*>(data), size);
        },
        error, sizeof(error));
  });
  in_flight_.fetch_sub(1, std::memory_order_acq_rel);
  error[sizeof(error) - 1] = '\0';
  if (code != CIVITAS_OK) return ModuleStatusOf(code, error, module_->module_id(), "push_topics");
  absl::StatusOr<std::vector<PushTopic>> topics =
      push::ParseModuleTopics(module_->module_id(), json);
  if (!topics.ok()) return topics.status();
  auto shared = std::make_shared<const std::vector<PushTopic>>(*std::move(topics));
  absl::MutexLock lock(&topics_mu_);
  topics_ = shared;
  topics_writes_ = writes;
  return shared;
}

void ModuleInstance::Follow(const std::string& topic, StreamFollower* follower) {
  absl::MutexLock lock(&feed_mu_);
  followers_[topic].insert(follower);
}

void ModuleInstance::Unfollow(const std::string& topic, StreamFollower* follower) {
  absl::MutexLock lock(&feed_mu_);
  auto it = followers_.find(topic);
  if (it == followers_.end()) return;
  it->second.erase(follower);
  if (it->second.empty()) followers_.erase(it);
}

void ModuleInstance::CloseFollowers(const std::string& reason) {
  absl::MutexLock lock(&feed_mu_);
  for (auto& [topic, set] : followers_) {
    for (StreamFollower* f : set) f->Close(reason);
  }
}

void ModuleInstance::Publish(const std::string& topic, const std::string& message) {
  absl::MutexLock lock(&feed_mu_);
  auto it = followers_.find(topic);
  if (it == followers_.end()) return;
  // One copy of the bytes for all followers, however many there are.
  const grpc::Slice shared(message);
  for (auto f = it->second.begin(); f != it->second.end();) {
    if ((*f)->Deliver(shared)) {
      ++f;
    } else {
      f = it->second.erase(f);
    }
  }
  if (it->second.empty()) followers_.erase(it);
}

}  // namespace civitas::gateway
