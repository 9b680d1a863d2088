// Hostile and unusual clients against the real daemon: a Go pkg/sftp client (rclone), a client
// that ignores the channel window, connection floods, descriptor exhaustion, and sessions that
// must end when their account is revoked. Each test reproduces the attack first.

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "tests/integration/daemon_harness.h"

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
  // `sftp -b` with the right password (one attempt), from the local address `source`.
  CommandResult Sftp(const std::string& batch, const std::string& user = "alice",
                     const std::string& source = "127.0.0.1") {
    WriteFile(d_.dir().Sub("batch"), batch);
    return RunCommand("sshpass -f '" + d_.dir().Sub("pw") +
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
  EXPECT_LT(peak - rss_before, 64 * 1024) << "before " << rss_before << " KiB, peak " << peak;
  auto ok = Sftp("put '" + d_.dir().Sub("pw") + "' after.txt\n");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(Sha(Home() + "/after.txt"), Sha(d_.dir().Sub("pw")));
}

}  // namespace
}  // namespace sftplc::testing
