#include "sftpd/core/base/time_format.h"

#include <gtest/gtest.h>

#include "sftpd/core/base/calendar.h"
#include "tests/testing/fake_clock.h"

namespace sftplc {
namespace {

using testing::T;

// Times print and parse as RFC 3339 UTC, and RFC 5322 for mail.
TEST(TimeFormatTest, RoundTrips) {
  TimePoint t = T("2026-11-25T15:23:20Z");
  EXPECT_EQ(FormatTime(t), "2026-11-25T15:23:20Z");
  EXPECT_EQ(FormatDate(t), "2026-11-25");
  EXPECT_EQ(FormatRfc5322(t), "Wed, 25 Nov 2026 15:23:20 +0000");
  EXPECT_EQ(*ParseTime("2026-11-25"), T("2026-11-25T00:00:00Z"));
  EXPECT_FALSE(ParseTime("2026-02-30"));
  EXPECT_FALSE(ParseTime("yesterday"));
  EXPECT_FALSE(ParseTime("2026-11-25T25:00:00Z"));
}

// Month arithmetic clamps at month ends and on leap days.
TEST(CalendarTest, MonthEndsClamp) {
  Period month{1, Period::Unit::kMonths};
  Period year{1, Period::Unit::kYears};
  EXPECT_EQ(AddPeriod(T("2024-01-31"), month), T("2024-02-29"));
  EXPECT_EQ(AddPeriod(T("2023-01-31"), month), T("2023-02-28"));
  EXPECT_EQ(AddPeriod(T("2024-02-29"), year), T("2025-02-28"));
  EXPECT_EQ(AddPeriod(T("2024-02-29T10:00:00Z"), Period{4, Period::Unit::kYears}),
            T("2028-02-29T10:00:00Z"));
  EXPECT_EQ(SubtractPeriod(T("2024-03-31"), month), T("2024-02-29"));
  EXPECT_EQ(AddPeriod(T("2026-01-01"), Period{30, Period::Unit::kDays}), T("2026-01-31"));
}

// Durations parse with their unit and refuse anything else.
TEST(CalendarTest, ParsesDurations) {
  EXPECT_EQ(*Period::Parse("2y"), (Period{2, Period::Unit::kYears}));
  EXPECT_EQ(*Period::Parse("30d"), (Period{30, Period::Unit::kDays}));
  EXPECT_EQ(*Period::Parse("1m"), (Period{1, Period::Unit::kMonths}));
  EXPECT_EQ(*Period::Parse("1h"), (Period{1, Period::Unit::kHours}));
  EXPECT_EQ(Period::Parse("5y")->ToString(), "5y");
  EXPECT_FALSE(Period::Parse("30"));
  EXPECT_FALSE(Period::Parse("-1d"));
  EXPECT_FALSE(Period::Parse("1w"));
  EXPECT_FALSE(Period::Parse(""));
}

// Periods read as words in what people get (an access export): singular for one.
TEST(CalendarTest, PeriodsInWords) {
  EXPECT_EQ(Period::Parse("2y")->ToWords(), "2 years");
  EXPECT_EQ(Period::Parse("1y")->ToWords(), "1 year");
  EXPECT_EQ(Period::Parse("30d")->ToWords(), "30 days");
  EXPECT_EQ(Period::Parse("1m")->ToWords(), "1 month");
  EXPECT_EQ(Period::Parse("1h")->ToWords(), "1 hour");
  EXPECT_EQ(Period::Parse("15min")->ToWords(), "15 minutes");
  EXPECT_EQ(Period::Parse("0d")->ToWords(), "0 days");
}

}  // namespace
}  // namespace sftplc
