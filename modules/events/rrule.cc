#include "rrule.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace events {
namespace {

constexpr std::pair<const char*, absl::Weekday> kDays[] = {
    {"MO", absl::Weekday::monday},    {"TU", absl::Weekday::tuesday},
    {"WE", absl::Weekday::wednesday}, {"TH", absl::Weekday::thursday},
    {"FR", absl::Weekday::friday},    {"SA", absl::Weekday::saturday},
    {"SU", absl::Weekday::sunday}};

int DayIndex(absl::Weekday d) {  // Monday = 0
  switch (d) {
    case absl::Weekday::monday:
      return 0;
    case absl::Weekday::tuesday:
      return 1;
    case absl::Weekday::wednesday:
      return 2;
    case absl::Weekday::thursday:
      return 3;
    case absl::Weekday::friday:
      return 4;
    case absl::Weekday::saturday:
      return 5;
    case absl::Weekday::sunday:
      return 6;
  }
  return 0;
}

int DaysInMonth(absl::civil_year_t y, int m) {
  const absl::CivilMonth month(y, m);
  return static_cast<int>(absl::CivilDay(month + 1) - absl::CivilDay(month));
}

// The days of one month selected by BYMONTHDAY / BYDAY, or `default_day` if neither is given.
std::vector<absl::CivilDay> MonthDays(const RRule& r, absl::CivilMonth month, int default_day) {
  std::vector<absl::CivilDay> days;
  const int n = DaysInMonth(month.year(), month.month());
  if (!r.by_month_day.empty()) {
    for (int d : r.by_month_day) {
      const int day = d > 0 ? d : n + d + 1;
      if (day >= 1 && day <= n) days.emplace_back(month.year(), month.month(), day);
    }
  } else if (!r.by_day.empty()) {
    for (const RRule::Day& bd : r.by_day) {
      std::vector<absl::CivilDay> matching;
      for (int day = 1; day <= n; ++day) {
        absl::CivilDay c(month.year(), month.month(), day);
        if (absl::GetWeekday(c) == bd.weekday) matching.push_back(c);
      }
      if (bd.ordinal == 0) {
        days.insert(days.end(), matching.begin(), matching.end());
      } else {
        const int index =
            bd.ordinal > 0 ? bd.ordinal - 1 : static_cast<int>(matching.size()) + bd.ordinal;
        if (index >= 0 && index < static_cast<int>(matching.size()))
          days.push_back(matching[index]);
      }
    }
  } else if (default_day <= n) {
    days.emplace_back(month.year(), month.month(), default_day);
  }
  std::sort(days.begin(), days.end());
  days.erase(std::unique(days.begin(), days.end()), days.end());
  return days;
}

bool DayMatchesFilters(const RRule& r, absl::CivilDay d) {
  if (!r.by_day.empty()) {
    bool ok = false;
    for (const RRule::Day& bd : r.by_day) ok = ok || absl::GetWeekday(d) == bd.weekday;
    if (!ok) return false;
  }
  if (!r.by_month_day.empty()) {
    const int n = DaysInMonth(d.year(), d.month());
    bool ok = false;
    for (int md : r.by_month_day) ok = ok || d.day() == (md > 0 ? md : n + md + 1);
    if (!ok) return false;
  }
  return true;
}

bool Digits(std::string_view s, int* out) {
  *out = 0;
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    *out = *out * 10 + (c - '0');
  }
  return true;
}

}  // namespace

bool ParseBasicTime(std::string_view text, const absl::TimeZone& zone, absl::Time* out,
                    bool* date_only, bool* utc) {
  int y, mo, d, h = 0, mi = 0, se = 0;
  const bool is_date = text.size() == 8;
  const bool is_utc = text.size() == 16 && text.back() == 'Z';
  if (!is_date && text.size() != 15 && !is_utc) return false;
  if (!Digits(text.substr(0, 4), &y) || !Digits(text.substr(4, 2), &mo) ||
      !Digits(text.substr(6, 2), &d)) {
    return false;
  }
  if (!is_date && (text[8] != 'T' || !Digits(text.substr(9, 2), &h) ||
                   !Digits(text.substr(11, 2), &mi) || !Digits(text.substr(13, 2), &se))) {
    return false;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return false;
  const absl::CivilSecond civil(y, mo, d, h, mi, se);
  if (civil.day() != d) return false;  // 31 February
  *out = absl::FromCivil(civil, is_utc ? absl::UTCTimeZone() : zone);
  if (date_only) *date_only = is_date;
  if (utc) *utc = is_utc;
  return true;
}

bool RRule::Parse(const std::string& text, const absl::TimeZone& zone, RRule* out,
                  std::string* error) {
  RRule r;
  bool have_freq = false;
  auto fail = [&](const std::string& why) {
    *error = "recurrence_rule '" + text + "': " + why;
    return false;
  };
  if (text.empty()) return fail("is empty");
  for (absl::string_view part : absl::StrSplit(text, ';')) {
    const size_t eq = part.find('=');
    if (eq == absl::string_view::npos) return fail(absl::StrCat("'", part, "' is not NAME=VALUE"));
    const std::string name(part.substr(0, eq));
    const std::string value(part.substr(eq + 1));
    if (name == "FREQ") {
      have_freq = true;
      if (value == "DAILY") {
        r.freq = Freq::kDaily;
      } else if (value == "WEEKLY") {
        r.freq = Freq::kWeekly;
      } else if (value == "MONTHLY") {
        r.freq = Freq::kMonthly;
      } else if (value == "YEARLY") {
        r.freq = Freq::kYearly;
      } else {
        return fail("FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY, got '" + value + "'");
      }
    } else if (name == "INTERVAL") {
      if (!absl::SimpleAtoi(value, &r.interval) || r.interval < 1 || r.interval > 1000) {
        return fail("INTERVAL must be 1 to 1000, got '" + value + "'");
      }
    } else if (name == "COUNT") {
      if (!absl::SimpleAtoi(value, &r.count) || r.count < 1 || r.count > 5000) {
        return fail("COUNT must be 1 to 5000, got '" + value + "'");
      }
    } else if (name == "UNTIL") {
      // 20261231T235959Z, a local 20261231T235959, or a date 20261231 (end of that day).
      absl::Time t;
      bool date_only = false;
      if (!ParseBasicTime(value, zone, &t, &date_only)) {
        return fail("UNTIL must look like 20261231T235959Z or 20261231, got '" + value + "'");
      }
      r.until = date_only ? t + absl::Hours(24) - absl::Seconds(1) : t;
    } else if (name == "BYDAY") {
      for (absl::string_view d : absl::StrSplit(value, ',')) {
        if (d.size() < 2) return fail(absl::StrCat("BYDAY entry '", d, "' is not like MO or -1FR"));
        RRule::Day day;
        absl::string_view code = d.substr(d.size() - 2);
        absl::string_view ord = d.substr(0, d.size() - 2);
        bool found = false;
        for (const auto& [n, w] : kDays) {
          if (code == n) {
            day.weekday = w;
            found = true;
          }
        }
        if (!found) return fail(absl::StrCat("BYDAY entry '", d, "' has no weekday MO..SU"));
        if (!ord.empty()) {
          if (!absl::SimpleAtoi(ord, &day.ordinal) || day.ordinal == 0 || day.ordinal > 5 ||
              day.ordinal < -5) {
            return fail(absl::StrCat("BYDAY entry '", d, "': the ordinal must be 1..5 or -1..-5"));
          }
        }
        r.by_day.push_back(day);
      }
    } else if (name == "BYMONTHDAY") {
      for (absl::string_view d : absl::StrSplit(value, ',')) {
        int n = 0;
        if (!absl::SimpleAtoi(d, &n) || n == 0 || n > 31 || n < -31) {
          return fail(absl::StrCat("BYMONTHDAY entry '", d, "' must be 1..31 or -1..-31"));
        }
        r.by_month_day.push_back(n);
      }
    } else if (name == "WKST") {
      if (value != "MO") return fail("only WKST=MO is supported");
    } else {
      return fail("'" + name +
                  "' is not supported (FREQ, INTERVAL, COUNT, UNTIL, BYDAY, BYMONTHDAY, WKST)");
    }
  }
  if (!have_freq) return fail("FREQ is required");
  if (r.count > 0 && r.until) return fail("COUNT and UNTIL cannot both be given");
  for (const RRule::Day& d : r.by_day) {
    if (d.ordinal != 0 && (r.freq == Freq::kDaily || r.freq == Freq::kWeekly)) {
      return fail("BYDAY ordinals like 2MO need FREQ=MONTHLY or YEARLY");
    }
  }
  if (!r.by_month_day.empty() && r.freq == Freq::kWeekly) {
    return fail("BYMONTHDAY cannot be used with FREQ=WEEKLY");
  }
  *out = r;
  return true;
}

std::string RRule::ToString() const {
  static const char* kFreq[] = {"DAILY", "WEEKLY", "MONTHLY", "YEARLY"};
  std::string s = absl::StrCat("FREQ=", kFreq[static_cast<int>(freq)]);
  if (interval != 1) absl::StrAppend(&s, ";INTERVAL=", interval);
  if (count) absl::StrAppend(&s, ";COUNT=", count);
  if (until) {
    absl::StrAppend(&s, ";UNTIL=", absl::FormatTime("%Y%m%dT%H%M%SZ", *until, absl::UTCTimeZone()));
  }
  if (!by_day.empty()) {
    std::vector<std::string> days;
    for (const Day& d : by_day) {
      days.push_back(
          absl::StrCat(d.ordinal ? absl::StrCat(d.ordinal) : "", kDays[DayIndex(d.weekday)].first));
    }
    absl::StrAppend(&s, ";BYDAY=", absl::StrJoin(days, ","));
  }
  if (!by_month_day.empty()) absl::StrAppend(&s, ";BYMONTHDAY=", absl::StrJoin(by_month_day, ","));
  return s;
}

void Expand(const std::optional<RRule>& rule, absl::CivilSecond first, const absl::TimeZone& zone,
            const std::function<bool(absl::CivilSecond)>& visit, int limit) {
  if (!rule) {
    visit(first);
    return;
  }
  const RRule& r = *rule;
  const absl::CivilDay first_day(first);
  const int hour = first.hour(), minute = first.minute(), second = first.second();
  int produced = 0;
  // Emits one candidate; false once the series is over.
  auto emit = [&](absl::CivilDay day) {
    const absl::CivilSecond start(day.year(), day.month(), day.day(), hour, minute, second);
    if (start < first) return true;  // periods begin before DTSTART
    if (r.until && absl::FromCivil(start, zone) > *r.until) return false;
    if (produced >= limit || (r.count && produced >= r.count)) return false;
    ++produced;
    return visit(start);
  };
  // Each period yields its days in order; a bounded number of empty periods ends the expansion
  // (e.g. BYMONTHDAY=31 with FREQ=MONTHLY;INTERVAL=12 starting in February never matches).
  int empty_periods = 0;
  for (int64_t k = 0; empty_periods < 2000; ++k) {
    std::vector<absl::CivilDay> days;
    switch (r.freq) {
      case RRule::Freq::kDaily: {
        const absl::CivilDay d = first_day + k * r.interval;
        if (DayMatchesFilters(r, d)) days.push_back(d);
        break;
      }
      case RRule::Freq::kWeekly: {
        const absl::CivilDay week_start =
            first_day - DayIndex(absl::GetWeekday(first_day)) + 7 * k * r.interval;
        if (r.by_day.empty()) {
          days.push_back(week_start + DayIndex(absl::GetWeekday(first_day)));
        } else {
          std::vector<int> offsets;
          for (const RRule::Day& d : r.by_day) offsets.push_back(DayIndex(d.weekday));
          std::sort(offsets.begin(), offsets.end());
          offsets.erase(std::unique(offsets.begin(), offsets.end()), offsets.end());
          for (int o : offsets) days.push_back(week_start + o);
        }
        break;
      }
      case RRule::Freq::kMonthly:
        days = MonthDays(r, absl::CivilMonth(first_day) + k * r.interval, first_day.day());
        break;
      case RRule::Freq::kYearly: {
        const absl::CivilMonth m(first_day.year() + k * r.interval, first_day.month());
        days = MonthDays(r, m, first_day.day());
        break;
      }
    }
    empty_periods = days.empty() ? empty_periods + 1 : 0;
    for (const absl::CivilDay& d : days) {
      if (!emit(d)) return;
    }
    if (produced >= limit) return;
  }
}

}  // namespace events
