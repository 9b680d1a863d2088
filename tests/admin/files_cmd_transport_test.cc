// `sftpctl files` meets a real client: the server stack (libssh transport + the SFTP layer over
// the account's root) serves the folder sftpctl writes, and the OpenSSH sftp client gets what
// the company put and puts what the company gets (sha256 both ways). The login is a fake gate
// for the account sftpctl created (sftpd on main does not authenticate yet); everything between
// sftpctl, the disk and the client's socket is production code.

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "sftpd/core/base/ids.h"
#include "sftpd/server/server.h"
#include "tests/server/fakes.h"
#include "tests/testing/cli_world.h"
#include "tests/testing/in_process_sftp.h"
#include "tests/testing/openssh_client.h"
#include "tests/testing/test_env.h"

namespace sftplc::admin {
namespace {

using sftplc::testing::CommandResult;
using sftplc::testing::RunCommand;
using sftplc::testing::RunSftpBatch;
using sftplc::testing::WriteFile;

class FilesCmdTransportTest : public ::testing::Test, protected ::sftplc::testing::CliWorld {
 protected:
  void SetUp() override {
    for (const char* tool : {"sftp", "sshpass"}) {
      if (RunCommand(std::string("command -v ") + tool).exit_code != 0) {
        if (sftplc::testing::SkipAllowed()) {
          GTEST_SKIP() << tool << " is not installed";
        }
        FAIL() << tool << " is not installed (scripts/setup installs it)";
      }
    }
    auto c =
        Ctl("account create --username acme-ftp --name 'Ada Lovelace' --email "
            "ada@example.com --phone '+44 151 357 7700' --no-password");
    ASSERT_EQ(c.exit_code, 0) << c.err;
    auto pos = c.out.find("id=");
    ASSERT_NE(pos, std::string::npos);
    auto id = AccountId::Parse(c.out.substr(pos + 3, 32));
    ASSERT_TRUE(id);
    gate_ = std::make_unique<server::FakeGate>(*id, "acme-ftp");
    WriteFile(dir().Sub("pw"), std::string(server::kPassword) + "\n");

    config::ServerConfig cfg;
    cfg.listen = {{"127.0.0.1", 0}};
    cfg.host_keys = {dir().Sub("keys/host_ed25519")};
    cfg.shutdown_grace = Seconds(2);
    server::ServerDeps deps;
    deps.gate = gate_.get();
    deps.recorder = &recorder_;
    deps.clock = &SystemClock::Instance();
    deps.transport_binary = sftplc::testing::kTransportBinary;
    deps.sftp = sftplc::testing::InProcessBackends(
        sftplc::testing::SftpProtocols(dir().Sub("files"), sftp::Limits{}, GetLogger("sftp")));
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

  CommandResult Sftp(const std::string& batch) {
    return RunSftpBatch({port_, "acme-ftp", dir().Sub("pw")}, dir().Sub("batch"), batch);
  }
  std::string Sha(const std::string& path) {
    return RunCommand("sha256sum '" + path + "' | cut -d' ' -f1").out;
  }
  std::string Local(const std::string& name) const { return dir().Sub("local/" + name); }

  std::unique_ptr<server::FakeGate> gate_;
  server::FakeRecorder recorder_;
  std::unique_ptr<server::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

// sftpctl files put (1 KiB, 8 MiB) then the client's get; the client's put then sftpctl files
// get: the same sha256 every way, and sftpctl lists what the client uploaded.
TEST_F(FilesCmdTransportTest, PutThenClientGetAndBack) {
  std::filesystem::create_directories(dir().Sub("local"));
  for (auto [name, size] : {std::pair{"f1k", 1024}, {"f8m", 8 << 20}}) {
    RunCommand("head -c " + std::to_string(size) + " /dev/urandom > '" + Local(name) + "'");
    auto put = Ctl(std::string("files put acme-ftp '") + Local(name) + "' /" + name);
    ASSERT_EQ(put.exit_code, 0) << put.err;
  }
  auto r = Sftp("get f1k " + Local("f1k.client") + "\nget /f8m " + Local("f8m.client") + "\nput " +
                Local("f8m") + " up8m\n");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string want1k = Sha(Local("f1k")), want8m = Sha(Local("f8m"));
  ASSERT_EQ(want8m.size(), 65u);  // 64 hex digits and a newline
  EXPECT_EQ(Sha(Local("f1k.client")), want1k);
  EXPECT_EQ(Sha(Local("f8m.client")), want8m);

  auto get = Ctl("files get acme-ftp /up8m '" + Local("up8m.back") + "'");
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(Sha(Local("up8m.back")), want8m);
  auto list = Ctl("files list acme-ftp --json");
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("\"/up8m\""), std::string::npos) << list.out;
}

}  // namespace
}  // namespace sftplc::admin
