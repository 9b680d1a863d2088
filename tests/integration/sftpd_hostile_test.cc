// Hostile and unusual clients against the real daemon: a Go pkg/sftp client (rclone), a client
// that ignores the channel window, connection floods, descriptor exhaustion, and sessions that
// must end when their account is revoked. Each test reproduces the attack first.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/daemon_harness.h"
#include "tests/testing/openssh_client.h"
#include "tests/testing/service_user.h"

namespace sftplc::testing {
namespace {

constexpr const char* kPassword = "correct horse battery staple";

// A "Vm...:" field of /proc/PID/status in KiB (VmRSS, VmHWM), or -1.
long VmKib(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      std::istringstream fields(line.substr(field.size() + 1));
      long kib = -1;
      fields >> kib;
      return kib;
    }
  }
  return -1;
}

class HostileClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    d_.Set("server", "shutdown_grace = \"2s\"");
    ASSERT_NO_FATAL_FAILURE(Configure());
    if (IsSkipped()) {
      return;
    }
    d_.WriteConfig();
    ASSERT_NO_FATAL_FAILURE(CreateAccount("alice"));
    WriteFile(d_.dir().Sub("pw"), std::string(kPassword) + "\n");
    ASSERT_TRUE(d_.Start()) << d_.error();
  }

  // Called before the config is written and the daemon started.
  virtual void Configure() {}

  void CreateAccount(const std::string& user) {
    auto r = d_.Sftpctl("account create --username " + user +
                            " --name Client --email c@example.com --phone +441513577700"
                            " --password-stdin",
                        std::string(kPassword) + "\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // `user`'s folder on disk (storage.root/<account id>).
  std::string Home(const std::string& user = "alice") {
    auto show = nlohmann::json::parse(d_.Sftpctl("account show " + user + " --json").out);
    return d_.storage_root() + "/" + show["id"].get<std::string>();
  }
  // `sftp -b` with the password in `pwfile` (default: the right one; one attempt), from the
  // local address `source`.
  CommandResult Sftp(const std::string& batch, const std::string& user = "alice",
                     const std::string& source = "127.0.0.1", const std::string& pwfile = "") {
    return RunSftpBatch({d_.port(), user, pwfile.empty() ? d_.dir().Sub("pw") : pwfile, source},
                        d_.dir().Sub("batch"), batch);
  }
  std::string Sha(const std::string& p) {
    return RunCommand("sha256sum '" + p + "' | cut -d' ' -f1").out;
  }

  DaemonHarness d_;
};

// rclone (Go's pkg/sftp) uploads 24 MiB with 64 concurrent writes per file; pkg/sftp puts bytes
// after the last field of some requests, which sftpd discards as OpenSSH does instead of
// answering BAD_MESSAGE. The file arrives whole and intact.
TEST_F(HostileClientTest, RcloneConcurrentUploadArrivesIntact) {
  std::string src = d_.dir().Sub("up.bin");
  RunCommand("head -c 25165824 /dev/urandom > '" + src + "'");
  // The password goes through the environment (obscured, as rclone wants it), never argv.
  std::string env = "RCLONE_CONFIG=/dev/null RCLONE_SFTP_HOST=127.0.0.1 RCLONE_SFTP_PORT=" +
                    std::to_string(d_.port()) +
                    " RCLONE_SFTP_USER=alice RCLONE_SFTP_PASS=$(rclone obscure - < '" +
                    d_.dir().Sub("pw") + "') ";
  auto r = RunCommand(env +
                      "rclone copyto --sftp-shell-type none --sftp-disable-hashcheck"
                      " --sftp-concurrency 64 --sftp-set-modtime=false --retries 1"
                      " --low-level-retries 1 '" +
                      src + "' :sftp:up.bin");
  ASSERT_EQ(r.exit_code, 0) << r.err << d_.Log();
  EXPECT_EQ(Sha(Home() + "/up.bin"), Sha(src));
  // And back down through the same client.
  std::string back = d_.dir().Sub("back.bin");
  auto g = RunCommand(env + "rclone copyto --sftp-shell-type none --retries 1 :sftp:up.bin '" +
                      back + "'");
  ASSERT_EQ(g.exit_code, 0) << g.err;
  EXPECT_EQ(Sha(back), Sha(src));
}

// A logged-in client that grants the server no window (its replies block) and keeps sending
// past the window sftpd granted (paramiko with its window bookkeeping overridden): libssh 0.10
// would buffer all of it. sftpd ends that session once the unread data exceeds the largest window
// it grants, so the daemon's peak memory stays within a bound far below what was sent; the same
// account still logs in and works afterwards.
TEST_F(HostileClientTest, ClientSendingPastTheWindowIsDisconnected) {
  RunCommand("head -c 4194304 /dev/zero > '" + Home() + "/big.bin'");
  long rss_before = VmKib(d_.pid(), "VmRSS");
  ASSERT_GT(rss_before, 0);
  constexpr int kSendMib = 192;
  auto r =
      RunCommand("/usr/bin/python3 '" + SourcePath("tests/integration/window_flood.py") + "' " +
                     std::to_string(d_.port()) + " alice big.bin " + std::to_string(kSendMib),
                 std::string(kPassword) + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\ndisconnected"), std::string::npos) << r.out;
  EXPECT_TRUE(d_.WaitForLog("client sent past its window")) << d_.Log();
  EXPECT_TRUE(d_.WaitForLog("reason=window_exceeded")) << d_.Log();
  // The documented bound is about 10 MiB unread per session (docs/security.md); allow for the
  // session's other buffers and allocator slack, far below the 192 MiB sent.
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)  // sanitizers hold freed memory
  long peak = VmKib(d_.pid(), "VmHWM");
  EXPECT_LT(peak - rss_before, 64 * 1024) << "before " << rss_before << " KiB, peak " << peak;
#endif
  auto ok = Sftp("put '" + d_.dir().Sub("pw") + "' after.txt\n");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(Sha(Home() + "/after.txt"), Sha(d_.dir().Sub("pw")));
}

// CPU ticks (user + system) the process has used so far.
long CpuTicks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string f;
  long utime = 0;
  long stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) {
      utime = std::stol(f);
    } else if (i == 15) {
      stime = std::stol(f);
    }
  }
  return utime + stime;
}

// Out of descriptors (the daemon's limit lowered under it with prlimit), accept4 fails with
// EMFILE while the listener stays readable. The accept loop rests instead of spinning: over one
// second it uses a small fraction of a core and writes one warning, not one per iteration.
TEST_F(HostileClientTest, OutOfDescriptorsAcceptRestsAndWarnsOnce) {
  std::size_t open_fds = 0;
  for ([[maybe_unused]] const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(d_.pid()) + "/fd")) {
    ++open_fds;
  }
  // One descriptor left: accept4 succeeds, the control socketpair of its transport does not.
  std::string limit = std::to_string(open_fds + 1);
  // As the daemon's own user: lowering its limit needs no capability (root may lack
  // CAP_SYS_RESOURCE in a container).
  auto r = RunCommand(AsServiceUser() + "prlimit --pid " + std::to_string(d_.pid()) +
                      " --nofile=" + limit + ":" + limit);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::size_t from = d_.Log().size();
  std::vector<int> clients;
  for (int i = 0; i < 8; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(d_.port()));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    clients.push_back(fd);
  }
  ASSERT_TRUE(d_.WaitForLog("accept paused: out of resources", 30, from)) << d_.Log();
  long before = CpuTicks(d_.pid());
  // A measuring window, not a synchronisation: how much CPU does the shortage cost per second?
  std::this_thread::sleep_for(std::chrono::seconds(1));
  long used = CpuTicks(d_.pid()) - before;
  EXPECT_LT(used, sysconf(_SC_CLK_TCK) / 4) << "ticks in 1 s: " << used;
  std::string log = d_.Log().substr(from);
  std::size_t warnings = 0;
  for (std::size_t at = log.find("accept paused"); at != std::string::npos;
       at = log.find("accept paused", at + 1)) {
    ++warnings;
  }
  EXPECT_EQ(warnings, 1u) << log.substr(0, 2000);
  for (int fd : clients) {
    close(fd);
  }
}

// A TCP socket bound to the local address `source` (IPv4, or IPv6 when it has a ':') and
// connected to the daemon's loopback address of the same family; -1 with errno on failure.
int ConnectFrom(int port, const std::string& source) {
  bool v6 = source.find(':') != std::string::npos;
  sockaddr_storage local{};
  sockaddr_storage remote{};
  socklen_t len = 0;
  if (v6) {
    auto* l = reinterpret_cast<sockaddr_in6*>(&local);
    auto* r = reinterpret_cast<sockaddr_in6*>(&remote);
    l->sin6_family = r->sin6_family = AF_INET6;
    inet_pton(AF_INET6, source.c_str(), &l->sin6_addr);
    r->sin6_addr = in6addr_loopback;
    r->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof(sockaddr_in6);
  } else {
    auto* l = reinterpret_cast<sockaddr_in*>(&local);
    auto* r = reinterpret_cast<sockaddr_in*>(&remote);
    l->sin_family = r->sin_family = AF_INET;
    inet_pton(AF_INET, source.c_str(), &l->sin_addr);
    r->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    r->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof(sockaddr_in);
  }
  int fd = socket(local.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  // An IPv6 source of a prefix routed to the loopback (LocalIpv6Prefix) is not an address of any
  // interface: binding to it takes IPV6_FREEBIND.
  int one = 1;
  if (v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one)) != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), len) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&remote), len) != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

// What a raw TCP client from `source` receives from the daemon before it closes the connection
// (bounded: 64 bytes, or 10 s without anything).
std::string FirstBytesFrom(int port, const std::string& source) {
  int fd = ConnectFrom(port, source);
  if (fd < 0) {
    return std::string("connect failed: ") + std::strerror(errno);
  }
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string got;
  char buf[64];
  ssize_t n = recv(fd, buf, sizeof(buf), 0);
  if (n > 0) {
    got.assign(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  return got;
}

// A banned source is dropped before the SSH banner: it gets no key exchange at all, while another
// address still gets the banner.
class BannedSourceTest : public HostileClientTest {
 protected:
  void Configure() override { d_.Set("auth.defender", "threshold = 2"); }
};

TEST_F(BannedSourceTest, BannedSourceGetsNoBannerNorKeyExchange) {
  WriteFile(d_.dir().Sub("bad"), "not the password\n");
  EXPECT_EQ(FirstBytesFrom(d_.port(), "127.0.0.5").rfind("SSH-2.0-", 0), 0u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_NE(Sftp("pwd\n", "alice", "127.0.0.5", d_.dir().Sub("bad")).exit_code, 0);
  }
  ASSERT_TRUE(d_.WaitForLog("ip banned")) << d_.Log();
  EXPECT_EQ(FirstBytesFrom(d_.port(), "127.0.0.5"), "");
  EXPECT_EQ(FirstBytesFrom(d_.port(), "127.0.0.6").rfind("SSH-2.0-", 0), 0u);
}

// Counts how often `text` occurs in `log`.
std::size_t Occurrences(const std::string& log, const std::string& text) {
  std::size_t n = 0;
  for (std::size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) {
    ++n;
  }
  return n;
}

// Connections flooding the daemon from one source that never log in, with the Prometheus
// endpoint on, and the default startup limits (max_startups 10:30:100, 5 per source).
class StartupFloodTest : public HostileClientTest {
 protected:
  void Configure() override { d_.Set("metrics", "listen = \"127.0.0.1:0\""); }

  // Opens `n` connections, the i-th from the local address source(i), that send `first` (maybe
  // nothing) and then stall, and sorts them by the daemon's first answer: the SSH banner
  // (admitted) or a close before any byte (refused). The connections stay open (in `held`) until
  // the test ends.
  void Flood(int n, const std::function<std::string(int)>& source, const std::string& first) {
    // This process (never the daemon) needs a descriptor per connection.
    rlimit nofile{};
    getrlimit(RLIMIT_NOFILE, &nofile);
    if (nofile.rlim_cur < static_cast<rlim_t>(n) + 256) {
      nofile.rlim_cur = std::min<rlim_t>(nofile.rlim_max, static_cast<rlim_t>(n) + 256);
      setrlimit(RLIMIT_NOFILE, &nofile);
    }
    std::vector<pollfd> waiting;
    for (int i = 0; i < n; ++i) {
      int fd = ConnectFrom(d_.port(), source(i));
      ASSERT_GE(fd, 0) << source(i) << ": " << std::strerror(errno);
      if (!first.empty()) {
        // A refused connection may already be closed: its send may fail, which is fine.
        [[maybe_unused]] ssize_t sent = send(fd, first.data(), first.size(), MSG_NOSIGNAL);
      }
      held_.push_back(fd);
      waiting.push_back({fd, POLLIN, 0});
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!waiting.empty() && std::chrono::steady_clock::now() < deadline) {
      ASSERT_GE(poll(waiting.data(), waiting.size(), 1000), 0);
      std::vector<pollfd> still;
      for (const pollfd& p : waiting) {
        if (p.revents == 0) {
          still.push_back({p.fd, POLLIN, 0});
          continue;
        }
        char buf[64];
        ssize_t got = recv(p.fd, buf, sizeof(buf), 0);
        if (got > 0 && std::string(buf, static_cast<std::size_t>(got)).rfind("SSH-2.0-", 0) == 0) {
          ++admitted_;
        } else if (got <= 0) {
          ++refused_;
        } else {
          ADD_FAILURE() << "unexpected first bytes";
        }
      }
      waiting = std::move(still);
    }
    EXPECT_TRUE(waiting.empty()) << waiting.size() << " connections got no answer";
  }

  void Flood(int n, const std::string& source, const std::string& first) {
    Flood(
        n, [&](int) { return source; }, first);
  }

  void TearDown() override {
    for (int fd : held_) {
      close(fd);
    }
  }

  std::vector<int> held_;
  int admitted_ = 0;
  int refused_ = 0;
};

// 1,000 connections from one source that never log in (half send nothing, half the SSH version
// line and stall): the source holds per_source_max_startups of them, the rest are closed before
// the banner and counted under their reason, with a few log lines instead of one per refusal;
// a user from another address still logs in and transfers a file within the grace time.
TEST_F(StartupFloodTest, OneSourceCannotLockOthersOut) {
  std::size_t from = d_.Log().size();
  ASSERT_NO_FATAL_FAILURE(Flood(500, "127.0.0.1", ""));
  ASSERT_NO_FATAL_FAILURE(Flood(500, "127.0.0.1", "SSH-2.0-flood_1.0\r\n"));
  EXPECT_EQ(admitted_, 5);
  EXPECT_EQ(refused_, 995);

  std::string src = d_.dir().Sub("legit.bin");
  RunCommand("head -c 1048576 /dev/urandom > '" + src + "'");
  std::string back = d_.dir().Sub("legit.back");
  auto r = Sftp("put " + src + " legit.bin\nget legit.bin " + back + "\n", "alice", "127.0.0.2");
  ASSERT_EQ(r.exit_code, 0) << r.err << d_.Log().substr(from);
  EXPECT_EQ(Sha(Home() + "/legit.bin"), Sha(src));
  EXPECT_EQ(Sha(back), Sha(src));

  std::string text = d_.ScrapeMetrics();
  ASSERT_FALSE(text.empty()) << d_.Log();
  EXPECT_EQ(
      PrometheusSample(text, R"(sftpd_connections_refused_total{limit="per_source_max_startups"})"),
      995);
  EXPECT_EQ(PrometheusSample(text, R"(sftpd_connections_refused_total{limit="max_startups"})"), 0);
  EXPECT_EQ(
      PrometheusSample(text, R"(sftpd_connections_refused_total{limit="max_sessions_per_ip"})"), 0);
  EXPECT_EQ(PrometheusSample(text, R"(sftpd_logins_total{method="password",result="success"})"), 1);
  // One line per reason per 10 s, not one per refusal.
  std::size_t lines =
      Occurrences(d_.Log().substr(from), "connection refused: per_source_max_startups reached");
  EXPECT_GE(lines, 1u);
  EXPECT_LT(lines, 10u);
}

// With per_source_max_startups out of the way, the total of connections not logged in is capped
// by max_startups: past `full` every new one is refused before the banner, counted under
// "max_startups"; between `start` and `full` some are.
class MaxStartupsFloodTest : public StartupFloodTest {
 protected:
  void Configure() override {
    StartupFloodTest::Configure();
    d_.Set("server", "max_startups = \"4:50:8\"");
    d_.Set("server", "per_source_max_startups = 1000");
  }
};

TEST_F(MaxStartupsFloodTest, UnauthenticatedTotalIsCapped) {
  ASSERT_NO_FATAL_FAILURE(Flood(1000, "127.0.0.1", ""));
  EXPECT_GE(admitted_, 4);
  EXPECT_LE(admitted_, 8);
  EXPECT_EQ(admitted_ + refused_, 1000);
  std::string text = d_.ScrapeMetrics();
  EXPECT_EQ(PrometheusSample(text, R"(sftpd_connections_refused_total{limit="max_startups"})"),
            refused_);
}

// A /48 of unique local IPv6 addresses routed to the loopback as local ("AnyIP"): a raw client
// connects from any address of it (ConnectFrom binds with IPV6_FREEBIND); a program that binds
// without it (ssh's BindAddress) needs the address on the loopback (AddAddress). Both are
// removed at the end. This needs CAP_NET_ADMIN: without it (a developer's non-root run) the
// tests that need it skip.
class LocalIpv6Prefix {
 public:
  explicit LocalIpv6Prefix(std::string prefix48) : prefix_(std::move(prefix48)) {
    auto r = RunCommand("ip -6 route replace local " + prefix_ + "/48 dev lo 2>&1");
    ok_ = r.exit_code == 0;
    error_ = r.out;
  }
  ~LocalIpv6Prefix() {
    for (const std::string& a : addresses_) {
      RunCommand("ip -6 addr del " + a + "/128 dev lo");
    }
    if (ok_) {
      RunCommand("ip -6 route del local " + prefix_ + "/48 dev lo");
    }
  }
  LocalIpv6Prefix(const LocalIpv6Prefix&) = delete;
  LocalIpv6Prefix& operator=(const LocalIpv6Prefix&) = delete;

  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  // Why a test that needs the prefix skips when !ok().
  std::string SkipReason() const {
    return "cannot route " + prefix_ + "/48 to the loopback (needs CAP_NET_ADMIN): " + error_;
  }
  // Puts `address` (of the prefix) on the loopback.
  bool AddAddress(const std::string& address) {
    auto r = RunCommand("ip -6 addr add " + address + "/128 dev lo nodad 2>&1");
    if (r.exit_code != 0) {
      error_ = r.out;
      return false;
    }
    addresses_.push_back(address);
    return true;
  }

 private:
  std::string prefix_;
  bool ok_ = false;
  std::string error_;
  std::vector<std::string> addresses_;
};

// The daemon on [::1] with the default startup limits (5 per source), and clients from
// fd00:5f1c:1::/48. An IPv6 source is its /64: a client that holds a /64 (the usual allocation)
// cannot take more slots by changing the low 64 bits of its address.
class Ipv6StartupFloodTest : public StartupFloodTest {
 protected:
  void Configure() override {
    if (!prefix_.ok()) {
      GTEST_SKIP() << prefix_.SkipReason();
    }
    StartupFloodTest::Configure();
    d_.Set("server", "listen = [\"[::1]:0\"]");
  }

  LocalIpv6Prefix prefix_{"fd00:5f1c:1::"};
};

TEST_F(Ipv6StartupFloodTest, OneSlash64IsOneSource) {
  // 200 connections that never log in, each from its own address of fd00:5f1c:1:0::/64.
  ASSERT_NO_FATAL_FAILURE(Flood(
      200, [](int i) { return "fd00:5f1c:1:0:" + std::to_string(i + 1) + "::7"; }, ""));
  EXPECT_EQ(admitted_, 5);
  EXPECT_EQ(refused_, 195);
  // The next /64 is another source; ::1 too.
  EXPECT_EQ(FirstBytesFrom(d_.port(), "fd00:5f1c:1:1::7").rfind("SSH-2.0-", 0), 0u);
  EXPECT_EQ(FirstBytesFrom(d_.port(), "::1").rfind("SSH-2.0-", 0), 0u);
  std::string text = d_.ScrapeMetrics();
  EXPECT_EQ(
      PrometheusSample(text, R"(sftpd_connections_refused_total{limit="per_source_max_startups"})"),
      195);
}

// Wrong passwords from one address of a /64 ban the whole /64 at accept (no banner), not the
// next /64.
class Ipv6BannedSourceTest : public HostileClientTest {
 protected:
  void Configure() override {
    if (!prefix_.ok()) {
      GTEST_SKIP() << prefix_.SkipReason();
    }
    d_.Set("auth.defender", "threshold = 2");
    d_.Set("server", "listen = [\"[::1]:0\"]");
  }

  LocalIpv6Prefix prefix_{"fd00:5f1c:2::"};
};

TEST_F(Ipv6BannedSourceTest, BanCoversTheSlash64) {
  // ssh binds to its BindAddress without IPV6_FREEBIND: its two sources are on the loopback.
  ASSERT_TRUE(prefix_.AddAddress("fd00:5f1c:2::5")) << prefix_.error();
  ASSERT_TRUE(prefix_.AddAddress("fd00:5f1c:2:1::5")) << prefix_.error();
  WriteFile(d_.dir().Sub("bad"), "not the password\n");
  OpenSshLogin login{d_.port(), "alice", d_.dir().Sub("bad"), "fd00:5f1c:2::5", "::1"};
  for (int i = 0; i < 2; ++i) {
    EXPECT_NE(RunSftpBatch(login, d_.dir().Sub("batch"), "pwd\n").exit_code, 0);
  }
  ASSERT_TRUE(d_.WaitForLog("ip banned")) << d_.Log();
  EXPECT_EQ(FirstBytesFrom(d_.port(), "fd00:5f1c:2::5"), "");
  EXPECT_EQ(FirstBytesFrom(d_.port(), "fd00:5f1c:2:0:ffff::1"), "");
  EXPECT_EQ(FirstBytesFrom(d_.port(), "fd00:5f1c:2:1::5").rfind("SSH-2.0-", 0), 0u);
  // The right password from the next /64 still logs in.
  login.source = "fd00:5f1c:2:1::5";
  login.password_file = d_.dir().Sub("pw");
  auto r = RunSftpBatch(login, d_.dir().Sub("batch"), "pwd\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// 100 sessions each hold max_handles_per_session open files; one handle more gets an SFTP
// failure status (not a crash); another session still opens, writes and reads files correctly.
class HandleFloodTest : public HostileClientTest {
 protected:
  void Configure() override {
    d_.Set("server", "max_handles_per_session = 32");
    d_.Set("server", "max_sessions_per_ip = 200");
  }
};

TEST_F(HandleFloodTest, HeldHandlesLeaveOtherSessionsWorking) {
  auto r = RunCommand("/usr/bin/python3 '" + SourcePath("tests/integration/handle_flood.py") +
                          "' " + std::to_string(d_.port()) + " alice 100 32",
                      std::string(kPassword) + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.err << d_.Log().substr(0, 4000);
  auto out = nlohmann::json::parse(r.out);
  EXPECT_EQ(out["sessions"], 100);
  EXPECT_EQ(out["handles"], 3200);
  ASSERT_EQ(out["extra"].size(), 100u);
  for (const auto& e : out["extra"]) {
    EXPECT_NE(e.get<std::string>(), "opened");
  }
  EXPECT_TRUE(out["other"].get<bool>());
  EXPECT_TRUE(d_.running());
  EXPECT_EQ(d_.Log().find("session failed"), std::string::npos);
}

// A session that stays open and active while an operator revokes its login.
class RevocationTest : public HostileClientTest {
 protected:
  // Runs hold_session.py (password login, or `--key PATH`) on a thread, waits for its login,
  // runs `sftpctl <command>`, and returns how long the session lived on after the command.
  std::chrono::milliseconds SessionLifeAfter(const std::string& command,
                                             const std::string& key = "") {
    std::size_t from = d_.Log().size();
    CommandResult client;
    std::thread t([&] {
      client = RunCommand("/usr/bin/python3 '" + SourcePath("tests/integration/hold_session.py") +
                              "' " + std::to_string(d_.port()) + " alice" +
                              (key.empty() ? "" : " --key '" + key + "'"),
                          std::string(kPassword) + "\n");
    });
    EXPECT_TRUE(d_.WaitForLog("login ok", 30, from)) << d_.Log();
    auto r = d_.Sftpctl(command);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto done = std::chrono::steady_clock::now();
    t.join();
    auto life = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - done);
    EXPECT_EQ(client.out, "ended\n") << client.err;
    EXPECT_TRUE(d_.WaitForLog("reason=revoked", 5, from)) << d_.Log();
    return life;
  }
  std::string MakeKey() {
    std::string key = d_.dir().Sub("id");
    RunCommand("ssh-keygen -q -t ed25519 -N '' -f '" + key + "'");
    auto r = d_.Sftpctl("account add-key alice '" + key + ".pub'");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return key;
  }
};

// `account close` ends the account's open session within 2 s (the session polls every second).
TEST_F(RevocationTest, CloseEndsOpenSession) {
  EXPECT_LT(SessionLifeAfter("account close alice --reason request").count(), 2000);
  EXPECT_TRUE(d_.WaitForLog("why=closed")) << d_.Log();
}

// `account erase` ends the open session; the folder it used stays gone.
TEST_F(RevocationTest, EraseEndsOpenSessionAndNoFolderComesBack) {
  std::string home = Home();
  EXPECT_LT(SessionLifeAfter("account erase alice --yes").count(), 2000);
  EXPECT_TRUE(d_.WaitForLog("why=erased")) << d_.Log();
  EXPECT_FALSE(std::filesystem::exists(home));
}

// `account remove-key` ends the session that logged in with that key.
TEST_F(RevocationTest, RemoveKeyEndsSessionOfThatKey) {
  std::string key = MakeKey();
  std::string fp = RunCommand("ssh-keygen -l -f '" + key + ".pub' | cut -d' ' -f2").out;
  fp.erase(fp.find_last_not_of('\n') + 1);
  EXPECT_LT(SessionLifeAfter("account remove-key alice " + fp, key).count(), 2000);
  EXPECT_TRUE(d_.WaitForLog("why=key removed")) << d_.Log();
}

// `account set-password` ends the session that logged in with the old password.
TEST_F(RevocationTest, SetPasswordEndsPasswordSession) {
  WriteFile(d_.dir().Sub("newpw"), "another long password here\n");
  std::size_t from = d_.Log().size();
  CommandResult client;
  std::thread t([&] {
    client = RunCommand("/usr/bin/python3 '" + SourcePath("tests/integration/hold_session.py") +
                            "' " + std::to_string(d_.port()) + " alice",
                        std::string(kPassword) + "\n");
  });
  ASSERT_TRUE(d_.WaitForLog("login ok", 30, from)) << d_.Log();
  auto r =
      d_.Sftpctl("account set-password alice --password-stdin", "another long password here\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto done = std::chrono::steady_clock::now();
  t.join();
  EXPECT_LT(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - done)
          .count(),
      2000);
  EXPECT_EQ(client.out, "ended\n") << client.err;
  EXPECT_TRUE(d_.WaitForLog("why=password changed", 5, from)) << d_.Log();
}

// A client that logs in, waits for the erasure to finish, and only then asks for the sftp
// subsystem is refused, and the account folder is not created again.
TEST_F(RevocationTest, SubsystemAfterEraseIsRefusedWithoutRecreatingTheFolder) {
  std::string home = Home();
  std::string gate = d_.dir().Sub("gate");
  ASSERT_EQ(mkfifo(gate.c_str(), 0600), 0);
  std::size_t from = d_.Log().size();
  CommandResult client;
  std::thread t([&] {
    client = RunCommand("/usr/bin/python3 '" + SourcePath("tests/integration/hold_session.py") +
                            "' " + std::to_string(d_.port()) + " alice --gate '" + gate + "'",
                        std::string(kPassword) + "\n");
  });
  EXPECT_TRUE(d_.WaitForLog("login ok", 30, from)) << d_.Log();
  auto r = d_.Sftpctl("account erase alice --yes");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_FALSE(std::filesystem::exists(home));
  WriteFile(gate, "go");  // opens the FIFO for writing: the client goes on
  t.join();
  EXPECT_EQ(client.out, "sftp refused\n") << client.err << d_.Log();
  EXPECT_FALSE(std::filesystem::exists(home));
  EXPECT_TRUE(d_.WaitForLog("sftp refused: no account folder", 5, from)) << d_.Log();
}

}  // namespace
}  // namespace sftplc::testing
