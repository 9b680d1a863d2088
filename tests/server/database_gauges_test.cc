// ReadDatabaseGauges on both backends: the retention numbers are those of `sftpctl retention
// report` (BuildRetentionReport), notices are counted by state, bans are the defender's.

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "sftpd/core/accounts/account_store.h"
#include "sftpd/core/auth/defender.h"
#include "sftpd/core/db/sql.h"
#include "sftpd/core/lifecycle/retention.h"
#include "sftpd/server/prometheus_metrics.h"
#include "tests/core/db/test_database.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/temp_dir.h"

namespace sftplc::server {
namespace {

using ::sftplc::testing::FakeClock;

class DatabaseGaugesTest : public ::testing::TestWithParam<db::Backend> {
 protected:
  void SetUp() override {
    SFTPLC_CREATE_TEST_DATABASE(tdb_, "gauges_test");
    db_ = tdb_->OpenMigrated();
    ASSERT_TRUE(db_);
    cfg_.storage.root = dir_.Sub("files");
    cfg_.auth.defender.threshold = 1;
    accounts_ = std::make_unique<accounts::AccountStore>(*db_, clock_);
    defender_ =
        std::make_unique<auth::Defender>(cfg_.auth.defender, *db_, clock_, GetLogger("auth"));
    auto a = accounts_->Create(
        {"alice", "Alice Example", "", "alice@example.com", "+441513577700", "", false, ""},
        accounts::Actor{"admin:test"});
    ASSERT_TRUE(a) << a.error().ToString();
    alice_ = a->id;
  }

  void AddNotice(const std::string& key, const std::string& state) {
    auto st = db_->Write<int>([&](soci::session& s) -> Result<int> {
      long long now = ToUnix(clock_.Now());
      std::string id = alice_.str();
      s << "INSERT INTO outbox (account_id, kind, event_key, state, created_at) "
           "VALUES (:a, 'files_waiting', :k, :s, :t)",
          soci::use(id), soci::use(key), soci::use(state), soci::use(now);
      return 0;
    });
    ASSERT_TRUE(st) << st.error().ToString();
  }

  FakeClock clock_{"2026-03-01T10:00:00Z"};
  ::sftplc::testing::TempDir dir_;
  config::Config cfg_;
  std::unique_ptr<::sftplc::testing::TestDatabase> tdb_;
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<accounts::AccountStore> accounts_;
  std::unique_ptr<auth::Defender> defender_;
  AccountId alice_;
};

// A fresh account: nothing overdue, no notices, no bans.
TEST_P(DatabaseGaugesTest, NothingDueIsAllZero) {
  auto g = ReadDatabaseGauges(*db_, cfg_, *defender_, clock_.Now());
  ASSERT_TRUE(g) << g.error().ToString();
  EXPECT_EQ(g->retention_overdue, 0);
  EXPECT_EQ(g->notices_pending + g->notices_sending + g->notices_failed, 0);
  EXPECT_EQ(g->bans_active, 0);
}

// Three years without a sweep: the gauge counts what the retention report counts as overdue:
// the account's inactivity notice, the copy of the sent mail (kept at most two years) and the
// failing source's address (kept ip_retention); notices count by state (sent ones are history,
// not counted); a banned source counts once.
TEST_P(DatabaseGaugesTest, CountsWhatTheRetentionReportAndDefenderSee) {
  AddNotice("a", "pending");
  AddNotice("b", "pending");
  AddNotice("c", "sending");
  AddNotice("d", "failed");
  AddNotice("e", "sent");
  ASSERT_TRUE(defender_->RecordFailure("192.0.2.7", "mallory"));
  TimePoint later = clock_.Now() + Seconds(3 * 366 * 86400);
  auto g = ReadDatabaseGauges(*db_, cfg_, *defender_, later);
  ASSERT_TRUE(g) << g.error().ToString();
  auto report = lifecycle::BuildRetentionReport(*db_, cfg_, later);
  ASSERT_TRUE(report);
  EXPECT_EQ(g->retention_overdue, report->overdue);
  std::multiset<std::string> overdue;
  for (const auto& e : report->entries) {
    if (e.status == "overdue") {
      overdue.insert(e.record);
    }
  }
  EXPECT_EQ(overdue, (std::multiset<std::string>{"account", "ip_address", "notice_copy"}));
  EXPECT_EQ(g->retention_overdue, 3);
  EXPECT_EQ(g->retention_waiting, report->waiting);
  EXPECT_EQ(g->notices_pending, 2);
  EXPECT_EQ(g->notices_sending, 1);
  EXPECT_EQ(g->notices_failed, 1);
  EXPECT_EQ(g->bans_active, 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, DatabaseGaugesTest,
                         ::testing::Values(db::Backend::kSqlite, db::Backend::kPostgresql),
                         ::sftplc::testing::BackendName);

}  // namespace
}  // namespace sftplc::server
