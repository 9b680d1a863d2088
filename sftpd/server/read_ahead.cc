// This file defines the C library's recv and poll: the fortified inline wrappers of the
// headers would clash with the definitions.
#undef _FORTIFY_SOURCE

#include "sftpd/server/read_ahead.h"

#include <dlfcn.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>

namespace sftplc::server {
namespace {

struct Buffer {
  std::unique_ptr<uint8_t[]> data{new uint8_t[SocketReadAhead::kBufferSize]};
  std::size_t begin = 0;
  std::size_t end = 0;
  std::size_t size() const { return end - begin; }
};

// fd -> buffer. Written only by the thread that owns the fd (register, unregister); read by
// every recv/poll of the process, which for a fd they do not own always finds nullptr.
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

RecvFn RealRecv() {
  static const auto fn = reinterpret_cast<RecvFn>(dlsym(RTLD_NEXT, "recv"));
  return fn;
}

PollFn RealPoll() {
  static const auto fn = reinterpret_cast<PollFn>(dlsym(RTLD_NEXT, "poll"));
  return fn;
}

}  // namespace

SocketReadAhead::SocketReadAhead(int fd) : fd_(fd) {
  if (fd < 0 || fd >= kTableSize || RealRecv() == nullptr || RealPoll() == nullptr) {
    return;
  }
  auto* b = new Buffer();
  Buffer* expected = nullptr;
  if (!g_table[fd].compare_exchange_strong(expected, b, std::memory_order_acq_rel)) {
    delete b;
    return;
  }
  active_ = true;
}

SocketReadAhead::~SocketReadAhead() {
  if (active_) {
    delete g_table[fd_].exchange(nullptr, std::memory_order_acq_rel);
  }
}

std::size_t SocketReadAhead::buffered() const {
  Buffer* b = active_ ? Lookup(fd_) : nullptr;
  return b != nullptr ? b->size() : 0;
}

}  // namespace sftplc::server

bool sftplc::server::SocketReadAhead::InEffect() {
  return dlsym(RTLD_DEFAULT, "recv") == reinterpret_cast<void*>(&::recv) &&
         dlsym(RTLD_DEFAULT, "poll") == reinterpret_cast<void*>(&::poll);
}

using sftplc::server::Buffer;
using sftplc::server::Lookup;
using sftplc::server::RealPoll;
using sftplc::server::RealRecv;
using sftplc::server::SocketReadAhead;

extern "C" __attribute__((visibility("default"))) ssize_t recv(int fd, void* buf, size_t len,
                                                               int flags) {
  Buffer* b = Lookup(fd);
  constexpr int kServed = MSG_DONTWAIT | MSG_PEEK;
  if (b == nullptr || (flags & ~kServed) != 0 || len == 0) {
    if (b != nullptr && b->size() > 0) {
      // A flag this buffer does not serve, with bytes already taken from the kernel: hand
      // those out first so nothing is reordered.
      std::size_t take = std::min(len, b->size());
      std::memcpy(buf, b->data.get() + b->begin, take);
      b->begin += take;
      return static_cast<ssize_t>(take);
    }
    return RealRecv()(fd, buf, len, flags);
  }
  if (b->size() == 0) {
    if (len >= SocketReadAhead::kBufferSize || (flags & MSG_PEEK) != 0) {
      return RealRecv()(fd, buf, len, flags);  // as large as the buffer: no point copying
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
  if ((flags & MSG_PEEK) == 0) {
    b->begin += take;
  }
  return static_cast<ssize_t>(take);
}

extern "C" __attribute__((visibility("default"))) int poll(struct pollfd* fds, nfds_t nfds,
                                                           int timeout) {
  bool any_buffered = false;
  bool kernel_needed = false;  // an entry the buffers cannot answer alone
  for (nfds_t i = 0; i < nfds; ++i) {
    Buffer* b = Lookup(fds[i].fd);
    if (b != nullptr && b->size() > 0 && (fds[i].events & POLLIN) != 0) {
      any_buffered = true;
      if ((fds[i].events & ~POLLIN) != 0) {
        kernel_needed = true;
      }
    } else {
      kernel_needed = true;
    }
  }
  if (!any_buffered) {
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
    Buffer* b = Lookup(fds[i].fd);
    if (b != nullptr && b->size() > 0 && (fds[i].events & POLLIN) != 0) {
      fds[i].revents |= POLLIN;
    }
    if (fds[i].revents != 0) {
      ++ready;
    }
  }
  return ready;
}
