#include "ical.h"

#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "rrule.h"

namespace events {
namespace {

std::string EscapeText(std::string_view in) {
  std::string out;
  for (char c : in) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case ';':
        out += "\\;";
        break;
      case ',':
        out += "\\,";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string UnescapeText(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\\' && i + 1 < in.size()) {
      const char n = in[++i];
      out.push_back(n == 'n' || n == 'N' ? '\n' : n);
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

// Folds a content line at 75 octets without splitting a UTF-8 sequence.
void AddLine(std::string* out, const std::string& line) {
  size_t start = 0;
  bool first = true;
  while (start < line.size()) {
    size_t len = std::min<size_t>(first ? 75 : 74, line.size() - start);
    while (start + len < line.size() && len > 0 &&
           (static_cast<unsigned char>(line[start + len]) & 0xC0) == 0x80) {
      --len;
    }
    if (!first) *out += ' ';
    out->append(line, start, len);
    *out += "\r\n";
    start += len;
    first = false;
  }
  if (line.empty()) *out += "\r\n";
}

std::string Local(absl::Time t, const absl::TimeZone& zone) {
  return absl::FormatTime("%Y%m%dT%H%M%S", t, zone);
}

std::string WeekdayCode(absl::Weekday d) {
  static const char* kCodes[] = {"MO", "TU", "WE", "TH", "FR", "SA", "SU"};
  return kCodes[static_cast<int>(d)];
}

std::string Offset(int seconds) {
  const char sign = seconds < 0 ? '-' : '+';
  if (seconds < 0) seconds = -seconds;
  char buf[32];
  snprintf(buf, sizeof(buf), "%c%02d%02d", sign, (seconds / 3600) % 100, (seconds / 60) % 60);
  return buf;
}

// A VTIMEZONE for `zone` from its transitions around `around`: yearly rules in the
// "nth/last weekday of the month" form every European and North American zone uses.
void AddTimezone(std::string* out, const std::string& tzid, absl::Time around) {
  absl::TimeZone zone;
  if (!absl::LoadTimeZone(tzid, &zone)) return;
  AddLine(out, "BEGIN:VTIMEZONE");
  AddLine(out, "TZID:" + tzid);
  absl::TimeZone::CivilTransition transition;
  const absl::Time year_start =
      absl::FromCivil(absl::CivilYear(absl::ToCivilYear(around, zone)), zone);
  absl::Time cursor = year_start;
  int added = 0;
  for (int i = 0; i < 2 && zone.NextTransition(cursor, &transition); ++i) {
    // The offset holds from the cursor up to the transition, whose instant follows from it.
    const absl::TimeZone::CivilInfo before = zone.At(cursor);
    const absl::Time at =
        absl::FromCivil(transition.from, absl::UTCTimeZone()) - absl::Seconds(before.offset);
    const absl::TimeZone::CivilInfo after = zone.At(at);
    const absl::CivilDay day(transition.from);
    const int days_in_month = static_cast<int>(absl::CivilDay(absl::CivilMonth(day) + 1) -
                                               absl::CivilDay(absl::CivilMonth(day)));
    const int ordinal = day.day() + 7 > days_in_month ? -1 : (day.day() - 1) / 7 + 1;
    AddLine(out, after.is_dst ? "BEGIN:DAYLIGHT" : "BEGIN:STANDARD");
    AddLine(out,
            "DTSTART:" + absl::FormatTime("%Y%m%dT%H%M%S",
                                          absl::FromCivil(transition.from, absl::UTCTimeZone()),
                                          absl::UTCTimeZone()));
    AddLine(out, absl::StrCat("RRULE:FREQ=YEARLY;BYMONTH=", day.month(), ";BYDAY=", ordinal,
                              WeekdayCode(absl::GetWeekday(day))));
    AddLine(out, "TZOFFSETFROM:" + Offset(before.offset));
    AddLine(out, "TZOFFSETTO:" + Offset(after.offset));
    AddLine(out, "TZNAME:" + std::string(after.zone_abbr));
    AddLine(out, after.is_dst ? "END:DAYLIGHT" : "END:STANDARD");
    cursor = at;
    ++added;
  }
  if (added == 0) {  // a zone without daylight saving time
    const absl::TimeZone::CivilInfo info = zone.At(around);
    AddLine(out, "BEGIN:STANDARD");
    AddLine(out, "DTSTART:19700101T000000");
    AddLine(out, "TZOFFSETFROM:" + Offset(info.offset));
    AddLine(out, "TZOFFSETTO:" + Offset(info.offset));
    AddLine(out, "TZNAME:" + std::string(info.zone_abbr));
    AddLine(out, "END:STANDARD");
  }
  AddLine(out, "END:VTIMEZONE");
}

struct Property {
  std::string name;
  std::map<std::string, std::string> params;
  std::string value;
};

bool ParseProperty(const std::string& line, Property* p) {
  // NAME;PARAM=V;PARAM="V":VALUE — the first ':' outside quotes ends the parameters.
  bool quoted = false;
  size_t colon = std::string::npos;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '"') quoted = !quoted;
    if (line[i] == ':' && !quoted) {
      colon = i;
      break;
    }
  }
  if (colon == std::string::npos) return false;
  std::vector<std::string> head = absl::StrSplit(line.substr(0, colon), ';');
  p->name = absl::AsciiStrToUpper(head[0]);
  for (size_t i = 1; i < head.size(); ++i) {
    const size_t eq = head[i].find('=');
    if (eq == std::string::npos) continue;
    std::string v = head[i].substr(eq + 1);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    p->params[absl::AsciiStrToUpper(head[i].substr(0, eq))] = v;
  }
  p->value = line.substr(colon + 1);
  return !p->name.empty();
}

// DATE-TIME or DATE with its TZID; sets *all_day for DATE values.
bool ParseTimeValue(const Property& p, const absl::TimeZone& fallback, absl::Time* t, bool* all_day,
                    std::string* tzid) {
  std::string value = p.value;
  absl::TimeZone zone = fallback;
  std::string zone_name;
  if (auto it = p.params.find("TZID"); it != p.params.end()) {
    absl::TimeZone z;
    if (absl::LoadTimeZone(it->second, &z)) {
      zone = z;
      zone_name = it->second;
    }
  }
  bool date_only = false, utc = false;
  if (!ParseBasicTime(value, zone, t, &date_only, &utc)) return false;
  if (p.params.count("VALUE") && p.params.at("VALUE") == "DATE" && !date_only) return false;
  if (all_day) *all_day = date_only;
  if (tzid) *tzid = utc ? "UTC" : zone_name;
  return true;
}

// "PT1H30M", "P1D", "P2W" -> duration.
bool ParseIcalDuration(std::string_view v, absl::Duration* d) {
  bool negative = !v.empty() && v[0] == '-';
  if (!v.empty() && (v[0] == '-' || v[0] == '+')) v.remove_prefix(1);
  if (v.empty() || v[0] != 'P') return false;
  v.remove_prefix(1);
  absl::Duration total;
  bool in_time = false;
  int64_t n = 0;
  bool have = false;
  for (char c : v) {
    if (c >= '0' && c <= '9') {
      n = n * 10 + (c - '0');
      have = true;
      if (n > 100000000) return false;
      continue;
    }
    if (c == 'T') {
      in_time = true;
      continue;
    }
    if (!have) return false;
    if (c == 'W' && !in_time)
      total += absl::Hours(24 * 7 * n);
    else if (c == 'D' && !in_time)
      total += absl::Hours(24 * n);
    else if (c == 'H' && in_time)
      total += absl::Hours(n);
    else if (c == 'M' && in_time)
      total += absl::Minutes(n);
    else if (c == 'S' && in_time)
      total += absl::Seconds(n);
    else
      return false;
    n = 0;
    have = false;
  }
  if (have) return false;
  *d = negative ? -total : total;
  return true;
}

}  // namespace

std::string RenderCalendar(const IcalCalendar& calendar) {
  std::string out;
  AddLine(&out, "BEGIN:VCALENDAR");
  AddLine(&out, "VERSION:2.0");
  AddLine(&out, "PRODID:" + (calendar.prodid.empty() ? "-//civitas//events//DE" : calendar.prodid));
  AddLine(&out, "CALSCALE:GREGORIAN");
  AddLine(&out, "METHOD:PUBLISH");
  if (!calendar.name.empty()) AddLine(&out, "X-WR-CALNAME:" + EscapeText(calendar.name));
  std::map<std::string, absl::Time> zones;
  for (const IcalEvent& e : calendar.events) {
    if (!e.tzid.empty() && e.tzid != "UTC" && !e.all_day) zones.emplace(e.tzid, e.start);
  }
  for (const auto& [tzid, around] : zones) AddTimezone(&out, tzid, around);
  for (const IcalEvent& e : calendar.events) {
    absl::TimeZone zone = absl::UTCTimeZone();
    const bool zoned = !e.tzid.empty() && e.tzid != "UTC" && absl::LoadTimeZone(e.tzid, &zone);
    auto when = [&](const char* name, absl::Time t) {
      if (e.all_day) return absl::StrCat(name, ";VALUE=DATE:", absl::FormatTime("%Y%m%d", t, zone));
      if (zoned) return absl::StrCat(name, ";TZID=", e.tzid, ":", Local(t, zone));
      return absl::StrCat(name, ":", absl::FormatTime("%Y%m%dT%H%M%SZ", t, absl::UTCTimeZone()));
    };
    AddLine(&out, "BEGIN:VEVENT");
    AddLine(&out, "UID:" + e.uid);
    AddLine(&out, "DTSTAMP:" + absl::FormatTime("%Y%m%dT%H%M%SZ", e.stamp, absl::UTCTimeZone()));
    AddLine(&out, when("DTSTART", e.start));
    AddLine(&out, when("DTEND", e.end));
    if (!e.rrule.empty()) AddLine(&out, "RRULE:" + e.rrule);
    for (absl::Time x : e.exdates) AddLine(&out, when("EXDATE", x));
    AddLine(&out, "SUMMARY:" + EscapeText(e.summary));
    if (!e.description.empty()) AddLine(&out, "DESCRIPTION:" + EscapeText(e.description));
    if (!e.location.empty()) AddLine(&out, "LOCATION:" + EscapeText(e.location));
    if (e.has_geo) {
      char buf[64];
      snprintf(buf, sizeof(buf), "GEO:%.6f;%.6f", e.latitude, e.longitude);
      AddLine(&out, buf);
    }
    if (!e.categories.empty()) {
      std::vector<std::string> escaped;
      for (const auto& c : e.categories) escaped.push_back(EscapeText(c));
      AddLine(&out, "CATEGORIES:" + absl::StrJoin(escaped, ","));
    }
    if (!e.url.empty()) AddLine(&out, "URL:" + e.url);
    if (!e.status.empty()) AddLine(&out, "STATUS:" + e.status);
    AddLine(&out, "END:VEVENT");
  }
  AddLine(&out, "END:VCALENDAR");
  return out;
}

bool ParseCalendar(std::string_view text, const absl::TimeZone& fallback_zone,
                   IcalCalendar* calendar, std::string* error) {
  // Unfold: a line starting with a space or tab continues the previous one.
  std::vector<std::pair<int, std::string>> lines;
  int number = 0;
  for (absl::string_view raw : absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    ++number;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    if (!raw.empty() && (raw[0] == ' ' || raw[0] == '\t') && !lines.empty()) {
      lines.back().second.append(raw.data() + 1, raw.size() - 1);
    } else if (!raw.empty()) {
      lines.emplace_back(number, std::string(raw));
    }
  }
  if (lines.empty() || absl::AsciiStrToUpper(lines[0].second) != "BEGIN:VCALENDAR") {
    *error = "not an iCalendar document: it must start with BEGIN:VCALENDAR";
    return false;
  }
  std::vector<std::string> stack;
  IcalEvent current;
  bool have_end = false;
  absl::Duration duration;
  bool have_duration = false;
  for (const auto& [line_no, line] : lines) {
    Property p;
    auto fail = [&, line_no = line_no](const std::string& why) {
      *error = absl::StrCat("line ", line_no, ": ", why);
      return false;
    };
    if (!ParseProperty(line, &p)) return fail("not NAME:VALUE");
    if (p.name == "BEGIN") {
      stack.push_back(absl::AsciiStrToUpper(p.value));
      if (stack.back() == "VEVENT") {
        current = IcalEvent();
        have_end = have_duration = false;
      }
      if (stack.size() > 8) return fail("components nested too deeply");
      continue;
    }
    if (p.name == "END") {
      if (stack.empty() || stack.back() != absl::AsciiStrToUpper(p.value)) {
        return fail("END:" + p.value + " does not close " +
                    (stack.empty() ? "anything" : stack.back()));
      }
      if (stack.back() == "VEVENT") {
        if (current.uid.empty()) return fail("a VEVENT without UID");
        if (current.start == absl::Time()) return fail("VEVENT " + current.uid + " has no DTSTART");
        if (!have_end) {
          current.end = have_duration     ? current.start + duration
                        : current.all_day ? current.start + absl::Hours(24)
                                          : current.start;
        }
        if (calendar->events.size() >= 2000) return fail("more than 2000 events; split the file");
        calendar->events.push_back(current);
      }
      stack.pop_back();
      continue;
    }
    if (stack.size() == 1 && stack[0] == "VCALENDAR") {
      if (p.name == "X-WR-CALNAME") calendar->name = UnescapeText(p.value);
      if (p.name == "PRODID") calendar->prodid = p.value;
      continue;
    }
    if (stack.empty() || stack.back() != "VEVENT") continue;
    if (p.name == "UID") {
      current.uid = p.value;
    } else if (p.name == "SUMMARY") {
      current.summary = UnescapeText(p.value);
    } else if (p.name == "DESCRIPTION") {
      current.description = UnescapeText(p.value);
    } else if (p.name == "LOCATION") {
      current.location = UnescapeText(p.value);
    } else if (p.name == "URL") {
      current.url = p.value;
    } else if (p.name == "STATUS") {
      current.status = absl::AsciiStrToUpper(p.value);
    } else if (p.name == "CATEGORIES") {
      for (absl::string_view c : absl::StrSplit(p.value, ',', absl::SkipEmpty())) {
        current.categories.push_back(UnescapeText(std::string_view(c.data(), c.size())));
      }
    } else if (p.name == "GEO") {
      std::vector<std::string> parts = absl::StrSplit(p.value, ';');
      if (parts.size() != 2 || !absl::SimpleAtod(parts[0], &current.latitude) ||
          !absl::SimpleAtod(parts[1], &current.longitude)) {
        return fail("GEO must be LAT;LON, got '" + p.value + "'");
      }
      current.has_geo = true;
    } else if (p.name == "DTSTART") {
      if (!ParseTimeValue(p, fallback_zone, &current.start, &current.all_day, &current.tzid)) {
        return fail("DTSTART '" + p.value + "' is not a DATE or DATE-TIME");
      }
    } else if (p.name == "DTEND") {
      if (!ParseTimeValue(p, fallback_zone, &current.end, nullptr, nullptr)) {
        return fail("DTEND '" + p.value + "' is not a DATE or DATE-TIME");
      }
      have_end = true;
    } else if (p.name == "DURATION") {
      if (!ParseIcalDuration(p.value, &duration))
        return fail("DURATION '" + p.value + "' is malformed");
      have_duration = true;
    } else if (p.name == "RRULE") {
      current.rrule = p.value;
    } else if (p.name == "EXDATE") {
      for (absl::string_view v : absl::StrSplit(p.value, ',', absl::SkipEmpty())) {
        Property one = p;
        one.value = std::string(v);
        absl::Time t;
        if (!ParseTimeValue(one, fallback_zone, &t, nullptr, nullptr)) {
          return fail("EXDATE '" + one.value + "' is not a DATE or DATE-TIME");
        }
        current.exdates.push_back(t);
      }
    } else if (p.name == "LAST-MODIFIED" || p.name == "DTSTAMP") {
      absl::Time t;
      if (ParseTimeValue(p, fallback_zone, &t, nullptr, nullptr) && t > current.stamp)
        current.stamp = t;
    }
  }
  if (!stack.empty()) {
    *error = "the document ends inside " + stack.back();
    return false;
  }
  return true;
}

}  // namespace events
