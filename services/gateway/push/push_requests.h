// The rules of NotifyService's requests, as pure functions (tested directly in
// push_requests_test.cc): what a device and a message may contain, quiet hours, and the payload
// a device receives.
#ifndef CIVITAS_GATEWAY_PUSH_PUSH_REQUESTS_H_
#define CIVITAS_GATEWAY_PUSH_PUSH_REQUESTS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "civitas/notify/v1/notify.pb.h"
#include "services/gateway/config.h"

namespace civitas::gateway::push {

namespace notify = ::civitas::notify::v1;

// Size bounds, as notify.proto states them.
inline constexpr size_t kMaxEndpointBytes = 1024;
inline constexpr size_t kMaxTokenBytes = 4096;
inline constexpr size_t kMaxTopicsPerDevice = 64;
inline constexpr size_t kMaxTitleChars = 120;
inline constexpr size_t kMaxBodyChars = 1000;
inline constexpr size_t kMaxTexts = 10;
inline constexpr size_t kMaxDeepLinkBytes = 1024;
inline constexpr absl::Duration kMaxSendAhead = absl::Hours(24 * 30);
// What one Web Push payload may take before encryption: 4,096 bytes per record (RFC 8291 §4)
// less the 86 bytes of header, padding delimiter and tag.
inline constexpr size_t kMaxPayloadBytes = 4096 - 86;

// The push address: WEB_PUSH needs web_push (an https endpoint of at most 1,024 bytes, p256dh
// of 65 bytes, auth of 16, base64url), FCM and APNS a token. Only the syntax: the endpoint's
// addresses are checked by CheckEndpoint.
absl::Status CheckPushAddress(const notify::Device& device);
// language_code, topics (each configured, none twice, at most 64), quiet_hours.
// `known_topics`: the city's (config and modules, module_push.h CityTopics).
absl::Status CheckDeviceSettings(const notify::Device& device,
                                 const std::vector<PushTopic>& known_topics);
absl::Status CheckTopics(const google::protobuf::RepeatedPtrField<std::string>& topics,
                         const std::vector<PushTopic>& known_topics);

// "HH:MM" -> minutes after midnight; -1 if malformed.
int ParseClock(absl::string_view hhmm);
// True if `minute_of_day` lies in [start, end) of the quiet hours (across midnight when end is
// before start). No quiet hours (unset, or start == end): false.
bool InQuietHours(const notify::QuietHours& quiet, int minute_of_day);
// When the quiet hours around `now` end, in `zone`; `now` itself if it is not in them.
absl::Time QuietHoursEnd(const notify::QuietHours& quiet, absl::Time now, absl::TimeZone zone);

// topic (one of `topics`), texts (1 to 10, languages once each, titles 1 to 120 characters,
// bodies at most 1,000), deep_link (https or an app scheme, at most 1,024 bytes), image_url
// (https, at most 1,024 bytes), send_time (at most `max_ahead`), and that every language's payload
// fits one Web Push record.
absl::Status CheckMessage(const notify::Message& message, const std::vector<PushTopic>& topics,
                          absl::Time now, absl::Duration max_ahead = kMaxSendAhead);

// The text a device receives: in the device's language ("de-AT" falls back to "de"), else the
// city's default, else the first text; nullptr if the message has none.
const notify::MessageText* TextFor(const notify::Message& message,
                                   absl::string_view device_language,
                                   absl::string_view default_language);

// The JSON a device receives: {"message", "topic", "language", "title", "body", "deep_link",
// "image", "urgent"} (deep_link and image only when set), in the device's language, else the
// city's default, else the first text.
std::string PayloadJson(const notify::Message& message, absl::string_view device_language,
                        absl::string_view default_language);

}  // namespace civitas::gateway::push

#endif  // CIVITAS_GATEWAY_PUSH_PUSH_REQUESTS_H_
