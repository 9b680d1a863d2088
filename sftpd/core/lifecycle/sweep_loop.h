#pragma once

// SweepLoop: runs LifecycleRunner::RunOnce in a background thread, once at Start() and then
// every lifecycle.interval, until Stop(). For sftpd: construct with the runner and the clock,
// Start() after the database is migrated, Stop() on shutdown (returns once the current sweep,
// if any, has finished). A failed sweep is logged and retried at the next interval.
// Start/Stop are not thread-safe with each other; the loop itself is.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/log.h"
#include "sftpd/core/lifecycle/runner.h"

namespace sftplc::lifecycle {

class SweepLoop {
 public:
  // Called after each sweep with its result and how long it took (steady clock).
  using OnSweep =
      std::function<void(const Result<SweepReport>&, std::chrono::steady_clock::duration took)>;

  // REQUIRES: runner and clock outlive the loop. `on_sweep` (optional) is called on the loop's
  // thread after each sweep (for tests and metrics).
  SweepLoop(LifecycleRunner& runner, const Clock& clock, Logger log, OnSweep on_sweep = {});
  ~SweepLoop();  // calls Stop()
  SweepLoop(const SweepLoop&) = delete;
  SweepLoop& operator=(const SweepLoop&) = delete;

  void Start();
  void Stop();

 private:
  void Loop();

  LifecycleRunner& runner_;
  const Clock& clock_;
  Logger log_;
  OnSweep on_sweep_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace sftplc::lifecycle
