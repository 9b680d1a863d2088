#pragma once

// Time is injected: nothing reads the system clock except SystemClock. Every timestamp is UTC
// with one-second resolution (TimePoint), stored in the database as seconds since the epoch.

#include <chrono>

namespace sftplc {

using TimePoint = std::chrono::sys_seconds;
using Seconds = std::chrono::seconds;

// A source of the current time. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // The current UTC time, truncated to whole seconds.
  virtual TimePoint Now() const = 0;
  // A monotonic reading for timeouts and durations (never for stored dates).
  virtual std::chrono::steady_clock::time_point SteadyNow() const = 0;
};

// The real clock (honours libfaketime, which the end-to-end tests use).
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override;
  std::chrono::steady_clock::time_point SteadyNow() const override;
  // A process-wide instance.
  static const SystemClock& Instance();
};

// Seconds since the epoch <-> TimePoint, for storage.
inline long long ToUnix(TimePoint t) { return t.time_since_epoch().count(); }
inline TimePoint FromUnix(long long s) { return TimePoint(Seconds(s)); }

}  // namespace sftplc
