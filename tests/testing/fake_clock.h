#pragma once

// A Clock the test moves by hand. Thread-safe.

#include <atomic>
#include <chrono>

#include "sftpd/core/base/calendar.h"
#include "sftpd/core/base/clock.h"

namespace sftplc::testing {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start);
  // "2026-01-31T00:00:00Z" or "2026-01-31"; aborts on a malformed literal (tests only).
  explicit FakeClock(const char* start);
  TimePoint Now() const override;
  std::chrono::steady_clock::time_point SteadyNow() const override;
  void Set(TimePoint t);
  void Advance(Seconds s);
  void Advance(const Period& p);

 private:
  std::atomic<long long> now_;
};

// Parses a literal time for tests; aborts on a malformed one.
TimePoint T(const char* text);

}  // namespace sftplc::testing
