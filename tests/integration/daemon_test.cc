// The sftpd process: start-up line, host key, config check, root refusal, signals, and closing
// the usage rows a killed predecessor left open.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "sftpd/core/base/clock.h"
#include "sftpd/core/config/config.h"
#include "sftpd/core/db/database.h"
#include "sftpd/core/usage/usage_store.h"
#include "tests/integration/daemon_harness.h"
#include "tests/testing/service_user.h"

namespace sftplc::testing {
namespace {

// The daemon prints "listening on 127.0.0.1:PORT" with the port it bound, generates a 0600
// ed25519 host key, logs its fingerprint, and exits 0 on SIGTERM.
TEST(DaemonTest, StartsListensAndStopsOnSigterm) {
  DaemonHarness d;
  ASSERT_TRUE(d.Start()) << d.error();
  ASSERT_EQ(d.addresses().size(), 1u);
  EXPECT_EQ(d.addresses()[0], "127.0.0.1:" + std::to_string(d.port()));
  EXPECT_GT(d.port(), 0);
  EXPECT_EQ(RunCommand("stat -c %a '" + d.host_key_path() + "'").out, "600\n");
  auto fp = RunCommand("ssh-keygen -l -f '" + d.host_key_path() + "' | cut -d' ' -f2");
  ASSERT_FALSE(fp.out.empty());
  EXPECT_NE(d.Log().find("fingerprint=" + fp.out.substr(0, fp.out.size() - 1)), std::string::npos)
      << d.Log();
  // The port really accepts SSH.
  auto banner = RunCommand(
      "/usr/bin/python3 -c \"import socket; s=socket.create_connection(("
      "'127.0.0.1', " +
      std::to_string(d.port()) + ")); print(s.recv(7).decode())\"");
  EXPECT_EQ(banner.out, "SSH-2.0\n");
  EXPECT_EQ(d.Stop(SIGTERM), 0) << d.Log();
}

// One "listening on" line per configured address.
TEST(DaemonTest, OneLinePerListenAddress) {
  DaemonHarness d;
  d.Set("server", "listen = [\"127.0.0.1:0\", \"[::1]:0\"]");
  ASSERT_TRUE(d.Start(2)) << d.error();
  ASSERT_EQ(d.addresses().size(), 2u);
  EXPECT_EQ(d.addresses()[1].rfind("[::1]:", 0), 0u) << d.addresses()[1];
  EXPECT_EQ(d.Stop(SIGTERM), 0);
}

// --check-config accepts a good file and refuses a bad one naming the key.
TEST(DaemonTest, CheckConfig) {
  DaemonHarness d;
  std::string path = d.WriteConfig();
  auto ok =
      RunCommand("'" + BinaryPath("sftpd/sftpd") + "' --check-config --config '" + path + "'");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("config ok"), std::string::npos);
  d.Set("server", "max_auth_tries = \"many\"");
  d.WriteConfig();
  auto bad =
      RunCommand("'" + BinaryPath("sftpd/sftpd") + "' --check-config --config '" + path + "'");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("max_auth_tries"), std::string::npos) << bad.err;
}

// sftpd starts the programs of every connection from ../libexec/sftp-lifecycle beside its own
// folder (/usr/sbin/sftpd and /usr/libexec/sftp-lifecycle/ as installed, the build tree alike):
// a copy of sftpd without them refuses to start, naming the path it looked at and why.
TEST(DaemonTest, RefusesToStartWithoutTheProgramsItStarts) {
  TempDir elsewhere;
  ASSERT_EQ(chmod(elsewhere.path().c_str(), 0755), 0);
  const std::string sbin = elsewhere.Sub("sbin");
  ASSERT_EQ(mkdir(sbin.c_str(), 0755), 0);
  std::filesystem::copy_file(BinaryPath("sftpd/sftpd"), sbin + "/sftpd");
  DaemonHarness d;
  d.UseBinary(sbin + "/sftpd");
  EXPECT_FALSE(d.Start());
  EXPECT_TRUE(d.WaitForLog("cannot run " + sbin +
                           "/../libexec/sftp-lifecycle/sftpd-sftp: No such file or directory"))
      << d.Log();
}

// The daemon runs as the service user, never as root (production runs it as a non-root user, and
// root would bypass the file modes clients set); so does sftpctl, and the world is theirs.
TEST(DaemonTest, RunsAsTheServiceUser) {
  DaemonHarness d;
  ASSERT_TRUE(d.Start()) << d.error();
  const ServiceUser& user = TestServiceUser();
  EXPECT_NE(user.uid, 0u);
  std::string status = ReadFile("/proc/" + std::to_string(d.pid()) + "/status");
  std::string uids = std::to_string(user.uid);
  EXPECT_NE(status.find("\nUid:\t" + uids + "\t" + uids + "\t" + uids + "\t" + uids + "\n"),
            std::string::npos)
      << status;
  auto id = d.Sftpctl("config check");
  EXPECT_EQ(id.exit_code, 0) << id.err;
  struct stat st {};
  ASSERT_EQ(::stat(d.database_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, user.uid);
  EXPECT_EQ(d.Stop(SIGTERM), 0);
}

// sftpd is private by default whatever umask it is started with: the database it creates and
// its -wal/-shm are 0600; a config file others can read is named in a warning at start and by
// --check-config.
TEST(DaemonTest, PrivateByDefault) {
  DaemonHarness d;
  std::string path = d.WriteConfig();
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  auto check = RunCommand("umask 000 && '" + BinaryPath("sftpd/sftpd") +
                          "' --check-config --config '" + path + "'");
  EXPECT_EQ(check.exit_code, 0) << check.err;
  EXPECT_NE(check.err.find("warning: configuration file " + path), std::string::npos) << check.err;
  mode_t old = umask(000);
  bool started = d.Start();
  umask(old);
  ASSERT_TRUE(started) << d.error();
  EXPECT_TRUE(d.WaitForLog("configuration file " + path + " is readable")) << d.Log();
  for (const std::string& f :
       {d.database_path(), d.database_path() + "-wal", d.database_path() + "-shm"}) {
    struct stat st {};
    ASSERT_EQ(stat(f.c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 07777, 0600u) << f;
  }
  EXPECT_EQ(d.Stop(SIGTERM), 0);
}

// As root, the daemon refuses to start unless server.allow_root is set.
TEST(DaemonTest, RefusesRootWithoutAllowRoot) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "not running as root";
  }
  DaemonHarness d;
  d.RunAsRoot();
  d.Set("server", "allow_root = false");
  EXPECT_FALSE(d.Start());
  EXPECT_NE(d.error().find("refusing to run as root"), std::string::npos) << d.error();
}

// SIGHUP reloads the configuration (the daemon keeps running); a broken file is refused and
// the running configuration kept.
TEST(DaemonTest, SighupReloads) {
  DaemonHarness d;
  ASSERT_TRUE(d.Start()) << d.error();
  d.Set("log", "level = \"debug\"");
  d.WriteConfig();
  kill(d.pid(), SIGHUP);
  EXPECT_TRUE(d.WaitForLog("configuration reloaded")) << d.Log();
  d.Set("server", "max_auth_tries = \"many\"");
  d.WriteConfig();
  kill(d.pid(), SIGHUP);
  EXPECT_TRUE(d.WaitForLog("reload refused")) << d.Log();
  EXPECT_EQ(d.Stop(SIGTERM), 0);
}

// Usage rows left open by a killed daemon (kill -9) are closed as "crashed" at the next start.
TEST(DaemonTest, NextStartClosesCrashedSessions) {
  DaemonHarness d;
  ASSERT_TRUE(d.Start()) << d.error();
  EXPECT_EQ(d.Stop(SIGKILL), 128 + SIGKILL);
  AccountId account = AccountId::New();
  {
    auto cfg = config::LoadConfig(d.config_path());
    ASSERT_TRUE(cfg) << cfg.error().ToString();
    auto db = db::Database::Open(cfg->database, GetLogger("store"));
    ASSERT_TRUE(db);
    // The row a session of the killed daemon would have left: opened, never closed.
    usage::UsageStore store(**db, SystemClock::Instance());
    usage::NewSession s;
    s.account = account;
    s.started_at = SystemClock::Instance().Now();
    s.auth_method = "password";
    ASSERT_TRUE(store.Open(s));
  }
  ASSERT_TRUE(d.Start()) << d.error();
  EXPECT_TRUE(d.WaitForLog("closed usage sessions left open by a previous run count=1")) << d.Log();
  EXPECT_EQ(d.Stop(SIGTERM), 0);
  auto cfg = config::LoadConfig(d.config_path());
  auto db = db::Database::Open(cfg->database, GetLogger("store"));
  usage::UsageStore store(**db, SystemClock::Instance());
  auto rows = store.ListSessions(account, std::nullopt, 10);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].end_reason, "crashed");
  EXPECT_TRUE((*rows)[0].ended_at.has_value());
}

}  // namespace
}  // namespace sftplc::testing
