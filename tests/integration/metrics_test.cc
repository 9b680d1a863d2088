// sftpd's Prometheus endpoint end to end: the real daemon with [metrics] listen on port 0, a
// real client logging in and uploading, scrapes before and after, promtool on the output, and
// no personal data anywhere in it.

#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <string>

#include "tests/integration/daemon_harness.h"
#include "tests/testing/openssh_client.h"

namespace sftplc::testing {
namespace {

constexpr const char* kPassword = "correct horse battery staple";
// Personal data of the account, none of which may appear in a scrape.
constexpr const char* kUser = "zoequixote";
constexpr const char* kName = "Zoe Quixote";
constexpr const char* kEmail = "zoe.quixote@example.org";
constexpr const char* kPhone = "+441513577700";
constexpr const char* kFile = "quarterly-zoe-report.bin";

double Sample(const std::string& text, const std::string& series) {
  return PrometheusSample(text, series);
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    d_.Set("metrics", "listen = \"127.0.0.1:0\"");
    d_.WriteConfig();
    auto r = d_.Sftpctl(std::string("account create --username ") + kUser + " --name '" + kName +
                            "' --email " + kEmail + " --phone " + kPhone + " --password-stdin",
                        std::string(kPassword) + "\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    WriteFile(d_.dir().Sub("pw"), std::string(kPassword) + "\n");
    ASSERT_TRUE(d_.Start()) << d_.error();
    // sftpd prints (and logs) "metrics on ADDRESS:PORT" before its "listening on" lines.
    ASSERT_TRUE(d_.WaitForLog("metrics on ")) << d_.Log();
  }

  std::string Scrape() {
    std::string text = d_.ScrapeMetrics();
    EXPECT_FALSE(text.empty()) << d_.Log();
    return text;
  }

  // Scrapes until `series` reaches `want` (the end of a session is counted once the server
  // has closed it, a moment after the client is gone); returns the last scrape.
  std::string ScrapeUntil(const std::string& series, double want) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    std::string text = Scrape();
    while (Sample(text, series) < want && std::chrono::steady_clock::now() < deadline) {
      d_.WaitForLog("session ended", 1, d_.Log().size());
      text = Scrape();
    }
    return text;
  }

  CommandResult Upload(const std::string& local) {
    return RunSftpBatch({d_.port(), kUser, d_.dir().Sub("pw")}, d_.dir().Sub("batch"),
                        "put " + local + " " + kFile + "\n");
  }

  DaemonHarness d_;
};

// A login and an upload move the login, session, request and byte counters; promtool accepts
// the output; and nothing in it names the client, its address or its file.
TEST_F(MetricsTest, LoginAndUploadMoveTheCountersWithoutPersonalData) {
  const std::string logins = R"(sftpd_logins_total{method="password",result="success"})";
  const std::string sessions = R"(sftpd_sessions_total{logged_in="true",reason="closed"})";
  const std::string bytes_in = R"(sftpd_transfer_bytes_total{direction="in"})";
  const std::string writes = R"(sftpd_sftp_requests_total{status="ok",type="write"})";
  std::string before = Scrape();
  ASSERT_EQ(Sample(before, logins), 0) << before;
  ASSERT_EQ(Sample(before, sessions), 0);
  ASSERT_EQ(Sample(before, bytes_in), 0);
  ASSERT_EQ(Sample(before, "sftpd_sessions_max"), 1000);

  constexpr std::size_t kSize = 300 * 1024;
  std::string local = d_.dir().Sub("upload.bin");
  WriteFile(local, std::string(kSize, 'z'));
  auto r = Upload(local);
  ASSERT_EQ(r.exit_code, 0) << r.err << d_.Log();

  std::string after = ScrapeUntil(sessions, 1);
  EXPECT_EQ(Sample(after, logins), 1);
  EXPECT_EQ(Sample(after, sessions), 1);
  EXPECT_EQ(Sample(after, bytes_in), static_cast<double>(kSize));
  EXPECT_GE(Sample(after, writes), 1);
  EXPECT_EQ(Sample(after, R"(sftpd_sftp_requests_total{status="ok",type="open"})"), 1);
  EXPECT_EQ(Sample(after, "sftpd_sftp_handles_open"), 0);
  EXPECT_EQ(Sample(after, "sftpd_sessions_active"), 0);
  EXPECT_EQ(Sample(after, "sftpd_bans_active"), 0);
  EXPECT_EQ(Sample(after, "sftpd_retention_overdue_items"), 0);

  // promtool reads the text from stdin.
  WriteFile(d_.dir().Sub("scrape.txt"), after);
  auto check = RunCommand("promtool check metrics < '" + d_.dir().Sub("scrape.txt") + "'");
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;

  for (const char* personal : {kUser, kName, kEmail, kPhone, kFile, "127.0.0.1", "zoe"}) {
    EXPECT_EQ(after.find(personal), std::string::npos) << personal << " in:\n" << after;
  }
  auto show = d_.Sftpctl(std::string("account show ") + kUser + " --json");
  ASSERT_EQ(show.exit_code, 0);
  std::smatch id;
  ASSERT_TRUE(std::regex_search(show.out, id, std::regex(R"re("id": *"([^"]+)")re")));
  EXPECT_EQ(after.find(id[1].str()), std::string::npos) << "account id in the scrape";
}

// A wrong password counts as a failed login and a scored auth failure.
TEST_F(MetricsTest, WrongPasswordCountsAsFailure) {
  WriteFile(d_.dir().Sub("pw"), "not the password at all\n");
  std::string local = d_.dir().Sub("upload.bin");
  WriteFile(local, "x");
  EXPECT_NE(Upload(local).exit_code, 0);
  std::string after = ScrapeUntil(R"(sftpd_sessions_total{logged_in="false",reason="closed"})", 1);
  EXPECT_EQ(Sample(after, R"(sftpd_logins_total{method="password",result="failure"})"), 1);
  EXPECT_EQ(Sample(after, R"(sftpd_auth_failures_total{kind="wrong_credentials"})"), 1);
  EXPECT_EQ(Sample(after, R"(sftpd_logins_total{method="password",result="success"})"), 0);
}

}  // namespace
}  // namespace sftplc::testing
