#include "sftpd/core/base/clock.h"

namespace sftplc {

TimePoint SystemClock::Now() const {
  return std::chrono::time_point_cast<Seconds>(std::chrono::system_clock::now());
}

std::chrono::steady_clock::time_point SystemClock::SteadyNow() const {
  return std::chrono::steady_clock::now();
}

const SystemClock& SystemClock::Instance() {
  static const SystemClock kClock;
  return kClock;
}

}  // namespace sftplc
