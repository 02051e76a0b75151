// Every storage key of push notifications, built here and nowhere else. They live in the city
// database's gateway key space (SystemKey, "0x00 sys/"), apart from every module:
//   push/d/<device>                  StoredDevice
//   push/t/<topic> 0x00 <device>     "" — the devices of a topic (fan-out is one scan)
//   push/o/<subject> 0x00 <device>   "" — the devices of a signed-in owner (export, erasure)
//   push/m/<message>                 civitas.notify.v1.Message
//   push/q/<message>/<device>        Delivery — the state of one delivery
//   push/due/<be64 micros><message>/<device>   "" — pending deliveries by due time (the outbox)
//   push/vapid                       the city's VAPID private key (PEM)
// Device and message ids are 32 lowercase hex digits; topic ids [a-z0-9-] (config) or "<module
// id>.<id>" (modules), never 0x00; subjects never contain 0x00 (they come from verified JWTs, which
// are JSON strings checked to be UTF-8).
#ifndef CIVITAS_GATEWAY_PUSH_PUSH_KEYS_H_
#define CIVITAS_GATEWAY_PUSH_PUSH_KEYS_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace civitas::gateway::push {

// Keys relative to the system key space (pass them through SystemKey for the database key).
std::string DeviceKey(absl::string_view device_id);
std::string DevicePrefix();
std::string TopicMemberKey(absl::string_view topic, absl::string_view device_id);
std::string TopicMemberPrefix(absl::string_view topic);
std::string OwnerDeviceKey(absl::string_view subject, absl::string_view device_id);
std::string OwnerDevicePrefix(absl::string_view subject);
std::string MessageKey(absl::string_view message_id);
std::string DeliveryKey(absl::string_view message_id, absl::string_view device_id);
std::string DeliveryPrefix(absl::string_view message_id);
std::string DueKey(int64_t due_micros, absl::string_view message_id, absl::string_view device_id);
std::string DuePrefix();
// The inverse of DueKey (the key relative to the system key space); false if malformed.
bool ParseDueKey(absl::string_view key, int64_t* due_micros, std::string* message_id,
                 std::string* device_id);
std::string VapidKeyKey();

// 16 random bytes as 32 lowercase hex digits.
std::string NewId();
// True for 32 lowercase hex digits.
bool IsId(absl::string_view id);

}  // namespace civitas::gateway::push

#endif  // CIVITAS_GATEWAY_PUSH_PUSH_KEYS_H_
