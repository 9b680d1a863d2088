#pragma once

// Server: the listener of sftpd, the monitor. It owns its listening sockets (a real backlog) and
// runs every accepted connection on its own thread (connection.h), which gets the connection's
// transport process (a spare started ahead, transport_pool.h, or a new one) and answers it
// (docs/architecture.md, "Process model"). Limits
// enforced here, at accept, before any process or cryptography and before a thread is started:
// banned sources (as far as the gate knows from memory), sessions in total and per source, and
// connections not logged in yet (max_startups with random early drop, per_source_max_startups;
// startups.h). A source is an IPv4 address or an IPv6 /64, as the defender bans. The
// per-session limits are enforced by the transport (session.h) and its connection.
//
// Lifecycle: Create() -> Listen() -> Run() (blocks) ... RequestStop() from another thread ->
// Run() stops accepting, gives running sessions shutdown_grace to finish, then ends the rest
// (their usage rows are closed with reason "shutdown") and returns.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/log.h"
#include "sftpd/core/base/result.h"
#include "sftpd/core/config/config.h"
#include "sftpd/server/connection.h"
#include "sftpd/server/host_keys.h"
#include "sftpd/server/log_throttle.h"
#include "sftpd/server/login_gate.h"
#include "sftpd/server/metrics.h"
#include "sftpd/server/session_recorder.h"
#include "sftpd/server/sftp_backend.h"
#include "sftpd/server/startups.h"
#include "sftpd/server/transport_pool.h"

namespace sftplc::server {

// What the server delegates. Every pointer must outlive the Server.
struct ServerDeps {
  LoginGate* gate = nullptr;
  SessionRecorder* recorder = nullptr;
  SftpBackendFactory sftp;
  std::string transport_binary;  // sftpd-session; empty: HelperBinary (spawn.h)
  std::string transport_log_level = "info";
  const Clock* clock = nullptr;
  Metrics* metrics = &NoMetrics();
  PercentRoll startup_roll;  // max_startups' early drop; empty: RandomPercentRoll()
};

class Server {
 public:
  // Loads (or creates) the host keys and checks the configured algorithms with libssh; does
  // not listen. kInvalidArgument for a bad configuration (missing deps, bad algorithm list, bad
  // key), kUnavailable when a key cannot be written.
  static Result<std::unique_ptr<Server>> Create(const config::ServerConfig& cfg, ServerDeps deps,
                                                Logger log);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  const std::vector<HostKey>& host_keys() const { return host_keys_; }

  // Binds and listens on every configured address. Returns them as "ADDRESS:PORT" with the
  // port actually bound (a configured port 0 picks a free one); IPv6 as "[::1]:PORT".
  // kUnavailable when an address cannot be bound.
  Result<std::vector<std::string>> Listen();

  // Accepts connections until RequestStop(), then shuts down as described above. Returns an
  // Error only if the listener itself fails. REQUIRES: Listen() succeeded. Call once.
  Status Run();

  // Asks Run() to stop. Thread-safe; async-signal-safe (writes to a pipe).
  void RequestStop();

  // Applies the limits that can change safely while running (idle timeout, login grace time,
  // auth tries, session caps). Running sessions keep the limits they started with.
  // Thread-safe.
  void UpdateLimits(const config::ServerConfig& cfg);

  // Connections being served now. Thread-safe.
  int active_sessions() const;

 private:
  Server(const config::ServerConfig& cfg, ServerDeps deps, Logger log);
  void Accept(int listen_fd);
  // Accept thread: runs the admitted connection `number` on its own thread.
  void StartConnection(uint64_t number, ConnectionFds fds, const std::string& ip,
                       const SessionLimits& limits);
  void ConnectionThread(uint64_t number, ConnectionFds fds, const std::string& ip,
                        SessionLimits limits) noexcept;
  // Accept thread: closes a refused connection, counts it under `reason` and logs it, at most
  // one line per reason per interval.
  void Refuse(int fd, const char* reason, const std::string& detail);
  // Session `number` logged in: it no longer counts against the startup limits.
  void LoggedIn(uint64_t number);
  // Session `number` is over: frees its slot.
  void Release(uint64_t number);
  void WaitForSessions();
  // Accept thread: descriptors or memory ran out (`err`); rest the listeners, warn rate-limited.
  void PauseAccepting(int err);

  config::ServerConfig cfg_;
  ServerDeps deps_;
  Logger log_;
  std::vector<HostKey> host_keys_;
  TransportSetup transport_;
  std::unique_ptr<TransportPool> spares_;
  std::vector<int> listen_fds_;
  int wake_pipe_[2] = {-1, -1};

  mutable std::mutex mu_;
  std::condition_variable idle_cv_;
  SessionLimits limits_;              // guarded by mu_
  int max_sessions_ = 0;              // guarded by mu_
  int max_sessions_per_ip_ = 0;       // guarded by mu_
  config::MaxStartups max_startups_;  // guarded by mu_
  int per_source_max_startups_ = 0;   // guarded by mu_
  int active_ = 0;                    // guarded by mu_
  // A connection being served.
  struct Slot {
    std::string source;  // SourceKey of its address
    bool unauthenticated = true;
  };
  std::map<uint64_t, Slot> slots_;         // guarded by mu_
  std::map<std::string, int> per_source_;  // guarded by mu_: slots per source
  Startups startups_;                      // guarded by mu_
  uint64_t next_number_ = 1;
  // Accept thread only: descriptors (or memory) ran out, rest the listeners.
  bool accept_paused_ = false;
  LogThrottle accept_warnings_;                     // accept thread only
  std::map<std::string, LogThrottle> refusal_log_;  // accept thread only, per reason
  std::atomic<bool> force_stop_{false};
};

}  // namespace sftplc::server
