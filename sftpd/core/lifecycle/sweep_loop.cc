#include "sftpd/core/lifecycle/sweep_loop.h"

#include "sftpd/core/base/calendar.h"

namespace sftplc::lifecycle {

SweepLoop::SweepLoop(LifecycleRunner& runner, const Clock& clock, Logger log, OnSweep on_sweep)
    : runner_(runner), clock_(clock), log_(std::move(log)), on_sweep_(std::move(on_sweep)) {}

SweepLoop::~SweepLoop() { Stop(); }

void SweepLoop::Start() {
  if (thread_.joinable()) {
    return;
  }
  {
    std::lock_guard lock(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Loop(); });
}

void SweepLoop::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void SweepLoop::Loop() {
  while (true) {
    auto started = clock_.SteadyNow();
    auto report = runner_.RunOnce(clock_.Now());
    auto took = clock_.SteadyNow() - started;
    if (!report) {
      SPDLOG_LOGGER_ERROR(log_, "lifecycle sweep failed error=\"{}\"", report.error().ToString());
    }
    if (on_sweep_) {
      on_sweep_(report, took);
    }
    // The interval is measured on the steady clock (never on wall-clock jumps).
    TimePoint now = clock_.Now();
    Seconds wait = AddPeriod(now, runner_.config().lifecycle.interval) - now;
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, std::max(wait, Seconds(1)), [this] { return stop_; })) {
      return;
    }
  }
}

}  // namespace sftplc::lifecycle
