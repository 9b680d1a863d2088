// The whole daemon: sftpd started from a config, accounts made with the built sftpctl, real
// clients over SSH, and the usage rows checked through sftpctl afterwards.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/time_format.h"
#include "sftpd/core/config/config.h"
#include "sftpd/core/db/sql.h"
#include "tests/integration/daemon_harness.h"
#include "tests/testing/openssh_client.h"

namespace sftplc::testing {
namespace {

constexpr const char* kPassword = "correct horse battery staple";

class SftpdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    d_.Set("server", "shutdown_grace = \"2s\"");
    ASSERT_NO_FATAL_FAILURE(Configure());
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

  // Called before the config is written and the daemon started.
  virtual void Configure() {}

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
    return RunSftpBatch({d_.port(), user, pwfile.empty() ? d_.dir().Sub("pw") : pwfile, source},
                        d_.dir().Sub("batch"), batch);
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
  // A file of `bytes` random bytes in the test's folder; its path.
  std::string RandomFile(const std::string& name, long long bytes) {
    std::string path = d_.dir().Sub(name);
    RunCommand("head -c " + std::to_string(bytes) + " /dev/urandom > '" + path + "'");
    return path;
  }
  // A new ed25519 key pair in the test's folder (private key `id`, public `id.pub`), its public
  // half added to alice's account with sftpctl.
  void AddClientKey() {
    RunCommand("ssh-keygen -q -t ed25519 -N '' -f '" + ClientKey() + "'");
    ASSERT_EQ(d_.Sftpctl("account add-key alice '" + ClientKey() + ".pub'").exit_code, 0);
  }
  std::string ClientKey() const { return d_.dir().Sub("id"); }

  DaemonHarness d_;
};

// A password login uploads and downloads 10 MiB intact; the session is recorded with its bytes
// and the login is on the account.
TEST_F(SftpdTest, PasswordPutGetRecorded) {
  std::string f = RandomFile("f10m", 10485760);
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
  std::string src = RandomFile("src.bin", kSize);
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
  d_.GiveWorld();  // written as root above: the daemon's, as if uploaded
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
  ASSERT_NO_FATAL_FAILURE(AddClientKey());
  const std::string key = ClientKey();
  WriteFile(d_.dir().Sub("batch"), "pwd\n");
  auto r = RunCommand("sftp -i '" + key + "' -o IdentitiesOnly=yes -o PasswordAuthentication=no" +
                      Opts() + "-b '" + d_.dir().Sub("batch") + "' alice@127.0.0.1");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(d_.WaitForLog("method=publickey"));
}

// PuTTY's psftp: FileZilla's SFTP helper (fzsftp) is derived from it, and WinSCP runs its SFTP
// over PuTTY's SSH code. A password login (from a file, never argv) and a key login (the key
// converted to PuTTY's format) make a folder, upload 3 MB, list, rename, download it intact, and
// remove both; the host key is pinned by its fingerprint, as those clients do after the first
// connection.
TEST_F(SftpdTest, PuttyPsftpPasswordAndKeyLogins) {
  std::string f = RandomFile("p3m", 3000000);
  auto fp = RunCommand("ssh-keygen -y -f '" + d_.dir().Sub("var/ssh_host_ed25519_key") +
                       "' | ssh-keygen -E sha256 -lf - | cut -d' ' -f2");
  ASSERT_EQ(fp.exit_code, 0) << fp.err;
  ASSERT_NO_FATAL_FAILURE(AddClientKey());
  const std::string key = ClientKey();
  ASSERT_EQ(RunCommand("puttygen '" + key + "' -O private -o '" + key + ".ppk'").exit_code, 0);
  WriteFile(d_.dir().Sub("batch"), "mkdir d\ncd d\nput " + f + " p\nls\nrename p q\nget q " + f +
                                       ".back\nrm q\ncd ..\nrmdir d\n");
  const std::string psftp = "psftp -batch -P " + std::to_string(d_.port()) + " -l alice -hostkey " +
                            fp.out.substr(0, fp.out.find('\n')) + " -b '" + d_.dir().Sub("batch") +
                            "' ";
  for (const std::string& login :
       {"-pwfile '" + d_.dir().Sub("pw") + "'", "-i '" + key + ".ppk'"}) {
    SCOPED_TRACE(login);
    std::filesystem::remove(f + ".back");
    auto r = RunCommand(psftp + login + " 127.0.0.1");
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err << d_.Log();
    EXPECT_THAT(r.out, ::testing::HasSubstr("3000000"));  // the listing
    EXPECT_EQ(Sha(f + ".back"), Sha(f));
    EXPECT_FALSE(std::filesystem::exists(Home() + "/d"));
  }
  // A wrong password is refused.
  WriteFile(d_.dir().Sub("bad"), "not the password\n");
  EXPECT_NE(RunCommand(psftp + "-pwfile '" + d_.dir().Sub("bad") + "' 127.0.0.1").exit_code, 0);
  auto u = Usage("alice");
  ASSERT_EQ(u["sessions"].size(), 2u);
}

// asyncssh, an SSH and SFTP implementation of its own (pure Python): 128 requests of 64 KiB in
// flight each way, a 20 MB upload and download intact, and the directory calls around them.
TEST_F(SftpdTest, AsyncsshPipelinedTransfers) {
  std::string f = RandomFile("a20m", 20000000);
  WriteFile(d_.dir().Sub("a.py"),
            "import asyncio, asyncssh, sys\n"
            "async def main(port, pwfile, src):\n"
            "    async with asyncssh.connect('127.0.0.1', port, username='alice',\n"
            "            password=open(pwfile).read().strip(), known_hosts=None,\n"
            "            client_keys=None, agent_path=None) as conn:\n"
            "        async with conn.start_sftp_client() as s:\n"
            "            await s.mkdir('d')\n"
            "            await s.put(src, 'd/x', block_size=65536, max_requests=128)\n"
            "            print(sorted(await s.listdir('d')), (await s.stat('d/x')).size)\n"
            "            await s.rename('d/x', 'd/y')\n"
            "            await s.get('d/y', src + '.back', block_size=65536, max_requests=128)\n"
            "            await s.remove('d/y')\n"
            "            await s.rmdir('d')\n"
            "asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3]))\n");
  auto r = RunCommand("/usr/bin/python3 -W ignore '" + d_.dir().Sub("a.py") + "' " +
                      std::to_string(d_.port()) + " '" + d_.dir().Sub("pw") + "' '" + f + "'");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << d_.Log();
  EXPECT_EQ(r.out, "['.', '..', 'x'] 20000000\n");
  EXPECT_EQ(Sha(f + ".back"), Sha(f));
  EXPECT_FALSE(std::filesystem::exists(Home() + "/d"));
  EXPECT_TRUE(d_.WaitForLog("session ended"));
  auto u = Usage("alice");
  ASSERT_EQ(u["sessions"].size(), 1u);
  EXPECT_EQ(u["sessions"][0]["counters"]["bytes_in"], 20000000);
  EXPECT_EQ(u["sessions"][0]["counters"]["bytes_out"], 20000000);
}

// The transport runs libssh's libgcrypt build with the kernel's random generator (session_main.cc:
// libgcrypt's own would cost a pool mix for every packet's padding). With each cipher a client
// picks by default, a file goes up and comes back intact, and every transport says in its debug
// line that its random numbers are the system's.
class SftpdDebugLogTest : public SftpdTest {
 protected:
  void Configure() override { d_.Set("log", "level = \"debug\""); }
};

TEST_F(SftpdDebugLogTest, TransportCryptoUsesTheKernelsRandomNumbers) {
  ASSERT_NO_FATAL_FAILURE(AddClientKey());
  const std::string key = ClientKey();
  std::string src = RandomFile("src.bin", 3000000);
  for (const char* cipher : {"aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com"}) {
    std::string back = d_.dir().Sub(std::string("back-") + cipher);
    WriteFile(d_.dir().Sub("batch"), "put '" + src + "' up.bin\nget up.bin '" + back + "'\n");
    auto r = RunCommand("sftp -i '" + key + "' -o IdentitiesOnly=yes -o Ciphers=" + cipher +
                        " -o PasswordAuthentication=no" + Opts() + "-b '" + d_.dir().Sub("batch") +
                        "' alice@127.0.0.1");
    ASSERT_EQ(r.exit_code, 0) << cipher << ": " << r.err;
    EXPECT_EQ(Sha(back), Sha(src)) << cipher;
  }
  std::string log = d_.Log();
  std::size_t lines = 0;
  for (std::size_t at = log.find("transport confined"); at != std::string::npos;
       at = log.find("transport confined", at + 1)) {
    ++lines;
    std::string line = log.substr(at, log.find('\n', at) - at);
    EXPECT_NE(line.find("random=system"), std::string::npos) << line;
  }
  EXPECT_EQ(lines, 2u) << log;
  EXPECT_EQ(log.find("random generator not in effect"), std::string::npos) << log;
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

// The daemon with a small defender (a score of 4 bans for 15 minutes; a wrong password scores
// 1, an unknown name 2) on a wall clock the test moves (libfaketime).
class SftpdDefenderTest : public SftpdTest {
 protected:
  void Configure() override {
    ASSERT_TRUE(d_.UseFakeTime()) << d_.error();
    d_.Set("auth.defender", "threshold = 4");
    d_.Set("auth.defender", "score_failure = 1");
    d_.Set("auth.defender", "ban_time = \"15min\"");
    WriteFile(d_.dir().Sub("bad"), "not the password at all\n");
  }

  // alice with a wrong password / the right one, from `source`.
  CommandResult Wrong(const std::string& source) {
    return Sftp("pwd\n", "alice", d_.dir().Sub("bad"), source);
  }
  CommandResult Right(const std::string& source) { return Sftp("pwd\n", "alice", "", source); }
  // `sftpctl ban list --json [flags]`, on the daemon's clock.
  nlohmann::json Bans(const std::string& flags = "") {
    auto r = d_.Sftpctl("ban list --json " + flags);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }
  // Renames a table of the daemon's database (breaking or mending the queries on it).
  void RenameTable(const std::string& from, const std::string& to) {
    auto cfg = config::LoadConfig(d_.config_path());
    ASSERT_TRUE(cfg) << cfg.error().ToString();
    auto db = db::Database::Open(cfg->database, GetLogger("store"));
    ASSERT_TRUE(db) << db.error().ToString();
    auto done = (*db)->Write<bool>([&](soci::session& s) -> Result<bool> {
      s << "ALTER TABLE " + from + " RENAME TO " + to;
      return true;
    });
    ASSERT_TRUE(done) << done.error().ToString();
  }
};

// Wrong passwords from one address up to the threshold ban it: then even the right password is
// refused from there and `sftpctl ban list` shows it, while the owner still logs in from another
// address (127.0.0.2). `sftpctl ban remove` lifts it: the daemon, which trusts a ban it has seen
// for 10 s, lets the address in once that time is over.
TEST_F(SftpdDefenderTest, BanAfterRepeatedFailuresIsPerAddress) {
  for (int i = 0; i < 3; ++i) {
    EXPECT_NE(Wrong("127.0.0.1").exit_code, 0);
  }
  EXPECT_TRUE(Bans().empty());  // a score of 3: not yet
  EXPECT_EQ(Usage("alice")["failed_logins"].size(), 3u);
  EXPECT_NE(Wrong("127.0.0.1").exit_code, 0);
  EXPECT_TRUE(d_.WaitForLog("ip banned ip=127.0.0.1")) << d_.Log();

  auto refused = Right("127.0.0.1");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_TRUE(d_.WaitForLog("login refused: source banned ip=127.0.0.1")) << d_.Log();
  auto bans = Bans();
  ASSERT_EQ(bans.size(), 1u) << bans;
  EXPECT_EQ(bans[0]["ip"], "127.0.0.1");
  EXPECT_EQ(bans[0]["active"], true);
  EXPECT_EQ(bans[0]["ban_count"], 1);
  auto u = Usage("alice");
  EXPECT_TRUE(u["sessions"].empty());
  EXPECT_EQ(u["failed_logins"].size(), 4u);  // the refused right password is not a failure

  auto other = Right("127.0.0.2");
  EXPECT_EQ(other.exit_code, 0) << other.err << d_.Log();

  auto removed = d_.Sftpctl("ban remove 127.0.0.1");
  EXPECT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_EQ(removed.out, "ban removed: 127.0.0.1\n");
  EXPECT_TRUE(Bans("--all").empty());  // its history is forgotten too
  d_.MoveClock(std::chrono::seconds(11));
  auto again = Right("127.0.0.1");
  EXPECT_EQ(again.exit_code, 0) << again.err << d_.Log();

  u = Usage("alice");
  ASSERT_EQ(u["sessions"].size(), 2u);
  std::vector<std::string> sources;
  for (const auto& row : u["sessions"]) {
    sources.push_back(row["remote_ip"].get<std::string>());
  }
  EXPECT_THAT(sources, ::testing::UnorderedElementsAre("127.0.0.1", "127.0.0.2"));
  EXPECT_EQ(d_.Log().find("alice"), std::string::npos);
}

// An unknown name gets the answer of a wrong password and scores the same: names naming no
// account and wrong passwords ban their address at the same attempt (the fourth), not before.
// No attempted name reaches the log or the failed logins of the account.
TEST_F(SftpdDefenderTest, UnknownNamesScoreAndLookLikeWrongPasswords) {
  auto wrong = Wrong("127.0.0.4");
  auto unknown = Sftp("pwd\n", "nobody", "", "127.0.0.3");
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_EQ(unknown.exit_code, wrong.exit_code);
  // The same message, but for the name the client itself prints ("alice@127.0.0.1: ...").
  std::string expected = wrong.err;
  ASSERT_EQ(expected.rfind("alice@", 0), 0u) << expected;
  EXPECT_EQ(unknown.err, "nobody" + expected.substr(5));
  for (int i = 0; i < 2; ++i) {
    EXPECT_NE(Wrong("127.0.0.4").exit_code, 0);
    EXPECT_NE(Sftp("pwd\n", "nobody-else", "", "127.0.0.3").exit_code, 0);
  }
  EXPECT_TRUE(Bans().empty());  // a score of 3 each
  EXPECT_NE(Wrong("127.0.0.4").exit_code, 0);
  EXPECT_NE(Sftp("pwd\n", "nobody-else", "", "127.0.0.3").exit_code, 0);

  auto bans = Bans();
  ASSERT_EQ(bans.size(), 2u) << bans;
  EXPECT_NE(Right("127.0.0.3").exit_code, 0);
  EXPECT_NE(Right("127.0.0.4").exit_code, 0);
  auto u = Usage("alice");
  EXPECT_EQ(u["failed_logins"].size(), 4u);
  for (const auto& f : u["failed_logins"]) {
    EXPECT_EQ(f["remote_ip"], "127.0.0.4");
  }
  std::string log = d_.Log();
  EXPECT_EQ(log.find("nobody"), std::string::npos);
  EXPECT_EQ(log.find("alice"), std::string::npos);
}

// A ban ends by itself after ban_time on the daemon's clock, moved instead of waited for: a
// minute before its end it still holds (asked from the database again, since the daemon's
// cache has lapsed), after its end the right password logs in, and `ban list` shows the ban only
// with --all, as expired.
TEST_F(SftpdDefenderTest, BanEndsByItselfAfterBanTime) {
  for (int i = 0; i < 4; ++i) {
    EXPECT_NE(Sftp("pwd\n", "nobody").exit_code, 0);
  }
  ASSERT_EQ(Bans().size(), 1u);
  EXPECT_NE(Right("127.0.0.1").exit_code, 0);

  d_.MoveClock(std::chrono::minutes(14));
  EXPECT_NE(Right("127.0.0.1").exit_code, 0);
  EXPECT_EQ(Bans().size(), 1u);
  EXPECT_TRUE(Usage("alice")["sessions"].empty());

  d_.MoveClock(std::chrono::minutes(2));
  auto r = Right("127.0.0.1");
  EXPECT_EQ(r.exit_code, 0) << r.err << d_.Log();
  EXPECT_TRUE(Bans().empty());
  auto all = Bans("--all");
  ASSERT_EQ(all.size(), 1u) << all;
  EXPECT_EQ(all[0]["active"], false);
  // The login happened on the moved clock, 16 minutes ahead of the real one.
  auto u = Usage("alice");
  ASSERT_EQ(u["sessions"].size(), 1u);
  auto started = ParseTime(u["sessions"][0]["started_at"].get<std::string>());
  ASSERT_TRUE(started) << u;
  EXPECT_GE(*started, SystemClock::Instance().Now() + std::chrono::minutes(15));
}

// When the ban list cannot be read (its table renamed away), the daemon refuses even the right
// password, with the answer of a wrong password, and logs the error without the name. Mended,
// the same login works.
TEST_F(SftpdDefenderTest, BanCheckThatFailsRefusesTheLogin) {
  auto wrong = Wrong("127.0.0.1");
  EXPECT_NE(wrong.exit_code, 0);
  ASSERT_NO_FATAL_FAILURE(RenameTable("auth_bans", "auth_bans_away"));
  auto refused = Right("127.0.0.1");
  EXPECT_EQ(refused.exit_code, wrong.exit_code);
  EXPECT_EQ(refused.err, wrong.err);
  EXPECT_TRUE(d_.WaitForLog("login refused: ban check failed method=password ip=127.0.0.1"))
      << d_.Log();
  EXPECT_THAT(d_.Log(), ::testing::HasSubstr("auth_bans"));
  EXPECT_TRUE(Usage("alice")["sessions"].empty());

  ASSERT_NO_FATAL_FAILURE(RenameTable("auth_bans_away", "auth_bans"));
  auto ok = Right("127.0.0.1");
  EXPECT_EQ(ok.exit_code, 0) << ok.err << d_.Log();
  EXPECT_EQ(Usage("alice")["sessions"].size(), 1u);
  EXPECT_EQ(d_.Log().find("alice"), std::string::npos);
}

}  // namespace
}  // namespace sftplc::testing
