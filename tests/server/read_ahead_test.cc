#include "sftpd/server/read_ahead.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace sftplc::server {
namespace {

// A connected pair of stream sockets; `ours` is the end the server would read.
struct SocketPair {
  int ours = -1;
  int peer = -1;
  SocketPair() {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0) {
      ours = fds[0];
      peer = fds[1];
      fcntl(ours, F_SETFL, fcntl(ours, F_GETFL) | O_NONBLOCK);
    }
  }
  ~SocketPair() {
    close(ours);
    close(peer);
  }
};

std::string Pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>((i * 131 + i / 251) & 0xff);
  }
  return s;
}

void WriteAll(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    ASSERT_GT(n, 0) << std::strerror(errno);
    off += static_cast<std::size_t>(n);
  }
}

// Reads like libssh does (poll, then one 4 KiB recv per POLLIN) until `want` bytes or EOF.
std::string ReadLikeLibssh(int fd, std::size_t want, int* polls = nullptr) {
  std::string got;
  char chunk[4096];
  while (got.size() < want) {
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, 1000);
    if (r <= 0) {
      break;
    }
    if (polls != nullptr) {
      ++*polls;
    }
    ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) {
      break;
    }
    got.append(chunk, static_cast<std::size_t>(n));
  }
  return got;
}

// libssh gets recv and poll from the dynamic linker: they must be these.
TEST(SocketReadAheadTest, InEffectForLibssh) { EXPECT_TRUE(SocketReadAhead::InEffect()); }

// 200 KiB written at once come out whole and in order through 4 KiB reads, and the first read
// took a whole 64 KiB from the kernel.
TEST(SocketReadAheadTest, SmallReadsSeeTheStreamInOrder) {
  SocketPair sp;
  ASSERT_GE(sp.ours, 0);
  SocketReadAhead ra(sp.ours);
  ASSERT_TRUE(ra.active());
  std::string data = Pattern(200 * 1024);
  WriteAll(sp.peer, data);
  char first[4096];
  ASSERT_EQ(recv(sp.ours, first, sizeof first, 0), 4096);
  EXPECT_EQ(ra.buffered(), SocketReadAhead::kBufferSize - 4096);
  std::string got(first, sizeof first);
  got += ReadLikeLibssh(sp.ours, data.size() - got.size());
  EXPECT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data);
  EXPECT_EQ(ra.buffered(), 0u);
}

// poll reports buffered bytes at once, even with nothing left in the kernel and an infinite
// timeout, and still reports what the kernel knows about other fds and events in the same set:
// a buffered socket's POLLOUT too (libssh writes nothing until a poll reports POLLOUT, so
// holding it back while input is buffered stalls downloads).
TEST(SocketReadAheadTest, PollSeesBufferedBytesWithoutWaiting) {
  SocketPair sp;
  SocketPair other;
  SocketReadAhead ra(sp.ours);
  ASSERT_TRUE(ra.active());
  WriteAll(sp.peer, Pattern(10000));
  char buf[100];
  ASSERT_EQ(recv(sp.ours, buf, sizeof buf, 0), 100);  // the kernel queue is empty now
  ASSERT_EQ(ra.buffered(), 9900u);
  pollfd one{sp.ours, POLLIN, 0};
  EXPECT_EQ(poll(&one, 1, -1), 1);
  EXPECT_EQ(one.revents, POLLIN);
  // Mixed set: the buffered socket is readable (buffer) and writable (kernel); the other socket
  // is writable (kernel), not readable.
  pollfd set[2] = {{sp.ours, POLLIN | POLLOUT, 0}, {other.ours, POLLIN | POLLOUT, 0}};
  EXPECT_EQ(poll(set, 2, -1), 2);
  EXPECT_EQ(set[0].revents, POLLIN | POLLOUT);
  EXPECT_EQ(set[1].revents, POLLOUT);
  // Drained: poll waits on the kernel again (nothing there: times out), which reports POLLOUT.
  std::string rest = ReadLikeLibssh(sp.ours, 9900);
  EXPECT_EQ(rest.size(), 9900u);
  pollfd again{sp.ours, POLLIN, 0};
  EXPECT_EQ(poll(&again, 1, 0), 0);
  pollfd writable{sp.ours, POLLIN | POLLOUT, 0};
  EXPECT_EQ(poll(&writable, 1, -1), 1);
  EXPECT_EQ(writable.revents, POLLOUT);
}

// A larger set, buffered fds and others in any order: each gets its own answer.
TEST(SocketReadAheadTest, PollAnswersLargeMixedSets) {
  std::vector<std::unique_ptr<SocketPair>> pairs;
  std::vector<std::unique_ptr<SocketReadAhead>> buffered;
  std::vector<pollfd> set;
  for (int i = 0; i < 20; ++i) {
    pairs.push_back(std::make_unique<SocketPair>());
    if (i % 3 == 0) {
      buffered.push_back(std::make_unique<SocketReadAhead>(pairs.back()->ours));
      WriteAll(pairs.back()->peer, Pattern(200));
      char one;
      ASSERT_EQ(recv(pairs.back()->ours, &one, 1, 0), 1);  // the rest is in the buffer now
    }
    set.push_back({pairs.back()->ours, POLLIN | POLLOUT, 0});
  }
  EXPECT_EQ(poll(set.data(), set.size(), -1), 20);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(set[i].revents, i % 3 == 0 ? POLLIN | POLLOUT : POLLOUT) << i;
  }
}

// EAGAIN and EOF reach the caller as the kernel gave them, after every buffered byte.
TEST(SocketReadAheadTest, ErrorsAndEndOfStreamPassThrough) {
  SocketPair sp;
  SocketReadAhead ra(sp.ours);
  char buf[4096];
  errno = 0;
  EXPECT_EQ(recv(sp.ours, buf, sizeof buf, 0), -1);
  EXPECT_EQ(errno, EAGAIN);
  WriteAll(sp.peer, Pattern(6000));
  shutdown(sp.peer, SHUT_WR);
  EXPECT_EQ(recv(sp.ours, buf, sizeof buf, 0), 4096);
  EXPECT_EQ(recv(sp.ours, buf, sizeof buf, 0), 6000 - 4096);
  EXPECT_EQ(recv(sp.ours, buf, sizeof buf, 0), 0);
}

// MSG_PEEK does not consume; an fd that is not registered is not buffered.
TEST(SocketReadAheadTest, PeekAndUnregisteredFds) {
  SocketPair sp;
  SocketPair plain;
  SocketReadAhead ra(sp.ours);
  std::string data = Pattern(5000);
  WriteAll(sp.peer, data);
  char a[10];
  char b[10];
  ASSERT_EQ(recv(sp.ours, a, 1, 0), 1);
  ASSERT_EQ(recv(sp.ours, a, sizeof a, MSG_PEEK), 10);
  ASSERT_EQ(recv(sp.ours, b, sizeof b, 0), 10);
  EXPECT_EQ(std::string(a, 10), std::string(b, 10));
  EXPECT_EQ(std::string(b, 10), data.substr(1, 10));

  WriteAll(plain.peer, data);
  char c[4096];
  ASSERT_EQ(recv(plain.ours, c, 100, 0), 100);
  // Nothing was taken beyond what was asked: the rest is still in the kernel.
  ASSERT_EQ(recv(plain.ours, c, sizeof c, MSG_PEEK), 4096);
}

// libssh closes a connection's socket itself (ssh_disconnect, a failed write, a failed key
// exchange) while the session still holds its registration; accept4 may then hand the same fd
// number to the next connection before the old session lets go. The new connection's
// registration replaces the stale one: it reads only its own bytes, never the old client's
// leftovers, and the old session's release does not take the new buffer away.
TEST(SocketReadAheadTest, ReusedFdNumberNeverMeetsAStaleBuffer) {
  auto old_pair = std::make_unique<SocketPair>();
  const int fd = old_pair->ours;
  auto old_reg = std::make_unique<SocketReadAhead>(fd);
  ASSERT_TRUE(old_reg->active());
  WriteAll(old_pair->peer, std::string(8192, 'o'));
  char c[4096];
  ASSERT_EQ(recv(fd, c, 100, 0), 100);  // 8092 of the old client's bytes stay buffered
  ASSERT_GT(old_reg->buffered(), 0u);
  close(old_pair->ours);  // what libssh does
  old_pair->ours = -1;
  EXPECT_EQ(old_reg->buffered(), 0u);  // unregistered by the close itself

  SocketPair fresh;  // the lowest free number: the one just closed
  ASSERT_EQ(fresh.ours, fd);
  SocketReadAhead new_reg(fd);
  EXPECT_TRUE(new_reg.active());
  WriteAll(fresh.peer, "new client");
  EXPECT_EQ(ReadLikeLibssh(fd, 10), "new client");
  old_reg.reset();  // the old session ends after the new one started
  EXPECT_TRUE(new_reg.active());
  WriteAll(fresh.peer, "more");
  EXPECT_EQ(ReadLikeLibssh(fd, 4), "more");
  EXPECT_EQ(new_reg.buffered(), 0u);
}

// The buffer goes with the registration; a fd beyond the table is left unbuffered.
TEST(SocketReadAheadTest, ReleaseOnDestruction) {
  SocketPair sp;
  {
    SocketReadAhead first(sp.ours);
    EXPECT_TRUE(first.active());
  }
  SocketReadAhead again(sp.ours);
  EXPECT_TRUE(again.active());
  WriteAll(sp.peer, "x");
  EXPECT_EQ(ReadLikeLibssh(sp.ours, 1), "x");
  SocketReadAhead out_of_range(1 << 20);
  EXPECT_FALSE(out_of_range.active());
}

}  // namespace
}  // namespace sftplc::server
