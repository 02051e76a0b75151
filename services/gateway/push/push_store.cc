#include "services/gateway/push/push_store.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/gateway/push/push_keys.h"
#include "services/gateway/push/web_push.h"

namespace civitas::gateway::push {

namespace {

absl::Status FromRocks(const rocksdb::Status& s, const char* what) {
  if (s.ok()) return absl::OkStatus();
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain()) {
    return absl::AbortedError(absl::StrCat("push: ", what, ": ", s.ToString(), "; retry"));
  }
  return absl::InternalError(absl::StrCat("push: ", what, ": ", s.ToString()));
}

// Runs `fill` in a transaction and commits it (synced as storage.durability says).
template <class Fill>
absl::Status InTransaction(CityStore* store, const char* what, Fill fill) {
  std::unique_ptr<rocksdb::Transaction> txn(store->db()->BeginTransaction(store->write_options()));
  if (!txn) return absl::UnavailableError("push: the city's database is closed");
  if (absl::Status s = fill(txn.get()); !s.ok()) {
    txn->Rollback().PermitUncheckedError();
    return s;
  }
  return FromRocks(txn->Commit(), what);
}

rocksdb::Status PutKey(rocksdb::Transaction* txn, const std::string& key,
                       const std::string& value) {
  return txn->Put(SystemKey(key), value);
}

rocksdb::Status DeleteKey(rocksdb::Transaction* txn, const std::string& key) {
  return txn->Delete(SystemKey(key));
}

}  // namespace

absl::Status PushStore::PutNewDevice(const StoredDevice& device) {
  if (absl::Status q = store_->CheckQuota(); !q.ok()) return q;
  const std::string id = device.device().name().substr(sizeof("devices/") - 1);
  return InTransaction(store_, "register device", [&](rocksdb::Transaction* txn) {
    rocksdb::Status s = PutKey(txn, DeviceKey(id), device.SerializeAsString());
    for (const std::string& t : device.device().topics()) {
      if (s.ok()) s = PutKey(txn, TopicMemberKey(t, id), "");
    }
    if (s.ok() && !device.owner().empty()) s = PutKey(txn, OwnerDeviceKey(device.owner(), id), "");
    return FromRocks(s, "register device");
  });
}

absl::StatusOr<std::optional<StoredDevice>> PushStore::GetDevice(
    const std::string& device_id) const {
  std::string value;
  absl::StatusOr<bool> found = store_->GetSystem(DeviceKey(device_id), &value);
  if (!found.ok()) return found.status();
  if (!*found) return std::optional<StoredDevice>();
  StoredDevice d;
  if (!d.ParseFromString(value)) return absl::DataLossError("push: a stored device does not parse");
  return std::optional<StoredDevice>(std::move(d));
}

absl::Status PushStore::ReplaceDevice(const StoredDevice& before, const StoredDevice& after) {
  const std::string id = after.device().name().substr(sizeof("devices/") - 1);
  return InTransaction(store_, "update device", [&](rocksdb::Transaction* txn) {
    rocksdb::Status s;
    for (const std::string& t : before.device().topics()) {
      if (s.ok()) s = DeleteKey(txn, TopicMemberKey(t, id));
    }
    for (const std::string& t : after.device().topics()) {
      if (s.ok()) s = PutKey(txn, TopicMemberKey(t, id), "");
    }
    if (s.ok()) s = PutKey(txn, DeviceKey(id), after.SerializeAsString());
    return FromRocks(s, "update device");
  });
}

absl::StatusOr<std::vector<StoredDevice>> PushStore::DevicesOf(const std::string& subject,
                                                               size_t limit) const {
  std::vector<std::string> ids;
  const std::string prefix = OwnerDevicePrefix(subject);
  absl::Status s = store_->ScanSystem(prefix, [&](absl::string_view key, absl::string_view) {
    if (ids.size() < limit) ids.emplace_back(key.substr(prefix.size()));
  });
  if (!s.ok()) return s;
  std::vector<StoredDevice> out;
  for (const std::string& id : ids) {
    absl::StatusOr<std::optional<StoredDevice>> d = GetDevice(id);
    if (!d.ok()) return d.status();
    if (d->has_value()) out.push_back(**d);
  }
  return out;
}

absl::Status PushStore::DeleteDevice(const StoredDevice& device) {
  const std::string id = device.device().name().substr(sizeof("devices/") - 1);
  return InTransaction(store_, "delete device", [&](rocksdb::Transaction* txn) {
    rocksdb::Status s = DeleteKey(txn, DeviceKey(id));
    for (const std::string& t : device.device().topics()) {
      if (s.ok()) s = DeleteKey(txn, TopicMemberKey(t, id));
    }
    if (s.ok() && !device.owner().empty()) s = DeleteKey(txn, OwnerDeviceKey(device.owner(), id));
    return FromRocks(s, "delete device");
  });
}

absl::StatusOr<int64_t> PushStore::CountTopicDevices(const std::string& topic) const {
  int64_t n = 0;
  absl::Status s = store_->ScanSystem(TopicMemberPrefix(topic),
                                      [&](absl::string_view, absl::string_view) { ++n; });
  if (!s.ok()) return s;
  return n;
}

absl::Status PushStore::CreateMessage(notify::Message* message, int64_t due_micros) {
  if (absl::Status q = store_->CheckQuota(); !q.ok()) return q;
  return InTransaction(store_, "send message", [&](rocksdb::Transaction* txn) {
    return WriteMessage(txn, message, due_micros, "");
  });
}

absl::Status PushStore::WriteMessage(rocksdb::Transaction* txn, notify::Message* message,
                                     int64_t due_micros, const std::string& subject) {
  const std::string id = message->name().substr(sizeof("messages/") - 1);
  Delivery pending;
  pending.set_state(Delivery::PENDING);
  pending.set_due_micros(due_micros);
  const std::string pending_bytes = pending.SerializeAsString();
  int64_t count = 0;
  rocksdb::Status s;
  auto queue = [&](absl::string_view device) {
    s = PutKey(txn, DeliveryKey(id, device), pending_bytes);
    if (s.ok()) s = PutKey(txn, DueKey(due_micros, id, device), "");
    ++count;
  };
  // The receiving devices as this transaction sees them: the topics', or the subject's own
  // devices that receive one of the topics. A device of several topics gets the message once.
  std::vector<std::string> topics = {message->topic()};
  topics.insert(topics.end(), message->more_topics().begin(), message->more_topics().end());
  rocksdb::ReadOptions ro;
  std::set<std::string> seen;
  auto scan = [&](const std::string& prefix, const std::function<bool(const std::string&)>& take) {
    std::unique_ptr<rocksdb::Iterator> it(txn->GetIterator(ro));
    for (it->Seek(prefix); s.ok() && it->Valid() && it->key().starts_with(prefix); it->Next()) {
      std::string device(it->key().data() + prefix.size(), it->key().size() - prefix.size());
      if (take(device) && (topics.size() == 1 || seen.insert(device).second)) queue(device);
    }
    if (s.ok()) s = it->status();
  };
  if (subject.empty()) {
    for (const std::string& topic : topics) {
      scan(SystemKey(TopicMemberPrefix(topic)), [](const std::string&) { return true; });
    }
  } else {
    scan(SystemKey(OwnerDevicePrefix(subject)), [&](const std::string& device) {
      for (const std::string& topic : topics) {
        std::string member;
        rocksdb::Status m = txn->Get(ro, SystemKey(TopicMemberKey(topic, device)), &member);
        if (m.ok()) return true;
        if (!m.IsNotFound()) {
          s = m;
          return false;
        }
      }
      return false;
    });
  }
  message->set_device_count(count);
  message->set_personal(!subject.empty());
  if (s.ok()) s = PutKey(txn, MessageKey(id), message->SerializeAsString());
  return FromRocks(s, "send message");
}

absl::Status PushStore::CancelMessage(rocksdb::Transaction* txn, const std::string& message_id) {
  const std::string prefix = SystemKey(DeliveryPrefix(message_id));
  rocksdb::ReadOptions ro;
  std::unique_ptr<rocksdb::Iterator> it(txn->GetIterator(ro));
  rocksdb::Status s;
  for (it->Seek(prefix); s.ok() && it->Valid() && it->key().starts_with(prefix); it->Next()) {
    Delivery d;
    if (!d.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("push: a stored delivery does not parse");
    }
    if (d.state() != Delivery::PENDING) continue;
    const std::string device(it->key().data() + prefix.size(), it->key().size() - prefix.size());
    s = DeleteKey(txn, DueKey(d.due_micros(), message_id, device));
    d.set_state(Delivery::CANCELLED);
    if (s.ok()) s = PutKey(txn, DeliveryKey(message_id, device), d.SerializeAsString());
  }
  if (s.ok()) s = it->status();
  return FromRocks(s, "cancel message");
}

absl::Status PushStore::CancelMessage(const std::string& message_id) {
  return InTransaction(store_, "cancel message",
                       [&](rocksdb::Transaction* txn) { return CancelMessage(txn, message_id); });
}

absl::StatusOr<std::optional<notify::Message>> PushStore::GetMessage(
    const std::string& message_id) const {
  std::string value;
  absl::StatusOr<bool> found = store_->GetSystem(MessageKey(message_id), &value);
  if (!found.ok()) return found.status();
  if (!*found) return std::optional<notify::Message>();
  notify::Message m;
  if (!m.ParseFromString(value))
    return absl::DataLossError("push: a stored message does not parse");
  return std::optional<notify::Message>(std::move(m));
}

absl::StatusOr<int64_t> PushStore::ForgetSender(const std::string& subject) {
  std::vector<notify::Message> sent;
  bool corrupt = false;
  absl::Status s =
      store_->ScanSystem(MessageKey(""), [&](absl::string_view, absl::string_view value) {
        notify::Message m;
        if (!m.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          corrupt = true;
        } else if (m.sender() == subject) {
          sent.push_back(std::move(m));
        }
      });
  if (!s.ok()) return s;
  if (corrupt) return absl::DataLossError("push: a stored message does not parse");
  for (notify::Message& m : sent) {
    m.clear_sender();
    const std::string id = m.name().substr(sizeof("messages/") - 1);
    s = InTransaction(store_, "forget a sender", [&](rocksdb::Transaction* txn) {
      return FromRocks(PutKey(txn, MessageKey(id), m.SerializeAsString()), "forget a sender");
    });
    if (!s.ok()) return s;
  }
  return static_cast<int64_t>(sent.size());
}

absl::StatusOr<notify::DeliveryCounts> PushStore::CountDeliveries(
    const std::string& message_id) const {
  notify::DeliveryCounts counts;
  bool corrupt = false;
  absl::Status s = store_->ScanSystem(
      DeliveryPrefix(message_id), [&](absl::string_view, absl::string_view value) {
        Delivery d;
        if (!d.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          corrupt = true;
          return;
        }
        switch (d.state()) {
          case Delivery::DELIVERED:
            counts.set_delivered(counts.delivered() + 1);
            break;
          case Delivery::FAILED:
            counts.set_failed(counts.failed() + 1);
            break;
          case Delivery::REMOVED:
            counts.set_removed(counts.removed() + 1);
            break;
          case Delivery::CANCELLED:
            counts.set_cancelled(counts.cancelled() + 1);
            break;
          default:
            counts.set_pending(counts.pending() + 1);
        }
      });
  if (!s.ok()) return s;
  if (corrupt) return absl::DataLossError("push: a stored delivery does not parse");
  return counts;
}

absl::StatusOr<std::vector<DueDelivery>> PushStore::Due(
    int64_t now_micros, size_t limit, int64_t* next_due_micros,
    const std::function<DueStep(const DueDelivery&)>& step, const std::string& from) const {
  std::vector<DueDelivery> out;
  *next_due_micros = 0;
  const std::string prefix = SystemKey(DuePrefix());
  const size_t skip = SystemKey("").size();
  rocksdb::ReadOptions ro;
  std::string upper = prefix;
  upper.back() = static_cast<char>(upper.back() + 1);
  rocksdb::Slice upper_slice(upper);
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(store_->db()->NewIterator(ro));
  const std::string start = from.empty() ? prefix : SystemKey(from);
  for (it->Seek(std::max(start, prefix)); it->Valid(); it->Next()) {
    DueDelivery d;
    const absl::string_view key(it->key().data() + skip, it->key().size() - skip);
    if (!ParseDueKey(key, &d.due_micros, &d.message_id, &d.device_id)) continue;
    if (d.due_micros > now_micros || out.size() >= limit) {
      *next_due_micros = d.due_micros;
      break;
    }
    const DueStep what = step ? step(d) : DueStep::kTake;
    if (what == DueStep::kStop) break;
    if (what == DueStep::kPassOver) continue;
    out.push_back(std::move(d));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "read the outbox");
  return out;
}

absl::StatusOr<int64_t> PushStore::EarliestDue() const {
  int64_t next = 0;
  absl::StatusOr<std::vector<DueDelivery>> none = Due(-1, 0, &next);
  if (!none.ok()) return none.status();
  return next;
}

absl::StatusOr<std::optional<Delivery>> PushStore::GetDelivery(const DueDelivery& d) const {
  std::string value;
  absl::StatusOr<bool> found = store_->GetSystem(DeliveryKey(d.message_id, d.device_id), &value);
  if (!found.ok()) return found.status();
  if (!*found) return std::optional<Delivery>();
  Delivery out;
  if (!out.ParseFromString(value)) return absl::DataLossError("push: a delivery does not parse");
  return std::optional<Delivery>(std::move(out));
}

absl::Status PushStore::UpdateDelivery(const DueDelivery& d, const Delivery& delivery,
                                       const StoredDevice* remove_device) {
  absl::Status s = InTransaction(store_, "update delivery", [&](rocksdb::Transaction* txn) {
    rocksdb::Status r = DeleteKey(txn, DueKey(d.due_micros, d.message_id, d.device_id));
    if (r.ok())
      r = PutKey(txn, DeliveryKey(d.message_id, d.device_id), delivery.SerializeAsString());
    if (r.ok() && delivery.state() == Delivery::PENDING) {
      r = PutKey(txn, DueKey(delivery.due_micros(), d.message_id, d.device_id), "");
    }
    return FromRocks(r, "update delivery");
  });
  if (!s.ok() || remove_device == nullptr) return s;
  return DeleteDevice(*remove_device);
}

absl::Status PushStore::DropDue(const DueDelivery& d, const Delivery* delivery) {
  return InTransaction(store_, "drop a due entry", [&](rocksdb::Transaction* txn) {
    rocksdb::Status r = DeleteKey(txn, DueKey(d.due_micros, d.message_id, d.device_id));
    if (r.ok() && delivery != nullptr && delivery->state() == Delivery::PENDING) {
      r = PutKey(txn, DueKey(delivery->due_micros(), d.message_id, d.device_id), "");
    }
    return FromRocks(r, "drop a due entry");
  });
}

absl::StatusOr<std::string> PushStore::VapidKeyPem() {
  std::string pem;
  absl::StatusOr<bool> found = store_->GetSystem(VapidKeyKey(), &pem);
  if (!found.ok()) return found.status();
  if (*found) return pem;
  absl::StatusOr<std::unique_ptr<VapidKey>> key = VapidKey::Generate();
  if (!key.ok()) return key.status();
  pem = (*key)->Pem();
  // Two first uses at once: the transaction's lock on the key lets only one of them write it.
  std::string stored;
  absl::Status s = InTransaction(store_, "store the VAPID key", [&](rocksdb::Transaction* txn) {
    rocksdb::Status r =
        txn->GetForUpdate(rocksdb::ReadOptions(), SystemKey(VapidKeyKey()), &stored);
    if (r.ok()) return absl::OkStatus();  // the other one won
    if (!r.IsNotFound()) return FromRocks(r, "read the VAPID key");
    stored = pem;
    return FromRocks(PutKey(txn, VapidKeyKey(), pem), "store the VAPID key");
  });
  if (!s.ok()) return s;
  return stored;
}

}  // namespace civitas::gateway::push
