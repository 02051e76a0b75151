// Push notifications in one city's database (keys: push_keys.h): devices with their topic and
// owner indexes, messages, and the outbox — one Delivery per (message, device) and a due index
// the delivery workers read in time order. Every change that touches several keys is one
// transaction, so a device and its indexes, or a message and its deliveries, never disagree.
#ifndef CIVITAS_GATEWAY_PUSH_PUSH_STORE_H_
#define CIVITAS_GATEWAY_PUSH_PUSH_STORE_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "civitas/notify/v1/notify.pb.h"
#include "services/gateway/city_store.h"
#include "services/gateway/push/push_records.pb.h"

namespace civitas::gateway::push {

namespace notify = ::civitas::notify::v1;

// A due delivery as the due index names it.
struct DueDelivery {
  int64_t due_micros = 0;
  std::string message_id;
  std::string device_id;
};

class PushStore {
 public:
  // `store` must outlive this object (PushCities guarantees it for its users).
  explicit PushStore(CityStore* store) : store_(store) {}

  // A new device: its record, topic and owner index entries.
  absl::Status PutNewDevice(const StoredDevice& device);
  // nullopt if there is no such device.
  absl::StatusOr<std::optional<StoredDevice>> GetDevice(const std::string& device_id) const;
  // Replaces a device (same id and owner); the topic index follows the new topics.
  absl::Status ReplaceDevice(const StoredDevice& before, const StoredDevice& after);
  // The devices a signed-in subject registered (the owner index), at most `limit`.
  absl::StatusOr<std::vector<StoredDevice>> DevicesOf(const std::string& subject,
                                                      size_t limit) const;
  // The device and its index entries; its pending deliveries find no device and end REMOVED.
  absl::Status DeleteDevice(const StoredDevice& device);

  // How many devices receive `topic`.
  absl::StatusOr<int64_t> CountTopicDevices(const std::string& topic) const;

  // The message and one pending delivery, due at `due_micros`, for every device of its topic,
  // in one transaction. Sets message->device_count.
  absl::Status CreateMessage(notify::Message* message, int64_t due_micros);
  // The same writes into `txn`, the transaction of a module's change (ModuleOutbox). With a
  // `subject`, only that owner's devices that receive the topic (message->personal is set).
  static absl::Status WriteMessage(rocksdb::Transaction* txn, notify::Message* message,
                                   int64_t due_micros, const std::string& subject);
  // In `txn`: every pending delivery of the message becomes CANCELLED and leaves the outbox.
  static absl::Status CancelMessage(rocksdb::Transaction* txn, const std::string& message_id);
  // The same in a transaction of its own (NotifyService.CancelMessage).
  absl::Status CancelMessage(const std::string& message_id);
  absl::StatusOr<std::optional<notify::Message>> GetMessage(const std::string& message_id) const;
  // Removes `subject` as the sender of every message it sent (erasure); returns how many.
  absl::StatusOr<int64_t> ForgetSender(const std::string& subject);
  // The states of the message's deliveries now.
  absl::StatusOr<notify::DeliveryCounts> CountDeliveries(const std::string& message_id) const;

  // What Due does with one due entry.
  enum class DueStep { kTake, kPassOver, kStop };
  // Up to `limit` deliveries due at or before `now_micros`, earliest first, passing over those
  // `step` says kPassOver for (the delivery workers' own: already handed out, or of a provider
  // whose queue is full) and ending at the first kStop; *next_due_micros is the due time of the
  // first one after them (0 = none). With `from` (a DueKey), the index is read from that entry
  // on: the deleted entries before it are not stepped over again (after a fan-out they are
  // tombstones a full read would skip one by one, PushDelivery's scan cursor).
  absl::StatusOr<std::vector<DueDelivery>> Due(
      int64_t now_micros, size_t limit, int64_t* next_due_micros,
      const std::function<DueStep(const DueDelivery&)>& step = nullptr,
      const std::string& from = "") const;
  // The due time of the earliest pending delivery; 0 if there is none.
  absl::StatusOr<int64_t> EarliestDue() const;
  absl::StatusOr<std::optional<Delivery>> GetDelivery(const DueDelivery& d) const;
  // Ends a delivery (DELIVERED, FAILED or REMOVED) or moves it to `delivery.due_micros`
  // (PENDING), replacing the due-index entry `d` in the same transaction. With `remove_device`
  // the device goes too (the push service said the subscription is gone).
  absl::Status UpdateDelivery(const DueDelivery& d, const Delivery& delivery,
                              const StoredDevice* remove_device);

  // Removes the due-index entry `d` only (it no longer matches its delivery); a pending
  // `delivery` keeps (or gets back) the entry at its own due time.
  absl::Status DropDue(const DueDelivery& d, const Delivery* delivery);

  // The city's VAPID private key (PEM), created and stored on first use.
  absl::StatusOr<std::string> VapidKeyPem();

 private:
  CityStore* store_;
};

}  // namespace civitas::gateway::push

#endif  // CIVITAS_GATEWAY_PUSH_PUSH_STORE_H_
