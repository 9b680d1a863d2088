#pragma once

// Calendar periods for the lifecycle rules ("2y", "30d", "1m"): days, calendar months or
// calendar years, added to a UTC time with month ends clamped (Jan 31 + 1m = Feb 28/29,
// Feb 29 + 1y = Feb 28). `<chrono>` alone would produce the invalid date 2024-02-31.
// Sub-day units (h, min, s) exist for intervals such as the sweep period.

#include <string>
#include <string_view>

#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/result.h"

namespace sftplc {

struct Period {
  enum class Unit { kSeconds, kMinutes, kHours, kDays, kMonths, kYears };
  long long count = 0;
  Unit unit = Unit::kDays;

  friend bool operator==(const Period&, const Period&) = default;
  // "30d", "2y", "1h" - the form Parse() reads.
  std::string ToString() const;
  // In words for people: "30 days", "2 years", "1 month", "1 hour", "15 minutes".
  std::string ToWords() const;
  // Parses "<n><unit>" with unit one of s, min, h, d, m (calendar months), y (calendar years);
  // n is 0..100000. kInvalidArgument with a message naming the accepted forms otherwise.
  static Result<Period> Parse(std::string_view text);
  // The longest this period can be, in seconds (months count as 31 days, years as 366), for
  // checking configured limits such as "at most 31 days".
  Seconds MaxSeconds() const;
};

// t + p, clamping the day of month for months and years. Time of day is kept.
TimePoint AddPeriod(TimePoint t, const Period& p);
// t - p, with the same clamping.
TimePoint SubtractPeriod(TimePoint t, const Period& p);

}  // namespace sftplc
