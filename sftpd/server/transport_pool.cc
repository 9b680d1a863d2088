#include "sftpd/server/transport_pool.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cerrno>
#include <utility>

#include "sftpd/server/spawn.h"

namespace sftplc::server {
namespace {

// Starts a spare: `binary` with `log_level`, its control socket on descriptor 4, nothing on 3.
Result<StartedTransport> StartSpare(const std::string& binary, const std::string& log_level) {
  auto control = HelperSocketPair(SOCK_SEQPACKET);
  if (!control) {
    return control.error();
  }
  auto pid = SpawnHelper(binary, {log_level}, /*fd3=*/-1, control->second.get());
  if (!pid) {
    return pid.error();
  }
  return StartedTransport{*pid, std::move(control->first)};
}

}  // namespace

void KillAndReap(pid_t pid) {
  kill(pid, SIGKILL);
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

TransportPool::TransportPool(std::string binary, std::string log_level, int spares, Logger log)
    : binary_(std::move(binary)),
      log_level_(std::move(log_level)),
      spares_(spares > 0 ? static_cast<std::size_t>(spares) : 0),
      log_(std::move(log)) {}

TransportPool::~TransportPool() { Close(); }

std::optional<StartedTransport> TransportPool::Take() {
  std::lock_guard lock(mu_);
  PruneLocked();
  if (idle_.empty()) {
    return std::nullopt;
  }
  StartedTransport t = std::move(idle_.front());
  idle_.pop_front();
  return t;
}

void TransportPool::Refill() {
  std::unique_lock lock(mu_);
  PruneLocked();
  while (!closed_ && idle_.size() + starting_ < spares_) {
    ++starting_;
    lock.unlock();
    auto started = StartSpare(binary_, log_level_);
    lock.lock();
    --starting_;
    if (!started) {
      if (uint64_t n = start_failures_.Count(std::chrono::steady_clock::now()); n > 0) {
        SPDLOG_LOGGER_WARN(log_, "cannot start a spare transport: {} failures={}", started.error(),
                           n);
      }
      return;
    }
    if (closed_) {
      KillAndReap(started->pid);
      return;
    }
    idle_.push_back(std::move(*started));
  }
}

void TransportPool::Close() {
  std::deque<StartedTransport> spares;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    spares.swap(idle_);
  }
  for (StartedTransport& t : spares) {
    KillAndReap(t.pid);
  }
}

void TransportPool::PruneLocked() {
  std::erase_if(idle_, [](const StartedTransport& t) {
    // Exited (killed from outside, or crashed): reaped here, its socket closed with it.
    return waitpid(t.pid, nullptr, WNOHANG) == t.pid;
  });
}

}  // namespace sftplc::server
