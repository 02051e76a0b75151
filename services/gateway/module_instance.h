// One module serving one city: the module's instance pointer, its scoped storage, its config and
// the followers of its change feed. It runs the module's entries (init, handle, migrations,
// personal data, destroy); the host API table they call back is in host_api.cc.
#ifndef CIVITAS_GATEWAY_MODULE_INSTANCE_H_
#define CIVITAS_GATEWAY_MODULE_INSTANCE_H_

#include <grpcpp/support/slice.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "services/gateway/city_store.h"
#include "services/gateway/config.h"
#include "services/gateway/module_loader.h"

namespace civitas::gateway {

namespace push {
class ModuleOutbox;
}

// Who is calling, as established by the gateway's authentication.
struct Caller {
  std::string subject;  // empty = anonymous
  uint32_t roles = 0;   // CIVITAS_ROLE_BIT set for the call's city
};

// The gateway's side of one call, as the host API's call_* entries see it.
class HostCall {
 public:
  HostCall() = default;
  virtual ~HostCall() = default;

  // Set once the call is routed and authenticated, before the handler runs.
  void Bind(Caller caller, civitas_method_kind kind) {
    caller_ = std::move(caller);
    kind_ = kind;
  }

  const Caller& caller() const { return caller_; }
  civitas_method_kind kind() const { return kind_; }

  virtual std::optional<std::string> Metadata(std::string_view key) const = 0;
  virtual int64_t DeadlineMicros() const = 0;
  virtual bool IsCancelled() const = 0;
  // Streaming only: queue one response message; may wait for the client.
  virtual int32_t Send(std::string message) = 0;

  void Reply(std::string message) {
    reply_ = std::move(message);
    replied_ = true;
  }
  void SetError(std::string message) { error_ = std::move(message); }
  // Streaming: subscribes the call to `topic` of its module instance (see call_follow). The
  // dispatcher's calls follow; this default only checks the arguments (calls made outside a
  // client's stream, e.g. seeding, have nobody to deliver to).
  virtual int32_t Follow(std::string topic);

  bool replied() const { return replied_; }
  std::string& reply() { return reply_; }
  const std::string& error() const { return error_; }

 private:
  Caller caller_;
  civitas_method_kind kind_ = CIVITAS_METHOD_UNARY;
  bool replied_ = false;
  std::string reply_;
  std::string error_;
};

// Receives what a module publishes on a topic it follows.
class StreamFollower {
 public:
  virtual ~StreamFollower() = default;
  // Returns false if the follower is done (gone or too slow) and must be dropped. `message` is
  // shared by every follower of the topic (a reference-counted, immutable slice): a follower
  // keeps a reference, never a copy.
  virtual bool Deliver(const grpc::Slice& message) = 0;
  // The instance is being replaced (upgrade, rollback): end the stream so the client reconnects.
  virtual void Close(const std::string& reason) = 0;
};

class ModuleInstance {
 public:
  // Runs the module's init for this city. `store` must stay open until DetachStore() (or until
  // the instance is destroyed).
  // `outbox` (may be null: push_send answers UNAVAILABLE) must outlive the instance.
  static absl::StatusOr<std::shared_ptr<ModuleInstance>> Create(
      std::shared_ptr<const LoadedModule> module, const CityConfig& city,
      const ModuleConfig& config, CityStore* store, const push::ModuleOutbox* outbox = nullptr);
  ~ModuleInstance();
  ModuleInstance(const ModuleInstance&) = delete;
  ModuleInstance& operator=(const ModuleInstance&) = delete;

  const LoadedModule& module() const { return *module_; }
  const std::shared_ptr<const LoadedModule>& shared_module() const { return module_; }
  const std::string& city_id() const { return city_id_; }

  // Runs the module's migration from `from_version`, if it declares one.
  absl::Status Migrate(const std::string& from_version);

  // The module's export of everything it stores about `subject` (one JSON value), and the
  // erasure of it (ABI 1.2 hooks). UNIMPLEMENTED if the module has no such hooks; otherwise the
  // module's own status and reason. Run on a worker thread, outside any call.
  absl::Status ExportPersonalData(std::string_view subject, std::string* json);
  absl::Status ErasePersonalData(std::string_view subject);

  // The push topics the module declares in this city (ABI 1.3 push_topics), as the city sees
  // them ("<module_id>.<id>"); empty if it declares none. The answer is kept until the module's
  // next committed write. INVALID_ARGUMENT (or the module's code) if its answer is refused.
  absl::StatusOr<std::shared_ptr<const std::vector<PushTopic>>> PushTopics();
  const push::ModuleOutbox* outbox() const { return outbox_; }

  // Runs the module's down-migration to `to_version` (it must declare one).
  absl::Status MigrateDown(const std::string& to_version);

  // After Fence(), handlers of calls routed to this instance no longer run: Handle returns
  // kFenced and the dispatcher routes the call again. With in_flight() == 0 afterwards, no handler
  // of this instance writes any more, so its module's data can change shape safely. Unfence()
  // undoes it (a refused upgrade keeps the instance).
  // Commits that wrote something, counted by the host's txn_commit once they are visible. A
  // reader that notes it before reading knows afterwards whether what it read is still current
  // (RenderedCache).
  const std::atomic<uint64_t>& writes() const { return writes_; }

  void Fence() { fenced_.store(true, std::memory_order_seq_cst); }
  void Unfence() { fenced_.store(false, std::memory_order_seq_cst); }

  // Handle's answer for a fenced instance: the handler did not run.
  static constexpr int32_t kFenced = -1;

  // Runs the module's handler for `method` on the calling thread; returns the status code, or
  // kFenced.
  int32_t Handle(HostCall* call, const MethodInfo& method, const std::string& request);

  void Follow(const std::string& topic, StreamFollower* follower);
  void Unfollow(const std::string& topic, StreamFollower* follower);
  void Publish(const std::string& topic, const std::string& message);
  // Ends every following stream (this instance is being replaced).
  void CloseFollowers(const std::string& reason);
  // Handlers running right now.
  int64_t in_flight() const { return in_flight_.load(std::memory_order_acquire); }

  // Calls routed to this instance, from routing to their end. Enter() fails once the instance is
  // retired (its city is being removed); Retire() + waiting for calls() == 0 then guarantees no
  // call touches the instance's storage any more.
  bool Enter() {
    calls_.fetch_add(1);
    if (retired_.load()) {
      calls_.fetch_sub(1);
      return false;
    }
    return true;
  }
  void Leave() { calls_.fetch_sub(1); }
  void Retire() { retired_.store(true); }
  int64_t calls() const { return calls_.load(); }

  // Before its city's store is closed for good (the city is deleted): from now on the module's
  // storage calls fail as abi.h documents (kv_get / kv_scan CIVITAS_UNAVAILABLE, txn_begin NULL)
  // instead of reaching a closed database. Call after Retire() and once calls() == 0.
  void DetachStore() { store_.store(nullptr, std::memory_order_release); }

 private:
  friend struct HostApi;
  CityStore* store() const { return store_.load(std::memory_order_acquire); }
  ModuleInstance(std::shared_ptr<const LoadedModule> module, const CityConfig& city,
                 const ModuleConfig& config, CityStore* store, const push::ModuleOutbox* outbox);

  std::shared_ptr<const LoadedModule> module_;
  std::string city_id_;
  std::string config_json_;
  std::string key_prefix_;         // ModuleKeyPrefix(module id)
  std::atomic<CityStore*> store_;  // nullptr after DetachStore()
  void* instance_ = nullptr;       // the module's, handed back on every call
  std::atomic<int64_t> in_flight_{0};
  std::atomic<int64_t> calls_{0};
  std::atomic<bool> retired_{false};
  std::atomic<bool> fenced_{false};
  std::atomic<uint64_t> writes_{0};
  const push::ModuleOutbox* outbox_;

  absl::Mutex topics_mu_;
  std::shared_ptr<const std::vector<PushTopic>> topics_ ABSL_GUARDED_BY(topics_mu_);
  uint64_t topics_writes_ ABSL_GUARDED_BY(topics_mu_) = 0;  // writes_ when topics_ was read

  absl::Mutex feed_mu_;
  std::map<std::string, std::set<StreamFollower*>> followers_ ABSL_GUARDED_BY(feed_mu_);
};

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_MODULE_INSTANCE_H_
