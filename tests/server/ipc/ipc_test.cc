// The monitor <-> transport and monitor <-> SFTP worker messages: encoding round trips, the
// frame checks of the one parser, descriptor passing, and the state rules of the WorkerGuard and
// the TransportGuard (both processes are hostile).

#include "sftpd/server/ipc/ipc.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace sftplc::ipc {
namespace {

Result<Message> DecodeString(const std::string& s) {
  return Decode(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

Usage MakeUsage(uint64_t in, uint64_t out, bool activity) {
  Usage u;
  u.counters.bytes_in = in;
  u.counters.bytes_out = out;
  u.counters.files_uploaded = 1;
  u.counters.files_downloaded = 2;
  u.counters.files_removed = 3;
  u.activity = activity;
  return u;
}

Requests MakeRequests(uint8_t type, uint32_t count, uint64_t bytes_in, int handles_delta) {
  Requests q;
  q.outcome.type = type;
  q.outcome.status = 0;
  q.outcome.count = count;
  q.outcome.bytes_in = bytes_in;
  q.outcome.bytes_out = 7;
  q.outcome.handles_delta = handles_delta;
  return q;
}

Hello MakeHello(std::size_t keys) {
  Hello h;
  h.connection = 42;
  h.login_grace_ms = 30000;
  h.idle_timeout_s = 900;
  h.write_timeout_s = 30;
  h.max_auth_tries = 6;
  h.kex = "curve25519-sha256";
  h.macs = "hmac-sha2-256-etm@openssh.com";
  for (std::size_t i = 0; i < keys; ++i) {
    h.host_keys.push_back("-----BEGIN OPENSSH PRIVATE KEY-----\n" + std::string(400, 'k'));
  }
  return h;
}

TEST(IpcCodec, EveryMessageRoundTrips) {
  Start s{256, true, 0x0102030405060708ULL};
  PublicKey key{"alice", "ssh-ed25519", std::string(68, 'A'), true, "SSH-2.0-x"};
  for (const Message& m :
       {Message(s), Message(Ready{7}), Message(MakeUsage(1ULL << 40, 5, true)),
        Message(End{EndReason::kProtocolError}),
        Message(MakeRequests(250, 0xfffffffe, 1ULL << 50, -3)), Message(MakeHello(4)),
        Message(AuthAnswer{AuthOutcome::kBanned}), Message(SftpAnswer{true}),
        Message(Stop{StopReason::kRevoked}),
        Message(Password{"alice", std::string("p\0w", 3), "SSH-2.0-OpenSSH_9.2"}), Message(key),
        Message(OpenSftp{}), Message(Relayed{1ULL << 60}),
        Message(Bye{ByeReason::kWindowExceeded})}) {
    auto d = DecodeString(Encode(m));
    ASSERT_TRUE(d) << d.error().message();
    EXPECT_EQ(*d, m);
  }
}

TEST(IpcCodec, FieldsAreBigEndian) {
  EXPECT_EQ(Encode(Ready{0x01020304}), std::string("\x02\x01\x02\x03\x04", 5));
}

TEST(IpcCodec, FrameChecksComeFirst) {
  EXPECT_FALSE(Decode(nullptr, 0));
  EXPECT_FALSE(DecodeString(std::string(kMaxMessage + 1, '\x03')));
  EXPECT_FALSE(DecodeString(std::string("\x09\x00\x00\x00\x00", 5))) << "unknown type";
  std::string ready = Encode(Ready{1});
  EXPECT_FALSE(DecodeString(ready.substr(0, ready.size() - 1))) << "short";
  EXPECT_FALSE(DecodeString(ready + '\0')) << "trailing byte";
  std::string usage = Encode(MakeUsage(1, 2, false));
  EXPECT_FALSE(DecodeString(usage.substr(0, usage.size() - 1)));
}

TEST(IpcCodec, FieldRangesAreChecked) {
  std::string start = Encode(Start{1, false, 1});
  start[5] = 2;  // read_only must be 0 or 1
  EXPECT_FALSE(DecodeString(start));
  EXPECT_FALSE(DecodeString(Encode(Start{0, false, 1}))) << "no handles";
  EXPECT_FALSE(DecodeString(Encode(Start{kMaxHandles + 1, false, 1})));
  EXPECT_TRUE(DecodeString(Encode(Start{kMaxHandles, false, 1})));
  std::string usage = Encode(MakeUsage(1, 2, false));
  usage.back() = 7;  // activity must be 0 or 1
  EXPECT_FALSE(DecodeString(usage));
  EXPECT_FALSE(DecodeString(std::string("\x04\x00", 2))) << "end reason 0";
  EXPECT_FALSE(DecodeString(std::string("\x04\x04", 2))) << "end reason 4";
  std::string none = Encode(MakeRequests(3, 1, 0, 0));
  none[6] = none[7] = none[8] = none[9] = 0;  // count
  EXPECT_FALSE(DecodeString(none)) << "a tally of no request";
}

// Strings: each within its bound and within the message; counts and ranges of the transport's
// messages checked like the worker's.
TEST(IpcCodec, TransportFieldsAreBounded) {
  EXPECT_TRUE(DecodeString(Encode(Password{std::string(kMaxUser, 'u'), "p", "v"})));
  EXPECT_FALSE(DecodeString(Encode(Password{std::string(kMaxUser + 1, 'u'), "p", "v"})));
  EXPECT_FALSE(DecodeString(Encode(Password{"u", std::string(kMaxPassword + 1, 'p'), "v"})));
  EXPECT_FALSE(
      DecodeString(Encode(PublicKey{"u", std::string(kMaxKeyType + 1, 't'), "AAAA", true, ""})));
  std::string pw = Encode(Password{"alice", "secret", "v"});
  pw[4] = 9;  // user's length past the end of the message
  EXPECT_FALSE(DecodeString(pw));
  EXPECT_FALSE(DecodeString(Encode(Password{"a", "b", "c"}) + 'x')) << "trailing byte";
  EXPECT_FALSE(DecodeString(Encode(MakeHello(0)))) << "no host key";
  EXPECT_FALSE(DecodeString(Encode(MakeHello(kMaxHostKeys + 1))));
  Hello zero = MakeHello(1);
  zero.login_grace_ms = 0;
  EXPECT_FALSE(DecodeString(Encode(zero)));
  Hello tries = MakeHello(1);
  tries.max_auth_tries = kMaxAuthTries + 1;
  EXPECT_FALSE(DecodeString(Encode(tries)));
  EXPECT_FALSE(DecodeString(std::string("\x11\x04", 2))) << "login outcome 4";
  EXPECT_FALSE(DecodeString(std::string("\x13\x03", 2))) << "stop reason 3";
  EXPECT_FALSE(DecodeString(std::string("\x1c\x09", 2))) << "bye reason 9";
  EXPECT_FALSE(DecodeString(std::string("\x12\x02", 2))) << "boolean 2";
  EXPECT_FALSE(DecodeString(std::string("\x1a\x00", 2))) << "OpenSftp has no field";
}

class IpcSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds_), 0);
  }
  void TearDown() override {
    for (int fd : fds_) {
      if (fd >= 0) {
        close(fd);
      }
    }
  }
  int fds_[2] = {-1, -1};
};

TEST_F(IpcSocketTest, StartCarriesTheRootDescriptor) {
  int dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(dir, 0);
  ASSERT_TRUE(Send(fds_[0], Start{8, false, 42}, dir));
  close(dir);
  auto got = Receive(fds_[1], /*block=*/true);
  ASSERT_TRUE(got) << got.error().message();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->message, Message(Start{8, false, 42}));
  ASSERT_GE((*got)->fd, 0);
  struct stat st;
  ASSERT_EQ(fstat((*got)->fd, &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(fcntl((*got)->fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  close((*got)->fd);
}

TEST_F(IpcSocketTest, NothingWaitingPeerGoneAndGarbage) {
  auto none = Receive(fds_[1], /*block=*/false);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  ASSERT_EQ(send(fds_[0], "\x63garbage", 8, 0), 8);
  auto bad = Receive(fds_[1], /*block=*/false);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  std::string big(kMaxMessage + 10, '\x03');
  ASSERT_EQ(send(fds_[0], big.data(), big.size(), 0), static_cast<ssize_t>(big.size()));
  EXPECT_FALSE(Receive(fds_[1], /*block=*/false)) << "a truncated datagram is refused";
  close(fds_[0]);
  fds_[0] = -1;
  auto gone = Receive(fds_[1], /*block=*/false);
  ASSERT_FALSE(gone);
  EXPECT_TRUE(gone.error().IsNotFound());
}

// A peer that dies with our messages unread (a transport killed by its seccomp filter while an
// answer waits for it) is gone like one that closed: the kernel says ECONNRESET.
TEST_F(IpcSocketTest, PeerDeadWithMessagesUnreadIsGone) {
  ASSERT_TRUE(Send(fds_[0], AuthAnswer{AuthOutcome::kRejected}));
  close(fds_[1]);
  fds_[1] = -1;
  auto gone = Receive(fds_[0], /*block=*/false);
  ASSERT_FALSE(gone);
  EXPECT_TRUE(gone.error().IsNotFound()) << gone.error().message();
}

TEST(WorkerGuard, ReadyFirstThenUsageThenEnd) {
  WorkerGuard g;
  EXPECT_EQ(g.state(), WorkerGuard::State::kStarting);
  EXPECT_FALSE(g.Accept(MakeUsage(0, 0, false), 0)) << "usage before Ready";
  WorkerGuard g2;
  EXPECT_FALSE(g2.Accept(End{EndReason::kClosed}, 0)) << "End before Ready";
  ASSERT_TRUE(g.Accept(Ready{6}, 0));
  EXPECT_EQ(g.landlock_abi(), 6u);
  EXPECT_FALSE(g.Accept(Ready{6}, 0)) << "second Ready";
}

TEST(WorkerGuard, StartFromTheWorkerIsRefused) {
  WorkerGuard g;
  EXPECT_FALSE(g.Accept(Start{1, false, 1}, 0));
}

TEST(WorkerGuard, UsageIsMonotonicAndBoundedByRelayedBytes) {
  WorkerGuard g;
  ASSERT_TRUE(g.Accept(Ready{0}, 0));
  ASSERT_TRUE(g.Accept(MakeUsage(100, 50, true), 100));
  EXPECT_EQ(g.counters().bytes_in, 100u);
  EXPECT_TRUE(g.TakeActivity());
  EXPECT_FALSE(g.TakeActivity());
  EXPECT_FALSE(g.Accept(MakeUsage(99, 50, false), 1000)) << "bytes_in went down";
  WorkerGuard h;
  ASSERT_TRUE(h.Accept(Ready{0}, 0));
  ASSERT_TRUE(h.Accept(MakeUsage(100, 50, false), 100));
  EXPECT_FALSE(h.Accept(MakeUsage(100, 49, false), 100)) << "bytes_out went down";
  WorkerGuard k;
  ASSERT_TRUE(k.Accept(Ready{0}, 0));
  EXPECT_FALSE(k.Accept(MakeUsage(101, 0, false), 100)) << "more than the client sent";
}

// Request tallies feed the metrics: at most one request per 9 bytes the client sent, no more
// bytes written than it sent, one handle per request at most, and at each Usage between none
// and max_handles open (the tallies of one report come in any order).
TEST(WorkerGuard, RequestTalliesAreBoundedByWhatTheClientSent) {
  WorkerGuard g(4);
  EXPECT_FALSE(g.Accept(MakeRequests(3, 1, 0, 1), 0)) << "before Ready";
  ASSERT_TRUE(g.Accept(Ready{0}, 0));
  ASSERT_TRUE(g.Accept(MakeRequests(4, 1, 0, -1), 9)) << "a CLOSE tallied before its OPEN";
  ASSERT_TRUE(g.Accept(MakeRequests(3, 2, 0, 2), 27));
  EXPECT_EQ(g.handles_open(), 1);
  ASSERT_TRUE(g.Accept(MakeUsage(0, 0, false), 27));
  EXPECT_FALSE(g.Accept(MakeRequests(4, 1, 0, -1), 27)) << "a fourth request in 27 bytes";
  EXPECT_FALSE(g.Accept(MakeRequests(4, 1, 0, -2), 100)) << "two handles for one request";
  EXPECT_FALSE(g.Accept(MakeRequests(6, 1, 101, 0), 100)) << "writes more than was sent";
  ASSERT_TRUE(g.Accept(MakeRequests(6, 1, 50, 0), 100));
  EXPECT_FALSE(g.Accept(MakeRequests(6, 1, ~0ULL, 0), ~0ULL)) << "bytes wrap";
  WorkerGuard over(4);
  ASSERT_TRUE(over.Accept(Ready{0}, 0));
  ASSERT_TRUE(over.Accept(MakeRequests(3, 5, 0, 5), 45));
  EXPECT_FALSE(over.Accept(MakeUsage(0, 0, false), 45)) << "past max_handles";
  WorkerGuard under(4);
  ASSERT_TRUE(under.Accept(Ready{0}, 0));
  ASSERT_TRUE(under.Accept(MakeRequests(4, 1, 0, -1), 9));
  EXPECT_FALSE(under.Accept(MakeUsage(0, 0, false), 9)) << "fewer than none open";
}

TEST(WorkerGuard, NothingAfterEnd) {
  WorkerGuard g;
  ASSERT_TRUE(g.Accept(Ready{0}, 0));
  ASSERT_TRUE(g.Accept(End{EndReason::kProtocolError}, 0));
  EXPECT_EQ(g.end_reason(), EndReason::kProtocolError);
  EXPECT_EQ(g.state(), WorkerGuard::State::kEnded);
  EXPECT_FALSE(g.Accept(MakeUsage(0, 0, false), 0));
  EXPECT_FALSE(g.Accept(End{EndReason::kClosed}, 0));
}

TEST(WorkerGuard, TransportMessagesAreRefused) {
  WorkerGuard g;
  ASSERT_TRUE(g.Accept(Ready{0}, 0));
  for (const Message& m : {Message(Relayed{1}), Message(OpenSftp{}), Message(Bye{}),
                           Message(Password{"a", "b", "c"}), Message(Stop{})}) {
    EXPECT_FALSE(g.Accept(m, 1 << 20));
  }
  EXPECT_EQ(g.state(), WorkerGuard::State::kServing);
}

TEST(TransportGuard, LoginThenSftpThenRelayedThenBye) {
  TransportGuard g(3);
  ASSERT_TRUE(g.Accept(Password{"alice", "wrong", "v"}));
  g.Decided(AuthOutcome::kRejected, true);
  ASSERT_TRUE(g.Accept(PublicKey{"alice", "ssh-ed25519", "AAAA", false, "v"}));
  g.Decided(AuthOutcome::kAccepted, /*logs_in=*/false);  // a probe answered PK_OK
  EXPECT_EQ(g.state(), TransportGuard::State::kAuthenticating);
  ASSERT_TRUE(g.Accept(PublicKey{"alice", "ssh-ed25519", "AAAA", true, "v"}));
  g.Decided(AuthOutcome::kAccepted, true);
  EXPECT_EQ(g.state(), TransportGuard::State::kLoggedIn);
  EXPECT_EQ(g.failures(), 1);
  ASSERT_TRUE(g.Accept(OpenSftp{}));
  g.Serving();
  EXPECT_EQ(g.state(), TransportGuard::State::kServing);
  ASSERT_TRUE(g.Accept(Relayed{10}));
  ASSERT_TRUE(g.Accept(Relayed{10}));
  EXPECT_EQ(g.relayed_in(), 10u);
  ASSERT_TRUE(g.Accept(Bye{ByeReason::kClosed}));
  EXPECT_EQ(g.bye(), ByeReason::kClosed);
  EXPECT_FALSE(g.Accept(Relayed{11})) << "nothing after Bye";
  EXPECT_FALSE(g.Accept(Bye{ByeReason::kClosed}));
}

// What a compromised transport might try: more attempts than allowed, a second login, sftp
// before the login or twice, relayed bytes going down, the monitor's or the worker's messages.
TEST(TransportGuard, RefusesWhatItsStateDoesNotAllow) {
  TransportGuard g(2);
  EXPECT_FALSE(g.Accept(OpenSftp{})) << "sftp before the login";
  EXPECT_FALSE(g.Accept(Relayed{1})) << "relay before sftp";
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(g.Accept(Password{"u", "p", "v"}));
    g.Decided(AuthOutcome::kRejected, true);
  }
  EXPECT_FALSE(g.Accept(Password{"u", "p", "v"})) << "past max_auth_tries";

  TransportGuard in(6);
  ASSERT_TRUE(in.Accept(Password{"u", "p", "v"}));
  in.Decided(AuthOutcome::kAccepted, true);
  EXPECT_FALSE(in.Accept(Password{"other", "p", "v"})) << "a second login";
  EXPECT_FALSE(in.Accept(PublicKey{"other", "t", "AAAA", true, "v"}));
  ASSERT_TRUE(in.Accept(OpenSftp{}));
  EXPECT_FALSE(in.Accept(OpenSftp{})) << "sftp twice";
  in.Serving();
  ASSERT_TRUE(in.Accept(Relayed{100}));
  EXPECT_FALSE(in.Accept(Relayed{99})) << "relayed bytes went down";
  for (const Message& m :
       {Message(MakeHello(1)), Message(AuthAnswer{}), Message(SftpAnswer{}), Message(Stop{}),
        Message(Start{1, false, 1}), Message(Ready{0}), Message(MakeUsage(0, 0, false)),
        Message(End{}), Message(MakeRequests(1, 1, 9, 0))}) {
    EXPECT_FALSE(in.Accept(m));
  }
  EXPECT_EQ(in.state(), TransportGuard::State::kServing);
}

}  // namespace
}  // namespace sftplc::ipc
