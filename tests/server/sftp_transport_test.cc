// The transport with the real SFTP layer (sftp::Processor on an AccountRoot), driven by OpenSSH
// sftp, paramiko and curl: transfers with checksums, directory operations, and the usage
// counters the session records. Logins go through a fake gate (the authenticator has its own
// tests; tests/integration covers the whole daemon).

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "sftpd/core/base/ids.h"
#include "sftpd/server/server.h"
#include "tests/server/fakes.h"
#include "tests/testing/in_process_sftp.h"
#include "tests/testing/openssh_client.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_env.h"

namespace sftplc::server {
namespace {

using sftplc::testing::ReadFile;
using sftplc::testing::RunCommand;
using sftplc::testing::RunSftpBatch;
using sftplc::testing::TempDir;
using sftplc::testing::WriteFile;

class SftpTransportTest : public ::testing::Test {
 protected:
  SftpTransportTest() : account_(AccountId::New()), gate_(account_) {
    // The account folder, as account creation makes it (a session never creates it).
    std::filesystem::create_directories(dir_.Sub("storage/" + account_.str()));
    cfg_.listen = {{"127.0.0.1", 0}};
    cfg_.host_keys = {dir_.Sub("keys/host")};
    cfg_.shutdown_grace = Seconds(5);
    WriteFile(dir_.Sub("pw"), std::string(kPassword) + "\n");
    ServerDeps deps;
    deps.gate = &gate_;
    deps.recorder = &recorder_;
    deps.clock = &SystemClock::Instance();
    sftp::Limits limits;
    limits.max_handles = 64;
    deps.transport_binary = sftplc::testing::kTransportBinary;
    deps.sftp = sftplc::testing::InProcessBackends(
        sftplc::testing::SftpProtocols(dir_.Sub("storage"), limits, GetLogger("sftp")));
    auto s = Server::Create(cfg_, std::move(deps), GetLogger("sftpd"));
    EXPECT_TRUE(s.has_value());
    server_ = std::move(*s);
    auto bound = server_->Listen();
    EXPECT_TRUE(bound.has_value());
    port_ = std::stoi(bound->front().substr(bound->front().rfind(':') + 1));
    thread_ = std::thread([this] { (void)server_->Run(); });
  }
  ~SftpTransportTest() override {
    server_->RequestStop();
    thread_.join();
  }

  std::string Root() const { return dir_.Sub("storage/" + account_.str()); }
  std::string Local(const std::string& name) const { return dir_.Sub(name); }
  std::string Sha(const std::string& path) {
    return RunCommand("sha256sum '" + path + "' | cut -d' ' -f1").out;
  }
  sftplc::testing::CommandResult Sftp(const std::string& batch) {
    return RunSftpBatch({port_, "alice", dir_.Sub("pw")}, dir_.Sub("batch"), batch);
  }
  // Runs `body` in paramiko with `s` an SFTP session of alice's and sys.argv[1] = `arg`.
  sftplc::testing::CommandResult Paramiko(const std::string& body, const std::string& arg) {
    WriteFile(dir_.Sub("p.py"),
              "import paramiko, sys\n"
              "c = paramiko.SSHClient(); c.set_missing_host_key_policy(paramiko.AutoAddPolicy())\n"
              "c.connect('127.0.0.1', " +
                  std::to_string(port_) + ", 'alice', '" + kPassword +
                  "', allow_agent=False, look_for_keys=False)\n"
                  "s = c.open_sftp()\n" +
                  body + "s.close(); c.close()\n");
    return RunCommand("/usr/bin/python3 '" + dir_.Sub("p.py") + "' '" + arg + "'");
  }

  TempDir dir_;
  AccountId account_;
  FakeGate gate_;
  FakeRecorder recorder_;
  config::ServerConfig cfg_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  int port_ = 0;
};

// OpenSSH put and get of 1 KiB, 10 MiB and 100 MiB files arrive intact (sha256), on disk under
// the account's root and back; the usage record counts the bytes and files.
TEST_F(SftpTransportTest, OpenSshPutGetChecksums) {
  std::string batch;
  uint64_t total = 0;
  for (auto [name, size] : {std::pair{"f1k", 1024}, {"f10m", 10 << 20}, {"f100m", 100 << 20}}) {
    RunCommand("head -c " + std::to_string(size) + " /dev/urandom > '" + Local(name) + "'");
    batch += std::string("put ") + Local(name) + " " + name + "\n";
    batch += std::string("get ") + name + " " + Local(std::string(name) + ".back") + "\n";
    total += static_cast<uint64_t>(size);
  }
  auto r = Sftp(batch);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "");
  for (const char* name : {"f1k", "f10m", "f100m"}) {
    std::string want = Sha(Local(name));
    EXPECT_EQ(Sha(Root() + "/" + name), want) << name;
    EXPECT_EQ(Sha(Local(std::string(name) + ".back")), want) << name;
  }
  auto recs = recorder_.WaitEnded(1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].counters.bytes_in, total);
  EXPECT_EQ(recs[0].counters.bytes_out, total);
  EXPECT_EQ(recs[0].counters.files_uploaded, 3u);
  EXPECT_EQ(recs[0].counters.files_downloaded, 3u);
  EXPECT_TRUE(recs[0].activity);
  EXPECT_EQ(recs[0].reason, "closed");
}

// mkdir, ls -l, rename, rm, rmdir through OpenSSH change the account's root as asked.
TEST_F(SftpTransportTest, OpenSshDirectoryOperations) {
  WriteFile(Local("a.txt"), "hello\n");
  auto r = Sftp("mkdir d\nput " + Local("a.txt") +
                " d/a.txt\nls -l d\nrename d/a.txt d/b.txt\n"
                "ls d\nrm d/b.txt\nrmdir d\nmkdir kept\n");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("-rw"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("d/b.txt"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(Root() + "/d"));
  EXPECT_TRUE(std::filesystem::is_directory(Root() + "/kept"));
  auto recs = recorder_.WaitEnded(1);
  EXPECT_EQ(recs[0].counters.files_removed, 1u);
}

// paramiko uploads and downloads with checksums (a second client implementation).
TEST_F(SftpTransportTest, ParamikoPutGet) {
  RunCommand("head -c 3000000 /dev/urandom > '" + Local("p") + "'");
  auto r = Paramiko(
      "s.put(sys.argv[1], 'p')\n"
      "s.get('p', sys.argv[1] + '.back')\n"
      "print(s.stat('p').st_size)\n",
      Local("p"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "3000000\n");
  EXPECT_EQ(Sha(Local("p.back")), Sha(Local("p")));
  EXPECT_EQ(Sha(Root() + "/p"), Sha(Local("p")));
}

// A client that gives its window back only once 1.5 MiB of it is used (paramiko told so) still
// downloads: replies run 512 KiB ahead on this short path, the adjust never comes, and the
// session stops pacing that client (a stalled reply would fail the transfer at the write
// timeout).
TEST_F(SftpTransportTest, ClientAdjustingLateStillDownloads) {
  RunCommand("head -c 8000000 /dev/urandom > '" + Root() + "/late'");
  auto r = Paramiko(
      "s.get_channel().in_window_threshold = 1536 * 1024\n"
      "s.get('late', sys.argv[1])\n",
      Local("late"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Sha(Local("late")), Sha(Root() + "/late"));
}

// curl's sftp:// (libssh2) uploads and downloads.
TEST_F(SftpTransportTest, CurlPutGet) {
  RunCommand("head -c 500000 /dev/urandom > '" + Local("c") + "'");
  std::string base = "curl -sS --insecure -u 'alice:" + std::string(kPassword) +
                     "' 'sftp://127.0.0.1:" + std::to_string(port_) + "/c'";
  auto up = RunCommand(base + " -T '" + Local("c") + "'");
  ASSERT_EQ(up.exit_code, 0) << up.err;
  auto down = RunCommand(base + " -o '" + Local("c.back") + "'");
  ASSERT_EQ(down.exit_code, 0) << down.err;
  EXPECT_EQ(Sha(Local("c.back")), Sha(Local("c")));
  EXPECT_EQ(Sha(Root() + "/c"), Sha(Local("c")));
}

}  // namespace
}  // namespace sftplc::server
