// The whole daemon: sftpd started from a config, accounts made with the built sftpctl, real
// clients over SSH, and the usage rows checked through sftpctl afterwards.

#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tests/integration/daemon_harness.h"

namespace sftplc::testing {
namespace {

constexpr const char* kPassword = "correct horse battery staple";

class SftpdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    d_.Set("server", "shutdown_grace = \"2s\"");
    d_.WriteConfig();
    for (const char* user : {"alice", "bob"}) {
      auto r = d_.Sftpctl(std::string("account create --username ") + user +
                              " --name Client --email c@example.com --phone +441513577700"
                              " --password-stdin",
                          std::string(kPassword) + "\n");
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    ASSERT_EQ(d_.Sftpctl("account close bob --reason request").exit_code, 0);
    WriteFile(d_.dir().Sub("pw"), std::string(kPassword) + "\n");
    ASSERT_TRUE(d_.Start()) << d_.error();
  }

  std::string Opts() const {
    return " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -P " +
           std::to_string(d_.port()) + " ";
  }
  // `sftp -b` with a password from `pwfile` (default: the right one), connecting to the daemon
  // on 127.0.0.1 from the local address `source` (any of 127.0.0.0/8). Exactly one password
  // attempt per run: when sshpass gives up after a refusal it closes ssh's terminal, and ssh,
  // if it is not hung up first, goes on with empty passwords up to NumberOfPasswordPrompts.
  CommandResult Sftp(const std::string& batch, const std::string& user = "alice",
                     const std::string& pwfile = "", const std::string& source = "127.0.0.1") {
    WriteFile(d_.dir().Sub("batch"), batch);
    return RunCommand("sshpass -f '" + (pwfile.empty() ? d_.dir().Sub("pw") : pwfile) +
                      "' sftp -o BatchMode=no -o PubkeyAuthentication=no"
                      " -o PreferredAuthentications=password -o NumberOfPasswordPrompts=1"
                      " -o BindAddress=" +
                      source + Opts() + "-b '" + d_.dir().Sub("batch") + "' " + user +
                      "@127.0.0.1");
  }
  nlohmann::json Usage(const std::string& user) {
    auto r = d_.Sftpctl("usage show " + user + " --json");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }
  std::string Sha(const std::string& p) {
    return RunCommand("sha256sum '" + p + "' | cut -d' ' -f1").out;
  }
  // alice's folder on disk (storage.root/<account id>).
  std::string Home() {
    auto show = nlohmann::json::parse(d_.Sftpctl("account show alice --json").out);
    return d_.storage_root() + "/" + show["id"].get<std::string>();
  }

  DaemonHarness d_;
};

// A password login uploads and downloads 10 MiB intact; the session is recorded with its bytes
// and the login is on the account.
TEST_F(SftpdTest, PasswordPutGetRecorded) {
  std::string f = d_.dir().Sub("f10m");
  RunCommand("head -c 10485760 /dev/urandom > '" + f + "'");
  auto r = Sftp("put " + f + " f\nls -l\nget f " + f + ".back\n");
  ASSERT_EQ(r.exit_code, 0) << r.err << d_.Log();
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(Sha(f + ".back"), Sha(f));
  EXPECT_TRUE(d_.WaitForLog("session ended"));
  auto u = Usage("alice");
  ASSERT_EQ(u["sessions"].size(), 1u);
  EXPECT_EQ(u["sessions"][0]["auth_method"], "password");
  EXPECT_EQ(u["sessions"][0]["remote_ip"], "127.0.0.1");
  EXPECT_EQ(u["sessions"][0]["counters"]["bytes_in"], 10485760);
  EXPECT_EQ(u["sessions"][0]["counters"]["bytes_out"], 10485760);
  EXPECT_EQ(u["sessions"][0]["end_reason"], "closed");
  auto show = nlohmann::json::parse(d_.Sftpctl("account show alice --json").out);
  EXPECT_FALSE(show["last_login_at"].is_null());
}

// The first number on the line after the one holding `header` (a table `df` printed).
unsigned long long NumberBelow(const std::string& out, const std::string& header) {
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(header) != std::string::npos && std::getline(in, line)) {
      std::istringstream row(line);
      unsigned long long n = 0;
      row >> n;
      return n;
    }
  }
  return 0;
}

// chmod changes the permissions (seen by `ls -l` and on disk, setuid/setgid bits dropped) and
// never the owner: chown and chgrp are refused. `df` and `df -i` (statvfs@openssh.com) report
// the storage file system. reput and reget resume partial files: the whole files are intact and
// only the missing bytes crossed the wire (the session's usage counters).
TEST_F(SftpdTest, ChmodStatvfsAndResume) {
  constexpr long long kSize = 3 * 1024 * 1024 + 12345;
  std::string src = d_.dir().Sub("src.bin");
  RunCommand("head -c " + std::to_string(kSize) + " /dev/urandom > '" + src + "'");
  std::string content = ReadFile(src);
  ASSERT_EQ(static_cast<long long>(content.size()), kSize);
  std::string home = Home();
  std::filesystem::create_directories(home);
  ::chmod(home.c_str(), 0700);
  WriteFile(home + "/up.bin", content.substr(0, 1000000));  // an upload cut short
  WriteFile(home + "/whole.bin", content);
  WriteFile(home + "/tool", "#!/bin/sh\n");
  WriteFile(d_.dir().Sub("down.bin"), content.substr(0, 777777));  // a download cut short
  ::chmod((home + "/whole.bin").c_str(), 0600);
  struct stat before {};
  ASSERT_EQ(::stat((home + "/whole.bin").c_str(), &before), 0);

  auto r = Sftp(
      "chmod 640 whole.bin\n"
      "chmod 6755 tool\n"
      "-chown 4242 whole.bin\n"
      "-chgrp 4242 whole.bin\n"
      "ls -l whole.bin\n"
      "df\n"
      "df -i\n"
      "reput " +
      src +
      " up.bin\n"
      "reget whole.bin " +
      d_.dir().Sub("down.bin") + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.err << d_.Log();

  struct stat after {};
  ASSERT_EQ(::stat((home + "/whole.bin").c_str(), &after), 0);
  EXPECT_EQ(after.st_mode & 07777, 0640u);
  EXPECT_EQ(after.st_uid, before.st_uid);
  EXPECT_EQ(after.st_gid, before.st_gid);
  ASSERT_EQ(::stat((home + "/tool").c_str(), &after), 0);
  EXPECT_EQ(after.st_mode & 07777, 0755u);
  EXPECT_THAT(r.out, ::testing::HasSubstr("-rw-r-----"));
  // chown and chgrp each got an error (and changed nothing, above).
  std::size_t denied = 0;
  for (std::size_t at = 0; (at = r.err.find("Permission denied", at)) != std::string::npos; ++at) {
    ++denied;
  }
  EXPECT_EQ(denied, 2u) << r.err;

  struct statvfs sv {};
  ASSERT_EQ(::statvfs(home.c_str(), &sv), 0);
  EXPECT_EQ(NumberBelow(r.out, "Size"),
            static_cast<unsigned long long>(sv.f_frsize) * sv.f_blocks / 1024)
      << r.out;
  EXPECT_EQ(NumberBelow(r.out, "Inodes"), static_cast<unsigned long long>(sv.f_files)) << r.out;

  EXPECT_EQ(Sha(home + "/up.bin"), Sha(src));
  EXPECT_EQ(Sha(d_.dir().Sub("down.bin")), Sha(src));
  ASSERT_TRUE(d_.WaitForLog("session ended"));
  auto u = Usage("alice");
  ASSERT_EQ(u["sessions"].size(), 1u);
  EXPECT_EQ(u["sessions"][0]["counters"]["bytes_in"], kSize - 1000000);
  EXPECT_EQ(u["sessions"][0]["counters"]["bytes_out"], kSize - 777777);
}

// A key added with sftpctl logs in.
TEST_F(SftpdTest, PublicKeyLogin) {
  std::string key = d_.dir().Sub("id");
  RunCommand("ssh-keygen -q -t ed25519 -N '' -f '" + key + "'");
  ASSERT_EQ(d_.Sftpctl("account add-key alice '" + key + ".pub'").exit_code, 0);
  WriteFile(d_.dir().Sub("batch"), "pwd\n");
  auto r = RunCommand("sftp -i '" + key + "' -o IdentitiesOnly=yes -o PasswordAuthentication=no" +
                      Opts() + "-b '" + d_.dir().Sub("batch") + "' alice@127.0.0.1");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(d_.WaitForLog("method=publickey"));
}

// A wrong password, an unknown user and a closed account are all refused the same way; the
// failure of the existing account is recorded, no log line names a username.
TEST_F(SftpdTest, RefusalsLookAlike) {
  WriteFile(d_.dir().Sub("bad"), "not the password at all\n");
  auto wrong = Sftp("pwd\n", "alice", d_.dir().Sub("bad"));
  auto unknown = Sftp("pwd\n", "nobody");
  auto closed = Sftp("pwd\n", "bob");
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_EQ(unknown.exit_code, wrong.exit_code);
  EXPECT_EQ(closed.exit_code, wrong.exit_code);
  EXPECT_EQ(Usage("alice")["failed_logins"].size(), 1u);  // one run, one attempt
  EXPECT_EQ(Usage("alice")["sessions"].size(), 0u);
  std::string log = d_.Log();
  EXPECT_EQ(log.find("nobody"), std::string::npos);
  EXPECT_EQ(log.find("alice"), std::string::npos);
}

// SIGTERM during an upload: the daemon exits 0 within the grace, and the session's usage row is
// closed (no row left open).
TEST_F(SftpdTest, SigtermDuringTransfer) {
  std::string f = d_.dir().Sub("big");
  RunCommand("head -c 1073741824 /dev/zero > '" + f + "'");
  std::thread client([&] { Sftp("put " + f + " big\n"); });
  ASSERT_TRUE(d_.WaitForLog("login ok"));
  EXPECT_EQ(d_.Stop(SIGTERM), 0) << d_.Log();
  client.join();
  auto u = Usage("alice");
  ASSERT_EQ(u["sessions"].size(), 1u);
  EXPECT_FALSE(u["sessions"][0]["ended_at"].is_null());
  EXPECT_NE(u["sessions"][0]["end_reason"], "crashed");
}

// kill -9 during an upload leaves the row open; the next start closes it as "crashed" and
// serves again.
TEST_F(SftpdTest, KillDuringTransferThenRestart) {
  std::string f = d_.dir().Sub("big");
  RunCommand("head -c 1073741824 /dev/zero > '" + f + "'");
  std::thread client([&] { Sftp("put " + f + " big\n"); });
  ASSERT_TRUE(d_.WaitForLog("login ok"));
  EXPECT_EQ(d_.Stop(SIGKILL), 128 + SIGKILL);
  client.join();
  EXPECT_TRUE(Usage("alice")["sessions"][0]["ended_at"].is_null());
  ASSERT_TRUE(d_.Start()) << d_.error();
  EXPECT_EQ(Usage("alice")["sessions"][0]["end_reason"], "crashed");
  EXPECT_EQ(Sftp("pwd\n").exit_code, 0);
}

}  // namespace
}  // namespace sftplc::testing
