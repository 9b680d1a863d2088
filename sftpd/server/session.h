#pragma once

// One SSH connection, run on its own thread: key exchange, authentication through the
// LoginGate (password, and publickey with the probe), one session channel with the "sftp"
// subsystem (shell, exec, pty, forwarding, agent and X11 are refused), the byte pump between
// the channel and the ChannelProtocol, the usage record, and a clean close.
//
// Limits enforced here (libssh enforces none): login grace time (connect -> sftp subsystem
// running), auth attempts per connection, idle timeout (no request for that long), and an
// external stop flag (server shutdown). Nothing throws out of a libssh callback: the
// trampolines are noexcept and an unexpected exception ends this session only.

#include <libssh/libssh.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/log.h"
#include "sftpd/server/channel_protocol.h"
#include "sftpd/server/login_gate.h"
#include "sftpd/server/metrics.h"
#include "sftpd/server/session_recorder.h"

namespace sftplc::server {

struct SessionLimits;

// Everything a session borrows from the server; outlives every session.
struct SessionEnv {
  LoginGate& gate;
  SessionRecorder& recorder;
  const ProtocolFactory& protocol;
  const Clock& clock;
  Logger log;
  const std::atomic<bool>& stop;  // set: end now (reason "shutdown")
  Metrics& metrics;
  // Called once, on the session's thread, when its login succeeds (the server stops counting it
  // against the startup limits).
  std::function<void()> logged_in;
};

// Runs the connection to its end (disconnected, not freed: the caller frees `session`, which
// owns the socket).
// `number` makes the log tag "[c<number>]". Never throws.
void RunSession(const SessionEnv& env, const SessionLimits& limits, ssh_session session,
                const std::string& remote_ip, uint64_t number) noexcept;

// How many bytes one channel read asks for. In libssh 0.10, ssh_channel_read grows the channel
// window to the count asked for, so this is also the upload window (see
// docs/architecture.md: an 8 MiB window keeps a 50 ms RTT upload at OpenSSH's speed).
inline constexpr uint32_t kChannelReadSize = 8 * 1024 * 1024;

// The most channel data a session holds unread before it ends the connection. libssh 0.10
// buffers whatever the client sends, window or not (channels.c: "Data packet too big for our
// window ... accept it anyway"); a client that keeps its window never has more unread than the
// largest window granted: kChannelReadSize, or libssh's own 1,280,000-byte top-up when little is
// buffered. Anything beyond that margin is a client sending past its window.
inline constexpr uint32_t kMaxUnreadChannelData = kChannelReadSize + 2 * 1024 * 1024;

}  // namespace sftplc::server
