// Event reminders (ABI 1.3 push notifications): the module's one topic, "reminders"
// ("civitas.events.reminders" in ListTopics), and a reminder to a signed-in registrant's own
// devices 24 hours before the occurrence they registered for. The reminder is queued in the
// registration's own transaction and withdrawn in the transaction that cancels the registration,
// deletes the event, or erases the registrant; an update of the event rewrites, withdraws or
// (scheduled again) queues it.
//
// Key: p/<id>/<occurrence>/<subject> -> the reminder's message name (see events.h).
#include <optional>
#include <string>
#include <vector>

#include "civitas/text.h"
#include "event_time.h"
#include "events.h"

namespace events {

using civitas::OkStatus;
using civitas::Status;

namespace {

constexpr char kRemindersTopic[] = "reminders";
constexpr int64_t kReminderLead = kDay;        // sent 24 hours before the start
constexpr int64_t kMaxPushAhead = 400 * kDay;  // the gateway's bound for send_time
constexpr size_t kMaxPushTitleChars = 120;
constexpr size_t kMaxPushBodyChars = 300;

// A gateway older than ABI 1.3 has no push notifications: what the reminder belongs to still
// counts. A message already gone (or never known to the gateway) needs no withdrawal.
Status Tolerated(const Status& s, bool not_found_too) {
  if (s.code() == CIVITAS_UNIMPLEMENTED) return OkStatus();
  if (not_found_too && s.code() == CIVITAS_NOT_FOUND) return OkStatus();
  return s;
}

std::string Place(const pb::Event& event) {
  const pb::Location& l = event.location();
  if (l.name().empty()) return l.address();
  if (l.address().empty()) return l.name();
  return l.name() + ", " + l.address();
}

bool SameReminder(const civitas::PushMessage& a, const civitas::PushMessage& b) {
  if (a.send_time_unix_micros != b.send_time_unix_micros || a.deep_link != b.deep_link ||
      a.subject != b.subject || a.texts.size() != b.texts.size()) {
    return false;
  }
  for (size_t i = 0; i < a.texts.size(); ++i) {
    if (a.texts[i].language_code != b.texts[i].language_code ||
        a.texts[i].title != b.texts[i].title || a.texts[i].body != b.texts[i].body) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string ReminderKey(std::string_view id, std::string_view occurrence,
                        std::string_view subject) {
  return "p/" + std::string(id) + "/" + std::string(occurrence) + "/" + std::string(subject);
}

Status Calendar::PushTopics(std::vector<civitas::PushTopic>* topics) {
  topics->push_back({kRemindersTopic,
                     {{"de", "Erinnerungen an meine Termine"}, {"en", "Reminders of my events"}}});
  return OkStatus();
}

std::optional<civitas::PushMessage> Calendar::Reminder(const pb::Event& event, int64_t start,
                                                       std::string_view subject,
                                                       int64_t now) const {
  const int64_t send = start - kReminderLead;
  // Less than 24 hours ahead: the citizen registered knowing it is soon; none. Beyond the
  // gateway's 400 days: none either (the registration stands without it).
  if (subject.empty() || send <= now || send - now > kMaxPushAhead) return std::nullopt;
  if (event.status() == pb::Event::CANCELLED || event.status() == pb::Event::POSTPONED) {
    return std::nullopt;
  }
  // The citizen's clock is the city's: times are shown in its zone.
  const absl::Time at = absl::FromUnixMicros(start);
  const std::string place = Place(event);
  const std::string de_when =
      event.all_day() ? absl::FormatTime("Ganztägig am %d.%m.%Y", at, config_.zone)
                      : absl::FormatTime("Beginn %H:%M Uhr am %d.%m.%Y", at, config_.zone);
  const std::string en_when =
      event.all_day() ? absl::FormatTime("All day on %A, %d %B %Y", at, config_.zone)
                      : absl::FormatTime("Starts %H:%M on %A, %d %B %Y", at, config_.zone);
  civitas::PushMessage m;
  m.topic = kRemindersTopic;
  m.subject = std::string(subject);
  m.texts = {
      {"de", civitas::TruncateUtf8("Morgen: " + View(event, "de").title(), kMaxPushTitleChars),
       civitas::TruncateUtf8(de_when + (place.empty() ? "" : " · Ort: " + place),
                             kMaxPushBodyChars)},
      {"en", civitas::TruncateUtf8("Tomorrow: " + View(event, "en").title(), kMaxPushTitleChars),
       civitas::TruncateUtf8(en_when + (place.empty() ? "" : " · Place: " + place),
                             kMaxPushBodyChars)}};
  m.deep_link = "civitas://" + event.name();
  m.send_time_unix_micros = send;
  return m;
}

Status Calendar::QueueReminder(civitas::Transaction& txn, const pb::Event& event, int64_t start,
                               std::string_view subject, int64_t now) const {
  const std::optional<civitas::PushMessage> m = Reminder(event, start, subject, now);
  if (!m) return OkStatus();
  std::string name;
  Status s = txn.Push(*m, &name);
  if (!s.ok()) return Tolerated(s, /*not_found_too=*/false);
  return txn.Put(ReminderKey(event.name().substr(7), Hex(start), subject), name);
}

Status Calendar::WithdrawReminder(civitas::Transaction& txn, const std::string& id,
                                  const std::string& occurrence, std::string_view subject) const {
  const std::string key = ReminderKey(id, occurrence, subject);
  std::string name;
  Status found = txn.Get(key, &name, /*for_update=*/true);
  if (found.code() == CIVITAS_NOT_FOUND) return OkStatus();
  if (!found.ok()) return found;
  if (Status c = Tolerated(txn.CancelPush(name), /*not_found_too=*/true); !c.ok()) return c;
  return txn.Delete(key);
}

Status Calendar::FollowReminders(civitas::Transaction& txn, const pb::Event& before,
                                 const pb::Event& after, int64_t now) const {
  const std::string id = after.name().substr(7);
  // The event's registrations as this transaction sees them, in pages: a registration without
  // a reminder may be due one now (the event is scheduled again, or the gateway was upgraded).
  std::vector<std::string> seats;
  civitas::ScanOptions page;
  page.prefix = "s/" + id + "/";
  page.limit = CIVITAS_SCAN_MAX_LIMIT;
  while (true) {
    size_t seen = 0;
    Status s = city_.store().Scan(
        page,
        [&](std::string_view key, std::string_view) {
          ++seen;
          seats.emplace_back(key);
          return true;
        },
        &txn);
    if (!s.ok()) return s;
    if (seen < page.limit) break;
    page.start = seats.back() + '\0';
  }
  for (const std::string& seat : seats) {
    // s/<id>/<occurrence>/<subject>
    const std::string occurrence = seat.substr(2 + 16 + 1, 16);
    const std::string subject = seat.substr(2 + 16 + 1 + 16 + 1);
    const int64_t start = static_cast<int64_t>(civitas::ParseHex(occurrence));
    std::optional<civitas::PushMessage> next;
    google::protobuf::Timestamp at;
    civitas::SetMicros(start, &at);
    Slot slot;
    if (FindOccurrence(after, &at, &slot).ok()) next = Reminder(after, start, subject, now);
    std::string name;
    Status held = txn.Get(ReminderKey(id, occurrence, subject), &name);
    if (!held.ok() && held.code() != CIVITAS_NOT_FOUND) return held;
    if (held.ok()) {
      const std::optional<civitas::PushMessage> was = Reminder(before, start, subject, now);
      if (was && next && SameReminder(*was, *next)) continue;  // unchanged for this registrant
      if (Status w = WithdrawReminder(txn, id, occurrence, subject); !w.ok()) return w;
    }
    if (!next) continue;  // cancelled, postponed, the occurrence gone, or too soon now
    if (Status q = QueueReminder(txn, after, start, subject, now); !q.ok()) return q;
  }
  return OkStatus();
}

}  // namespace events
