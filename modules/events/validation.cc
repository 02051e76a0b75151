// Validation of written events: writable fields, and Calendar::Normalize.
#include "validation.h"

#include <algorithm>
#include <set>
#include <utility>

#include "civitas/json.h"
#include "civitas/text.h"
#include "event_time.h"
#include "events.h"
#include "ical.h"

namespace events {

using civitas::CheckText;
using civitas::InvalidArgument;
using civitas::OkStatus;
using civitas::Status;
using civitas::ToMicros;

const std::set<std::string>& WritablePaths() {
  static const std::set<std::string> paths = {"title",
                                              "description",
                                              "language_code",
                                              "localizations",
                                              "start_time",
                                              "end_time",
                                              "time_zone",
                                              "all_day",
                                              "recurrence_rule",
                                              "excluded_starts",
                                              "location",
                                              "categories",
                                              "organizer",
                                              "free",
                                              "price_info",
                                              "accessibility_notes",
                                              "image",
                                              "url",
                                              "status",
                                              "capacity",
                                              "registration_open"};
  return paths;
}

void CopyField(const std::string& path, const pb::Event& from, pb::Event* to) {
  if (path == "title") to->set_title(from.title());
  if (path == "description") to->set_description(from.description());
  if (path == "language_code") to->set_language_code(from.language_code());
  if (path == "localizations") *to->mutable_localizations() = from.localizations();
  if (path == "start_time") *to->mutable_start_time() = from.start_time();
  if (path == "end_time") *to->mutable_end_time() = from.end_time();
  if (path == "time_zone") to->set_time_zone(from.time_zone());
  if (path == "all_day") to->set_all_day(from.all_day());
  if (path == "recurrence_rule") to->set_recurrence_rule(from.recurrence_rule());
  if (path == "excluded_starts") *to->mutable_excluded_starts() = from.excluded_starts();
  if (path == "location") {
    if (from.has_location()) {
      *to->mutable_location() = from.location();
    } else {
      to->clear_location();
    }
  }
  if (path == "categories") *to->mutable_categories() = from.categories();
  if (path == "organizer") to->set_organizer(from.organizer());
  if (path == "free") to->set_free(from.free());
  if (path == "price_info") to->set_price_info(from.price_info());
  if (path == "accessibility_notes") to->set_accessibility_notes(from.accessibility_notes());
  if (path == "image") {
    if (from.has_image()) {
      *to->mutable_image() = from.image();
    } else {
      to->clear_image();
    }
  }
  if (path == "url") to->set_url(from.url());
  if (path == "status") to->set_status(from.status());
  if (path == "capacity") to->set_capacity(from.capacity());
  if (path == "registration_open") to->set_registration_open(from.registration_open());
}

Status Calendar::Normalize(pb::Event* e) const {
  Status s;
  if (e->language_code().empty()) e->set_language_code(config_.default_language);
  if (e->time_zone().empty()) e->set_time_zone(config_.time_zone);
  if (e->status() == pb::Event::STATUS_UNSPECIFIED) e->set_status(pb::Event::SCHEDULED);
  e->set_title(civitas::StripHtml(e->title()));
  e->set_description(civitas::StripHtml(e->description()));
  if (s = CheckText("event.title", e->title(), 1, 200); !s.ok()) return s;
  if (s = CheckText("event.description", e->description(), 0, 20000); !s.ok()) return s;
  if (s = CheckText("event.organizer", e->organizer(), 0, 200); !s.ok()) return s;
  if (s = CheckText("event.price_info", e->price_info(), 0, 200); !s.ok()) return s;
  if (s = CheckText("event.accessibility_notes", e->accessibility_notes(), 0, 1000); !s.ok())
    return s;
  if (!civitas::IsLanguageTag(e->language_code())) {
    return InvalidArgument("event.language_code '" + e->language_code() +
                           "' is not a language tag like 'de' or 'en-GB'");
  }
  std::set<std::string> languages = {civitas::PrimaryLanguage(e->language_code())};
  if (e->localizations_size() > 20)
    return InvalidArgument("event.localizations has at most 20 entries");
  for (int i = 0; i < e->localizations_size(); ++i) {
    pb::Localization* l = e->mutable_localizations(i);
    const std::string where = "event.localizations[" + std::to_string(i) + "]";
    if (!civitas::IsLanguageTag(l->language_code())) {
      return InvalidArgument(where + ".language_code '" + l->language_code() +
                             "' is not a language tag like 'de' or 'en-GB'");
    }
    if (!languages.insert(civitas::PrimaryLanguage(l->language_code())).second) {
      return InvalidArgument(where + ".language_code '" + l->language_code() + "' is used twice");
    }
    l->set_title(civitas::StripHtml(l->title()));
    l->set_description(civitas::StripHtml(l->description()));
    if (s = CheckText(where + ".title", l->title(), 1, 200); !s.ok()) return s;
    if (s = CheckText(where + ".description", l->description(), 0, 20000); !s.ok()) return s;
  }
  absl::TimeZone zone;
  if (!absl::LoadTimeZone(e->time_zone(), &zone)) {
    return InvalidArgument("event.time_zone '" + e->time_zone() +
                           "' is not an IANA time zone like 'Europe/Berlin'");
  }
  if (!e->has_start_time()) return InvalidArgument("event.start_time is required");
  if (!e->has_end_time()) return InvalidArgument("event.end_time is required");
  if (!civitas::ValidTimestamp(e->start_time()) || !civitas::ValidTimestamp(e->end_time())) {
    return InvalidArgument("event times must lie between the years 1 and 9999");
  }
  if (Micros(e->end_time()) <= Micros(e->start_time())) {
    return InvalidArgument("event.end_time must be after event.start_time");
  }
  if (Micros(e->end_time()) - Micros(e->start_time()) > 400 * kDay) {
    return InvalidArgument("an event lasts at most 400 days; use a recurrence for series");
  }
  if (e->all_day()) {
    for (const auto* t : {&e->start_time(), &e->end_time()}) {
      const absl::CivilSecond local = absl::ToCivilSecond(absl::FromUnixMicros(Micros(*t)), zone);
      if (local.hour() || local.minute() || local.second()) {
        return InvalidArgument(
            "an all_day event starts and ends at local midnight in its time_zone (end exclusive)");
      }
    }
  }
  if (Recurring(*e)) {
    RRule rule;
    std::string error;
    if (!RRule::Parse(e->recurrence_rule(), zone, &rule, &error)) {
      return InvalidArgument("event." + error);
    }
    e->set_recurrence_rule(rule.ToString());
    if (rule.freq == RRule::Freq::kDaily &&
        Micros(e->end_time()) - Micros(e->start_time()) > kDay * rule.interval) {
      return InvalidArgument("occurrences of a recurring event must not overlap");
    }
  }
  if (e->excluded_starts_size() > 1000)
    return InvalidArgument("event.excluded_starts has at most 1000 entries");
  for (const auto& x : e->excluded_starts()) {
    if (!civitas::ValidTimestamp(x)) {
      return InvalidArgument("event.excluded_starts must lie between the years 1 and 9999");
    }
  }
  if (e->has_location()) {
    const pb::Location& l = e->location();
    if (s = CheckText("event.location.name", l.name(), 0, 200); !s.ok()) return s;
    if (s = CheckText("event.location.address", l.address(), 0, 300); !s.ok()) return s;
    if (l.has_point()) {
      if (s = civitas::CheckCoordinates("event.location.point", l.point().latitude(),
                                        l.point().longitude());
          !s.ok()) {
        return s;
      }
    }
  }
  if (e->categories_size() > 5) return InvalidArgument("event.categories has at most 5 entries");
  std::set<std::string> seen;
  for (const std::string& c : e->categories()) {
    if (s = config_.categories.Check("event.categories", c); !s.ok()) return s;
    if (!seen.insert(c).second) return InvalidArgument("event.categories lists '" + c + "' twice");
  }
  if (e->has_image()) {
    if (e->image().url().empty())
      return InvalidArgument("event.image.url is required with an image");
    if (s = civitas::CheckHttpUrl("event.image.url", e->image().url()); !s.ok()) return s;
    if (s = CheckText("event.image.alt_text", e->image().alt_text(), 1, 300); !s.ok()) return s;
  }
  if (s = civitas::CheckHttpUrl("event.url", e->url()); !s.ok()) return s;
  if (!pb::Event::Status_IsValid(e->status())) {
    return InvalidArgument("event.status has an unknown value " + std::to_string(e->status()));
  }
  if (e->capacity() < 0 || e->capacity() > 100000) {
    return InvalidArgument("event.capacity must be between 0 and 100000, got " +
                           std::to_string(e->capacity()));
  }
  if (e->registration_open() && e->capacity() == 0) {
    return InvalidArgument("event.registration_open needs a capacity above 0");
  }
  return OkStatus();
}

}  // namespace events
