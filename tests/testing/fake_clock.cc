#include "tests/testing/fake_clock.h"

#include <cstdlib>

#include "sftpd/core/base/time_format.h"

namespace sftplc::testing {

TimePoint T(const char* text) {
  auto t = ParseTime(text);
  if (!t) {
    std::abort();
  }
  return *t;
}

FakeClock::FakeClock(TimePoint start) : now_(ToUnix(start)) {}
FakeClock::FakeClock(const char* start) : FakeClock(T(start)) {}

TimePoint FakeClock::Now() const { return FromUnix(now_.load()); }

std::chrono::steady_clock::time_point FakeClock::SteadyNow() const {
  return std::chrono::steady_clock::time_point(Seconds(now_.load()));
}

void FakeClock::Set(TimePoint t) { now_.store(ToUnix(t)); }
void FakeClock::Advance(Seconds s) { now_.fetch_add(s.count()); }
void FakeClock::Advance(const Period& p) { Set(AddPeriod(Now(), p)); }

}  // namespace sftplc::testing
