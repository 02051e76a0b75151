// iCalendar (RFC 5545): writing the city's events as a VCALENDAR and reading VEVENTs in.
#ifndef CIVITAS_MODULES_EVENTS_ICAL_H_
#define CIVITAS_MODULES_EVENTS_ICAL_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"

namespace events {

// One VEVENT as the module reads or writes it. Times are absolute; `tzid` names the zone of the
// local times written out (and recurrences are reckoned in it).
struct IcalEvent {
  std::string uid;
  std::string summary;
  std::string description;
  std::string location;
  std::string url;
  std::string status;  // CONFIRMED, CANCELLED, TENTATIVE
  std::vector<std::string> categories;
  bool has_geo = false;
  double latitude = 0, longitude = 0;
  absl::Time start, end;
  bool all_day = false;
  std::string tzid;  // import: the zone found (TZID, "UTC" for Z, "" for floating times)
  std::string rrule;
  std::vector<absl::Time> exdates;
  absl::Time stamp;  // DTSTAMP / LAST-MODIFIED
};

struct IcalCalendar {
  std::string name;  // X-WR-CALNAME
  std::string prodid;
  std::vector<IcalEvent> events;
};

// Writes a VCALENDAR with a VTIMEZONE for every zone used; lines folded at 75 octets, CRLF.
std::string RenderCalendar(const IcalCalendar& calendar);

// Reads VEVENTs (VTIMEZONE components are skipped: zones are resolved by their IANA TZID, else
// `fallback_zone`). False with *error naming the line for malformed input.
bool ParseCalendar(std::string_view text, const absl::TimeZone& fallback_zone,
                   IcalCalendar* calendar, std::string* error);

}  // namespace events

#endif  // CIVITAS_MODULES_EVENTS_ICAL_H_
