#include "sftpd/core/base/calendar.h"

#include <charconv>

namespace sftplc {
namespace {

TimePoint AddMonths(TimePoint t, long long months) {
  using namespace std::chrono;
  auto day_start = floor<days>(t);
  auto time_of_day = t - day_start;
  year_month_day ymd{day_start};
  year_month ym = year_month{ymd.year(), ymd.month()} + std::chrono::months(months);
  auto last = year_month_day_last{ym.year(), month_day_last{ym.month()}}.day();
  auto d = ymd.day() > last ? last : ymd.day();
  return TimePoint(sys_days(year_month_day{ym.year(), ym.month(), d})) +
         duration_cast<Seconds>(time_of_day);
}

}  // namespace

std::string Period::ToString() const {
  const char* suffix = "d";
  switch (unit) {
    case Unit::kSeconds:
      suffix = "s";
      break;
    case Unit::kMinutes:
      suffix = "min";
      break;
    case Unit::kHours:
      suffix = "h";
      break;
    case Unit::kDays:
      suffix = "d";
      break;
    case Unit::kMonths:
      suffix = "m";
      break;
    case Unit::kYears:
      suffix = "y";
      break;
  }
  return std::to_string(count) + suffix;
}

std::string Period::ToWords() const {
  const char* unit_name = "day";
  switch (unit) {
    case Unit::kSeconds:
      unit_name = "second";
      break;
    case Unit::kMinutes:
      unit_name = "minute";
      break;
    case Unit::kHours:
      unit_name = "hour";
      break;
    case Unit::kDays:
      unit_name = "day";
      break;
    case Unit::kMonths:
      unit_name = "month";
      break;
    case Unit::kYears:
      unit_name = "year";
      break;
  }
  return std::to_string(count) + " " + unit_name + (count == 1 ? "" : "s");
}

Result<Period> Period::Parse(std::string_view text) {
  auto bad = [&] {
    return Error::InvalidArgument(
        fmt::format("'{}' is not a duration: write a whole number and a unit, e.g. 30d, 1m, 2y, 1h "
                    "(units: s, min, h, d, m = calendar months, y = calendar years)",
                    text));
  };
  long long n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr == text.data() || n < 0 || n > 100000) {
    return bad();
  }
  std::string_view unit(ptr, text.data() + text.size() - ptr);
  Period p;
  p.count = n;
  if (unit == "s") {
    p.unit = Unit::kSeconds;
  } else if (unit == "min") {
    p.unit = Unit::kMinutes;
  } else if (unit == "h") {
    p.unit = Unit::kHours;
  } else if (unit == "d") {
    p.unit = Unit::kDays;
  } else if (unit == "m") {
    p.unit = Unit::kMonths;
  } else if (unit == "y") {
    p.unit = Unit::kYears;
  } else {
    return bad();
  }
  return p;
}

Seconds Period::MaxSeconds() const {
  constexpr long long kDay = 86400;
  switch (unit) {
    case Unit::kSeconds:
      return Seconds(count);
    case Unit::kMinutes:
      return Seconds(count * 60);
    case Unit::kHours:
      return Seconds(count * 3600);
    case Unit::kDays:
      return Seconds(count * kDay);
    case Unit::kMonths:
      return Seconds(count * 31 * kDay);
    case Unit::kYears:
      return Seconds(count * 366 * kDay);
  }
  return Seconds(0);
}

TimePoint AddPeriod(TimePoint t, const Period& p) {
  switch (p.unit) {
    case Period::Unit::kMonths:
      return AddMonths(t, p.count);
    case Period::Unit::kYears:
      return AddMonths(t, 12 * p.count);
    default:
      return t + p.MaxSeconds();
  }
}

TimePoint SubtractPeriod(TimePoint t, const Period& p) {
  switch (p.unit) {
    case Period::Unit::kMonths:
      return AddMonths(t, -p.count);
    case Period::Unit::kYears:
      return AddMonths(t, -12 * p.count);
    default:
      return t - p.MaxSeconds();
  }
}

}  // namespace sftplc
