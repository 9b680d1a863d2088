#pragma once

// Read-ahead for the SSH connection sockets.
//
// libssh 0.10 reads its socket 4 KiB at a time, one poll(2) and one recv(2) per 4 KiB
// (socket.c: a 4096-byte stack buffer per POLLIN event). An upload of 1 GiB is half a million
// system calls, and each small recv also makes the kernel send a TCP window update: measured,
// the kernel took 62 % of sftpd's CPU during a put. libssh has no option for it, so the server
// gives it bigger reads underneath: this file defines `recv` and `poll` for the process
// (libssh calls them through the dynamic linker, so the executable's definitions are the ones
// it gets) and, for the sockets registered here only, serves libssh's small reads from a
// 64 KiB per-connection buffer filled by one real recv:
//   - recv(fd, ...) on a registered fd takes from the buffer; an empty buffer is refilled by
//     one recv of up to 64 KiB (errors, EOF and EAGAIN are returned as the kernel gave them);
//   - poll() reports POLLIN at once for a registered fd whose buffer holds data (the kernel is
//     still asked, without waiting, about every other fd and event in the set: libssh asks
//     POLLOUT after each of its writes and writes nothing more until a poll reports it).
//   - close() of a registered fd drops the registration before the number is free, so a
//     connection (or a libpq socket) that gets the same number later never meets a stale buffer
//     (libssh closes the socket itself, in ssh_disconnect and on errors).
// Every other fd, and every other caller (libpq, libcurl, ...), goes straight to the C
// library: one table lookup per call. Only libssh may read a registered socket, and only with
// recv (it never uses read(2) on a socket).

#include <cstddef>
#include <memory>

namespace sftplc::server {

struct ReadAheadBuffer;

// Registers `fd` for read-ahead until the fd is closed or this object is destroyed, whichever
// comes first (same thread: the session's). Destruction frees the buffer and unregisters the fd
// only if the registration is still this one. A fd beyond the table (65536) is left unbuffered,
// and so is every fd when the process's recv/poll/close are not the ones defined here.
class SocketReadAhead {
 public:
  static constexpr std::size_t kBufferSize = 64 * 1024;

  explicit SocketReadAhead(int fd);
  ~SocketReadAhead();
  SocketReadAhead(const SocketReadAhead&) = delete;
  SocketReadAhead& operator=(const SocketReadAhead&) = delete;

  // True when the process's recv, poll and close are the ones defined here, as the dynamic linker
  // gives them to libssh (the server's link exports them; without that libssh would bypass
  // the buffers and only cost more CPU).
  static bool InEffect();

  // True when reads on the fd go through the buffer.
  bool active() const { return active_; }
  // Bytes buffered and not yet handed out (for tests).
  std::size_t buffered() const;
  // Bytes buffered for `fd`, whoever registered it: what the next recv on it returns without a
  // system call.
  static std::size_t Buffered(int fd);

 private:
  int fd_;
  bool active_ = false;
  std::unique_ptr<ReadAheadBuffer> buffer_;
};

}  // namespace sftplc::server
