#include "sftpd/core/auth/password_input.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <sys/mman.h>
#include <termios.h>
#include <unistd.h>

#include <set>
#include <string>
#include <thread>

namespace sftplc::auth {
namespace {

using ::testing::HasSubstr;

// A descriptor (an in-memory file, not a terminal) positioned at the start of `data`.
int PipeWith(const std::string& data) {
  int fd = memfd_create("stdin", MFD_CLOEXEC);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
  return fd;
}

Result<Secret> FromStdin(const std::string& data) {
  int fd = PipeWith(data);
  auto r = ReadPasswordFromFd(fd);
  close(fd);
  return r;
}

// One line with its newline (LF or CRLF) gives the password without it.
TEST(ReadPasswordFromStdinTest, OneLineTrailingNewlineStripped) {
  EXPECT_EQ(FromStdin("correct horse battery\n")->view(), "correct horse battery");
  EXPECT_EQ(FromStdin("correct horse battery\r\n")->view(), "correct horse battery");
  EXPECT_EQ(FromStdin("no newline at all")->view(), "no newline at all");
  EXPECT_EQ(FromStdin(" spaces kept \n")->view(), " spaces kept ");
}

// Empty input, two lines, a NUL byte and more than 1024 bytes are refused.
TEST(ReadPasswordFromStdinTest, RefusesEmptyMultiLineNulAndOverlong) {
  EXPECT_THAT(FromStdin("").error().message(), HasSubstr("empty"));
  EXPECT_THAT(FromStdin("\n").error().message(), HasSubstr("empty"));
  EXPECT_THAT(FromStdin("first\nsecond\n").error().message(), HasSubstr("more than one line"));
  EXPECT_THAT(FromStdin(std::string("a\0b\n", 4)).error().message(), HasSubstr("NUL"));
  EXPECT_EQ(FromStdin(std::string(1024, 'x') + "\n")->size(), 1024u);
  EXPECT_THAT(FromStdin(std::string(1025, 'x') + "\n").error().message(),
              HasSubstr("longer than 1024"));
  // Far more than the limit: still a clean error, the whole input was read.
  EXPECT_THAT(FromStdin(std::string(100000, 'x')).error().message(), HasSubstr("longer than 1024"));
}

// A pseudo-terminal pair: the reader gets the slave, the test plays the user on the master.
class TerminalTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(openpty(&master_, &slave_, nullptr, nullptr, nullptr), 0); }
  void TearDown() override {
    close(master_);
    close(slave_);
  }
  // Reads from the master until `text` has appeared (the reader writes the prompt only after
  // turning echo off, so this is the synchronisation point). Returns everything read.
  std::string ReadUntil(const std::string& text) {
    std::string seen;
    char buf[256];
    while (seen.find(text) == std::string::npos) {
      ssize_t n = read(master_, buf, sizeof buf);
      if (n <= 0) {
        break;
      }
      seen.append(buf, static_cast<std::size_t>(n));
    }
    return seen;
  }
  void Type(const std::string& text) {
    ASSERT_EQ(write(master_, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }
  bool EchoOn() {
    struct termios t {};
    EXPECT_EQ(tcgetattr(slave_, &t), 0);
    return (t.c_lflag & ECHO) != 0;
  }
  int master_ = -1;
  int slave_ = -1;
};

// The password is read with echo off, never appears on the terminal, and echo is restored.
TEST_F(TerminalTest, ReadsWithoutEchoAndRestores) {
  ASSERT_TRUE(EchoOn());
  std::optional<Result<Secret>> result;
  std::thread reader(
      [&] { result.emplace(ReadPasswordFromTerminal(slave_, "Password: ", false)); });
  std::string shown = ReadUntil("Password: ");
  Type("hunter2hunter2\n");
  reader.join();
  shown += ReadUntil("\n");
  ASSERT_TRUE(result->has_value()) << result->error().message();
  EXPECT_EQ((*result)->view(), "hunter2hunter2");
  EXPECT_THAT(shown, ::testing::Not(HasSubstr("hunter2")));
  EXPECT_TRUE(EchoOn());
}

// With confirmation, two different entries are refused and echo is still restored.
TEST_F(TerminalTest, ConfirmationMismatchRefusedAndRestores) {
  std::optional<Result<Secret>> result;
  std::thread reader([&] { result.emplace(ReadPasswordFromTerminal(slave_, "Password: ", true)); });
  ReadUntil("Password: ");
  Type("first password 1\n");
  ReadUntil("Retype the password: ");
  Type("other password 2\n");
  reader.join();
  ASSERT_FALSE(result->has_value());
  EXPECT_THAT(result->error().message(), HasSubstr("differ"));
  EXPECT_TRUE(EchoOn());
}

// With confirmation, the same entry twice is accepted.
TEST_F(TerminalTest, ConfirmationMatchAccepted) {
  std::optional<Result<Secret>> result;
  std::thread reader([&] { result.emplace(ReadPasswordFromTerminal(slave_, "Password: ", true)); });
  ReadUntil("Password: ");
  Type("same password 3\n");
  ReadUntil("Retype the password: ");
  Type("same password 3\n");
  reader.join();
  ASSERT_TRUE(result->has_value());
  EXPECT_EQ((*result)->view(), "same password 3");
}

// An empty line is refused and echo restored (the error path).
TEST_F(TerminalTest, EmptyLineRefusedAndRestores) {
  std::optional<Result<Secret>> result;
  std::thread reader(
      [&] { result.emplace(ReadPasswordFromTerminal(slave_, "Password: ", false)); });
  ReadUntil("Password: ");
  Type("\n");
  reader.join();
  ASSERT_FALSE(result->has_value());
  EXPECT_THAT(result->error().message(), HasSubstr("empty"));
  EXPECT_TRUE(EchoOn());
}

// A descriptor that is not a terminal is kUnavailable with a hint.
TEST(ReadPasswordFromTerminalTest, NotATerminal) {
  int fd = PipeWith("x\n");
  auto r = ReadPasswordFromTerminal(fd, "Password: ", false);
  close(fd);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_THAT(r.error().message(), HasSubstr("--password-stdin"));
}

// Generated passwords: 24 characters of the unambiguous alphabet, different each time.
TEST(GeneratePasswordTest, LengthAlphabetAndUniqueness) {
  const std::string alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
  std::set<std::string> seen;
  std::set<char> used;
  for (int i = 0; i < 200; ++i) {
    Secret p = GeneratePassword();
    ASSERT_EQ(p.size(), 24u);
    for (char c : p.view()) {
      ASSERT_NE(alphabet.find(c), std::string::npos) << c;
      used.insert(c);
    }
    seen.insert(std::string(p.view()));
  }
  EXPECT_EQ(seen.size(), 200u);
  // 4800 draws from 55 symbols: every symbol shows up (a biased or truncated alphabet would not).
  EXPECT_EQ(used.size(), alphabet.size());
  for (char c : std::string("0O1lIo")) {
    EXPECT_EQ(used.count(c), 0u);
  }
}

}  // namespace
}  // namespace sftplc::auth
