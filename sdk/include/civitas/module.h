// civitas SDK: a header-only C++ layer over abi.h with typed handlers.
//
// A module is a class with a factory and handler methods; CIVITAS_MODULE declares which method
// serves which RPC and with what role:
//
//   class Board {
//    public:
//     static civitas::Status Create(civitas::City city, std::unique_ptr<Board>* out);
//     civitas::Status GetNotice(civitas::Call& call, const GetNoticeRequest& req, Notice* resp);
//   };
//   CIVITAS_MODULE(civitas::ModuleBuilder<Board>("civitas.noticeboard", "1.0.0", &Board::Create)
//                      .Service("civitas.noticeboard.v1.NoticeboardService")
//                      .Unary("GetNotice", civitas::Role::kAnonymous, &Board::GetNotice));
//
// Messages are protobuf (lite is enough). Nothing of C++ crosses the ABI: exceptions thrown by a
// handler are caught here and answered with INTERNAL.
#ifndef CIVITAS_MODULE_H_
#define CIVITAS_MODULE_H_

#include <civitas/abi.h>
#include <civitas/error_reason.h>
#include <civitas/push.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace civitas {

// Embedded by civitas_add_module() from the module's protos (FileDescriptorSet with imports).
namespace generated {
extern const unsigned char kDescriptorSet[];
extern const size_t kDescriptorSetSize;
}  // namespace generated

enum class Role : int32_t {
  kAnonymous = CIVITAS_ROLE_ANONYMOUS,
  kCitizen = CIVITAS_ROLE_CITIZEN,
  kEditor = CIVITAS_ROLE_EDITOR,
  kModerator = CIVITAS_ROLE_MODERATOR,
  kAdmin = CIVITAS_ROLE_ADMIN,
};

// True if a caller holding `roles` (a CIVITAS_ROLE_BIT set) satisfies `required`.
inline bool RoleSatisfied(uint32_t roles, Role required) {
  const uint32_t admin = CIVITAS_ROLE_BIT(CIVITAS_ROLE_ADMIN);
  switch (required) {
    case Role::kAnonymous:
      return true;
    case Role::kCitizen:
      return roles != 0;
    case Role::kEditor:
    case Role::kModerator:
      return (roles & (CIVITAS_ROLE_BIT(static_cast<uint32_t>(required)) | admin)) != 0;
    case Role::kAdmin:
      return (roles & admin) != 0;
  }
  return false;
}

class Status {
 public:
  Status() = default;
  Status(civitas_status code, std::string message) : code_(code), message_(std::move(message)) {}
  bool ok() const { return code_ == CIVITAS_OK; }
  civitas_status code() const { return code_; }
  const std::string& message() const { return message_; }
  // What a client program can switch on (google.rpc.ErrorInfo.reason, UPPER_SNAKE_CASE; see
  // civitas/error_reason.h); empty: the status code says it all.
  const std::string& reason() const { return reason_; }

  // This status with `reason`, e.g. `return Aborted("...").WithReason("ETAG_MISMATCH");`.
  Status WithReason(std::string reason) const {
    Status s = *this;
    s.reason_ = std::move(reason);
    return s;
  }

 private:
  civitas_status code_ = CIVITAS_OK;
  std::string message_;
  std::string reason_;
};

inline Status OkStatus() { return Status(); }
inline Status InvalidArgument(std::string m) { return {CIVITAS_INVALID_ARGUMENT, std::move(m)}; }
inline Status NotFound(std::string m) { return {CIVITAS_NOT_FOUND, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {CIVITAS_ALREADY_EXISTS, std::move(m)}; }
inline Status PermissionDenied(std::string m) { return {CIVITAS_PERMISSION_DENIED, std::move(m)}; }
inline Status FailedPrecondition(std::string m) {
  return {CIVITAS_FAILED_PRECONDITION, std::move(m)};
}
inline Status Aborted(std::string m) { return {CIVITAS_ABORTED, std::move(m)}; }
inline Status Internal(std::string m) { return {CIVITAS_INTERNAL, std::move(m)}; }

namespace internal {
inline void AssignToString(void* sink, const uint8_t* data, size_t size) {
  static_cast<std::string*>(sink)->assign(reinterpret_cast<const char*>(data), size);
}
inline const uint8_t* Bytes(std::string_view s) {
  return reinterpret_cast<const uint8_t*>(s.data());
}
inline Status FromCode(int32_t code, std::string_view what) {
  if (code == CIVITAS_OK) return OkStatus();
  return Status(static_cast<civitas_status>(code), std::string(what));
}
}  // namespace internal

// Little-endian fixed 64-bit, the encoding of txn_add_u64 counters.
inline uint64_t DecodeU64(std::string_view bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes.size() && i < 8; ++i) {
    v |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[i])) << (8 * i);
  }
  return v;
}

// The same encoding, for counters a module reads and writes itself (under a lock).
inline std::string EncodeU64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

// One transaction; rolled back on destruction unless committed.
class Transaction {
 public:
  Transaction(const civitas_host_api* host, civitas_txn_host* txn) : host_(host), txn_(txn) {}
  Transaction(Transaction&& other) noexcept
      : host_(other.host_),
        txn_(std::exchange(other.txn_, nullptr)),
        conflicted_(other.conflicted_) {}
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction() { Rollback(); }

  bool valid() const { return txn_ != nullptr; }
  // True once storage reported a conflict (a lock wait timed out): the whole body may be retried.
  bool conflicted() const { return conflicted_; }
  civitas_txn_host* raw() const { return txn_; }

  // NOT_FOUND if absent. With for_update the key stays locked until commit or rollback.
  Status Get(std::string_view key, std::string* value, bool for_update = false) {
    if (!txn_) return Internal("transaction already ended");
    int32_t rc = host_->txn_get(txn_, internal::Bytes(key), key.size(), for_update ? 1 : 0, value,
                                &internal::AssignToString);
    if (rc == CIVITAS_ABORTED) {
      conflicted_ = true;
      return Aborted("transaction conflict on a locked key, retry");
    }
    return internal::FromCode(rc, "key not found");
  }
  Status Put(std::string_view key, std::string_view value) {
    if (!txn_) return Internal("transaction already ended");
    return internal::FromCode(host_->txn_put(txn_, internal::Bytes(key), key.size(),
                                             internal::Bytes(value), value.size()),
                              "storage write failed");
  }
  Status Delete(std::string_view key) {
    if (!txn_) return Internal("transaction already ended");
    return internal::FromCode(host_->txn_delete(txn_, internal::Bytes(key), key.size()),
                              "storage delete failed");
  }
  Status AddU64(std::string_view key, int64_t delta) {
    if (!txn_) return Internal("transaction already ended");
    return internal::FromCode(host_->txn_add_u64(txn_, internal::Bytes(key), key.size(), delta),
                              "storage counter update failed");
  }
  Status Commit() {
    if (!txn_) return Internal("transaction already ended");
    int32_t rc = host_->txn_commit(std::exchange(txn_, nullptr));
    return internal::FromCode(rc, rc == CIVITAS_ABORTED ? "transaction conflict, retry"
                                  : rc == CIVITAS_RESOURCE_EXHAUSTED
                                      ? "this city's storage quota is used up: nothing new can be "
                                        "stored until its operator raises it or data is deleted"
                                      : "transaction commit failed");
  }
  void Rollback() {
    if (txn_) host_->txn_rollback(std::exchange(txn_, nullptr));
  }

  // Queues a push notification with this transaction's writes (push.h); `name` receives the
  // message's name, for CancelPush. UNIMPLEMENTED on a gateway older than ABI 1.3.
  Status Push(const PushMessage& message, std::string* name = nullptr) {
    if (!txn_) return Internal("transaction already ended");
    if (!CIVITAS_HOST_HAS(host_, push_send)) {
      return {CIVITAS_UNIMPLEMENTED, "this gateway is older than ABI 1.3: no push notifications"};
    }
    std::vector<civitas_push_text> texts;
    const civitas_push_message view = internal::PushMessageView(message, &texts);
    char error[512] = {0};
    std::string queued;
    int32_t rc =
        host_->push_send(txn_, &view, &queued, &internal::AssignToString, error, sizeof(error));
    error[sizeof(error) - 1] = '\0';
    if (rc == CIVITAS_OK && name != nullptr) *name = std::move(queued);
    return internal::FromCode(rc, error[0] ? error : "push_send failed");
  }
  // Withdraws the deliveries of a message this module queued that were not made yet; OK if it
  // was cancelled before, NOT_FOUND if the module never queued it.
  Status CancelPush(std::string_view name) {
    if (!txn_) return Internal("transaction already ended");
    if (!CIVITAS_HOST_HAS(host_, push_cancel)) {
      return {CIVITAS_UNIMPLEMENTED, "this gateway is older than ABI 1.3: no push notifications"};
    }
    return internal::FromCode(host_->push_cancel(txn_, name.data(), name.size()),
                              "no such push message of this module");
  }

 private:
  const civitas_host_api* host_;
  civitas_txn_host* txn_;
  bool conflicted_ = false;
};

struct ScanOptions {
  std::string prefix;
  std::string start;  // inclusive; empty = from the beginning (or end, if reverse) of the prefix
  uint32_t limit = 100;
  bool reverse = false;
};

// The module's storage in one city. Keys are private to this module and city.
class Store {
 public:
  Store(const civitas_host_api* host, civitas_city_host* city) : host_(host), city_(city) {}

  Status Get(std::string_view key, std::string* value, Transaction* txn = nullptr) const {
    int32_t rc = host_->kv_get(city_, txn ? txn->raw() : nullptr, internal::Bytes(key), key.size(),
                               value, &internal::AssignToString);
    return internal::FromCode(rc, "key not found");
  }

  // Visits keys in order; the visitor returns false to stop early.
  using Visitor = std::function<bool(std::string_view key, std::string_view value)>;
  Status Scan(const ScanOptions& options, const Visitor& visit, Transaction* txn = nullptr) const {
    civitas_scan_options o{};
    o.struct_size = sizeof(o);
    o.prefix = internal::Bytes(options.prefix);
    o.prefix_size = options.prefix.size();
    o.start = internal::Bytes(options.start);
    o.start_size = options.start.size();
    o.limit = options.limit;
    o.reverse = options.reverse ? 1 : 0;
    auto trampoline = [](void* ctx, const uint8_t* k, size_t ks, const uint8_t* v,
                         size_t vs) -> int32_t {
      const Visitor& fn = *static_cast<const Visitor*>(ctx);
      return fn(std::string_view(reinterpret_cast<const char*>(k), ks),
                std::string_view(reinterpret_cast<const char*>(v), vs))
                 ? 0
                 : 1;
    };
    int32_t rc = host_->kv_scan(city_, txn ? txn->raw() : nullptr, &o, const_cast<Visitor*>(&visit),
                                trampoline);
    return internal::FromCode(rc, "storage scan failed");
  }

  // Visits every key that starts with `prefix`, in order, however many there are (in pages of
  // CIVITAS_SCAN_MAX_LIMIT); the visitor returns false to stop early.
  Status ScanAll(std::string_view prefix, const Visitor& visit) const {
    ScanOptions page;
    page.prefix = std::string(prefix);
    page.limit = CIVITAS_SCAN_MAX_LIMIT;
    while (true) {
      size_t seen = 0;
      bool stopped = false;
      std::string last;
      Status s = Scan(page, [&](std::string_view key, std::string_view value) {
        ++seen;
        last.assign(key);
        stopped = !visit(key, value);
        return !stopped;
      });
      if (!s.ok() || stopped || seen < page.limit) return s;
      page.start = last + '\0';  // the smallest key after `last`
    }
  }

  Transaction Begin() const { return Transaction(host_, host_->txn_begin(city_)); }

  // Runs body(txn) and commits, retrying the whole body when the commit reports a conflict.
  template <class Body>
  Status RunTransaction(Body&& body, int attempts = 8) const {
    Status last;
    for (int i = 0; i < attempts; ++i) {
      Transaction txn = Begin();
      if (!txn.valid()) return {CIVITAS_UNAVAILABLE, "storage is closed"};
      Status s = body(txn);
      if (!s.ok() && s.code() == CIVITAS_ABORTED && txn.conflicted()) {
        last = s;
        continue;  // a lock timed out: start over
      }
      if (!s.ok()) return s;
      last = txn.Commit();
      if (last.code() != CIVITAS_ABORTED) return last;
    }
    return last;
  }

 private:
  const civitas_host_api* host_;
  civitas_city_host* city_;
};

// The module instance's view of its city.
class City {
 public:
  City(const civitas_host_api* host, civitas_city_host* city)
      : host_(host), city_(city), store_(host, city) {}

  std::string_view id() const { return host_->city_id(city_); }
  Store& store() { return store_; }
  const Store& store() const { return store_; }
  int64_t NowMicros() const { return host_->now_unix_micros(city_); }
  std::string ConfigJson() const {
    std::string json;
    host_->module_config_json(city_, &json, &internal::AssignToString);
    return json;
  }
  void Log(civitas_log_level level, std::string_view msg) const {
    host_->log(city_, level, msg.data(), msg.size());
  }
  template <class Message>
  Status Publish(std::string_view topic, const Message& message) const {
    std::string bytes;
    if (!message.SerializeToString(&bytes)) return Internal("could not serialize message");
    return internal::FromCode(
        host_->publish(city_, topic.data(), topic.size(), internal::Bytes(bytes), bytes.size()),
        "publish failed");
  }
  const civitas_host_api* host() const { return host_; }
  civitas_city_host* raw() const { return city_; }

 private:
  const civitas_host_api* host_;
  civitas_city_host* city_;
  Store store_;
};

// The call being handled; valid only inside the handler.
class Call {
 public:
  Call(const civitas_host_api* host, civitas_call_host* call) : host_(host), call_(call) {}

  std::string_view subject() const {
    size_t size = 0;
    const char* s = host_->call_subject(call_, &size);
    return std::string_view(s, size);
  }
  bool signed_in() const { return !subject().empty(); }
  uint32_t roles() const { return host_->call_roles(call_); }
  bool HasRole(Role role) const { return RoleSatisfied(roles(), role); }
  std::optional<std::string> Metadata(std::string_view key) const {
    std::string value;
    if (host_->call_metadata(call_, key.data(), key.size(), &value, &internal::AssignToString) !=
        CIVITAS_OK) {
      return std::nullopt;
    }
    return value;
  }
  int64_t deadline_unix_micros() const { return host_->call_deadline_unix_micros(call_); }
  // Unary handlers: answer with an already serialized response (e.g. from a cache) instead of
  // the response message, which is then ignored. The bytes must be a valid response.
  void ReplySerialized(std::string bytes) {
    serialized_reply_ = std::move(bytes);
    has_serialized_reply_ = true;
  }
  bool has_serialized_reply() const { return has_serialized_reply_; }
  const std::string& serialized_reply() const { return serialized_reply_; }
  bool cancelled() const { return host_->call_is_cancelled(call_) != 0; }
  const civitas_host_api* host() const { return host_; }
  civitas_call_host* raw() const { return call_; }

 private:
  const civitas_host_api* host_;
  civitas_call_host* call_;
  std::string serialized_reply_;
  bool has_serialized_reply_ = false;
};

// Sends the messages of a server-streaming call.
template <class Response>
class ServerWriter {
 public:
  explicit ServerWriter(Call& call) : call_(call) {}
  // False once the client is gone: stop producing and return.
  bool Write(const Response& message) {
    std::string bytes;
    if (!message.SerializeToString(&bytes)) return false;
    return call_.host()->call_send(call_.raw(), internal::Bytes(bytes), bytes.size()) == CIVITAS_OK;
  }
  // After the handler returns OK, forwards what the city's instance publishes on `topic` from
  // now on, after every message the handler writes itself: follow first, then write a snapshot.
  Status Follow(std::string_view topic) {
    return internal::FromCode(call_.host()->call_follow(call_.raw(), topic.data(), topic.size()),
                              "cannot follow topic");
  }

 private:
  Call& call_;
};

// Declares a module: its id, version, factory, services and typed handlers.
template <class Instance>
class ModuleBuilder {
 public:
  using Factory = Status (*)(City city, std::unique_ptr<Instance>* out);

  ModuleBuilder(const char* module_id, const char* version, Factory factory)
      : runtime_(std::make_unique<Runtime>()) {
    runtime_->module_id = module_id;
    runtime_->version = version;
    runtime_->factory = factory;
  }

  ModuleBuilder& Service(const char* full_name) {
    runtime_->services.push_back(ServiceEntry{full_name, {}, {}});
    return *this;
  }

  template <class Request, class Response>
  ModuleBuilder& Unary(const char* method, Role role,
                       Status (Instance::*fn)(Call&, const Request&, Response*)) {
    Handler h = [fn](Instance& self, Call& call, const uint8_t* data, size_t size) -> Status {
      Request request;
      if (!request.ParseFromArray(data, static_cast<int>(size))) {
        return InvalidArgument("request is not a valid " + request.GetTypeName() +
                               ": malformed protobuf, or a string field that is not valid UTF-8");
      }
      Response response;
      Status s = (self.*fn)(call, request, &response);
      if (!s.ok()) return s;
      if (call.has_serialized_reply()) {  // the handler answered with bytes it already had
        const std::string& bytes = call.serialized_reply();
        call.host()->call_reply(call.raw(), internal::Bytes(bytes), bytes.size());
        return s;
      }
      std::string bytes;
      if (!response.SerializeToString(&bytes)) return Internal("could not serialize response");
      call.host()->call_reply(call.raw(), internal::Bytes(bytes), bytes.size());
      return s;
    };
    return Add(method, CIVITAS_METHOD_UNARY, role, std::move(h));
  }

  template <class Request, class Response>
  ModuleBuilder& ServerStream(const char* method, Role role,
                              Status (Instance::*fn)(Call&, const Request&,
                                                     ServerWriter<Response>&)) {
    Handler h = [fn](Instance& self, Call& call, const uint8_t* data, size_t size) -> Status {
      Request request;
      if (!request.ParseFromArray(data, static_cast<int>(size))) {
        return InvalidArgument("request is not a valid " + request.GetTypeName() +
                               ": malformed protobuf, or a string field that is not valid UTF-8");
      }
      ServerWriter<Response> writer(call);
      return (self.*fn)(call, request, writer);
    };
    return Add(method, CIVITAS_METHOD_SERVER_STREAMING, role, std::move(h));
  }

  // Declares a migration step: runs once per city when this version replaces `from_version`,
  // after a checkpoint of the city's data (see civitas_module_def.migrate).
  ModuleBuilder& Migration(Status (Instance::*fn)(std::string_view from_version)) {
    runtime_->migration = fn;
    return *this;
  }

  // Declares the way back: runs once per city when the gateway returns it from this version to
  // the older `to_version` (see civitas_module_def.migrate_down).
  ModuleBuilder& DownMigration(Status (Instance::*fn)(std::string_view to_version)) {
    runtime_->down_migration = fn;
    return *this;
  }

  // Declares that the version this one replaced reads this version's data correctly, so a
  // rollback needs no down-migration and keeps every write.
  ModuleBuilder& RollbackCompatible() {
    runtime_->flags |= CIVITAS_MODULE_FLAG_ROLLBACK_COMPATIBLE;
    return *this;
  }

  // Declares the module's part of a citizen's data export and erasure. `export_fn` writes one
  // JSON value (an object is customary) with everything stored about the subject; `erase_fn`
  // removes or anonymises it (see civitas_module_def.erase_personal_data).
  ModuleBuilder& PersonalData(Status (Instance::*export_fn)(std::string_view subject,
                                                            std::string* json),
                              Status (Instance::*erase_fn)(std::string_view subject)) {
    runtime_->export_personal = export_fn;
    runtime_->erase_personal = erase_fn;
    return *this;
  }

  // Declares the push topics the instance offers in its city (push.h): devices opt into them,
  // Transaction::Push sends to them. Called by the gateway outside calls; the answer is kept
  // until the module's next committed write, so topics may follow the module's config or data.
  ModuleBuilder& PushTopics(Status (Instance::*fn)(std::vector<PushTopic>* topics)) {
    runtime_->push_topics = fn;
    return *this;
  }

  // Builds the C definition. The runtime is kept for the life of the process, as the ABI asks.
  const civitas_module_def* Release() {
    Runtime* rt = runtime_.release();
    for (ServiceEntry& s : rt->services) {
      rt->service_defs.push_back(
          civitas_service_def{s.full_name, s.methods.data(), s.methods.size()});
    }
    civitas_module_def& d = rt->def;
    d.struct_size = sizeof(civitas_module_def);
    d.abi_major = CIVITAS_ABI_MAJOR;
    d.abi_minor = CIVITAS_ABI_MINOR;
    d.pointer_size = sizeof(void*);
    d.build_id = "civitas-sdk-cpp/" __VERSION__;
    d.module_id = rt->module_id;
    d.version = rt->version;
    d.descriptor_set = generated::kDescriptorSet;
    d.descriptor_set_size = generated::kDescriptorSetSize;
    d.services = rt->service_defs.data();
    d.service_count = rt->service_defs.size();
    d.init = &Runtime::Init;
    d.handle = &Runtime::Handle;
    d.destroy = &Runtime::Destroy;
    d.migrate = rt->migration ? &Runtime::Migrate : nullptr;
    d.flags = rt->flags;
    d.migrate_down = rt->down_migration ? &Runtime::MigrateDown : nullptr;
    d.export_personal_data = rt->export_personal ? &Runtime::ExportPersonalData : nullptr;
    d.erase_personal_data = rt->erase_personal ? &Runtime::ErasePersonalData : nullptr;
    d.push_topics = rt->push_topics ? &Runtime::PushTopicsEntry : nullptr;
    Runtime::Self() = rt;
    return &rt->def;
  }

 private:
  using Handler = std::function<Status(Instance&, Call&, const uint8_t*, size_t)>;
  struct ServiceEntry {
    const char* full_name;
    std::vector<civitas_method_def> methods;
    std::vector<Handler> handlers;
  };
  struct Bound {
    const civitas_host_api* host;
    City city;
    std::unique_ptr<Instance> instance;
  };
  struct Runtime {
    const char* module_id = "";
    const char* version = "";
    Factory factory = nullptr;
    Status (Instance::*migration)(std::string_view) = nullptr;
    Status (Instance::*down_migration)(std::string_view) = nullptr;
    Status (Instance::*export_personal)(std::string_view, std::string*) = nullptr;
    Status (Instance::*erase_personal)(std::string_view) = nullptr;
    Status (Instance::*push_topics)(std::vector<PushTopic>*) = nullptr;
    uint32_t flags = 0;
    std::vector<ServiceEntry> services;
    std::vector<civitas_service_def> service_defs;
    civitas_module_def def{};

    // The one runtime of this module's shared library; set once by Release().
    static Runtime*& Self() {
      static Runtime* self = nullptr;
      return self;
    }

    static int32_t Init(const civitas_host_api* host, civitas_city_host* city, void** out,
                        char* error, size_t error_size) {
      auto fail = [&](civitas_status code, const std::string& message) {
        if (error && error_size > 0) {
          size_t n = std::min(message.size(), error_size - 1);
          std::memcpy(error, message.data(), n);
          error[n] = '\0';
        }
        return static_cast<int32_t>(code);
      };
      try {
        std::unique_ptr<Instance> instance;
        Status s = Self()->factory(City(host, city), &instance);
        if (!s.ok()) return fail(s.code(), s.message());
        if (!instance) return fail(CIVITAS_INTERNAL, "factory returned no instance");
        *out = new Bound{host, City(host, city), std::move(instance)};
        return CIVITAS_OK;
      } catch (const std::exception& e) {
        return fail(CIVITAS_INTERNAL, std::string("init threw: ") + e.what());
      } catch (...) {
        return fail(CIVITAS_INTERNAL, "init threw an unknown exception");
      }
    }

    static int32_t Handle(void* bound_ptr, civitas_call_host* call_ptr, uint32_t service,
                          uint32_t method, const uint8_t* request, size_t request_size) {
      Bound* bound = static_cast<Bound*>(bound_ptr);
      Call call(bound->host, call_ptr);
      auto answer = [&](const Status& s) {
        if (!s.ok()) {
          const std::string text = WithErrorReason(s.reason(), s.message());
          call.host()->call_error(call_ptr, text.data(), text.size());
        }
        return static_cast<int32_t>(s.code());
      };
      Runtime* rt = Self();
      if (service >= rt->services.size() || method >= rt->services[service].handlers.size()) {
        return answer({CIVITAS_UNIMPLEMENTED, "no such method in this module"});
      }
      try {
        return answer(
            rt->services[service].handlers[method](*bound->instance, call, request, request_size));
      } catch (const std::exception& e) {
        return answer(Internal(std::string("handler failed: ") + e.what()));
      } catch (...) {
        return answer(Internal("handler failed"));
      }
    }

    static void Destroy(void* bound_ptr) { delete static_cast<Bound*>(bound_ptr); }

    // Copies a failure's message into the host's error buffer and returns its code.
    static int32_t Report(const Status& s, char* error, size_t error_size) {
      if (!s.ok() && error && error_size > 0) {
        size_t n = std::min(s.message().size(), error_size - 1);
        std::memcpy(error, s.message().data(), n);
        error[n] = '\0';
      }
      return static_cast<int32_t>(s.code());
    }

    // Runs a module entry outside any call, turning exceptions into INTERNAL.
    template <class Fn>
    static int32_t Guarded(const char* what, char* error, size_t error_size, Fn&& fn) {
      Status s;
      try {
        s = fn();
      } catch (const std::exception& e) {
        s = Internal(std::string(what) + " threw: " + e.what());
      } catch (...) {
        s = Internal(std::string(what) + " threw an unknown exception");
      }
      return Report(s, error, error_size);
    }

    static int32_t Migrate(void* bound_ptr, const char* from_version, char* error,
                           size_t error_size) {
      Bound* bound = static_cast<Bound*>(bound_ptr);
      return Guarded("migration", error, error_size, [&] {
        return ((*bound->instance).*(Self()->migration))(from_version ? from_version : "");
      });
    }

    static int32_t MigrateDown(void* bound_ptr, const char* to_version, char* error,
                               size_t error_size) {
      Bound* bound = static_cast<Bound*>(bound_ptr);
      return Guarded("down-migration", error, error_size, [&] {
        return ((*bound->instance).*(Self()->down_migration))(to_version ? to_version : "");
      });
    }

    static int32_t ExportPersonalData(void* bound_ptr, const char* subject, size_t subject_size,
                                      void* sink_host_ptr, civitas_bytes_sink sink, char* error,
                                      size_t error_size) {
      Bound* bound = static_cast<Bound*>(bound_ptr);
      return Guarded("export", error, error_size, [&] {
        std::string json;
        Status s = ((*bound->instance).*(Self()->export_personal))(
            std::string_view(subject, subject_size), &json);
        if (s.ok()) sink(sink_host_ptr, internal::Bytes(json), json.size());
        return s;
      });
    }

    static int32_t PushTopicsEntry(void* bound_ptr, void* sink_host_ptr, civitas_bytes_sink sink,
                                   char* error, size_t error_size) {
      Bound* bound = static_cast<Bound*>(bound_ptr);
      return Guarded("push_topics", error, error_size, [&] {
        std::vector<PushTopic> topics;
        Status s = ((*bound->instance).*(Self()->push_topics))(&topics);
        if (s.ok()) {
          const std::string json = PushTopicsJson(topics);
          sink(sink_host_ptr, internal::Bytes(json), json.size());
        }
        return s;
      });
    }

    static int32_t ErasePersonalData(void* bound_ptr, const char* subject, size_t subject_size,
                                     char* error, size_t error_size) {
      Bound* bound = static_cast<Bound*>(bound_ptr);
      return Guarded("erasure", error, error_size, [&] {
        return ((*bound->instance).*
                (Self()->erase_personal))(std::string_view(subject, subject_size));
      });
    }
  };

  ModuleBuilder& Add(const char* method, civitas_method_kind kind, Role role, Handler handler) {
    ServiceEntry& s = runtime_->services.back();
    s.methods.push_back(civitas_method_def{method, kind, static_cast<int32_t>(role)});
    s.handlers.push_back(std::move(handler));
    return *this;
  }

  std::unique_ptr<Runtime> runtime_;
};

}  // namespace civitas

// Defines the module's entry symbol from a ModuleBuilder expression.
#define CIVITAS_MODULE(builder_expression)                                            \
  extern "C" CIVITAS_EXPORT const civitas_module_def* civitas_module_entry_v1(void) { \
    static const civitas_module_def* const def = (builder_expression).Release();      \
    return def;                                                                       \
  }

#endif  // CIVITAS_MODULE_H_
