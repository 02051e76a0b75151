// iCalendar export and import of the city's calendar (the format itself is in ical.cc).
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

Status Calendar::ExportCalendar(civitas::Call&, const pb::ExportCalendarRequest& request,
                                google::api::HttpBody* response) {
  Status s;
  if (s = civitas::CheckLanguageTag("language_code", request.language_code()); !s.ok()) return s;
  if (!request.category().empty()) {
    if (s = config_.categories.Check("category", request.category()); !s.ok()) return s;
  }
  if ((request.has_start_time() && !civitas::ValidTimestamp(request.start_time())) ||
      (request.has_end_time() && !civitas::ValidTimestamp(request.end_time()))) {
    return InvalidArgument("start_time and end_time must lie between the years 1 and 9999");
  }
  const int64_t from = request.has_start_time() ? Micros(request.start_time()) : city_.NowMicros();
  const int64_t to = request.has_end_time() ? Micros(request.end_time()) : from + 366 * kDay;
  if (to <= from || to - from > 800 * kDay) {
    return InvalidArgument("end_time must be after start_time and at most 800 days later");
  }
  std::vector<std::string> ids;
  if (s = Candidates(from, to, &ids); !s.ok()) return s;
  IcalCalendar cal;
  cal.name = config_.calendar_name;
  cal.prodid = "-//civitas//events " + std::string(city_.id()) + "//DE";
  const std::string host = std::string(city_.id()) + ".civitas";
  std::vector<std::pair<int64_t, IcalEvent>> ordered;
  for (const std::string& id : ids) {
    pb::Event stored;
    Status l = Load(id, &stored);
    if (l.code() == CIVITAS_NOT_FOUND) continue;
    if (!l.ok()) return l;
    if (!request.category().empty() &&
        std::find(stored.categories().begin(), stored.categories().end(), request.category()) ==
            stored.categories().end()) {
      continue;
    }
    if (Occurrences(stored, config_.zone, from, to, 1).empty()) continue;
    const pb::Event e = View(stored, request.language_code());
    IcalEvent v;
    v.uid = !stored.external_id().empty() ? stored.external_id() : id + "@" + host;
    v.summary = e.title();
    v.description = e.description();
    if (!e.price_info().empty() || e.free()) {
      v.description += (v.description.empty() ? "" : "\n\n") +
                       (e.free() ? std::string("Eintritt frei") : e.price_info());
    }
    v.location = e.location().name();
    if (!e.location().address().empty()) {
      v.location += (v.location.empty() ? "" : ", ") + e.location().address();
    }
    if (e.location().has_point()) {
      v.has_geo = true;
      v.latitude = e.location().point().latitude();
      v.longitude = e.location().point().longitude();
    }
    v.url = e.url();
    v.status = e.status() == pb::Event::CANCELLED   ? "CANCELLED"
               : e.status() == pb::Event::POSTPONED ? "TENTATIVE"
                                                    : "CONFIRMED";
    for (const std::string& c : e.categories()) {
      v.categories.push_back(config_.categories.DisplayName(c, request.language_code()));
    }
    v.start = absl::FromUnixMicros(Micros(e.start_time()));
    v.end = absl::FromUnixMicros(Micros(e.end_time()));
    v.all_day = e.all_day();
    v.tzid = e.time_zone();
    v.rrule = e.recurrence_rule();
    for (const auto& x : e.excluded_starts()) v.exdates.push_back(absl::FromUnixMicros(Micros(x)));
    v.stamp = absl::FromUnixMicros(Micros(e.update_time()));
    ordered.emplace_back(Micros(e.start_time()), std::move(v));
  }
  std::sort(ordered.begin(), ordered.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [start, v] : ordered) cal.events.push_back(std::move(v));
  response->set_content_type("text/calendar; charset=utf-8");
  response->set_data(RenderCalendar(cal));
  return OkStatus();
}

Status Calendar::ImportCalendar(civitas::Call&, const pb::ImportCalendarRequest& request,
                                pb::ImportCalendarResponse* response) {
  if (request.document().empty()) return InvalidArgument("document is empty");
  if (!request.category().empty()) {
    if (Status s = config_.categories.Check("category", request.category()); !s.ok()) return s;
  }
  if (!civitas::Utf8Length(request.document())) {
    return InvalidArgument("document is not valid UTF-8 (RFC 5545 requires UTF-8)");
  }
  IcalCalendar cal;
  std::string error;
  if (!ParseCalendar(request.document(), config_.zone, &cal, &error)) {
    return InvalidArgument("document: " + error);
  }
  // Every VEVENT becomes an event and is checked before anything is written.
  std::vector<pb::Event> incoming;
  for (const IcalEvent& v : cal.events) {
    const std::string where = "VEVENT " + v.uid;
    if (v.uid.size() > 500) return InvalidArgument(where.substr(0, 60) + "…: UID longer than 500");
    pb::Event e;
    e.set_external_id(v.uid);
    e.set_title(civitas::TruncateUtf8(v.summary.empty() ? "(ohne Titel)" : v.summary, 199));
    e.set_description(civitas::TruncateUtf8(v.description, 19999));
    civitas::SetMicros(absl::ToUnixMicros(v.start), e.mutable_start_time());
    civitas::SetMicros(absl::ToUnixMicros(v.end), e.mutable_end_time());
    e.set_time_zone(v.tzid.empty() || v.tzid == "UTC" ? config_.time_zone : v.tzid);
    e.set_all_day(v.all_day);
    e.set_recurrence_rule(v.rrule);
    for (absl::Time x : v.exdates) {
      civitas::SetMicros(absl::ToUnixMicros(x), e.add_excluded_starts());
    }
    if (!v.location.empty()) e.mutable_location()->set_name(civitas::TruncateUtf8(v.location, 199));
    if (v.has_geo) {
      e.mutable_location()->mutable_point()->set_latitude(v.latitude);
      e.mutable_location()->mutable_point()->set_longitude(v.longitude);
    }
    if (civitas::CheckHttpUrl("url", v.url).ok()) e.set_url(v.url);
    e.set_status(v.status == "CANCELLED"   ? pb::Event::CANCELLED
                 : v.status == "TENTATIVE" ? pb::Event::POSTPONED
                                           : pb::Event::SCHEDULED);
    if (!request.category().empty()) e.add_categories(request.category());
    if (Status s = Normalize(&e); !s.ok()) return InvalidArgument(where + ": " + s.message());
    incoming.push_back(std::move(e));
  }
  const int64_t now = city_.NowMicros();
  std::vector<std::pair<pb::EventChange::Type, pb::Event>> written;
  Status s = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    written.clear();
    response->Clear();
    std::set<std::string> seen;
    for (pb::Event& e : incoming) {
      if (!seen.insert(e.external_id()).second) continue;
      const std::string xkey = "x/" + e.external_id();
      std::string id;
      Status found = txn.Get(xkey, &id, true);
      if (!found.ok() && found.code() != CIVITAS_NOT_FOUND) return found;
      if (found.ok()) {
        pb::Event before;
        if (Status l = Load(id, &before, &txn, true); !l.ok()) return l;
        pb::Event after = before;
        for (const char* p :
             {"title", "description", "start_time", "end_time", "time_zone", "all_day",
              "recurrence_rule", "excluded_starts", "location", "url", "status"}) {
          CopyField(p, e, &after);
        }
        pb::Event a = after, b = before;
        if (a.SerializeAsString() == b.SerializeAsString()) {
          response->set_unchanged(response->unchanged() + 1);
          continue;
        }
        civitas::SetMicros(now, after.mutable_update_time());
        after.set_etag(civitas::NextEtag(before.etag(), now));
        if (Status w = Save(txn, &before, &after, now); !w.ok()) return w;
        response->set_updated(response->updated() + 1);
        response->add_names(after.name());
        written.emplace_back(pb::EventChange::CHANGED, after);
        continue;
      }
      id = civitas::NewResourceId();
      e.set_name("events/" + id);
      civitas::SetMicros(now, e.mutable_create_time());
      civitas::SetMicros(now, e.mutable_update_time());
      e.set_etag(civitas::NextEtag("", now));
      if (Status w = txn.Put(xkey, id); !w.ok()) return w;
      if (Status w = Save(txn, nullptr, &e, now); !w.ok()) return w;
      response->set_created(response->created() + 1);
      response->add_names(e.name());
      written.emplace_back(pb::EventChange::CREATED, e);
    }
    return OkStatus();
  });
  if (!s.ok()) return s;
  for (const auto& [type, e] : written) Announce(type, e);
  return OkStatus();
}

}  // namespace events
