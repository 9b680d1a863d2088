#include "sftpd/server/db_session_recorder.h"

#include <gtest/gtest.h>

#include "sftpd/core/db/database.h"
#include "tests/core/db/test_database.h"
#include "tests/testing/fake_clock.h"

namespace sftplc::server {
namespace {

using ::sftplc::testing::FakeClock;
using ::sftplc::testing::T;

class DbSessionRecorderTest : public ::testing::TestWithParam<db::Backend> {
 protected:
  void SetUp() override {
    SFTPLC_CREATE_TEST_DATABASE(tdb_, "recorder_test");
    db_ = tdb_->OpenMigrated();
    ASSERT_TRUE(db_);
    accounts_ = std::make_unique<accounts::AccountStore>(*db_, clock_);
    usage_ = std::make_unique<usage::UsageStore>(*db_, clock_, "node-a");
    recorder_ = std::make_unique<DbSessionRecorder>(*accounts_, *usage_);
    auto a = accounts_->Create(
        {"alice", "Alice Example", "", "alice@example.com", "+441513577700", "", false, ""},
        accounts::Actor{"admin:test"});
    ASSERT_TRUE(a) << a.error().ToString();
    alice_ = a->id;
  }

  FakeClock clock_{"2026-03-01T10:00:00Z"};
  std::unique_ptr<::sftplc::testing::TestDatabase> tdb_;
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<accounts::AccountStore> accounts_;
  std::unique_ptr<usage::UsageStore> usage_;
  std::unique_ptr<DbSessionRecorder> recorder_;
  AccountId alice_;
};

// A login sets last_login_at and opens a usage row; activity is written only when a transfer
// happened; the end closes the row with the final counters.
TEST_P(DbSessionRecorderTest, LoginProgressEnd) {
  LoginInfo login{alice_, "127.0.0.1", "SSH-2.0-OpenSSH_9.2p1", auth::AuthMethod::kPublicKey,
                  clock_.Now()};
  auto id = recorder_->Begin(login);
  ASSERT_TRUE(id) << id.error().ToString();
  EXPECT_EQ(accounts_->Get(alice_)->last_login_at, T("2026-03-01T10:00:00Z"));

  clock_.Advance(Seconds(60));
  ASSERT_TRUE(
      recorder_->Progress(*id, alice_, usage::Counters{10, 0, 0, 0, 0}, false, clock_.Now()));
  EXPECT_EQ(accounts_->Get(alice_)->last_activity_at, T("2026-03-01T10:00:00Z"));
  clock_.Advance(Seconds(60));
  ASSERT_TRUE(
      recorder_->Progress(*id, alice_, usage::Counters{20, 0, 0, 0, 0}, true, clock_.Now()));
  EXPECT_EQ(accounts_->Get(alice_)->last_activity_at, T("2026-03-01T10:02:00Z"));

  clock_.Advance(Seconds(30));
  ASSERT_TRUE(
      recorder_->End(*id, alice_, usage::Counters{30, 5, 1, 1, 0}, true, "closed", clock_.Now()));
  EXPECT_EQ(accounts_->Get(alice_)->last_activity_at, T("2026-03-01T10:02:30Z"));
  auto rows = usage_->ListSessions(alice_, std::nullopt, 10);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].auth_method, "publickey");
  EXPECT_EQ((*rows)[0].counters, (usage::Counters{30, 5, 1, 1, 0}));
  EXPECT_EQ((*rows)[0].end_reason, "closed");
  EXPECT_EQ((*rows)[0].ended_at, T("2026-03-01T10:02:30Z"));
}

// A login of an account that no longer exists is refused (no usage row).
TEST_P(DbSessionRecorderTest, UnknownAccountRefused) {
  LoginInfo login{AccountId::New(), "127.0.0.1", "SSH-2.0-x", auth::AuthMethod::kPassword,
                  clock_.Now()};
  EXPECT_FALSE(recorder_->Begin(login));
  EXPECT_TRUE(usage_->Report(std::nullopt)->empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, DbSessionRecorderTest,
                         ::testing::Values(db::Backend::kSqlite, db::Backend::kPostgresql),
                         ::sftplc::testing::BackendName);

}  // namespace
}  // namespace sftplc::server
