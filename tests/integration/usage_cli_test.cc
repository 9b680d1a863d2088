// sftpctl usage show / report against a database holding usage rows written by the UsageStore.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "sftpd/core/base/clock.h"
#include "sftpd/core/config/config.h"
#include "sftpd/core/db/database.h"
#include "sftpd/core/usage/usage_store.h"
#include "tests/integration/daemon_harness.h"
#include "tests/testing/fake_clock.h"

namespace sftplc::testing {
namespace {

class UsageCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_.WriteConfig();
    auto created = h_.Sftpctl(
        "account create --username acme --name Acme --email a@example.com "
        "--phone +441513577700 --no-password");
    ASSERT_EQ(created.exit_code, 0) << created.err;
    auto cfg = config::LoadConfig(h_.config_path());
    ASSERT_TRUE(cfg);
    auto db = db::Database::Open(cfg->database, GetLogger("store"));
    ASSERT_TRUE(db);
    db_ = std::move(*db);
    auto show = h_.Sftpctl("account show acme --json");
    id_ = *AccountId::Parse(nlohmann::json::parse(show.out)["id"].get<std::string>());
    usage::UsageStore store(*db_, SystemClock::Instance());
    usage::NewSession s;
    s.account = id_;
    s.started_at = T("2026-01-01T00:00:00Z");
    s.remote_ip = "192.0.2.1";
    s.client_version = "SSH-2.0-OpenSSH_9.2";
    s.auth_method = "password";
    auto first = store.Open(s);
    ASSERT_TRUE(first);
    ASSERT_TRUE(store.Close(*first, usage::Counters{1048576, 10, 1, 0, 0}, "closed",
                            T("2026-01-01T00:01:40Z")));
    s.started_at = T("2026-02-01T00:00:00Z");
    s.auth_method = "publickey";
    ASSERT_TRUE(store.Open(s));
    ASSERT_TRUE(store.RecordFailedLogin({id_, T("2026-01-15T00:00:00Z"), "192.0.2.3", "password"}));
  }

  DaemonHarness h_;
  std::unique_ptr<db::Database> db_;
  AccountId id_;
};

// `usage show --json` lists the account's sessions newest first (a running one with null end)
// and its failed logins; --since filters.
TEST_F(UsageCliTest, ShowJson) {
  auto r = h_.Sftpctl("usage show acme --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["account_id"], id_.str());
  ASSERT_EQ(j["sessions"].size(), 2u);
  EXPECT_EQ(j["sessions"][0]["auth_method"], "publickey");
  EXPECT_TRUE(j["sessions"][0]["ended_at"].is_null());
  EXPECT_EQ(j["sessions"][1]["counters"]["bytes_in"], 1048576);
  EXPECT_EQ(j["sessions"][1]["end_reason"], "closed");
  ASSERT_EQ(j["failed_logins"].size(), 1u);
  EXPECT_EQ(j["failed_logins"][0]["remote_ip"], "192.0.2.3");
  auto since = nlohmann::json::parse(h_.Sftpctl("usage show acme --since 2026-01-20 --json").out);
  EXPECT_EQ(since["sessions"].size(), 1u);
  EXPECT_EQ(since["failed_logins"].size(), 0u);
}

// `usage show` in text names the account and each session; an unknown account exits 2.
TEST_F(UsageCliTest, ShowTextAndUnknownAccount) {
  auto r = h_.Sftpctl("usage show acme");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("sessions: 2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("running"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1.0 MiB"), std::string::npos) << r.out;
  EXPECT_EQ(h_.Sftpctl("usage show nobody").exit_code, 2);
}

// `usage report --json` sums per account; a bad --since is invalid input (exit 4).
TEST_F(UsageCliTest, ReportJson) {
  auto r = h_.Sftpctl("usage report --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["accounts"].size(), 1u);
  EXPECT_EQ(j["accounts"][0]["username"], "acme");
  EXPECT_EQ(j["accounts"][0]["sessions"], 2);
  EXPECT_EQ(j["accounts"][0]["failed_logins"], 1);
  EXPECT_EQ(j["accounts"][0]["totals"]["bytes_in"], 1048576);
  auto later = nlohmann::json::parse(h_.Sftpctl("usage report --since 2026-03-01 --json").out);
  EXPECT_EQ(later["accounts"].size(), 0u);
  EXPECT_EQ(h_.Sftpctl("usage report --since yesterday").exit_code, 4);
}

}  // namespace
}  // namespace sftplc::testing
