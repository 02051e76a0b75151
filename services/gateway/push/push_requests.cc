#include "services/gateway/push/push_requests.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "civitas/json.h"
#include "civitas/text.h"

namespace civitas::gateway::push {

namespace {

absl::Status Invalid(std::string message) { return absl::InvalidArgumentError(std::move(message)); }

// base64url (padding allowed) decoding to exactly `bytes` bytes.
bool Base64UrlOfSize(absl::string_view in, size_t bytes, std::string* out) {
  std::string s(in);
  while (!s.empty() && s.back() == '=') s.pop_back();
  if (s.find_first_of("+/") != std::string::npos) return false;
  return absl::WebSafeBase64Unescape(s, out) && out->size() == bytes;
}

void AppendJsonString(absl::string_view s, std::string* out) {
  out->append(civitas::JsonQuote(std::string_view(s.data(), s.size())));
}

}  // namespace

absl::Status CheckPushAddress(const notify::Device& device) {
  switch (device.platform()) {
    case notify::Device::WEB_PUSH: {
      const notify::WebPushSubscription& w = device.web_push();
      if (w.endpoint().empty() || w.endpoint().size() > kMaxEndpointBytes) {
        return Invalid(absl::StrCat("device.web_push.endpoint must have 1 to ", kMaxEndpointBytes,
                                    " bytes, got ", w.endpoint().size()));
      }
      std::string raw;
      if (!Base64UrlOfSize(w.p256dh(), 65, &raw) || raw[0] != 0x04) {
        return Invalid(
            "device.web_push.p256dh must be the base64url of an uncompressed P-256 point (65 "
            "bytes starting 0x04)");
      }
      if (!Base64UrlOfSize(w.auth(), 16, &raw)) {
        return Invalid("device.web_push.auth must be the base64url of 16 bytes");
      }
      if (!device.token().empty()) return Invalid("device.token is for FCM and APNS devices");
      return absl::OkStatus();
    }
    case notify::Device::FCM:
    case notify::Device::APNS: {
      const std::string& t = device.token();
      if (t.empty() || t.size() > kMaxTokenBytes) {
        return Invalid(
            absl::StrCat("device.token must have 1 to ", kMaxTokenBytes, " bytes, got ", t.size()));
      }
      for (unsigned char c : t) {
        if (c <= 0x20 || c >= 0x7f) {
          return Invalid("device.token must be printable ASCII without spaces");
        }
      }
      if (device.has_web_push()) return Invalid("device.web_push is for WEB_PUSH devices");
      return absl::OkStatus();
    }
    default:
      return Invalid("device.platform must be WEB_PUSH, FCM or APNS");
  }
}

absl::Status CheckTopics(const google::protobuf::RepeatedPtrField<std::string>& topics,
                         const std::vector<PushTopic>& known_topics) {
  if (static_cast<size_t>(topics.size()) > kMaxTopicsPerDevice) {
    return Invalid(absl::StrCat("a device receives at most ", kMaxTopicsPerDevice, " topics, got ",
                                topics.size()));
  }
  std::set<absl::string_view> seen;
  for (const std::string& t : topics) {
    bool known = false;
    for (const PushTopic& c : known_topics) known |= c.id == t;
    if (!known) {
      return Invalid(absl::StrCat("topic '", absl::CHexEscape(t.substr(0, 64)),
                                  "' is not one of this city's topics (ListTopics)"));
    }
    if (!seen.insert(t).second) return Invalid(absl::StrCat("topic '", t, "' is listed twice"));
  }
  return absl::OkStatus();
}

absl::Status CheckDeviceSettings(const notify::Device& device,
                                 const std::vector<PushTopic>& known_topics) {
  if (!device.language_code().empty() && !IsLanguageTag(device.language_code())) {
    return Invalid("device.language_code must be a BCP 47 language like \"de\" or \"en-GB\"");
  }
  if (absl::Status s = CheckTopics(device.topics(), known_topics); !s.ok()) return s;
  if (device.has_quiet_hours()) {
    if (ParseClock(device.quiet_hours().start_time()) < 0 ||
        ParseClock(device.quiet_hours().end_time()) < 0) {
      return Invalid("device.quiet_hours needs start_time and end_time as \"HH:MM\", e.g. 22:00");
    }
  }
  return absl::OkStatus();
}

int ParseClock(absl::string_view hhmm) {
  if (hhmm.size() != 5 || hhmm[2] != ':') return -1;
  for (size_t i : {0, 1, 3, 4}) {
    if (!absl::ascii_isdigit(hhmm[i])) return -1;
  }
  const int h = (hhmm[0] - '0') * 10 + (hhmm[1] - '0');
  const int m = (hhmm[3] - '0') * 10 + (hhmm[4] - '0');
  if (h > 23 || m > 59) return -1;
  return h * 60 + m;
}

bool InQuietHours(const notify::QuietHours& quiet, int minute_of_day) {
  const int start = ParseClock(quiet.start_time());
  const int end = ParseClock(quiet.end_time());
  if (start < 0 || end < 0 || start == end) return false;
  if (start < end) return minute_of_day >= start && minute_of_day < end;
  return minute_of_day >= start || minute_of_day < end;
}

absl::Time QuietHoursEnd(const notify::QuietHours& quiet, absl::Time now, absl::TimeZone zone) {
  const absl::TimeZone::CivilInfo local = zone.At(now);
  const int minute = local.cs.hour() * 60 + local.cs.minute();
  if (!InQuietHours(quiet, minute)) return now;
  const int end = ParseClock(quiet.end_time());
  absl::CivilDay day(local.cs);
  if (end <= minute) day += 1;  // the span ends tomorrow
  return absl::FromCivil(absl::CivilMinute(day.year(), day.month(), day.day(), end / 60, end % 60),
                         zone);
}

absl::Status CheckMessage(const notify::Message& message, const std::vector<PushTopic>& topics,
                          absl::Time now, absl::Duration max_ahead) {
  bool known = false;
  for (const PushTopic& t : topics) known |= t.id == message.topic();
  if (!known) {
    return Invalid("message.topic must be one of this city's topics (ListTopics)");
  }
  if (message.texts().empty() || static_cast<size_t>(message.texts().size()) > kMaxTexts) {
    return Invalid(absl::StrCat("message.texts must have 1 to ", kMaxTexts, " entries, got ",
                                message.texts().size()));
  }
  std::set<std::string> languages;
  for (int i = 0; i < message.texts().size(); ++i) {
    const notify::MessageText& t = message.texts(i);
    const std::string where = absl::StrCat("message.texts[", i, "]");
    if (!IsLanguageTag(t.language_code())) {
      return Invalid(where + ".language_code must be a BCP 47 language like \"de\"");
    }
    if (!languages.insert(absl::AsciiStrToLower(t.language_code())).second) {
      return Invalid(where + ".language_code '" + t.language_code() + "' is listed twice");
    }
    if (std::string e = CheckLength(where + ".title", t.title(), 1, kMaxTitleChars); !e.empty()) {
      return Invalid(e);
    }
    if (std::string e = CheckLength(where + ".body", t.body(), 0, kMaxBodyChars); !e.empty()) {
      return Invalid(e);
    }
  }
  const std::string& link = message.deep_link();
  if (link.size() > kMaxDeepLinkBytes) {
    return Invalid(absl::StrCat("message.deep_link must have at most ", kMaxDeepLinkBytes,
                                " bytes, got ", link.size()));
  }
  if (!link.empty()) {
    const size_t colon = link.find(':');
    bool scheme_ok = colon != std::string::npos && colon > 0;
    for (size_t i = 0; scheme_ok && i < colon; ++i) {
      scheme_ok =
          absl::ascii_isalnum(link[i]) || link[i] == '+' || link[i] == '-' || link[i] == '.';
    }
    const std::string scheme = absl::AsciiStrToLower(link.substr(0, colon));
    if (!scheme_ok || scheme == "http" || scheme == "javascript" || scheme == "data" ||
        scheme == "file" || link.find_first_of(" \t\r\n") != std::string::npos) {
      return Invalid(
          "message.deep_link must be an https URL or an app link like civitas://news/1, without "
          "spaces");
    }
  }
  const std::string& image = message.image_url();
  if (image.size() > kMaxDeepLinkBytes) {
    return Invalid(absl::StrCat("message.image_url must have at most ", kMaxDeepLinkBytes,
                                " bytes, got ", image.size()));
  }
  if (!image.empty() && (!absl::StartsWithIgnoreCase(image, "https://") || image.size() <= 8 ||
                         image.find_first_of(" \t\r\n\"<>") != std::string::npos)) {
    return Invalid("message.image_url must be an https URL without spaces");
  }
  if (message.has_send_time()) {
    const absl::Time at = absl::FromUnixSeconds(message.send_time().seconds());
    if (at > now + max_ahead) {
      return Invalid(absl::StrCat("message.send_time must be at most ",
                                  absl::ToInt64Hours(max_ahead) / 24, " days ahead"));
    }
  }
  for (const notify::MessageText& t : message.texts()) {
    notify::Message probe = message;
    probe.set_name("messages/00000000000000000000000000000000");
    const std::string payload = PayloadJson(probe, t.language_code(), "");
    if (payload.size() > kMaxPayloadBytes) {
      return Invalid(absl::StrCat("the message in '", t.language_code(), "' takes ", payload.size(),
                                  " bytes; a push carries at most ", kMaxPayloadBytes));
    }
  }
  return absl::OkStatus();
}

const notify::MessageText* TextFor(const notify::Message& message,
                                   absl::string_view device_language,
                                   absl::string_view default_language) {
  const notify::MessageText* text = nullptr;
  for (absl::string_view want : {device_language, default_language}) {
    if (want.empty()) continue;
    for (const notify::MessageText& t : message.texts()) {
      if (text == nullptr && absl::EqualsIgnoreCase(t.language_code(), want)) text = &t;
    }
    // "de-AT" falls back to "de".
    for (const notify::MessageText& t : message.texts()) {
      if (text == nullptr &&
          absl::EqualsIgnoreCase(t.language_code(),
                                 PrimaryLanguage(std::string_view(want.data(), want.size())))) {
        text = &t;
      }
    }
  }
  if (text == nullptr && !message.texts().empty()) text = &message.texts(0);
  return text;
}

std::string PayloadJson(const notify::Message& message, absl::string_view device_language,
                        absl::string_view default_language) {
  const notify::MessageText* text = TextFor(message, device_language, default_language);
  std::string out = "{\"message\":";
  AppendJsonString(message.name(), &out);
  out += ",\"topic\":";
  AppendJsonString(message.topic(), &out);
  out += ",\"language\":";
  AppendJsonString(text ? text->language_code() : "", &out);
  out += ",\"title\":";
  AppendJsonString(text ? text->title() : "", &out);
  out += ",\"body\":";
  AppendJsonString(text ? text->body() : "", &out);
  if (!message.deep_link().empty()) {
    out += ",\"deep_link\":";
    AppendJsonString(message.deep_link(), &out);
  }
  if (!message.image_url().empty()) {
    out += ",\"image\":";
    AppendJsonString(message.image_url(), &out);
  }
  out += message.urgent() ? ",\"urgent\":true}" : ",\"urgent\":false}";
  return out;
}

}  // namespace civitas::gateway::push
