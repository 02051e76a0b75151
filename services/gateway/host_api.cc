// The host side of the module ABI: the static functions behind civitas_host_api. Every handle a
// module holds is one of the gateway's own objects (ModuleInstance for civitas_city_host,
// HostCall for civitas_call_host, HostTxn for civitas_txn_host), cast back here. Each entry
// checks what abi.h promises to check (sizes, limits, a closed store) before it touches storage.
#include "services/gateway/host_api.h"

#include <rocksdb/utilities/transaction.h>
#include <rocksdb/utilities/write_batch_with_index.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/time/clock.h"
#include "services/gateway/city_store.h"
#include "services/gateway/log.h"
#include "services/gateway/module_instance.h"
#include "services/gateway/push/module_push.h"

namespace civitas::gateway {
namespace {

// Bounds that keep one module from hurting its city (abi.h): RocksDB copes with more, people
// rarely need it.
constexpr size_t kMaxKeyBytes = CIVITAS_MAX_KEY_SIZE;
constexpr size_t kMaxValueBytes = CIVITAS_MAX_VALUE_SIZE;

struct HostTxn {
  ModuleInstance* instance;
  CityStore* store;  // the instance's store when the transaction began
  std::unique_ptr<rocksdb::Transaction> txn;
  DeferredSync* deferred = nullptr;  // set: committed without its own fsync, answered by this
  int64_t push_deliveries = 0;       // queued by push_send, for the delivery workers after commit
};

// Copies a reason into a module's error buffer (NUL-terminated; `error` may be NULL).
void WriteError(std::string_view reason, char* error, size_t error_size) {
  if (error == nullptr || error_size == 0) return;
  const size_t n = std::min(reason.size(), error_size - 1);
  std::memcpy(error, reason.data(), n);
  error[n] = '\0';
}

int32_t CodeOf(const absl::Status& s) {
  return s.ok() ? CIVITAS_OK : static_cast<int32_t>(s.code());
}

int32_t FromRocks(const rocksdb::Status& s) {
  if (s.ok()) return CIVITAS_OK;
  if (s.IsNotFound()) return CIVITAS_NOT_FOUND;
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain() || s.IsDeadlock() || s.IsExpired()) {
    return CIVITAS_ABORTED;
  }
  Log(LogLevel::kError, "storage error", {{"error", s.ToString()}});
  return CIVITAS_INTERNAL;
}

std::string_view View(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

// The smallest key greater than every key starting with `prefix`. Our prefixes always contain a
// byte below 0xff (the module namespace ends in 0x00), so this never runs out.
std::string PrefixSuccessor(std::string prefix) {
  while (!prefix.empty() && static_cast<uint8_t>(prefix.back()) == 0xff) prefix.pop_back();
  if (!prefix.empty()) prefix.back() = static_cast<char>(static_cast<uint8_t>(prefix.back()) + 1);
  return prefix;
}

}  // namespace

// The static functions behind civitas_host_api. Handles are our own objects, cast back here.
struct HostApi {
  static ModuleInstance* Instance(civitas_city_host* p) {
    return reinterpret_cast<ModuleInstance*>(p);
  }
  static HostCall* Call(civitas_call_host* p) { return reinterpret_cast<HostCall*>(p); }
  static HostTxn* Txn(civitas_txn_host* p) { return reinterpret_cast<HostTxn*>(p); }

  // The city's open database, or nullptr once the instance is detached from its store (its city
  // was deleted) or the store is closed (shutdown).
  static rocksdb::TransactionDB* OpenDb(const ModuleInstance* m) {
    CityStore* store = m->store();
    return store != nullptr ? store->db() : nullptr;
  }

  static std::string Scoped(const ModuleInstance* m, const uint8_t* key, size_t size) {
    std::string k = m->key_prefix_;
    k.append(reinterpret_cast<const char*>(key), size);
    return k;
  }

  static void LogLine(civitas_city_host* city, int32_t level, const char* msg, size_t size) {
    ModuleInstance* m = Instance(city);
    LogLevel l = level <= CIVITAS_LOG_DEBUG     ? LogLevel::kDebug
                 : level == CIVITAS_LOG_INFO    ? LogLevel::kInfo
                 : level == CIVITAS_LOG_WARNING ? LogLevel::kWarning
                                                : LogLevel::kError;
    Log(l, std::string_view(msg, size),
        {{"city", m->city_id_}, {"module", m->module_->module_id()}});
  }

  static int64_t Now(civitas_city_host*) { return absl::ToUnixMicros(absl::Now()); }

  static const char* CityId(civitas_city_host* city) { return Instance(city)->city_id_.c_str(); }

  static void ConfigJson(civitas_city_host* city, void* ctx, civitas_bytes_sink sink) {
    const std::string& json = Instance(city)->config_json_;
    sink(ctx, reinterpret_cast<const uint8_t*>(json.data()), json.size());
  }

  static int32_t Publish(civitas_city_host* city, const char* topic, size_t topic_size,
                         const uint8_t* message, size_t message_size) {
    if (topic_size == 0) return CIVITAS_INVALID_ARGUMENT;
    Instance(city)->Publish(std::string(topic, topic_size),
                            std::string(reinterpret_cast<const char*>(message), message_size));
    return CIVITAS_OK;
  }

  static int32_t KvGet(civitas_city_host* city, civitas_txn_host* txn, const uint8_t* key,
                       size_t key_size, void* ctx, civitas_bytes_sink sink) {
    if (key_size > kMaxKeyBytes) return CIVITAS_INVALID_ARGUMENT;
    ModuleInstance* m = Instance(city);
    rocksdb::PinnableSlice value;
    rocksdb::Status s;
    if (txn != nullptr) {
      std::string v;
      s = Txn(txn)->txn->Get(rocksdb::ReadOptions(), Scoped(m, key, key_size), &v);
      if (s.ok()) sink(ctx, reinterpret_cast<const uint8_t*>(v.data()), v.size());
      return FromRocks(s);
    }
    rocksdb::TransactionDB* db = OpenDb(m);
    if (db == nullptr) return CIVITAS_UNAVAILABLE;
    s = db->Get(rocksdb::ReadOptions(), db->DefaultColumnFamily(), Scoped(m, key, key_size),
                &value);
    if (s.ok()) sink(ctx, reinterpret_cast<const uint8_t*>(value.data()), value.size());
    return FromRocks(s);
  }

  static int32_t KvScan(civitas_city_host* city, civitas_txn_host* txn,
                        const civitas_scan_options* o, void* ctx, civitas_scan_visitor visit) {
    if (o == nullptr ||
        o->struct_size < offsetof(civitas_scan_options, reverse) + sizeof(int32_t)) {
      return CIVITAS_INVALID_ARGUMENT;
    }
    if (o->limit == 0 || o->limit > CIVITAS_SCAN_MAX_LIMIT) return CIVITAS_INVALID_ARGUMENT;
    if (o->prefix_size > kMaxKeyBytes || o->start_size > kMaxKeyBytes) {
      return CIVITAS_INVALID_ARGUMENT;
    }
    ModuleInstance* m = Instance(city);
    rocksdb::TransactionDB* db = txn != nullptr ? nullptr : OpenDb(m);
    if (txn == nullptr && db == nullptr) return CIVITAS_UNAVAILABLE;
    const std::string lower = Scoped(m, o->prefix, o->prefix_size);
    const std::string upper = PrefixSuccessor(lower);
    rocksdb::Slice lower_slice(lower), upper_slice(upper);
    rocksdb::ReadOptions ro;
    ro.iterate_lower_bound = &lower_slice;
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(txn != nullptr ? Txn(txn)->txn->GetIterator(ro)
                                                         : db->NewIterator(ro));
    const std::string start = o->start_size ? Scoped(m, o->start, o->start_size) : std::string();
    if (!o->reverse) {
      it->Seek(start.empty() || start < lower ? lower : start);
    } else if (start.empty() || start >= upper) {
      it->SeekToLast();
    } else {
      it->SeekForPrev(start);
    }
    const size_t skip = m->key_prefix_.size();
    for (uint32_t n = 0; it->Valid() && n < o->limit; ++n) {
      rocksdb::Slice k = it->key(), v = it->value();
      if (visit(ctx, reinterpret_cast<const uint8_t*>(k.data()) + skip, k.size() - skip,
                reinterpret_cast<const uint8_t*>(v.data()), v.size()) != 0) {
        break;
      }
      if (o->reverse)
        it->Prev();
      else
        it->Next();
    }
    return FromRocks(it->status());
  }

  static civitas_txn_host* TxnBegin(civitas_city_host* city) {
    ModuleInstance* m = Instance(city);
    rocksdb::TransactionDB* db = OpenDb(m);
    if (db == nullptr) return nullptr;  // abi.h: NULL if storage is closed
    CityStore* store = m->store();
    rocksdb::TransactionOptions options;
    options.deadlock_detect = true;
    DeferredSync* deferred = nullptr;
    const rocksdb::WriteOptions& write = store->TransactionWriteOptions(&deferred);
    auto* txn = new HostTxn{
        m, store, std::unique_ptr<rocksdb::Transaction>(db->BeginTransaction(write, options)),
        deferred};
    return reinterpret_cast<civitas_txn_host*>(txn);
  }

  static int32_t TxnGet(civitas_txn_host* t, const uint8_t* key, size_t key_size,
                        int32_t for_update, void* ctx, civitas_bytes_sink sink) {
    if (key_size > kMaxKeyBytes) return CIVITAS_INVALID_ARGUMENT;
    HostTxn* txn = Txn(t);
    std::string k = Scoped(txn->instance, key, key_size), v;
    rocksdb::Status s = for_update ? txn->txn->GetForUpdate(rocksdb::ReadOptions(), k, &v)
                                   : txn->txn->Get(rocksdb::ReadOptions(), k, &v);
    if (s.ok()) sink(ctx, reinterpret_cast<const uint8_t*>(v.data()), v.size());
    return FromRocks(s);
  }

  static int32_t TxnPut(civitas_txn_host* t, const uint8_t* key, size_t key_size,
                        const uint8_t* value, size_t value_size) {
    if (key_size > kMaxKeyBytes || value_size > kMaxValueBytes) return CIVITAS_INVALID_ARGUMENT;
    HostTxn* txn = Txn(t);
    return FromRocks(txn->txn->Put(Scoped(txn->instance, key, key_size),
                                   rocksdb::Slice(View(value, value_size))));
  }

  static int32_t TxnDelete(civitas_txn_host* t, const uint8_t* key, size_t key_size) {
    if (key_size > kMaxKeyBytes) return CIVITAS_INVALID_ARGUMENT;
    HostTxn* txn = Txn(t);
    return FromRocks(txn->txn->Delete(Scoped(txn->instance, key, key_size)));
  }

  static int32_t TxnAddU64(civitas_txn_host* t, const uint8_t* key, size_t key_size,
                           int64_t delta) {
    if (key_size > kMaxKeyBytes) return CIVITAS_INVALID_ARGUMENT;
    HostTxn* txn = Txn(t);
    return FromRocks(txn->txn->Merge(Scoped(txn->instance, key, key_size),
                                     EncodeU64(static_cast<uint64_t>(delta))));
  }

  static int32_t TxnCommit(civitas_txn_host* t) {
    std::unique_ptr<HostTxn> txn(Txn(t));
    rocksdb::WriteBatch* batch = txn->txn->GetWriteBatch()->GetWriteBatch();
    const bool wrote = batch->Count() > 0;
    // The city's storage quota: a commit that adds data is refused once the city is full (a
    // commit that only deletes always goes through, so space can be freed).
    if ((batch->HasPut() || batch->HasMerge())) {
      if (absl::Status q = txn->store->CheckQuota(); !q.ok()) {
        (void)txn->txn->Rollback();
        Log(LogLevel::kWarning, "storage quota reached",
            {{"city", txn->instance->city_id_}, {"error", std::string(q.message())}});
        return CIVITAS_RESOURCE_EXHAUSTED;
      }
    }
    const rocksdb::Status s = txn->txn->Commit();
    if (s.ok() && wrote) {
      txn->instance->writes_.fetch_add(1, std::memory_order_acq_rel);
      if (txn->deferred) txn->store->NoteDeferredCommit(txn->deferred);
    }
    if (s.ok() && txn->push_deliveries > 0 && txn->instance->outbox() != nullptr) {
      txn->instance->outbox()->Committed(txn->instance->city_id_, txn->push_deliveries);
    }
    return FromRocks(s);
  }

  static void TxnRollback(civitas_txn_host* t) {
    std::unique_ptr<HostTxn> txn(Txn(t));
    (void)txn->txn->Rollback();
  }

  static const char* CallSubject(civitas_call_host* c, size_t* size) {
    const std::string& s = Call(c)->caller().subject;
    if (size) *size = s.size();
    return s.c_str();
  }
  static uint32_t CallRoles(civitas_call_host* c) { return Call(c)->caller().roles; }
  static int32_t CallMetadata(civitas_call_host* c, const char* key, size_t key_size, void* ctx,
                              civitas_bytes_sink sink) {
    std::optional<std::string> v = Call(c)->Metadata(std::string_view(key, key_size));
    if (!v) return CIVITAS_NOT_FOUND;
    sink(ctx, reinterpret_cast<const uint8_t*>(v->data()), v->size());
    return CIVITAS_OK;
  }
  static int64_t CallDeadline(civitas_call_host* c) { return Call(c)->DeadlineMicros(); }
  static int32_t CallCancelled(civitas_call_host* c) { return Call(c)->IsCancelled() ? 1 : 0; }
  static void CallReply(civitas_call_host* c, const uint8_t* data, size_t size) {
    Call(c)->Reply(std::string(View(data, size)));
  }
  static void CallError(civitas_call_host* c, const char* msg, size_t size) {
    Call(c)->SetError(std::string(msg, size));
  }
  static int32_t CallSend(civitas_call_host* c, const uint8_t* data, size_t size) {
    HostCall* call = Call(c);
    if (call->kind() != CIVITAS_METHOD_SERVER_STREAMING) return CIVITAS_FAILED_PRECONDITION;
    return call->Send(std::string(View(data, size)));
  }
  static int32_t CallFollow(civitas_call_host* c, const char* topic, size_t size) {
    return Call(c)->Follow(std::string(topic, size));
  }

  static int32_t PushSend(civitas_txn_host* t, const civitas_push_message* message, void* ctx,
                          civitas_bytes_sink sink, char* error, size_t error_size) {
    HostTxn* txn = Txn(t);
    const push::ModuleOutbox* outbox = txn->instance->outbox();
    if (outbox == nullptr) {
      WriteError("this gateway has no push outbox", error, error_size);
      return CIVITAS_UNAVAILABLE;
    }
    if (message == nullptr) {
      WriteError("message is NULL", error, error_size);
      return CIVITAS_INVALID_ARGUMENT;
    }
    int64_t deliveries = 0;
    absl::StatusOr<std::string> name =
        outbox->Queue(*txn->instance, txn->txn.get(), *message, &deliveries);
    if (!name.ok()) {
      WriteError(std::string(name.status().message()), error, error_size);
      return CodeOf(name.status());
    }
    txn->push_deliveries += deliveries;
    if (sink != nullptr) sink(ctx, reinterpret_cast<const uint8_t*>(name->data()), name->size());
    return CIVITAS_OK;
  }

  static int32_t PushCancel(civitas_txn_host* t, const char* name, size_t name_size) {
    HostTxn* txn = Txn(t);
    const push::ModuleOutbox* outbox = txn->instance->outbox();
    if (outbox == nullptr) return CIVITAS_UNAVAILABLE;
    if (name == nullptr) return CIVITAS_INVALID_ARGUMENT;
    absl::Status s =
        outbox->Cancel(*txn->instance, txn->txn.get(), absl::string_view(name, name_size));
    if (!s.ok() && s.code() != absl::StatusCode::kNotFound) {
      Log(LogLevel::kWarning, "push_cancel failed",
          {{"city", txn->instance->city_id_},
           {"module", txn->instance->module_->module_id()},
           {"error", std::string(s.message())}});
    }
    return CodeOf(s);
  }

  static civitas_host_api Make() {
    civitas_host_api a{};
    a.struct_size = sizeof(civitas_host_api);
    a.abi_major = CIVITAS_ABI_MAJOR;
    a.abi_minor = CIVITAS_ABI_MINOR;
    a.log = &LogLine;
    a.now_unix_micros = &Now;
    a.city_id = &CityId;
    a.module_config_json = &ConfigJson;
    a.publish = &Publish;
    a.kv_get = &KvGet;
    a.kv_scan = &KvScan;
    a.txn_begin = &TxnBegin;
    a.txn_get = &TxnGet;
    a.txn_put = &TxnPut;
    a.txn_delete = &TxnDelete;
    a.txn_add_u64 = &TxnAddU64;
    a.txn_commit = &TxnCommit;
    a.txn_rollback = &TxnRollback;
    a.call_subject = &CallSubject;
    a.call_roles = &CallRoles;
    a.call_metadata = &CallMetadata;
    a.call_deadline_unix_micros = &CallDeadline;
    a.call_is_cancelled = &CallCancelled;
    a.call_reply = &CallReply;
    a.call_error = &CallError;
    a.call_send = &CallSend;
    a.call_follow = &CallFollow;
    a.push_send = &PushSend;
    a.push_cancel = &PushCancel;
    return a;
  }
};

const civitas_host_api* HostApiTable() {
  static const civitas_host_api table = HostApi::Make();
  return &table;
}

}  // namespace civitas::gateway
