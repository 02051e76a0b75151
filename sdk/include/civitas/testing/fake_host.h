// civitas SDK: an in-memory host for unit tests of a module's logic.
//
// FakeHost implements the whole civitas_host_api over std::map and calls the module through its
// real C definition (init / handle), so a unit test exercises exactly what the gateway will call.
// It is deliberately simple: transactions buffer their writes and apply them under one lock at
// commit, without conflict detection. Concurrency and durability are tested through the real
// gateway (see tests/integration). What it checks, it checks as the gateway does: it refuses the
// same arguments with the same codes (key and value sizes, scan options, empty topics, streaming
// entries in unary calls), so a module that passes here does not fail there; a table of cases
// runs against both (services/gateway/host_api_test.cc).
#ifndef CIVITAS_TESTING_FAKE_HOST_H_
#define CIVITAS_TESTING_FAKE_HOST_H_

#include <civitas/abi.h>
#include <civitas/error_reason.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace civitas::testing {

// Who is calling.
struct Caller {
  std::string subject;
  uint32_t roles = 0;
  std::map<std::string, std::string> metadata;

  static Caller Anonymous() { return {}; }
  static Caller Citizen(std::string subject) {
    return {std::move(subject), CIVITAS_ROLE_BIT(CIVITAS_ROLE_CITIZEN), {}};
  }
  static Caller WithRole(std::string subject, civitas_role role) {
    return {
        std::move(subject), CIVITAS_ROLE_BIT(CIVITAS_ROLE_CITIZEN) | CIVITAS_ROLE_BIT(role), {}};
  }
};

// A push notification a module queued (ABI 1.3 push_send) in a transaction that committed.
struct RecordedPush {
  std::string name;   // "messages/<32 hex digits>"
  std::string topic;  // the module's own topic id, as the module named it
  std::string subject;
  std::vector<std::tuple<std::string, std::string, std::string>> texts;  // language, title, body
  std::string deep_link;
  std::string image_url;
  bool urgent = false;
  int64_t send_time_unix_micros = 0;
  bool cancelled = false;  // push_cancel in a later committed transaction
};

// What a call produced.
struct CallResult {
  int32_t code = CIVITAS_OK;
  std::string error;   // the message as the client sees it, without a "[REASON] " prefix
  std::string reason;  // the reason the module named (error_reason.h), as the gateway reads it
  std::string reply;   // unary
  std::vector<std::string> sent;  // streaming
  std::string follow_topic;       // streaming, if the handler asked to follow
};

class FakeHost {
 public:
  // Instantiates `def` for one city. Check ok() / init_error() before calling.
  explicit FakeHost(const civitas_module_def* def, std::string city_id = "testcity",
                    std::string config_json = "{}")
      : def_(def), city_{this, std::move(city_id), std::move(config_json)} {
    api_ = MakeApi();
    char error[512] = {0};
    init_code_ = def_->init(&api_, reinterpret_cast<civitas_city_host*>(&city_), &instance_, error,
                            sizeof(error));
    init_error_ = error;
  }
  ~FakeHost() {
    if (init_code_ == CIVITAS_OK && def_->destroy) def_->destroy(instance_);
  }
  FakeHost(const FakeHost&) = delete;
  FakeHost& operator=(const FakeHost&) = delete;

  bool ok() const { return init_code_ == CIVITAS_OK; }
  int32_t init_code() const { return init_code_; }
  const std::string& init_error() const { return init_error_; }

  // Time seen by the module; 0 means the real clock.
  void SetNowMicros(int64_t micros) { now_micros_ = micros; }

  // Runs the module's migration from `from_version` (ABI 1.1); CIVITAS_OK if it has none.
  // Sets *error to the module's reason on failure.
  int32_t Migrate(const std::string& from_version, std::string* error = nullptr) {
    if (def_->struct_size < offsetof(civitas_module_def, migrate) + sizeof(void*) ||
        def_->migrate == nullptr) {
      return CIVITAS_OK;
    }
    char buffer[512] = {0};
    int32_t rc = def_->migrate(instance_, from_version.c_str(), buffer, sizeof(buffer));
    if (error) *error = buffer;
    return rc;
  }

  // Runs the module's down-migration to `to_version` (ABI 1.2); CIVITAS_UNIMPLEMENTED if it has
  // none.
  int32_t MigrateDown(const std::string& to_version, std::string* error = nullptr) {
    if (!CIVITAS_MODULE_HAS(def_, migrate_down) || def_->migrate_down == nullptr) {
      return CIVITAS_UNIMPLEMENTED;
    }
    char buffer[512] = {0};
    int32_t rc = def_->migrate_down(instance_, to_version.c_str(), buffer, sizeof(buffer));
    if (error) *error = buffer;
    return rc;
  }

  // The module's export of everything it stores about `subject` (ABI 1.2) into *json;
  // CIVITAS_UNIMPLEMENTED if it has no personal-data hooks.
  int32_t ExportPersonalData(const std::string& subject, std::string* json,
                             std::string* error = nullptr) {
    if (!CIVITAS_MODULE_HAS(def_, export_personal_data) || def_->export_personal_data == nullptr) {
      return CIVITAS_UNIMPLEMENTED;
    }
    json->clear();
    char buffer[512] = {0};
    int32_t rc = def_->export_personal_data(
        instance_, subject.data(), subject.size(), json,
        [](void* sink, const uint8_t* data, size_t size) {
          static_cast<std::string*>(sink)->append(reinterpret_cast<const char*>(data), size);
        },
        buffer, sizeof(buffer));
    if (error) *error = buffer;
    return rc;
  }

  // Erases what the module stores about `subject` (ABI 1.2); CIVITAS_UNIMPLEMENTED if it has no
  // personal-data hooks.
  int32_t ErasePersonalData(const std::string& subject, std::string* error = nullptr) {
    if (!CIVITAS_MODULE_HAS(def_, erase_personal_data) || def_->erase_personal_data == nullptr) {
      return CIVITAS_UNIMPLEMENTED;
    }
    char buffer[512] = {0};
    int32_t rc = def_->erase_personal_data(instance_, subject.data(), subject.size(), buffer,
                                           sizeof(buffer));
    if (error) *error = buffer;
    return rc;
  }

  CallResult Call(std::string_view service, std::string_view method, const std::string& request,
                  const Caller& caller = Caller::Anonymous()) {
    CallResult result;
    for (size_t s = 0; s < def_->service_count; ++s) {
      const civitas_service_def& svc = def_->services[s];
      if (service != svc.full_name) continue;
      for (size_t m = 0; m < svc.method_count; ++m) {
        if (method != svc.methods[m].name) continue;
        FakeCall call{&caller, &result, svc.methods[m].kind};
        result.code =
            def_->handle(instance_, reinterpret_cast<civitas_call_host*>(&call),
                         static_cast<uint32_t>(s), static_cast<uint32_t>(m),
                         reinterpret_cast<const uint8_t*>(request.data()), request.size());
        return result;
      }
    }
    result.code = CIVITAS_UNIMPLEMENTED;
    result.error = "fake host: no such method";
    return result;
  }

  // Typed unary call. Returns the status code; the error message goes to *error if given.
  template <class Request, class Response>
  int32_t Unary(std::string_view service, std::string_view method, const Request& request,
                Response* response, const Caller& caller = Caller::Anonymous(),
                std::string* error = nullptr) {
    std::string bytes;
    request.SerializeToString(&bytes);
    CallResult r = Call(service, method, bytes, caller);
    if (error) *error = r.error;
    if (r.code == CIVITAS_OK && response) response->ParseFromString(r.reply);
    return r.code;
  }

  // The push topics the module declares (ABI 1.3), as the JSON its push_topics wrote;
  // CIVITAS_UNIMPLEMENTED if it declares none.
  int32_t PushTopicsJson(std::string* json, std::string* error = nullptr) {
    if (!CIVITAS_MODULE_HAS(def_, push_topics) || def_->push_topics == nullptr) {
      return CIVITAS_UNIMPLEMENTED;
    }
    json->clear();
    char buffer[512] = {0};
    int32_t rc = def_->push_topics(
        instance_, json,
        [](void* sink, const uint8_t* data, size_t size) {
          static_cast<std::string*>(sink)->append(reinterpret_cast<const char*>(data), size);
        },
        buffer, sizeof(buffer));
    if (error) *error = buffer;
    return rc;
  }
  // Every push queued by a committed transaction, in order.
  std::vector<RecordedPush> pushes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return pushes_;
  }

  // Everything published so far, as (topic, message bytes).
  std::vector<std::pair<std::string, std::string>> published() const {
    std::lock_guard<std::mutex> lock(mu_);
    return published_;
  }
  // The module's keys and values as stored.
  std::map<std::string, std::string> data() const {
    std::lock_guard<std::mutex> lock(mu_);
    return kv_;
  }
  std::vector<std::string> log_lines() const {
    std::lock_guard<std::mutex> lock(mu_);
    return logs_;
  }

 private:
  struct FakeCity {
    FakeHost* host;
    std::string id;
    std::string config_json;
  };
  struct FakeCall {
    const Caller* caller;
    CallResult* result;
    int32_t kind;  // civitas_method_kind
  };
  struct FakeTxn {
    FakeHost* host;
    std::map<std::string, std::optional<std::string>> writes;  // nullopt = delete
    std::vector<RecordedPush> pushes;
    std::vector<std::string> cancels;
  };

  static FakeHost* HostOf(civitas_city_host* c) { return reinterpret_cast<FakeCity*>(c)->host; }
  static FakeCall* CallOf(civitas_call_host* c) { return reinterpret_cast<FakeCall*>(c); }
  static FakeTxn* TxnOf(civitas_txn_host* t) { return reinterpret_cast<FakeTxn*>(t); }
  static std::string Str(const uint8_t* d, size_t n) {
    return std::string(reinterpret_cast<const char*>(d), n);
  }
  static void Emit(const std::string& v, void* ctx, civitas_bytes_sink sink) {
    sink(ctx, reinterpret_cast<const uint8_t*>(v.data()), v.size());
  }
  static std::string EncodeU64(uint64_t v) {
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
    return out;
  }
  static uint64_t DecodeU64(const std::string& s) {
    uint64_t v = 0;
    for (size_t i = 0; i < s.size() && i < 8; ++i) {
      v |= static_cast<uint64_t>(static_cast<uint8_t>(s[i])) << (8 * i);
    }
    return v;
  }

  // Reads `key` as the transaction (if any) sees it.
  std::optional<std::string> Read(FakeTxn* txn, const std::string& key) {
    if (txn) {
      auto w = txn->writes.find(key);
      if (w != txn->writes.end()) return w->second;
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto it = kv_.find(key);
    if (it == kv_.end()) return std::nullopt;
    return it->second;
  }

  civitas_host_api MakeApi() {
    civitas_host_api a{};
    a.struct_size = sizeof(a);
    a.abi_major = CIVITAS_ABI_MAJOR;
    a.abi_minor = CIVITAS_ABI_MINOR;
    a.log = [](civitas_city_host* c, int32_t, const char* msg, size_t n) {
      FakeHost* h = HostOf(c);
      std::lock_guard<std::mutex> lock(h->mu_);
      h->logs_.emplace_back(msg, n);
    };
    a.now_unix_micros = [](civitas_city_host* c) -> int64_t {
      FakeHost* h = HostOf(c);
      if (h->now_micros_ != 0) return h->now_micros_;
      return static_cast<int64_t>(std::time(nullptr)) * 1000000;
    };
    a.city_id = [](civitas_city_host* c) -> const char* {
      return reinterpret_cast<FakeCity*>(c)->id.c_str();
    };
    a.module_config_json = [](civitas_city_host* c, void* ctx, civitas_bytes_sink sink) {
      Emit(reinterpret_cast<FakeCity*>(c)->config_json, ctx, sink);
    };
    a.publish = [](civitas_city_host* c, const char* topic, size_t ts, const uint8_t* m,
                   size_t ms) -> int32_t {
      if (ts == 0) return CIVITAS_INVALID_ARGUMENT;
      FakeHost* h = HostOf(c);
      std::lock_guard<std::mutex> lock(h->mu_);
      h->published_.emplace_back(std::string(topic, ts), Str(m, ms));
      return CIVITAS_OK;
    };
    a.kv_get = [](civitas_city_host* c, civitas_txn_host* t, const uint8_t* k, size_t ks, void* ctx,
                  civitas_bytes_sink sink) -> int32_t {
      if (ks > CIVITAS_MAX_KEY_SIZE) return CIVITAS_INVALID_ARGUMENT;
      auto v = HostOf(c)->Read(t ? TxnOf(t) : nullptr, Str(k, ks));
      if (!v) return CIVITAS_NOT_FOUND;
      Emit(*v, ctx, sink);
      return CIVITAS_OK;
    };
    a.kv_scan = [](civitas_city_host* c, civitas_txn_host* t, const civitas_scan_options* o,
                   void* ctx, civitas_scan_visitor visit) -> int32_t {
      if (o == nullptr ||
          o->struct_size < offsetof(civitas_scan_options, reverse) + sizeof(int32_t)) {
        return CIVITAS_INVALID_ARGUMENT;
      }
      if (o->limit == 0 || o->limit > CIVITAS_SCAN_MAX_LIMIT) return CIVITAS_INVALID_ARGUMENT;
      if (o->prefix_size > CIVITAS_MAX_KEY_SIZE || o->start_size > CIVITAS_MAX_KEY_SIZE) {
        return CIVITAS_INVALID_ARGUMENT;
      }
      FakeHost* h = HostOf(c);
      std::string prefix = Str(o->prefix, o->prefix_size);
      std::string start = Str(o->start, o->start_size);
      // Merge the committed state with the transaction's own writes.
      std::map<std::string, std::string> view;
      {
        std::lock_guard<std::mutex> lock(h->mu_);
        for (auto it = h->kv_.lower_bound(prefix);
             it != h->kv_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
          view.insert(*it);
        }
      }
      if (t) {
        for (auto& [k, v] : TxnOf(t)->writes) {
          if (k.compare(0, prefix.size(), prefix) != 0) continue;
          if (v)
            view[k] = *v;
          else
            view.erase(k);
        }
      }
      uint32_t n = 0;
      auto emit = [&](const std::pair<const std::string, std::string>& e) {
        ++n;
        return visit(ctx, reinterpret_cast<const uint8_t*>(e.first.data()), e.first.size(),
                     reinterpret_cast<const uint8_t*>(e.second.data()), e.second.size()) == 0;
      };
      if (!o->reverse) {
        for (auto it = start.empty() ? view.begin() : view.lower_bound(start);
             it != view.end() && n < o->limit; ++it) {
          if (!emit(*it)) break;
        }
      } else {
        auto it = start.empty() ? view.end() : view.upper_bound(start);
        while (it != view.begin() && n < o->limit) {
          --it;
          if (!emit(*it)) break;
        }
      }
      return CIVITAS_OK;
    };
    a.txn_begin = [](civitas_city_host* c) -> civitas_txn_host* {
      return reinterpret_cast<civitas_txn_host*>(new FakeTxn{HostOf(c), {}, {}, {}});
    };
    a.txn_get = [](civitas_txn_host* t, const uint8_t* k, size_t ks, int32_t, void* ctx,
                   civitas_bytes_sink sink) -> int32_t {
      if (ks > CIVITAS_MAX_KEY_SIZE) return CIVITAS_INVALID_ARGUMENT;
      auto v = TxnOf(t)->host->Read(TxnOf(t), Str(k, ks));
      if (!v) return CIVITAS_NOT_FOUND;
      Emit(*v, ctx, sink);
      return CIVITAS_OK;
    };
    a.txn_put = [](civitas_txn_host* t, const uint8_t* k, size_t ks, const uint8_t* v,
                   size_t vs) -> int32_t {
      if (ks > CIVITAS_MAX_KEY_SIZE || vs > CIVITAS_MAX_VALUE_SIZE) return CIVITAS_INVALID_ARGUMENT;
      TxnOf(t)->writes[Str(k, ks)] = Str(v, vs);
      return CIVITAS_OK;
    };
    a.txn_delete = [](civitas_txn_host* t, const uint8_t* k, size_t ks) -> int32_t {
      if (ks > CIVITAS_MAX_KEY_SIZE) return CIVITAS_INVALID_ARGUMENT;
      TxnOf(t)->writes[Str(k, ks)] = std::nullopt;
      return CIVITAS_OK;
    };
    a.txn_add_u64 = [](civitas_txn_host* t, const uint8_t* k, size_t ks, int64_t delta) -> int32_t {
      if (ks > CIVITAS_MAX_KEY_SIZE) return CIVITAS_INVALID_ARGUMENT;
      FakeTxn* txn = TxnOf(t);
      std::string key = Str(k, ks);
      auto current = txn->host->Read(txn, key);
      uint64_t v = current ? DecodeU64(*current) : 0;
      txn->writes[key] = EncodeU64(v + static_cast<uint64_t>(delta));
      return CIVITAS_OK;
    };
    a.txn_commit = [](civitas_txn_host* t) -> int32_t {
      std::unique_ptr<FakeTxn> txn(TxnOf(t));
      std::lock_guard<std::mutex> lock(txn->host->mu_);
      for (auto& [k, v] : txn->writes) {
        if (v)
          txn->host->kv_[k] = *v;
        else
          txn->host->kv_.erase(k);
      }
      for (RecordedPush& p : txn->pushes) txn->host->pushes_.push_back(std::move(p));
      for (const std::string& name : txn->cancels) {
        for (RecordedPush& p : txn->host->pushes_) p.cancelled |= p.name == name;
      }
      return CIVITAS_OK;
    };
    a.txn_rollback = [](civitas_txn_host* t) { delete TxnOf(t); };
    a.call_subject = [](civitas_call_host* c, size_t* size) -> const char* {
      *size = CallOf(c)->caller->subject.size();
      return CallOf(c)->caller->subject.data();
    };
    a.call_roles = [](civitas_call_host* c) -> uint32_t { return CallOf(c)->caller->roles; };
    a.call_metadata = [](civitas_call_host* c, const char* key, size_t ks, void* ctx,
                         civitas_bytes_sink sink) -> int32_t {
      const auto& md = CallOf(c)->caller->metadata;
      auto it = md.find(std::string(key, ks));
      if (it == md.end()) return CIVITAS_NOT_FOUND;
      Emit(it->second, ctx, sink);
      return CIVITAS_OK;
    };
    a.call_deadline_unix_micros = [](civitas_call_host*) -> int64_t { return INT64_MAX; };
    a.call_is_cancelled = [](civitas_call_host*) -> int32_t { return 0; };
    a.call_reply = [](civitas_call_host* c, const uint8_t* m, size_t n) {
      CallOf(c)->result->reply = Str(m, n);
    };
    a.call_error = [](civitas_call_host* c, const char* m, size_t n) {
      const ReasonedMessage split = SplitErrorReason(std::string_view(m, n));
      CallOf(c)->result->error.assign(split.message);
      CallOf(c)->result->reason.assign(split.reason);
    };
    a.call_send = [](civitas_call_host* c, const uint8_t* m, size_t n) -> int32_t {
      if (CallOf(c)->kind != CIVITAS_METHOD_SERVER_STREAMING) return CIVITAS_FAILED_PRECONDITION;
      CallOf(c)->result->sent.push_back(Str(m, n));
      return CIVITAS_OK;
    };
    a.call_follow = [](civitas_call_host* c, const char* topic, size_t n) -> int32_t {
      if (CallOf(c)->kind != CIVITAS_METHOD_SERVER_STREAMING) return CIVITAS_FAILED_PRECONDITION;
      if (n == 0) return CIVITAS_INVALID_ARGUMENT;
      CallOf(c)->result->follow_topic.assign(topic, n);
      return CIVITAS_OK;
    };
    // Push: the topic must be one the module declares and there must be 1 to 10 texts with a
    // title; the gateway checks every other bound of notify.proto as well.
    a.push_send = [](civitas_txn_host* t, const civitas_push_message* m, void* ctx,
                     civitas_bytes_sink sink, char* error, size_t error_size) -> int32_t {
      FakeTxn* txn = TxnOf(t);
      auto fail = [&](int32_t code, const char* why) {
        if (error && error_size) std::snprintf(error, error_size, "%s", why);
        return code;
      };
      if (m == nullptr || m->struct_size < sizeof(civitas_push_message)) {
        return fail(CIVITAS_INVALID_ARGUMENT, "civitas_push_message is truncated");
      }
      std::string topics;
      if (txn->host->PushTopicsJson(&topics) != CIVITAS_OK) {
        return fail(CIVITAS_NOT_FOUND, "the module declares no push topics");
      }
      const std::string topic(m->topic, m->topic_size);
      for (size_t start = 0; start <= topic.size();) {
        size_t comma = topic.find(',', start);
        if (comma == std::string::npos) comma = topic.size();
        const std::string one = topic.substr(start, comma - start);
        if (one.empty() || topics.find("\"id\":\"" + one + "\"") == std::string::npos) {
          return fail(CIVITAS_NOT_FOUND, "topic is not one of the module's push_topics");
        }
        start = comma + 1;
      }
      if (m->text_count < 1 || m->text_count > 10) {
        return fail(CIVITAS_INVALID_ARGUMENT, "a message has 1 to 10 texts");
      }
      RecordedPush p;
      size_t number = 0;
      {
        std::lock_guard<std::mutex> lock(txn->host->mu_);
        number = ++txn->host->push_counter_;
      }
      char name[64];
      std::snprintf(name, sizeof(name), "messages/%032zx", number);
      p.name = name;
      p.topic = topic;
      p.subject.assign(m->subject, m->subject_size);
      for (size_t i = 0; i < m->text_count; ++i) {
        const civitas_push_text& x = m->texts[i];
        if (x.title_size == 0) return fail(CIVITAS_INVALID_ARGUMENT, "a text has no title");
        p.texts.emplace_back(std::string(x.language_code, x.language_code_size),
                             std::string(x.title, x.title_size), std::string(x.body, x.body_size));
      }
      p.deep_link.assign(m->deep_link, m->deep_link_size);
      p.image_url.assign(m->image_url, m->image_url_size);
      p.urgent = m->urgent != 0;
      p.send_time_unix_micros = m->send_time_unix_micros;
      if (sink) Emit(p.name, ctx, sink);
      txn->pushes.push_back(std::move(p));
      return CIVITAS_OK;
    };
    a.push_cancel = [](civitas_txn_host* t, const char* name, size_t n) -> int32_t {
      FakeTxn* txn = TxnOf(t);
      const std::string wanted(name, n);
      std::lock_guard<std::mutex> lock(txn->host->mu_);
      for (const RecordedPush& p : txn->host->pushes_) {
        if (p.name == wanted) {
          txn->cancels.push_back(wanted);
          return CIVITAS_OK;
        }
      }
      return CIVITAS_NOT_FOUND;
    };
    return a;
  }

  const civitas_module_def* def_;
  FakeCity city_;
  civitas_host_api api_{};
  void* instance_ = nullptr;
  int32_t init_code_ = CIVITAS_INTERNAL;
  std::string init_error_;
  int64_t now_micros_ = 0;

  mutable std::mutex mu_;
  std::map<std::string, std::string> kv_;
  std::vector<std::pair<std::string, std::string>> published_;
  std::vector<std::string> logs_;
  std::vector<RecordedPush> pushes_;
  size_t push_counter_ = 0;
};

}  // namespace civitas::testing

#endif  // CIVITAS_TESTING_FAKE_HOST_H_
