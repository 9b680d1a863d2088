#pragma once

// Spare transports: sftpd-session processes started before the connections they will serve, so
// that a login does not wait for a transport to be executed, linked and confined (about 7 ms of
// CPU each on the reference machine, most of it the dynamic loading of libssh and OpenSSL).
//
// A spare is an ordinary transport (spawn.h: fork+exec of its own, so its own ASLR and none of
// the monitor's memory) that confined itself at start and waits, holding no client, no key and
// no file, for the Hello of its connection (which brings the client's socket and the host keys).
// The acceptor takes one for each connection it admits (Take, which never blocks nor creates a
// descriptor); the connection's thread then starts a replacement (Refill). When none is ready,
// the connection starts its own transport as before. A spare that died while waiting is reaped
// and replaced; at the end, the spares are killed and reaped.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

#include "sftpd/core/base/log.h"
#include "sftpd/core/files/account_root.h"
#include "sftpd/server/log_throttle.h"

namespace sftplc::server {

// A transport that runs and waits for its Hello on `control`.
struct StartedTransport {
  pid_t pid = -1;
  files::UniqueFd control;
};

// Kills and reaps `pid`, a transport that serves no connection (a spare).
void KillAndReap(pid_t pid);

class TransportPool {
 public:
  // Keeps `spares` transports (`binary`, started with `log_level`) waiting; 0: none.
  TransportPool(std::string binary, std::string log_level, int spares, Logger log);
  // Kills and reaps the spares.
  ~TransportPool();
  TransportPool(const TransportPool&) = delete;
  TransportPool& operator=(const TransportPool&) = delete;

  // A spare that is still alive, if there is one. Never blocks on a process, creates no
  // descriptor. Thread-safe.
  std::optional<StartedTransport> Take();
  // Starts spares until `spares` wait (a spare that died meanwhile is reaped first). A start that
  // fails is logged (at most once a minute) and left to the next call. Thread-safe; no-op after
  // Close().
  void Refill();
  // Kills and reaps the spares; Take and Refill have nothing more to do. Thread-safe.
  void Close();

 private:
  // Reaps spares that exited. REQUIRES: mu_ held.
  void PruneLocked();

  const std::string binary_;
  const std::string log_level_;
  const std::size_t spares_;
  Logger log_;
  mutable std::mutex mu_;
  std::deque<StartedTransport> idle_;  // guarded by mu_
  std::size_t starting_ = 0;           // guarded by mu_: started outside the lock, not yet idle
  bool closed_ = false;                // guarded by mu_
  LogThrottle start_failures_{std::chrono::minutes(1)};  // guarded by mu_
};

}  // namespace sftplc::server
