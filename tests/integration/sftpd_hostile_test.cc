// Hostile and unusual clients against the real daemon: a Go pkg/sftp client (rclone), a client
// that ignores the channel window, connection floods, descriptor exhaustion, and sessions that
// must end when their account is revoked. Each test reproduces the attack first.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/daemon_harness.h"
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
    WriteFile(d_.dir().Sub("batch"), batch);
    return RunCommand("sshpass -f '" + (pwfile.empty() ? d_.dir().Sub("pw") : pwfile) +
                      "' sftp -o BatchMode=no -o PubkeyAuthentication=no"
                      " -o PreferredAuthentications=password -o NumberOfPasswordPrompts=1"
                      " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
                      " -o LogLevel=ERROR -o BindAddress=" +
                      source + " -P " + std::to_string(d_.port()) + " -b '" +
                      d_.dir().Sub("batch") + "' " + user + "@127.0.0.1");
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
  long peak = VmKib(d_.pid(), "VmHWM");
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)  // sanitizers hold freed memory
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
  // One descriptor left: accept4 succeeds, the duplicate for libssh fails; then accept4 fails.
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

// What a raw TCP client from `source` receives from the daemon before it closes the connection
// (bounded: 64 bytes, or 10 s without anything).
std::string FirstBytesFrom(int port, const std::string& source) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &local.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
    close(fd);
    return "bind failed";
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string got;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
    char buf[64];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      got.assign(buf, static_cast<std::size_t>(n));
    }
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
