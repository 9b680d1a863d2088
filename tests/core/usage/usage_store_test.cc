#include "sftpd/core/usage/usage_store.h"

#include <gtest/gtest.h>

#include "sftpd/core/db/database.h"
#include "sftpd/core/db/sql.h"
#include "tests/core/db/test_database.h"
#include "tests/testing/fake_clock.h"

namespace sftplc::usage {
namespace {

using ::sftplc::testing::FakeClock;
using ::sftplc::testing::T;
using ::sftplc::testing::TestDatabase;

class UsageStoreTest : public ::testing::TestWithParam<db::Backend> {
 protected:
  void SetUp() override {
    SFTPLC_CREATE_TEST_DATABASE(tdb_, "usage_test");
    db_ = tdb_->OpenMigrated();
    ASSERT_TRUE(db_);
    store_ = std::make_unique<UsageStore>(*db_, clock_, "node-a");
  }

  NewSession Session(const AccountId& id, TimePoint at) {
    NewSession s;
    s.account = id;
    s.started_at = at;
    s.remote_ip = "192.0.2.7";
    s.client_version = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3";
    s.auth_method = "password";
    return s;
  }

  int64_t MustOpen(const NewSession& s) {
    auto id = store_->Open(s);
    EXPECT_TRUE(id) << id.error().ToString();
    return id.value_or(0);
  }

  FakeClock clock_{"2026-03-01T10:00:00Z"};
  std::unique_ptr<TestDatabase> tdb_;
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<UsageStore> store_;
  AccountId alice_ = AccountId::New();
  AccountId bob_ = AccountId::New();
};

// A session row opens without an end, and closing it stores counters, end time and reason.
TEST_P(UsageStoreTest, OpenThenCloseRecordsEverything) {
  int64_t id = MustOpen(Session(alice_, T("2026-03-01T10:00:00Z")));
  auto open = store_->ListSessions(alice_, std::nullopt, 10);
  ASSERT_TRUE(open) << open.error().ToString();
  ASSERT_EQ(open->size(), 1u);
  EXPECT_FALSE((*open)[0].ended_at.has_value());
  EXPECT_EQ((*open)[0].end_reason, "");
  EXPECT_EQ((*open)[0].node, "node-a");

  Counters c{1000, 2000, 1, 2, 3};
  ASSERT_TRUE(store_->Close(id, c, "closed", T("2026-03-01T10:05:00Z")));
  auto rows = store_->ListSessions(alice_, std::nullopt, 10);
  ASSERT_TRUE(rows);
  const SessionRecord& r = (*rows)[0];
  EXPECT_EQ(r.id, id);
  EXPECT_EQ(r.account, alice_);
  EXPECT_EQ(r.actor, "client");
  EXPECT_EQ(r.started_at, T("2026-03-01T10:00:00Z"));
  EXPECT_EQ(r.ended_at, T("2026-03-01T10:05:00Z"));
  EXPECT_EQ(r.remote_ip, "192.0.2.7");
  EXPECT_EQ(r.client_version, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3");
  EXPECT_EQ(r.auth_method, "password");
  EXPECT_EQ(r.counters, c);
  EXPECT_EQ(r.end_reason, "closed");
}

// Update writes progress into an open row; a closed row can be neither updated nor re-closed.
TEST_P(UsageStoreTest, ClosedRowIsFinal) {
  int64_t id = MustOpen(Session(alice_, T("2026-03-01T10:00:00Z")));
  ASSERT_TRUE(store_->Update(id, Counters{5, 0, 0, 0, 0}));
  EXPECT_EQ((*store_->ListSessions(alice_, std::nullopt, 1))[0].counters.bytes_in, 5u);
  ASSERT_TRUE(store_->Close(id, Counters{7, 0, 1, 0, 0}, "closed", T("2026-03-01T10:01:00Z")));
  auto again = store_->Close(id, Counters{}, "error", T("2026-03-01T10:02:00Z"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(store_->Update(id, Counters{9, 0, 0, 0, 0}));
  EXPECT_EQ((*store_->ListSessions(alice_, std::nullopt, 1))[0].counters.bytes_in, 7u);
}

// After a crash, CloseOrphans closes this node's open rows as "crashed", and no other node's.
TEST_P(UsageStoreTest, CloseOrphansOnlyThisNode) {
  int64_t mine = MustOpen(Session(alice_, T("2026-03-01T10:00:00Z")));
  UsageStore other(*db_, clock_, "node-b");
  auto theirs = other.Open(Session(bob_, T("2026-03-01T10:00:00Z")));
  ASSERT_TRUE(theirs);
  auto n = store_->CloseOrphans(T("2026-03-01T11:00:00Z"));
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1);
  auto a = store_->ListSessions(alice_, std::nullopt, 1);
  EXPECT_EQ((*a)[0].id, mine);
  EXPECT_EQ((*a)[0].end_reason, "crashed");
  EXPECT_EQ((*a)[0].ended_at, T("2026-03-01T11:00:00Z"));
  auto b = store_->ListSessions(bob_, std::nullopt, 1);
  EXPECT_FALSE((*b)[0].ended_at.has_value());
}

// ListSessions is newest first, honours `since` and the limit, and sees only that account.
TEST_P(UsageStoreTest, ListSessionsFiltersAndOrders) {
  MustOpen(Session(alice_, T("2026-01-01T00:00:00Z")));
  MustOpen(Session(alice_, T("2026-02-01T00:00:00Z")));
  MustOpen(Session(alice_, T("2026-03-01T00:00:00Z")));
  MustOpen(Session(bob_, T("2026-03-01T00:00:00Z")));
  auto all = store_->ListSessions(alice_, std::nullopt, 100);
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].started_at, T("2026-03-01T00:00:00Z"));
  EXPECT_EQ((*all)[2].started_at, T("2026-01-01T00:00:00Z"));
  auto since = store_->ListSessions(alice_, T("2026-02-01T00:00:00Z"), 100);
  EXPECT_EQ(since->size(), 2u);
  EXPECT_EQ(store_->ListSessions(alice_, std::nullopt, 1)->size(), 1u);
}

// The report sums counters per account over the range and counts failed logins.
TEST_P(UsageStoreTest, ReportSumsPerAccount) {
  int64_t a1 = MustOpen(Session(alice_, T("2026-01-01T00:00:00Z")));
  int64_t a2 = MustOpen(Session(alice_, T("2026-02-01T00:00:00Z")));
  int64_t b1 = MustOpen(Session(bob_, T("2025-12-01T00:00:00Z")));
  ASSERT_TRUE(store_->Close(a1, Counters{100, 10, 1, 1, 0}, "closed", T("2026-01-01T01:00:00Z")));
  ASSERT_TRUE(store_->Close(a2, Counters{200, 20, 2, 0, 1}, "closed", T("2026-02-01T01:00:00Z")));
  ASSERT_TRUE(store_->Close(b1, Counters{5, 5, 0, 0, 0}, "closed", T("2025-12-01T01:00:00Z")));
  ASSERT_TRUE(
      store_->RecordFailedLogin({alice_, T("2026-01-15T00:00:00Z"), "192.0.2.9", "password"}));
  ASSERT_TRUE(
      store_->RecordFailedLogin({alice_, T("2026-01-16T00:00:00Z"), "192.0.2.9", "password"}));

  auto all = store_->Report(std::nullopt);
  ASSERT_TRUE(all) << all.error().ToString();
  ASSERT_EQ(all->size(), 2u);
  const AccountUsage& a = (*all)[0].account == alice_ ? (*all)[0] : (*all)[1];
  EXPECT_EQ(a.sessions, 2);
  EXPECT_EQ(a.failed_logins, 2);
  EXPECT_EQ(a.totals, (Counters{300, 30, 3, 1, 1}));
  EXPECT_EQ(a.last_session_at, T("2026-02-01T00:00:00Z"));

  auto recent = store_->Report(T("2026-01-01T00:00:00Z"));
  ASSERT_TRUE(recent);
  ASSERT_EQ(recent->size(), 1u);
  EXPECT_EQ((*recent)[0].account, alice_);
}

// Failed logins are listed per account, newest first, without any password.
TEST_P(UsageStoreTest, FailedLoginsListed) {
  ASSERT_TRUE(
      store_->RecordFailedLogin({alice_, T("2026-01-15T00:00:00Z"), "192.0.2.9", "password"}));
  ASSERT_TRUE(
      store_->RecordFailedLogin({alice_, T("2026-01-16T00:00:00Z"), "192.0.2.10", "publickey"}));
  auto f = store_->ListFailedLogins(alice_, std::nullopt, 10);
  ASSERT_TRUE(f);
  ASSERT_EQ(f->size(), 2u);
  EXPECT_EQ((*f)[0].remote_ip, "192.0.2.10");
  EXPECT_EQ((*f)[0].auth_method, "publickey");
  EXPECT_TRUE(store_->ListFailedLogins(bob_, std::nullopt, 10)->empty());
}

// The purge deletes every usage row of the account and nothing of others.
TEST_P(UsageStoreTest, DeleteForAccountRemovesOnlyThatAccount) {
  MustOpen(Session(alice_, T("2026-01-01T00:00:00Z")));
  MustOpen(Session(bob_, T("2026-01-01T00:00:00Z")));
  ASSERT_TRUE(
      store_->RecordFailedLogin({alice_, T("2026-01-15T00:00:00Z"), "192.0.2.9", "password"}));
  auto n = db_->Write<int64_t>(
      [&](soci::session& s) -> Result<int64_t> { return UsageStore::DeleteForAccount(s, alice_); });
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 2);
  EXPECT_TRUE(store_->ListSessions(alice_, std::nullopt, 10)->empty());
  EXPECT_TRUE(store_->ListFailedLogins(alice_, std::nullopt, 10)->empty());
  EXPECT_EQ(store_->ListSessions(bob_, std::nullopt, 10)->size(), 1u);
}

// An over-long client banner is stored truncated, never refused.
TEST_P(UsageStoreTest, LongClientVersionTruncated) {
  NewSession s = Session(alice_, T("2026-01-01T00:00:00Z"));
  s.client_version = std::string(5000, 'x');
  MustOpen(s);
  EXPECT_EQ((*store_->ListSessions(alice_, std::nullopt, 1))[0].client_version.size(), 200u);
}

INSTANTIATE_TEST_SUITE_P(Backends, UsageStoreTest,
                         ::testing::Values(db::Backend::kSqlite, db::Backend::kPostgresql),
                         ::sftplc::testing::BackendName);

}  // namespace
}  // namespace sftplc::usage
