#pragma once

// LogThrottle: at most one log line per interval about an event that can repeat without bound
// (a connection flood, descriptors running out), each line telling how many events it stands
// for. Not thread-safe.

#include <chrono>
#include <cstdint>
#include <utility>

namespace sftplc::server {

class LogThrottle {
 public:
  using Time = std::chrono::steady_clock::time_point;

  explicit LogThrottle(std::chrono::steady_clock::duration interval) : interval_(interval) {}

  // Counts one event at `now`. Returns how many events the line due now stands for (this one
  // included, and every one since the last line), or 0 when no line is due: the first event
  // gets a line at once, the next line comes an interval later.
  uint64_t Count(Time now) {
    ++count_;
    if (now < next_) {
      return 0;
    }
    next_ = now + interval_;
    return std::exchange(count_, 0);
  }

 private:
  std::chrono::steady_clock::duration interval_;
  Time next_{};
  uint64_t count_ = 0;
};

}  // namespace sftplc::server
