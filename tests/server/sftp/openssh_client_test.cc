// The real OpenSSH sftp client drives the processor directly (`sftp -D`, no SSH transport):
// transfers with pipelining at the advertised limits, resume, listing, links, chmod, statvfs,
// and the escape attempts of issue 3, with the files checked on disk afterwards.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "sftpd/core/base/ids.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_env.h"

namespace sftplc::sftp {
namespace {

namespace fs = std::filesystem;
using sftplc::testing::BinaryPath;
using sftplc::testing::ReadFile;
using sftplc::testing::RunCommand;
using sftplc::testing::TempDir;
using sftplc::testing::WriteFile;

class OpenSshClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (RunCommand("command -v sftp").exit_code != 0) {
      if (sftplc::testing::SkipAllowed()) {
        GTEST_SKIP() << "the OpenSSH sftp client is not installed";
      }
      FAIL() << "the OpenSSH sftp client is not installed (scripts/setup installs it)";
    }
    fs::create_directories(tmp_.Sub("storage"));
    WriteFile(tmp_.Sub("outside/secret"), "top secret");
    host_ = tmp_.Sub("storage/" + id_.str());
    std::mt19937_64 rng(42);
    content_.resize(3 * 1024 * 1024 + 12345);
    for (char& c : content_) {
      c = static_cast<char>(rng());
    }
    WriteFile(tmp_.Sub("local/src.bin"), content_);
  }

  // Runs a batch through `sftp -b`; returns stdout + stderr and the exit code.
  sftplc::testing::CommandResult Batch(const std::string& commands) {
    WriteFile(tmp_.Sub("batch"), commands);
    std::string server = BinaryPath("tests/server/sftp/sftp_stdio_server") + " " +
                         tmp_.Sub("storage") + " " + id_.str();
    return RunCommand("sftp -D '" + server + "' -b " + tmp_.Sub("batch") + " 2>&1");
  }
  std::string Host(const std::string& rel) const { return host_ + "/" + rel; }
  std::string Local(const std::string& rel) const { return tmp_.Sub("local/" + rel); }

  TempDir tmp_;
  AccountId id_ = AccountId::New();
  std::string host_;
  std::string content_;
};

// put/get (3 MiB, pipelined 255 KiB requests), rename (posix-rename), symlink, hardlink, chmod,
// ls -l, df (statvfs), reput/reget resume, rm and rmdir all work with the OpenSSH client.
TEST_F(OpenSshClientTest, EverydayCommands) {
  WriteFile(Host("pre/partial_up.bin"), content_.substr(0, 1000000));
  WriteFile(Local("partial.bin"), content_.substr(0, 777777));
  auto r = Batch(
      "pwd\n"
      "mkdir docs\n"
      "put " +
      Local("src.bin") +
      " docs/a.bin\n"
      "get docs/a.bin " +
      Local("back.bin") +
      "\n"
      "rename docs/a.bin docs/b.bin\n"
      "ln -s b.bin docs/link\n"
      "ln docs/b.bin docs/hard\n"
      "chmod 640 docs/b.bin\n"
      "ls -l docs\n"
      "df -h\n"
      "reput " +
      Local("src.bin") +
      " pre/partial_up.bin\n"
      "reget docs/link " +
      Local("partial.bin") +
      "\n"
      "rm docs/hard\n"
      "mkdir empty\n"
      "rmdir empty\n");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("Remote working directory: /"), std::string::npos) << r.out;
  EXPECT_EQ(ReadFile(Host("docs/b.bin")), content_);
  EXPECT_EQ(ReadFile(Local("back.bin")), content_);
  EXPECT_EQ(ReadFile(Host("pre/partial_up.bin")), content_);
  EXPECT_EQ(ReadFile(Local("partial.bin")), content_);
  EXPECT_TRUE(fs::is_symlink(Host("docs/link")));
  EXPECT_FALSE(fs::exists(Host("docs/hard")));
  EXPECT_FALSE(fs::exists(Host("empty")));
  struct stat st;
  ASSERT_EQ(stat(Host("docs/b.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  EXPECT_NE(r.out.find("-rw-r-----"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("docs/link"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Size"), std::string::npos) << r.out;  // df header
}

// Every escape attempt from a real client fails and nothing outside the root is read or changed.
TEST_F(OpenSshClientTest, EscapeAttemptsFail) {
  WriteFile(Host("mine"), "mine");
  auto r = Batch("-get ../../outside/secret " + Local("stolen1") +
                 "\n"
                 "-get /../../../outside/secret " +
                 Local("stolen1b") +
                 "\n"
                 "ln -s /etc etcl\n"
                 "-get etcl/passwd " +
                 Local("stolen2") +
                 "\n"
                 "ln -s ../.. up\n"
                 "-get up/outside/secret " +
                 Local("stolen3") +
                 "\n"
                 "-ls up/outside\n"
                 "-put " +
                 Local("src.bin") +
                 " up/outside/planted\n"
                 "-rename mine up/outside/moved\n"
                 "-ln mine up/outside/hard\n"
                 "-ln up/outside/secret stolen-link\n"
                 "-rm up/outside/secret\n"
                 "-chmod 777 up/outside/secret\n"
                 "-mkdir up/outside/dir\n");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  for (const char* f : {"stolen1", "stolen1b", "stolen2", "stolen3"}) {
    EXPECT_FALSE(fs::exists(Local(f))) << f;
  }
  EXPECT_EQ(ReadFile(tmp_.Sub("outside/secret")), "top secret");
  struct stat st;
  ASSERT_EQ(stat(tmp_.Sub("outside/secret").c_str(), &st), 0);
  EXPECT_NE(st.st_mode & 0777, 0777u);
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp_.Sub("outside")), fs::directory_iterator()),
            1);
  EXPECT_EQ(ReadFile(Host("mine")), "mine");
  EXPECT_FALSE(fs::exists(Host("stolen-link")));
  EXPECT_EQ(r.out.find("top secret"), std::string::npos);
}

}  // namespace
}  // namespace sftplc::sftp
