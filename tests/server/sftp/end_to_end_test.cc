// The whole server stack with the real SFTP layer: libssh transport + SftpProtocol over an
// account root, driven by the OpenSSH sftp client over SSH (password through sshpass). Login and
// usage storage are fakes; everything between the socket and the disk is production code.

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "sftpd/core/base/ids.h"
#include "sftpd/server/server.h"
#include "tests/server/fakes.h"
#include "tests/testing/in_process_sftp.h"
#include "tests/testing/openssh_client.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_env.h"

namespace sftplc::sftp {
namespace {

namespace fs = std::filesystem;
using sftplc::testing::ReadFile;
using sftplc::testing::RunCommand;
using sftplc::testing::RunSftpBatch;
using sftplc::testing::TempDir;
using sftplc::testing::WriteFile;

using server::kPassword;

class EndRecorder final : public server::SessionRecorder {
 public:
  Result<int64_t> Begin(const server::LoginInfo&) override {
    std::lock_guard lock(mu_);
    ends_.emplace_back();
    return static_cast<int64_t>(ends_.size());
  }
  Status StillAuthorized(const AccountId&, const server::LoginCredential&) override { return {}; }
  Status Progress(int64_t, const AccountId&, const usage::Counters&, bool, TimePoint) override {
    return {};
  }
  Status End(int64_t id, const AccountId&, const usage::Counters& c, bool, std::string_view,
             TimePoint) override {
    std::lock_guard lock(mu_);
    ends_[id - 1] = c;
    ended_++;
    cv_.notify_all();
    return {};
  }
  // The counters of session `n` (1-based) once it has ended (bounded wait).
  usage::Counters WaitEnd(int n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(60), [&] { return ended_ >= n; });
    return ends_.size() >= static_cast<std::size_t>(n) ? ends_[n - 1] : usage::Counters{};
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<usage::Counters> ends_;
  int ended_ = 0;
};

class EndToEndTest : public ::testing::Test {
 protected:
  EndToEndTest() : gate_(id_) {}
  void SetUp() override {
    for (const char* tool : {"sftp", "sshpass"}) {
      if (RunCommand(std::string("command -v ") + tool).exit_code != 0) {
        if (sftplc::testing::SkipAllowed()) {
          GTEST_SKIP() << tool << " is not installed";
        }
        FAIL() << tool << " is not installed (scripts/setup installs it)";
      }
    }
    // The account's folder, as account creation makes it (a session never creates it).
    fs::create_directories(dir_.Sub("storage/" + id_.str()));
    WriteFile(dir_.Sub("outside/secret"), "top secret");
    WriteFile(dir_.Sub("pw"), std::string(kPassword) + "\n");
    config::ServerConfig cfg;
    cfg.listen = {{"127.0.0.1", 0}};
    cfg.host_keys = {dir_.Sub("keys/host_ed25519")};
    cfg.shutdown_grace = Seconds(2);
    server::ServerDeps deps;
    deps.gate = &gate_;
    deps.recorder = &recorder_;
    deps.clock = &SystemClock::Instance();
    deps.transport_binary = sftplc::testing::kTransportBinary;
    deps.sftp = sftplc::testing::InProcessBackends(
        sftplc::testing::SftpProtocols(dir_.Sub("storage"), Limits{}, GetLogger("sftp")));
    auto s = server::Server::Create(cfg, std::move(deps), GetLogger("sftpd"));
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
    server_ = std::move(*s);
    auto bound = server_->Listen();
    ASSERT_TRUE(bound.has_value()) << bound.error().ToString();
    port_ = std::stoi(bound->front().substr(bound->front().rfind(':') + 1));
    thread_ = std::thread([this] { (void)server_->Run(); });
  }
  void TearDown() override {
    if (thread_.joinable()) {
      server_->RequestStop();
      thread_.join();
    }
  }
  sftplc::testing::CommandResult Sftp(const std::string& batch) {
    return RunSftpBatch({port_, "alice", dir_.Sub("pw")}, dir_.Sub("batch"), batch);
  }
  std::string Host(const std::string& rel) const {
    return dir_.Sub("storage/" + id_.str() + "/" + rel);
  }

  TempDir dir_;
  AccountId id_ = AccountId::New();
  server::FakeGate gate_;
  EndRecorder recorder_;
  std::unique_ptr<server::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

// 24 MiB up and down over SSH with checksums (255 KiB requests, 64 in flight), ls -l, rename,
// symlink and an escape attempt; the usage counters reach the recorder.
TEST_F(EndToEndTest, OpenSshOverSsh) {
  std::string content(24 * 1024 * 1024, '\0');
  std::mt19937_64 rng(7);
  for (char& c : content) {
    c = static_cast<char>(rng());
  }
  WriteFile(dir_.Sub("local/src.bin"), content);
  auto r = Sftp(
      "mkdir in\n"
      "put " +
      dir_.Sub("local/src.bin") +
      " in/a.bin\n"
      "get in/a.bin " +
      dir_.Sub("local/back.bin") +
      "\n"
      "rename in/a.bin in/b.bin\n"
      "ln -s /etc etc\n"
      "-get etc/passwd " +
      dir_.Sub("local/passwd") +
      "\n"
      "-get ../../outside/secret " +
      dir_.Sub("local/secret") +
      "\n"
      "ls -l in\n");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(ReadFile(Host("in/b.bin")), content);
  EXPECT_EQ(ReadFile(dir_.Sub("local/back.bin")), content);
  EXPECT_FALSE(fs::exists(dir_.Sub("local/passwd")));
  EXPECT_FALSE(fs::exists(dir_.Sub("local/secret")));
  EXPECT_NE(r.out.find("b.bin"), std::string::npos) << r.out;
  usage::Counters c = recorder_.WaitEnd(1);
  EXPECT_EQ(c.bytes_in, content.size());
  EXPECT_EQ(c.bytes_out, content.size());
  EXPECT_EQ(c.files_uploaded, 1u);
  EXPECT_EQ(c.files_downloaded, 1u);
}

}  // namespace
}  // namespace sftplc::sftp
