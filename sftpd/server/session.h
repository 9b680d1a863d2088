#pragma once

// The transport of one SSH connection, run by sftpd-session (sftpd/session_main.cc), confined
// before it reads a byte of the client: key exchange, authentication (each attempt is decided
// by the monitor over the control socket), one session channel with the "sftp" subsystem
// (shell, exec, pty, forwarding, agent and X11 are refused), the relay between the channel and
// the SFTP worker's data socket (which the monitor hands over after the login), and a clean
// close.
//
// Limits enforced here (libssh enforces none): login grace time (connect -> sftp subsystem
// running), auth attempts per connection, idle timeout (no request for that long), the window
// granted to the client, and a Stop from the monitor (shutdown, revocation). The monitor
// enforces the grace time and the attempts again, and kills the process when it must. Nothing
// throws out of a libssh callback: the trampolines are noexcept and an unexpected exception
// ends the connection.

#include <libssh/libssh.h>

#include <cstdint>

#include "sftpd/core/base/log.h"
#include "sftpd/server/ipc/ipc.h"

namespace sftplc::server {

// Runs the connection described by `hello` to its end (disconnected, not freed) and returns
// why it ended (what the transport says in its Bye). `control_fd` is the socket to the
// monitor. Never throws.
ipc::ByeReason RunTransport(const ipc::Hello& hello, ssh_session session, int control_fd,
                            const Logger& log) noexcept;

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

// How far the replies of a session run ahead of the client: bytes sent that the client has not
// given back with a window adjust yet, given the round-trip time of its TCP connection. The
// OpenSSH client copies its whole channel buffer for every packet that arrives while data waits
// in it for its sftp process (sshbuf grows by reallocation), so the more a client holds, the
// slower it drains: on a short path replies run kMinRepliesAhead ahead, on a longer one as far
// as a 10 Gbit/s link needs to stay busy (the client's window bounds it as ever).
// docs/performance.md has the measurements.
inline constexpr uint32_t kMinRepliesAhead = 512 * 1024;
inline constexpr uint64_t kPacedLinkBytesPerUs = 1250;  // 10 Gbit/s
uint32_t RepliesAhead(uint32_t rtt_us);

}  // namespace sftplc::server
