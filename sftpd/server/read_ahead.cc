// This file defines the C library's recv and poll: the fortified inline wrappers of the
// headers would clash with the definitions.
#undef _FORTIFY_SOURCE

#include "sftpd/server/read_ahead.h"

#include <dlfcn.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>

namespace sftplc::server {

struct ReadAheadBuffer {
  std::unique_ptr<uint8_t[]> data{new uint8_t[SocketReadAhead::kBufferSize]};
  std::size_t begin = 0;
  std::size_t end = 0;
  std::size_t size() const { return end - begin; }
};

namespace {

using Buffer = ReadAheadBuffer;

// fd -> buffer. Set by the thread that owns the fd (register), cleared by close() of that fd
// before the number is free again, so a fd opened later under the same number (by accept4, or by
// libpq in another thread) never finds a buffer it does not own. The Buffer itself belongs to
// its SocketReadAhead, which frees it.
constexpr int kTableSize = 1 << 16;
std::atomic<Buffer*> g_table[kTableSize];

Buffer* Lookup(int fd) {
  if (fd < 0 || fd >= kTableSize) {
    return nullptr;
  }
  return g_table[fd].load(std::memory_order_acquire);
}

using RecvFn = ssize_t (*)(int, void*, size_t, int);
using PollFn = int (*)(struct pollfd*, nfds_t, int);
using CloseFn = int (*)(int);

RecvFn RealRecv() {
  static const auto fn = reinterpret_cast<RecvFn>(dlsym(RTLD_NEXT, "recv"));
  return fn;
}

PollFn RealPoll() {
  static const auto fn = reinterpret_cast<PollFn>(dlsym(RTLD_NEXT, "poll"));
  return fn;
}

CloseFn RealClose() {
  static const auto fn = reinterpret_cast<CloseFn>(dlsym(RTLD_NEXT, "close"));
  return fn;
}

}  // namespace

SocketReadAhead::SocketReadAhead(int fd) : fd_(fd) {
  if (fd < 0 || fd >= kTableSize || !InEffect() || RealRecv() == nullptr || RealPoll() == nullptr ||
      RealClose() == nullptr) {
    return;
  }
  buffer_ = std::make_unique<Buffer>();
  // An entry still there belongs to a registration whose fd was closed some other way than
  // close() (an open fd number has one owner): replace it; its owner frees it.
  g_table[fd].store(buffer_.get(), std::memory_order_release);
  active_ = true;
}

SocketReadAhead::~SocketReadAhead() {
  if (buffer_ != nullptr) {
    // Unregister only our own buffer: the number may be someone else's by now.
    Buffer* expected = buffer_.get();
    g_table[fd_].compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel);
  }
}

std::size_t SocketReadAhead::buffered() const {
  Buffer* b = Lookup(fd_);
  return b != nullptr && b == buffer_.get() ? b->size() : 0;
}

std::size_t SocketReadAhead::Buffered(int fd) {
  Buffer* b = Lookup(fd);
  return b != nullptr ? b->size() : 0;
}

}  // namespace sftplc::server

bool sftplc::server::SocketReadAhead::InEffect() {
  static const bool in_effect = dlsym(RTLD_DEFAULT, "recv") == reinterpret_cast<void*>(&::recv) &&
                                dlsym(RTLD_DEFAULT, "poll") == reinterpret_cast<void*>(&::poll) &&
                                dlsym(RTLD_DEFAULT, "close") == reinterpret_cast<void*>(&::close);
  return in_effect;
}

using sftplc::server::Buffer;
using sftplc::server::g_table;
using sftplc::server::kTableSize;
using sftplc::server::Lookup;
using sftplc::server::RealClose;
using sftplc::server::RealPoll;
using sftplc::server::RealRecv;
using sftplc::server::SocketReadAhead;

extern "C" __attribute__((visibility("default"))) ssize_t recv(int fd, void* buf, size_t len,
                                                               int flags) {
  Buffer* b = Lookup(fd);
  if (b == nullptr) {
    return RealRecv()(fd, buf, len, flags);
  }
  // libssh's recv(fd, buf, 4096, 0) is what the buffer is for; other flags still get the
  // bytes already taken from the kernel first, so nothing is reordered.
  bool served = (flags & ~(MSG_DONTWAIT | MSG_PEEK)) == 0 && len > 0;
  bool peek = served && (flags & MSG_PEEK) != 0;
  if (b->size() == 0) {
    if (!served || peek || len >= SocketReadAhead::kBufferSize) {
      return RealRecv()(fd, buf, len, flags);  // nothing to gain from copying through
    }
    ssize_t n = RealRecv()(fd, b->data.get(), SocketReadAhead::kBufferSize, flags);
    if (n <= 0) {
      return n;  // EOF, or the error (errno as recv set it)
    }
    b->begin = 0;
    b->end = static_cast<std::size_t>(n);
  }
  std::size_t take = std::min(len, b->size());
  std::memcpy(buf, b->data.get() + b->begin, take);
  if (!peek) {
    b->begin += take;
  }
  return static_cast<ssize_t>(take);
}

extern "C" __attribute__((visibility("default"))) int poll(struct pollfd* fds, nfds_t nfds,
                                                           int timeout) {
  auto readable_here = [](const pollfd& p) {
    Buffer* b = Lookup(p.fd);
    return b != nullptr && b->size() > 0 && (p.events & POLLIN) != 0;
  };
  bool any_here = false;
  bool kernel_needed = false;  // an entry the buffers cannot answer alone
  for (nfds_t i = 0; i < nfds; ++i) {
    bool here = readable_here(fds[i]);
    any_here = any_here || here;
    kernel_needed = kernel_needed || !here || (fds[i].events & ~POLLIN) != 0;
  }
  if (!any_here) {
    return RealPoll()(fds, nfds, timeout);
  }
  // Something is readable now: do not wait, but let the kernel answer the rest.
  if (kernel_needed) {
    if (RealPoll()(fds, nfds, 0) < 0) {
      return -1;
    }
  } else {
    for (nfds_t i = 0; i < nfds; ++i) {
      fds[i].revents = 0;
    }
  }
  int ready = 0;
  for (nfds_t i = 0; i < nfds; ++i) {
    if (readable_here(fds[i])) {
      fds[i].revents |= POLLIN;
    }
    if (fds[i].revents != 0) {
      ++ready;
    }
  }
  return ready;
}

// libssh closes a connection's socket itself (ssh_disconnect, a failed write, a failed key
// exchange): the registration is dropped before the number can be handed out again.
extern "C" __attribute__((visibility("default"))) int close(int fd) {
  if (fd >= 0 && fd < kTableSize && g_table[fd].load(std::memory_order_relaxed) != nullptr) {
    g_table[fd].store(nullptr, std::memory_order_release);
  }
  return RealClose()(fd);
}
