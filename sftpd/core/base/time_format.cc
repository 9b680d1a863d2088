#include "sftpd/core/base/time_format.h"

#include <cstdio>

namespace sftplc {
namespace {

struct Civil {
  int year;
  unsigned month, day, hour, minute, second, weekday;
};

Civil ToCivil(TimePoint t) {
  auto days = std::chrono::floor<std::chrono::days>(t);
  std::chrono::year_month_day ymd{days};
  std::chrono::hh_mm_ss hms{t - days};
  std::chrono::weekday wd{days};
  return {int(ymd.year()),
          unsigned(ymd.month()),
          unsigned(ymd.day()),
          unsigned(hms.hours().count()),
          unsigned(hms.minutes().count()),
          unsigned(hms.seconds().count()),
          wd.c_encoding()};
}

}  // namespace

std::string FormatTime(TimePoint t) {
  Civil c = ToCivil(t);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", c.year, c.month, c.day, c.hour,
                     c.minute, c.second);
}

std::string FormatTime(const std::optional<TimePoint>& t) { return t ? FormatTime(*t) : "-"; }

std::string FormatDate(TimePoint t) {
  Civil c = ToCivil(t);
  return fmt::format("{:04}-{:02}-{:02}", c.year, c.month, c.day);
}

std::string FormatRfc5322(TimePoint t) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  Civil c = ToCivil(t);
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} +0000", kDays[c.weekday], c.day,
                     kMonths[c.month - 1], c.year, c.hour, c.minute, c.second);
}

Result<TimePoint> ParseTime(std::string_view text) {
  int y = 0;
  unsigned mo = 0, d = 0, h = 0, mi = 0, s = 0;
  int used = 0;
  std::string buf(text);
  bool ok = false;
  if (std::sscanf(buf.c_str(), "%4d-%2u-%2uT%2u:%2u:%2uZ%n", &y, &mo, &d, &h, &mi, &s, &used) ==
          6 &&
      used == static_cast<int>(buf.size())) {
    ok = true;
  } else if (std::sscanf(buf.c_str(), "%4d-%2u-%2u%n", &y, &mo, &d, &used) == 3 &&
             used == static_cast<int>(buf.size())) {
    h = mi = s = 0;
    ok = true;
  }
  std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(mo),
                                  std::chrono::day(d)};
  if (!ok || !ymd.ok() || h > 23 || mi > 59 || s > 59) {
    return Error::InvalidArgument(
        fmt::format("'{}' is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)", text));
  }
  return TimePoint(std::chrono::sys_days(ymd)) + std::chrono::hours(h) + std::chrono::minutes(mi) +
         Seconds(s);
}

}  // namespace sftplc
