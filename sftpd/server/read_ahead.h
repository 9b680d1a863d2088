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
//     still asked, without waiting, about every other fd and event in the set).
// Every other fd, and every other caller (libpq, libcurl, ...), goes straight to the C
// library: one table lookup per call. Only libssh may read a registered socket, and only with
// recv (it never uses read(2) on a socket).

#include <cstddef>

namespace sftplc::server {

// Registers `fd` for read-ahead for the lifetime of this object (same thread: the session's).
// Buffered bytes are dropped on destruction, which must come before the fd is closed.
// A fd already registered or beyond the table (65536) is left unbuffered.
class SocketReadAhead {
 public:
  static constexpr std::size_t kBufferSize = 64 * 1024;

  explicit SocketReadAhead(int fd);
  ~SocketReadAhead();
  SocketReadAhead(const SocketReadAhead&) = delete;
  SocketReadAhead& operator=(const SocketReadAhead&) = delete;

  // True when the process's recv and poll are the ones defined here, as the dynamic linker
  // gives them to libssh (the server's link exports them; without that libssh would bypass
  // the buffers and only cost more CPU).
  static bool InEffect();

  // True when reads on the fd go through the buffer.
  bool active() const { return active_; }
  // Bytes buffered and not yet handed out (for tests).
  std::size_t buffered() const;

 private:
  int fd_;
  bool active_ = false;
};

}  // namespace sftplc::server
