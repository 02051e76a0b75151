// What the events module's files share about time: units, the index window, and an event's
// zone and kind.
#ifndef CIVITAS_MODULES_EVENTS_EVENT_TIME_H_
#define CIVITAS_MODULES_EVENTS_EVENT_TIME_H_

#include <string>

#include "absl/time/time.h"
#include "civitas/content.h"
#include "civitas/events/v1/events.pb.h"

namespace events {

namespace pb = ::civitas::events::v1;

inline constexpr char kTopic[] = "events";
inline constexpr int64_t kSecond = 1000000;
inline constexpr int64_t kDay = 86400 * kSecond;
// Single events up to this long are indexed by start (w/); longer ones are listed in r/.
inline constexpr int64_t kShortEvent = 7 * kDay;
inline constexpr int kMaxPage = 100;

inline int64_t Micros(const google::protobuf::Timestamp& t) { return civitas::ToMicros(t); }

inline std::string Hex(int64_t micros) { return civitas::Hex16(static_cast<uint64_t>(micros)); }

inline absl::TimeZone ZoneOf(const pb::Event& e, const absl::TimeZone& fallback) {
  absl::TimeZone zone;
  return !e.time_zone().empty() && absl::LoadTimeZone(e.time_zone(), &zone) ? zone : fallback;
}

inline bool Recurring(const pb::Event& e) { return !e.recurrence_rule().empty(); }

inline bool InRWindowIndex(const pb::Event& e) {
  return Recurring(e) || Micros(e.end_time()) - Micros(e.start_time()) > kShortEvent;
}

}  // namespace events

#endif  // CIVITAS_MODULES_EVENTS_EVENT_TIME_H_
