// The sweep's retention phase: copies of notices (section 9 of the privacy notice) and IP
// addresses are deleted by their tables' owners once their time is over, whatever the account's
// state; the export shows each deadline and the retention report anything past it. Fake clock,
// both backends.

#include "sftpd/core/lifecycle/retention_sweep.h"

#include <gtest/gtest.h>
#include <soci/soci.h>

#include "sftpd/core/auth/defender.h"
#include "sftpd/core/base/log.h"
#include "sftpd/core/lifecycle/export.h"
#include "sftpd/core/lifecycle/notice_queue.h"
#include "sftpd/core/lifecycle/retention.h"
#include "sftpd/core/usage/usage_store.h"
#include "tests/core/lifecycle/lifecycle_fixture.h"
#include "tests/testing/fake_clock.h"

namespace sftplc::lifecycle {
namespace {

using testing::T;

class RetentionSweepTest : public ::testing::TestWithParam<db::Backend> {
 protected:
  void SetUp() override {
    env_ = testing::LifecycleEnv::Create(GetParam(), "lifecycle_retention");
    if (!env_) {
      if (GetParam() == db::Backend::kPostgresql && testing::SkipAllowed()) {
        GTEST_SKIP() << "no PostgreSQL test server (SFTPLC_TEST_PG_URL)";
      }
      GTEST_FAIL() << "no test database";
    }
  }

  long long Copies(const AccountId& id) {
    return env_->Count("SELECT COUNT(*) FROM outbox WHERE account_id = '" + id.str() + "'");
  }

  int CountOf(const RetentionReport& rep, const std::string& record, const std::string& status) {
    int n = 0;
    for (const auto& e : rep.entries) {
      n += e.record == record && e.status == status;
    }
    return n;
  }

  std::unique_ptr<testing::LifecycleEnv> env_;
};

// An active account's "files waiting" mail: its copy (row, subject, the file list) is there at
// 1 year 364 days, listed in the export with its deletion date, and gone after the sweep at
// 2 years; the retention report flags it when no sweep ran in time.
TEST_P(RetentionSweepTest, MailCopyDeletedTwoYearsAfterSendingWhileActive) {
  AccountId id = env_->AddAccount(T("2026-01-10"), false);
  ASSERT_TRUE(env_->runner->QueueFilesNotice(id, {"/outgoing/secret-plan.pdf"}, "k1",
                                             T("2026-03-01T10:00:00Z")));
  auto sent = testing::Sweep(*env_, T("2026-03-01T10:00:00Z"));
  ASSERT_EQ(sent.notices_sent, 1);
  env_->Login(id, T("2027-06-01"));  // stays active
  auto e = ExportAccount(*env_->db, env_->cfg, id, T("2027-06-02"));
  ASSERT_TRUE(e) << e.error().ToString();
  const auto& notices = (*e)["categories"][4];
  ASSERT_EQ(notices["category"], "notices");
  ASSERT_EQ(notices["data"].size(), 1u);
  EXPECT_EQ(notices["data"][0]["copy_deleted_by"], "2028-03-01T10:00:00Z");
  EXPECT_EQ(notices["retention_deadline"], "2028-03-01T10:00:00Z");
  EXPECT_NE(ExportText(*e).find("Deleted by:     2028-03-01T10:00:00Z"), std::string::npos);

  auto r = testing::Sweep(*env_, T("2028-02-29T10:00:00Z"));  // the day before: 1 year 365 days
  EXPECT_EQ(r.notice_copies_deleted, 0);
  EXPECT_EQ(Copies(id), 1);
  auto rep = BuildRetentionReport(*env_->db, env_->cfg, T("2028-03-01T11:00:01Z"));
  ASSERT_TRUE(rep);
  EXPECT_EQ(CountOf(*rep, "notice_copy", "overdue"), 1);

  r = testing::Sweep(*env_, T("2028-03-01T10:00:00Z"));
  EXPECT_EQ(r.notice_copies_deleted, 1);
  EXPECT_EQ(Copies(id), 0);
  EXPECT_EQ(env_->Get(id)->state, accounts::AccountState::kActive);
  rep = BuildRetentionReport(*env_->db, env_->cfg, T("2028-03-01T11:00:01Z"));
  ASSERT_TRUE(rep);
  EXPECT_EQ(CountOf(*rep, "notice_copy", "overdue"), 0);
}

// The retention is the configured one; a notice never sent (given up) goes the same time after
// it was queued; a notice still to deliver is kept.
TEST_P(RetentionSweepTest, CopyDeadlineFollowsConfigAndState) {
  Period y1{1, Period::Unit::kYears};
  EXPECT_EQ(NoticeQueue::CopyDeadline("sent", T("2026-01-01"), T("2026-02-01"), y1),
            T("2027-02-01"));
  EXPECT_EQ(NoticeQueue::CopyDeadline("failed", T("2026-01-01"), std::nullopt, y1),
            T("2027-01-01"));
  EXPECT_EQ(NoticeQueue::CopyDeadline("pending", T("2026-01-01"), std::nullopt, y1), std::nullopt);
  AccountId id = env_->AddAccount(T("2026-01-10"), false);
  env_->mailer.SetDown(true);
  ASSERT_TRUE(env_->runner->QueueFilesNotice(id, {"/a"}, "k1", T("2026-03-01")));
  testing::Sweep(*env_, T("2026-03-01"));
  env_->cfg.lifecycle.mail_copy_retention = y1;
  auto n = NoticeQueue(*env_->db).DeleteExpiredCopies(T("2027-03-02"), y1);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0);  // pending: still to deliver
  ASSERT_TRUE(env_->db->Write<int>([&](soci::session& s) -> Result<int> {
    s << "UPDATE outbox SET state = 'failed', next_attempt_at = NULL";
    return 0;
  }));
  n = NoticeQueue(*env_->db).DeleteExpiredCopies(T("2027-02-28T23:59:59Z"), y1);
  EXPECT_EQ(*n, 0);
  n = NoticeQueue(*env_->db).DeleteExpiredCopies(T("2027-03-01"), y1);
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(Copies(id), 0);
}

// IP addresses: 89 days after, the session's address, the failed login and the ban.remove
// audit detail are there; after 90 days the session row stays without its address, the failed
// login is gone, the audit detail says "ip=(removed)", and the defender keeps nothing; the
// export gives each address its deletion date and the report flags an address kept too long.
TEST_P(RetentionSweepTest, AddressesDroppedAfterIpRetention) {
  AccountId id = env_->AddAccount(T("2026-01-10"), false);
  testing::FakeClock clock(T("2026-03-01T10:00:00Z"));
  usage::UsageStore usage(*env_->db, clock);
  usage::NewSession ns;
  ns.account = id;
  ns.started_at = clock.Now();
  ns.remote_ip = "192.0.2.55";
  ns.auth_method = "password";
  auto sid = usage.Open(ns);
  ASSERT_TRUE(sid);
  ASSERT_TRUE(usage.Close(*sid, {}, "closed", clock.Now()));
  ASSERT_TRUE(usage.RecordFailedLogin({id, clock.Now(), "192.0.2.55", "password"}));
  auth::Defender defender(env_->cfg.auth.defender, *env_->db, clock, GetLogger("auth"));
  for (int i = 0; i < env_->cfg.auth.defender.threshold; ++i) {
    defender.RecordFailure("198.51.100.9", "nobody");
  }
  ASSERT_TRUE(defender.RemoveBan("198.51.100.9", "admin:test"));
  defender.RecordFailure("203.0.113.4", "nobody");

  auto e = ExportAccount(*env_->db, env_->cfg, id, T("2026-03-02"));
  ASSERT_TRUE(e);
  const auto& used = (*e)["categories"][2]["data"];
  EXPECT_EQ(used["sessions"][0]["remote_ip"], "192.0.2.55");
  EXPECT_EQ(used["sessions"][0]["remote_ip_deleted_by"], "2026-05-30T10:00:00Z");
  EXPECT_EQ(used["failed_logins"][0]["deleted_by"], "2026-05-30T10:00:00Z");

  auto count = [&](const std::string& q) { return env_->Count(q); };
  testing::Sweep(*env_, T("2026-05-29T10:00:00Z"));  // 89 days
  EXPECT_EQ(count("SELECT COUNT(*) FROM usage_sessions WHERE remote_ip = '192.0.2.55'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM usage_failed_logins"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit_events WHERE detail = 'ip=198.51.100.9'"), 1);
  auto rep = BuildRetentionReport(*env_->db, env_->cfg, T("2026-05-30T11:00:01Z"));
  ASSERT_TRUE(rep);
  EXPECT_EQ(CountOf(*rep, "ip_address", "overdue"), 2);  // usage and defender (audit detail)

  auto r = testing::Sweep(*env_, T("2026-05-30T10:00:01Z"));
  EXPECT_EQ(r.addresses_dropped, 3);
  EXPECT_EQ(count("SELECT COUNT(*) FROM usage_sessions WHERE remote_ip = ''"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM usage_failed_logins"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit_events WHERE detail LIKE '%198.51.100.9%'"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit_events WHERE action = 'ban.remove' AND "
                  "detail = 'ip=(removed)'"),
            1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM auth_failures"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM auth_bans"), 0);
  rep = BuildRetentionReport(*env_->db, env_->cfg, T("2026-05-30T11:00:01Z"));
  ASSERT_TRUE(rep);
  EXPECT_EQ(CountOf(*rep, "ip_address", "overdue"), 0);
  EXPECT_EQ(CountOf(*rep, "ip_address", "ok"), 0);
  e = ExportAccount(*env_->db, env_->cfg, id, T("2026-05-31"));
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["categories"][2]["data"]["sessions"][0]["remote_ip"], "");
  EXPECT_TRUE((*e)["categories"][2]["data"]["sessions"][0]["remote_ip_deleted_by"].is_null());
}

// A ban in force is kept to its end even past ip_retention; once over it goes.
TEST_P(RetentionSweepTest, BanInForceKeptToItsEnd) {
  auto& d = env_->cfg.auth.defender;
  d.ban_time = Seconds(200 * 86400);
  d.max_ban_time = Seconds(400 * 86400);
  testing::FakeClock clock(T("2026-03-01"));
  auth::Defender defender(d, *env_->db, clock, GetLogger("auth"));
  for (int i = 0; i < d.threshold; ++i) {
    defender.RecordFailure("198.51.100.9", "nobody");
  }
  Period days90{90, Period::Unit::kDays};
  auto n = auth::Defender::ForgetAddresses(*env_->db, d, T("2026-07-01"),
                                           SubtractPeriod(T("2026-07-01"), days90));
  ASSERT_TRUE(n);
  EXPECT_EQ(env_->Count("SELECT COUNT(*) FROM auth_bans"), 1);
  n = auth::Defender::ForgetAddresses(*env_->db, d, T("2026-09-18"),
                                      SubtractPeriod(T("2026-09-18"), days90));
  EXPECT_EQ(env_->Count("SELECT COUNT(*) FROM auth_bans"), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, RetentionSweepTest,
                         ::testing::Values(db::Backend::kSqlite, db::Backend::kPostgresql),
                         testing::BackendName);

}  // namespace
}  // namespace sftplc::lifecycle
