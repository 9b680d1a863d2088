// Hostile and unusual clients against the real daemon: a Go pkg/sftp client (rclone), a client
// that ignores the channel window, connection floods, descriptor exhaustion, and sessions that
// must end when their account is revoked. Each test reproduces the attack first.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/integration/daemon_harness.h"

namespace sftplc::testing {
namespace {

constexpr const char* kPassword = "correct horse battery staple";

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

}  // namespace
}  // namespace sftplc::testing
