#pragma once

// Connection: the monitor's side of one accepted SSH connection, run on a thread of sftpd. It
// takes the connection's transport (sftpd-session: a spare started ahead, transport_pool.h, or
// one it spawns, spawn.h), sends it its Hello (limits, algorithms, host keys, and the client's
// socket), starts a spare in its place, and then answers what the transport asks, checked by an
// ipc::TransportGuard (the transport is hostile):
//   - each login attempt is decided here, through the LoginGate (Argon2id with its time floor,
//     the defender, public keys), and a login is recorded (SessionRecorder::Begin);
//   - "sftp" after the login: the account's SftpBackend is created (the SFTP worker) and the
//     transport is handed the worker's data socket;
//   - while it runs: the worker's reports (usage, tallies), progress every minute, and once a
//     second whether the login still stands: a closed or erased account, a removed key or a
//     changed password kills the worker at once and stops the transport (reason "revoked");
//   - the server's stop (reason "shutdown"), the login grace time (the transport is killed if it
//     overstays it), and the end: both processes reaped, the end reason recorded.
// A transport or worker that crashes or is killed ends this connection only ("transport_crashed",
// "worker_crashed"). Nothing here parses client bytes: only the IPC messages of the transport.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/log.h"
#include "sftpd/server/login_gate.h"
#include "sftpd/server/metrics.h"
#include "sftpd/server/session_recorder.h"
#include "sftpd/server/sftp_backend.h"
#include "sftpd/server/transport_pool.h"

namespace sftplc::server {

// The limits a connection reads when it starts (SIGHUP may change them for later ones).
struct SessionLimits {
  Seconds login_grace_time{30};
  int max_auth_tries = 6;
  Seconds idle_timeout{900};
  Seconds write_timeout{30};
};

// How transports are started: the same for every connection of a server.
struct TransportSetup {
  std::string binary;                                  // the sftpd-session executable
  std::string log_level;                               // its log level (SetLogLevel names)
  std::vector<std::string> host_keys;                  // private keys, OpenSSH text format
  std::string kex, ciphers, macs, hostkey_algorithms;  // empty: libssh's defaults
};

// Everything a connection borrows from the server; outlives every connection.
struct ConnectionEnv {
  LoginGate& gate;
  SessionRecorder& recorder;
  const SftpBackendFactory& sftp;
  const Clock& clock;
  Logger log;
  const std::atomic<bool>& stop;  // set: end now (reason "shutdown")
  Metrics& metrics;
  const TransportSetup& transport;
  TransportPool& spares;
  // Called once, on the connection's thread, when its login succeeds (the server stops counting
  // it against the startup limits).
  std::function<void()> logged_in;
};

// The descriptors of a connection, from the acceptor: the accepted socket, and either a spare
// transport (its pid and control socket) or the control socketpair of the transport the
// connection is to spawn (ours, and the transport's end), made in the acceptor so that running
// out of descriptors pauses accepting instead of failing connection after connection.
struct ConnectionFds {
  files::UniqueFd client;
  files::UniqueFd control;
  files::UniqueFd transport_control;  // -1 with a spare
  pid_t spare = -1;                   // a spare transport's pid, else -1
};

// Runs the connection to its end (its descriptors are closed here). `number` makes the log tag
// "[c<number>]". Never throws.
void RunConnection(const ConnectionEnv& env, const SessionLimits& limits, ConnectionFds fds,
                   const std::string& remote_ip, uint64_t number) noexcept;

}  // namespace sftplc::server
