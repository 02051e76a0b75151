#include "services/gateway/push/push_keys.h"

#include <openssl/rand.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace civitas::gateway::push {

namespace {
constexpr char kZero[] = {'\0'};
const absl::string_view kSep(kZero, 1);
}  // namespace

std::string DeviceKey(absl::string_view device_id) { return absl::StrCat("push/d/", device_id); }
std::string DevicePrefix() { return "push/d/"; }

std::string TopicMemberKey(absl::string_view topic, absl::string_view device_id) {
  return absl::StrCat("push/t/", topic, kSep, device_id);
}
std::string TopicMemberPrefix(absl::string_view topic) {
  return absl::StrCat("push/t/", topic, kSep);
}

std::string OwnerDeviceKey(absl::string_view subject, absl::string_view device_id) {
  return absl::StrCat("push/o/", subject, kSep, device_id);
}
std::string OwnerDevicePrefix(absl::string_view subject) {
  return absl::StrCat("push/o/", subject, kSep);
}

std::string MessageKey(absl::string_view message_id) { return absl::StrCat("push/m/", message_id); }

std::string DeliveryKey(absl::string_view message_id, absl::string_view device_id) {
  return absl::StrCat("push/q/", message_id, "/", device_id);
}
std::string DeliveryPrefix(absl::string_view message_id) {
  return absl::StrCat("push/q/", message_id, "/");
}

std::string DueKey(int64_t due_micros, absl::string_view message_id, absl::string_view device_id) {
  std::string key = DuePrefix();
  // Big-endian, so that keys sort by time (times before 1970 do not occur).
  const uint64_t t = due_micros < 0 ? 0 : static_cast<uint64_t>(due_micros);
  for (int shift = 56; shift >= 0; shift -= 8)
    key.push_back(static_cast<char>((t >> shift) & 0xff));
  absl::StrAppend(&key, message_id, "/", device_id);
  return key;
}
std::string DuePrefix() { return "push/due/"; }

bool ParseDueKey(absl::string_view key, int64_t* due_micros, std::string* message_id,
                 std::string* device_id) {
  const std::string prefix = DuePrefix();
  if (key.size() != prefix.size() + 8 + 32 + 1 + 32 || key.substr(0, prefix.size()) != prefix) {
    return false;
  }
  uint64_t t = 0;
  for (size_t i = 0; i < 8; ++i) t = (t << 8) | static_cast<unsigned char>(key[prefix.size() + i]);
  const absl::string_view rest = key.substr(prefix.size() + 8);
  if (rest[32] != '/' || !IsId(rest.substr(0, 32)) || !IsId(rest.substr(33))) return false;
  *due_micros = static_cast<int64_t>(t);
  *message_id = std::string(rest.substr(0, 32));
  *device_id = std::string(rest.substr(33));
  return true;
}

std::string VapidKeyKey() { return "push/vapid"; }

std::string NewId() {
  unsigned char bytes[16];
  RAND_bytes(bytes, sizeof(bytes));
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

bool IsId(absl::string_view id) {
  if (id.size() != 32) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace civitas::gateway::push
