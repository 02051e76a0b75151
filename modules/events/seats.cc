// Seats: registrations per occurrence against the capacity, a citizen's registrations, and
// their export and erasure.
#include <algorithm>
#include <set>
#include <utility>

#include "civitas/json.h"
#include "civitas/text.h"
#include "event_time.h"
#include "events.h"
#include "ical.h"
#include "validation.h"

namespace events {

using civitas::CheckText;
using civitas::InvalidArgument;
using civitas::OkStatus;
using civitas::Status;
using civitas::ToMicros;

Status Calendar::FindOccurrence(const pb::Event& event, const google::protobuf::Timestamp* start,
                                Slot* slot) const {
  if (start && !civitas::ValidTimestamp(*start)) {
    return InvalidArgument("occurrence_start must lie between the years 1 and 9999");
  }
  const int64_t wanted = start ? Micros(*start) : Micros(event.start_time());
  for (const Slot& s : Occurrences(event, config_.zone, wanted, wanted + 1, 1)) {
    if (s.start == wanted) {
      *slot = s;
      return OkStatus();
    }
  }
  return civitas::NotFound(
      "event '" + event.name() + "' has no occurrence starting at " +
      absl::FormatTime(absl::RFC3339_sec, absl::FromUnixMicros(wanted), absl::UTCTimeZone()));
}

Status Calendar::ChangeSeat(civitas::Call& call, const std::string& name,
                            const google::protobuf::Timestamp* start, bool take,
                            pb::Registration* out) {
  std::string id;
  if (Status s = civitas::IdFromName("events", name, &id); !s.ok()) return s;
  const std::string subject(call.subject());
  if (subject.find('\0') != std::string::npos) return InvalidArgument("subject contains NUL");
  const int64_t now = city_.NowMicros();
  pb::Event event;
  if (Status s = Load(id, &event); !s.ok()) return s;
  Slot slot;
  if (Status s = FindOccurrence(event, start, &slot); !s.ok()) return s;
  const std::string occ = Hex(slot.start);
  const std::string seat = "s/" + id + "/" + occ + "/" + subject;
  const std::string mine = "m/" + subject + '\0' + occ + id;
  const std::string count_key = "n/" + id + "/" + occ;
  Status result = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    // The event is read again under the transaction: a change in between is seen.
    pb::Event current;
    if (Status l = Load(id, &current, &txn); !l.ok()) return l;
    std::string bytes;
    Status held = txn.Get(seat, &bytes, /*for_update=*/true);
    if (!held.ok() && held.code() != CIVITAS_NOT_FOUND) return held;
    std::string count_bytes;
    Status c = txn.Get(count_key, &count_bytes, /*for_update=*/true);
    if (!c.ok() && c.code() != CIVITAS_NOT_FOUND) return c;
    const uint64_t taken = c.ok() ? civitas::DecodeU64(count_bytes) : 0;
    if (!take) {
      if (!held.ok()) {
        return civitas::NotFound("you have no registration for this occurrence of '" + name + "'");
      }
      Status d = txn.Delete(seat);
      if (d.ok()) d = txn.Delete(mine);
      if (d.ok()) d = WithdrawReminder(txn, id, occ, subject);
      if (d.ok())
        d = taken <= 1 ? txn.Delete(count_key) : txn.Put(count_key, civitas::EncodeU64(taken - 1));
      return d;
    }
    if (held.ok()) {
      return civitas::AlreadyExists("you are already registered for this occurrence of '" + name +
                                    "'")
          .WithReason("ALREADY_REGISTERED");
    }
    if (current.capacity() == 0) {
      return civitas::FailedPrecondition("event '" + name + "' takes no registrations")
          .WithReason("REGISTRATION_NOT_OFFERED");
    }
    if (!current.registration_open()) {
      return civitas::FailedPrecondition("registration for '" + name + "' is closed")
          .WithReason("REGISTRATION_CLOSED");
    }
    if (current.status() != pb::Event::SCHEDULED) {
      return civitas::FailedPrecondition("event '" + name + "' is " +
                                         pb::Event::Status_Name(current.status()))
          .WithReason("EVENT_NOT_SCHEDULED");
    }
    if (slot.start <= now) {
      return civitas::FailedPrecondition("this occurrence of '" + name + "' has already begun")
          .WithReason("OCCURRENCE_STARTED");
    }
    if (taken >= static_cast<uint64_t>(current.capacity())) {
      return civitas::FailedPrecondition("no seats left: all " +
                                         std::to_string(current.capacity()) +
                                         " seats of this occurrence are taken")
          .WithReason("EVENT_FULL");
    }
    pb::Registration r;
    r.set_name(name + "/registrations/" + std::to_string(slot.start / kSecond));
    r.set_event(name);
    civitas::SetMicros(slot.start, r.mutable_occurrence_start());
    civitas::SetMicros(now, r.mutable_create_time());
    r.set_event_title(current.title());
    Status w = txn.Put(seat, r.SerializeAsString());
    if (w.ok()) w = txn.Put(mine, "");
    if (w.ok()) w = txn.Put(count_key, civitas::EncodeU64(taken + 1));
    if (w.ok()) w = QueueReminder(txn, current, slot.start, subject, now);
    if (w.ok() && out) *out = r;
    return w;
  });
  if (result.ok()) pages_.Invalidate();  // seat counts changed
  return result;
}

Status Calendar::RegisterForEvent(civitas::Call& call, const pb::RegisterForEventRequest& request,
                                  pb::Registration* response) {
  return ChangeSeat(call, request.name(),
                    request.has_occurrence_start() ? &request.occurrence_start() : nullptr, true,
                    response);
}

Status Calendar::CancelRegistration(civitas::Call& call,
                                    const pb::CancelRegistrationRequest& request,
                                    google::protobuf::Empty*) {
  return ChangeSeat(call, request.name(),
                    request.has_occurrence_start() ? &request.occurrence_start() : nullptr, false,
                    nullptr);
}

Status Calendar::ListMyRegistrations(civitas::Call& call,
                                     const pb::ListMyRegistrationsRequest& request,
                                     pb::ListMyRegistrationsResponse* response) {
  if (Status s = civitas::CheckPageSize(request.page_size(), kMaxPage); !s.ok()) return s;
  const std::string& token = request.page_token();
  if (!token.empty() && (token.size() != 32 || !civitas::IsLowerHex(token))) {
    return InvalidArgument("page_token is not one this server issued")
        .WithReason("PAGE_TOKEN_INVALID");
  }
  const int size = request.page_size() == 0 ? 20 : request.page_size();
  const std::string subject(call.subject());
  civitas::ScanOptions scan;
  scan.prefix = "m/" + subject + '\0';
  if (!token.empty()) scan.start = scan.prefix + token + '\x01';
  scan.limit = static_cast<uint32_t>(size) + 1;
  std::vector<std::string> tails;
  Status s = city_.store().Scan(scan, [&](std::string_view key, std::string_view) {
    tails.emplace_back(key.substr(scan.prefix.size()));
    return true;
  });
  if (!s.ok()) return s;
  for (size_t i = 0; i < tails.size() && static_cast<int>(i) < size; ++i) {
    const std::string occ = tails[i].substr(0, 16), id = tails[i].substr(16);
    std::string bytes;
    s = city_.store().Get("s/" + id + "/" + occ + "/" + subject, &bytes);
    if (s.code() == CIVITAS_NOT_FOUND) continue;
    if (!s.ok()) return s;
    response->add_registrations()->ParseFromString(bytes);
  }
  if (static_cast<int>(tails.size()) > size) response->set_next_page_token(tails[size - 1]);
  return OkStatus();
}

Status Calendar::ListEventRegistrations(civitas::Call&,
                                        const pb::ListEventRegistrationsRequest& request,
                                        pb::ListEventRegistrationsResponse* response) {
  std::string id;
  if (Status s = civitas::IdFromName("events", request.parent(), &id, "parent"); !s.ok()) return s;
  if (Status s = civitas::CheckPageSize(request.page_size(), 500); !s.ok()) return s;
  // A token is the last key's tail: <occurrence>/<subject>.
  const std::string& token = request.page_token();
  if (!token.empty() && (token.size() < 18 || token.size() > 17 + 1024 || token[16] != '/' ||
                         !civitas::IsLowerHex(std::string_view(token).substr(0, 16)) ||
                         token.find('\0') != std::string::npos)) {
    return InvalidArgument("page_token is not one this server issued");
  }
  if (request.has_occurrence_start() && !civitas::ValidTimestamp(request.occurrence_start())) {
    return InvalidArgument("occurrence_start must lie between the years 1 and 9999");
  }
  pb::Event event;
  if (Status s = Load(id, &event); !s.ok()) return s;
  const uint32_t size = request.page_size() == 0 ? 100 : request.page_size();
  civitas::ScanOptions scan;
  scan.prefix = "s/" + id + "/";
  if (request.has_occurrence_start()) scan.prefix += Hex(Micros(request.occurrence_start())) + "/";
  const std::string base = "s/" + id + "/";
  if (!token.empty()) scan.start = base + token + '\x01';
  if (!scan.start.empty() && scan.start.compare(0, scan.prefix.size(), scan.prefix) != 0) {
    return InvalidArgument("page_token is not one this server issued for this query");
  }
  scan.limit = size + 1;
  std::string last;
  bool corrupt = false;
  Status s = city_.store().Scan(scan, [&](std::string_view key, std::string_view value) {
    if (static_cast<uint32_t>(response->registrations_size()) == size) {
      response->set_next_page_token(last);
      return false;
    }
    pb::Registration* r = response->add_registrations();
    if (!r->ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      corrupt = true;
      return false;
    }
    const std::string_view tail = key.substr(base.size());  // <occurrence>/<subject>
    r->set_registrant(std::string(tail.substr(17)));
    last = std::string(tail);
    return true;
  });
  if (!s.ok()) return s;
  if (corrupt) return civitas::Internal("a stored registration is corrupt");
  return OkStatus();
}

Status Calendar::RegistrationKeysOf(std::string_view subject,
                                    std::vector<std::string>* keys) const {
  if (subject.empty() || subject.find('\0') != std::string_view::npos) {
    return InvalidArgument("subject must be non-empty and contain no NUL");
  }
  return city_.store().ScanAll("m/" + std::string(subject) + '\0',
                               [&](std::string_view key, std::string_view) {
                                 keys->emplace_back(key);
                                 return true;
                               });
}

Status Calendar::ExportPersonalData(std::string_view subject, std::string* json) {
  std::vector<std::string> keys;
  if (Status s = RegistrationKeysOf(subject, &keys); !s.ok()) return s;
  const size_t prefix = subject.size() + 3;  // "m/" <subject> "\0"
  *json = "{\"registrations\":[";
  bool first = true;
  for (const std::string& key : keys) {
    const std::string occ = key.substr(prefix, 16), id = key.substr(prefix + 16);
    std::string bytes;
    Status s = city_.store().Get("s/" + id + "/" + occ + "/" + std::string(subject), &bytes);
    if (s.code() == CIVITAS_NOT_FOUND) continue;
    if (!s.ok()) return s;
    pb::Registration r;
    if (!r.ParseFromString(bytes)) return civitas::Internal("stored registration is corrupt");
    // The reminder push queued for it, if any (its message name at the gateway).
    std::string reminder;
    Status p = city_.store().Get(ReminderKey(id, occ, subject), &reminder);
    if (!p.ok() && p.code() != CIVITAS_NOT_FOUND) return p;
    if (!first) *json += ",";
    first = false;
    *json += "{\"name\":" + civitas::JsonQuote(r.name()) +
             ",\"event\":" + civitas::JsonQuote(r.event()) +
             ",\"event_title\":" + civitas::JsonQuote(r.event_title()) +
             ",\"occurrence_start_unix\":" + std::to_string(r.occurrence_start().seconds()) +
             ",\"create_time_unix\":" + std::to_string(r.create_time().seconds()) +
             (p.ok() ? ",\"reminder_push\":" + civitas::JsonQuote(reminder) : "") + "}";
  }
  *json += "]}";
  return OkStatus();
}

Status Calendar::ErasePersonalData(std::string_view subject) {
  std::vector<std::string> keys;
  if (Status s = RegistrationKeysOf(subject, &keys); !s.ok()) return s;
  const size_t prefix = subject.size() + 3;
  const int64_t now = city_.NowMicros();
  Status s = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    for (const std::string& key : keys) {
      const std::string occ = key.substr(prefix, 16), id = key.substr(prefix + 16);
      const std::string seat = "s/" + id + "/" + occ + "/" + std::string(subject);
      std::string bytes;
      Status held = txn.Get(seat, &bytes, /*for_update=*/true);
      if (!held.ok() && held.code() != CIVITAS_NOT_FOUND) return held;
      Status d = txn.Delete(key);
      if (d.ok() && held.ok()) d = txn.Delete(seat);
      if (d.ok()) d = WithdrawReminder(txn, id, occ, subject);
      const int64_t start = static_cast<int64_t>(civitas::ParseHex(occ));
      if (d.ok() && held.ok() && start > now) {
        // A seat still ahead goes back to the others.
        const std::string count_key = "n/" + id + "/" + occ;
        std::string count_bytes;
        Status c = txn.Get(count_key, &count_bytes, /*for_update=*/true);
        if (!c.ok() && c.code() != CIVITAS_NOT_FOUND) return c;
        const uint64_t taken = c.ok() ? civitas::DecodeU64(count_bytes) : 0;
        d = taken <= 1 ? txn.Delete(count_key) : txn.Put(count_key, civitas::EncodeU64(taken - 1));
      }
      if (!d.ok()) return d;
    }
    return OkStatus();
  });
  if (s.ok() && !keys.empty()) pages_.Invalidate();  // seat counts changed
  return s;
}

}  // namespace events
