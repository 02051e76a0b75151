// The RFC 5545 recurrence subset the events module supports, expanded in local (civil) time:
// FREQ=DAILY|WEEKLY|MONTHLY|YEARLY, INTERVAL, COUNT, UNTIL, BYDAY (with ordinals such as 2MO or
// -1FR for MONTHLY and YEARLY), BYMONTHDAY (negative counts from the month's end), and WKST=MO.
#ifndef CIVITAS_MODULES_EVENTS_RRULE_H_
#define CIVITAS_MODULES_EVENTS_RRULE_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace events {

struct RRule {
  enum class Freq { kDaily, kWeekly, kMonthly, kYearly };
  struct Day {
    absl::Weekday weekday;
    int ordinal = 0;  // 0 = every such weekday of the period; 1..5 or -1..-5
  };
  Freq freq = Freq::kDaily;
  int interval = 1;
  int count = 0;                    // 0 = no COUNT
  std::optional<absl::Time> until;  // inclusive
  std::vector<Day> by_day;
  std::vector<int> by_month_day;

  // Parses "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10"; false with a precise *error.
  static bool Parse(const std::string& text, const absl::TimeZone& zone, RRule* out,
                    std::string* error);
  // The rule back as RFC 5545 text (UNTIL in UTC).
  std::string ToString() const;
  // True if the series ends (COUNT or UNTIL).
  bool bounded() const { return count > 0 || until.has_value(); }
};

// RFC 5545 basic format: "20261231" (a date: midnight in `zone`), "20261231T235959" (local
// time in `zone`) or "20261231T235959Z" (UTC). Sets *date_only / *utc when given.
bool ParseBasicTime(std::string_view text, const absl::TimeZone& zone, absl::Time* out,
                    bool* date_only = nullptr, bool* utc = nullptr);

// Calls visit(local start) for each occurrence start from `first` on, in order, until visit
// returns false, the rule ends, or `limit` starts were produced (a guard against runaway rules).
// Without a rule, `first` is the only occurrence. EXDATEs are the caller's business (RFC 5545:
// COUNT counts them).
void Expand(const std::optional<RRule>& rule, absl::CivilSecond first, const absl::TimeZone& zone,
            const std::function<bool(absl::CivilSecond)>& visit, int limit = 100000);

}  // namespace events

#endif  // CIVITAS_MODULES_EVENTS_RRULE_H_
