#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "sftpd/core/notify/mailer.h"
#include "sftpd/core/notify/message.h"
#include "tests/core/notify/smtp_sink_process.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_env.h"

namespace sftplc::notify {
namespace {

using testing::T;

using SmtpSink = testing::SmtpSinkProcess;

class SmtpMailerTest : public ::testing::Test {
 protected:
  config::SmtpConfig Cfg(int port) {
    config::SmtpConfig c;
    c.url = "smtp://127.0.0.1:" + std::to_string(port);
    c.tls = "none";
    c.timeout = Seconds(10);
    return c;
  }
  std::string Message(const std::string& body) {
    MailMessage m;
    m.from = *ParseMailbox("SFTP service <sftp@example.com>");
    m.to = *ParseMailbox("Zoë Doe <zoe@example.org>");
    m.subject = "Test notice é";
    m.body = body;
    m.date = T("2026-11-25T10:00:00Z");
    return *BuildMessage(m);
  }
  std::vector<std::string> Delivered() {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(dir_.Sub("mail/new"), ec)) {
      out.push_back(testing::ReadFile(e.path()));
    }
    return out;
  }
  testing::TempDir dir_;
  Envelope env_{"sftp@example.com", "zoe@example.org"};
};

// A notice reaches the real SMTP server intact, including a line that is a single dot.
TEST_F(SmtpMailerTest, DeliversToRealServer) {
  SmtpSink sink(dir_.Sub("mail"), {});
  ASSERT_GT(sink.port(), 0);
  auto mailer = CreateSmtpMailer(Cfg(sink.port()), GetLogger("mail"));
  ASSERT_TRUE(mailer) << mailer.error().ToString();
  ASSERT_TRUE((*mailer)->Send(env_, Message("first line\n.\nafter the dot\n")));
  auto mail = Delivered();
  ASSERT_EQ(mail.size(), 1u);
  EXPECT_NE(mail[0].find("Subject: =?UTF-8?B?"), std::string::npos);
  EXPECT_NE(mail[0].find("first line\n.\nafter the dot"), std::string::npos);
  EXPECT_NE(mail[0].find("X-Envelope-To: zoe@example.org"), std::string::npos);
}

// A 4xx answer is temporary (kUnavailable); the next attempt goes through.
TEST_F(SmtpMailerTest, TemporaryFailureThenSuccess) {
  SmtpSink sink(dir_.Sub("mail"), {"--fail-first", "1"});
  ASSERT_GT(sink.port(), 0);
  auto mailer = CreateSmtpMailer(Cfg(sink.port()), GetLogger("mail"));
  ASSERT_TRUE(mailer);
  Status first = (*mailer)->Send(env_, Message("hello\n"));
  ASSERT_FALSE(first);
  EXPECT_TRUE(IsTemporary(first.error())) << first.error().ToString();
  EXPECT_TRUE((*mailer)->Send(env_, Message("hello\n")));
  EXPECT_EQ(Delivered().size(), 1u);
}

// A 5xx answer is permanent (kPermissionDenied).
TEST_F(SmtpMailerTest, RejectionIsPermanent) {
  SmtpSink sink(dir_.Sub("mail"), {"--reject-all"});
  ASSERT_GT(sink.port(), 0);
  auto mailer = CreateSmtpMailer(Cfg(sink.port()), GetLogger("mail"));
  ASSERT_TRUE(mailer);
  Status st = (*mailer)->Send(env_, Message("hello\n"));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kPermissionDenied) << st.error().ToString();
  EXPECT_TRUE(Delivered().empty());
}

// With tls = "required" (the default), a server without STARTTLS gets nothing.
TEST_F(SmtpMailerTest, StartTlsRequiredByDefault) {
  SmtpSink sink(dir_.Sub("mail"), {});
  ASSERT_GT(sink.port(), 0);
  config::SmtpConfig c = Cfg(sink.port());
  c.tls = "required";
  auto mailer = CreateSmtpMailer(c, GetLogger("mail"));
  ASSERT_TRUE(mailer);
  Status st = (*mailer)->Send(env_, Message("secret\n"));
  ASSERT_FALSE(st);
  EXPECT_TRUE(IsTemporary(st.error()));
  EXPECT_TRUE(Delivered().empty());
}

// No server listening: temporary failure, so the outbox retries.
TEST_F(SmtpMailerTest, ConnectionRefusedIsTemporary) {
  int port = 0;
  {
    SmtpSink sink(dir_.Sub("mail"), {});
    port = sink.port();
  }  // stopped: the port is now closed
  ASSERT_GT(port, 0);
  auto mailer = CreateSmtpMailer(Cfg(port), GetLogger("mail"));
  ASSERT_TRUE(mailer);
  Status st = (*mailer)->Send(env_, Message("hello\n"));
  ASSERT_FALSE(st);
  EXPECT_TRUE(IsTemporary(st.error()));
}

// Configuration errors: bad scheme, bad tls value, unreadable or malformed auth file.
TEST_F(SmtpMailerTest, ConfigurationRefused) {
  config::SmtpConfig c = Cfg(25);
  c.url = "http://127.0.0.1";
  EXPECT_EQ(CreateSmtpMailer(c, GetLogger("mail")).error().code(), ErrorCode::kInvalidArgument);
  c = Cfg(25);
  c.tls = "maybe";
  EXPECT_FALSE(CreateSmtpMailer(c, GetLogger("mail")));
  c = Cfg(25);
  c.auth_file = dir_.Sub("nope");
  EXPECT_EQ(CreateSmtpMailer(c, GetLogger("mail")).error().code(), ErrorCode::kNotFound);
  testing::WriteFile(dir_.Sub("auth"), "no-colon-here\n");
  c.auth_file = dir_.Sub("auth");
  EXPECT_EQ(CreateSmtpMailer(c, GetLogger("mail")).error().code(), ErrorCode::kInvalidArgument);
  testing::WriteFile(dir_.Sub("auth"), "user:pass\n");
  EXPECT_TRUE(CreateSmtpMailer(c, GetLogger("mail")));
}

}  // namespace
}  // namespace sftplc::notify
