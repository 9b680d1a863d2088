#include "sftpd/core/auth/defender.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sftpd/core/db/sql.h"
#include "tests/core/db/test_database.h"
#include "tests/testing/fake_clock.h"

namespace sftplc::auth {
namespace {

using ::sftplc::testing::FakeClock;
using ::sftplc::testing::T;
using ::sftplc::testing::TestDatabase;

// Breaks (or mends) a table of a real database: the queries on `from` then fail.
Result<bool> RenameTable(db::Database& db, const std::string& from, const std::string& to) {
  return db.Write<bool>([&](soci::session& s) -> Result<bool> {
    s << "ALTER TABLE " + from + " RENAME TO " + to;
    return true;
  });
}

config::DefenderConfig SmallConfig() {
  config::DefenderConfig c;
  c.score_failure = 1;
  c.threshold = 4;
  c.observation = Seconds(600);
  c.ban_time = Seconds(900);
  c.ban_growth_percent = 100;
  c.max_ban_time = Seconds(3000);
  return c;
}

class DefenderTest : public ::testing::TestWithParam<db::Backend> {
 protected:
  void SetUp() override {
    SFTPLC_CREATE_TEST_DATABASE(tdb_, "defender_test");
    db_ = tdb_->OpenMigrated();
    ASSERT_TRUE(db_);
    defender_ = MakeDefender(SmallConfig());
  }
  std::unique_ptr<Defender> MakeDefender(const config::DefenderConfig& cfg) {
    return std::make_unique<Defender>(cfg, *db_, clock_, GetLogger("auth"));
  }
  // `n` failures from `ip` for an existing account; returns the last one's ban, if any.
  std::optional<Ban> Fail(int n, const std::string& ip) {
    std::optional<Ban> ban;
    for (int i = 0; i < n; ++i) {
      ban = defender_->RecordFailure(ip, "alice");
    }
    return ban;
  }

  // Whether `d` holds a ban on `ip` now; a check that fails fails the test.
  static bool Banned(Defender& d, const std::string& ip) {
    auto until = d.BannedUntil(ip);
    EXPECT_TRUE(until.has_value()) << until.error().ToString();
    return until.has_value() && until->has_value();
  }

  FakeClock clock_{"2026-11-25T10:00:00Z"};
  std::unique_ptr<TestDatabase> tdb_;
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<Defender> defender_;
};

// Below the threshold nothing is banned; the failure that reaches it bans the IP for ban_time.
TEST_P(DefenderTest, BanAfterThreshold) {
  EXPECT_FALSE(Fail(3, "192.0.2.7").has_value());
  EXPECT_FALSE(Banned(*defender_, "192.0.2.7"));
  auto ban = Fail(1, "192.0.2.7");
  ASSERT_TRUE(ban.has_value());
  EXPECT_EQ(ban->ip, "192.0.2.7");
  EXPECT_EQ(ban->ban_count, 1);
  EXPECT_EQ(ban->banned_until, T("2026-11-25T10:15:00Z"));
  EXPECT_EQ(defender_->BannedUntil("192.0.2.7").value(), T("2026-11-25T10:15:00Z"));
  // Only that address.
  EXPECT_FALSE(Banned(*defender_, "192.0.2.8"));
}

// Failures older than the observation window do not count.
TEST_P(DefenderTest, ObservationWindowForgetsOldFailures) {
  Fail(3, "192.0.2.7");
  clock_.Advance(Seconds(600));
  EXPECT_FALSE(Fail(3, "192.0.2.7").has_value());
  EXPECT_TRUE(Fail(1, "192.0.2.7").has_value());
}

// A ban ends at banned_until; the next one is ban_growth_percent longer, capped at the maximum;
// after max_ban_time without a ban the history is forgotten.
TEST_P(DefenderTest, BanExpiresAndGrowsOnRepeat) {
  ASSERT_TRUE(Fail(4, "192.0.2.7").has_value());
  clock_.Advance(Seconds(899));
  EXPECT_TRUE(Banned(*defender_, "192.0.2.7"));
  clock_.Advance(Seconds(1));
  EXPECT_FALSE(Banned(*defender_, "192.0.2.7"));

  auto second = Fail(4, "192.0.2.7");
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->ban_count, 2);
  EXPECT_EQ(second->banned_until - clock_.Now(), Seconds(1800));
  clock_.Advance(Seconds(1800));
  auto third = Fail(4, "192.0.2.7");
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->ban_count, 3);
  EXPECT_EQ(third->banned_until - clock_.Now(), Seconds(3000));  // 3600 capped
  EXPECT_EQ(third->first_banned_at, T("2026-11-25T10:00:00Z"));

  clock_.Advance(Seconds(3000 + 3001));  // over, and over for longer than max_ban_time
  auto fresh = Fail(4, "192.0.2.7");
  ASSERT_TRUE(fresh.has_value());
  EXPECT_EQ(fresh->ban_count, 1);
  EXPECT_EQ(fresh->banned_until - clock_.Now(), Seconds(900));
}

// BanDuration: growth per repeat and the cap, including 0% growth.
TEST_P(DefenderTest, BanDurationGrowth) {
  config::DefenderConfig c = SmallConfig();
  EXPECT_EQ(Defender::BanDuration(c, 1), Seconds(900));
  EXPECT_EQ(Defender::BanDuration(c, 2), Seconds(1800));
  EXPECT_EQ(Defender::BanDuration(c, 50), Seconds(3000));
  c.ban_growth_percent = 50;
  EXPECT_EQ(Defender::BanDuration(c, 2), Seconds(1350));
  c.ban_growth_percent = 0;
  EXPECT_EQ(Defender::BanDuration(c, 9), Seconds(900));
}

// A ban made by one node is seen by another on the same database; a removal by a third (sftpctl)
// reaches the others within the cache lifetime.
TEST_P(DefenderTest, BansAreSharedThroughTheDatabase) {
  auto other_node = MakeDefender(SmallConfig());
  auto admin = MakeDefender(SmallConfig());
  ASSERT_TRUE(Fail(4, "192.0.2.7").has_value());
  EXPECT_TRUE(Banned(*other_node, "192.0.2.7"));
  ASSERT_TRUE(admin->RemoveBan("192.0.2.7", "admin:test").has_value());
  EXPECT_FALSE(Banned(*admin, "192.0.2.7"));
  clock_.Advance(Seconds(10));
  EXPECT_FALSE(Banned(*defender_, "192.0.2.7"));
  EXPECT_FALSE(Banned(*other_node, "192.0.2.7"));
}

// KnownBan answers from memory only: a ban made here is known at once (per /64 for IPv6); a ban
// made by another node is known once a BannedUntil call has read it, and forgotten from memory
// after the cache time (the database has the last word again) or when the ban ends.
TEST_P(DefenderTest, KnownBanAnswersFromMemoryOnly) {
  ASSERT_TRUE(Fail(4, "2001:db8:1:2::1").has_value());
  EXPECT_TRUE(defender_->KnownBan("2001:db8:1:2::99").has_value());
  EXPECT_FALSE(defender_->KnownBan("2001:db8:1:3::1").has_value());
  auto other_node = MakeDefender(SmallConfig());
  EXPECT_FALSE(other_node->KnownBan("2001:db8:1:2::1").has_value());
  EXPECT_TRUE(Banned(*other_node, "2001:db8:1:2::1"));
  EXPECT_EQ(other_node->KnownBan("2001:db8:1:2::1"), defender_->KnownBan("2001:db8:1:2::1"));
  clock_.Advance(Seconds(10));
  EXPECT_FALSE(other_node->KnownBan("2001:db8:1:2::1").has_value());
  EXPECT_TRUE(Banned(*other_node, "2001:db8:1:2::1"));
  // Once the database cannot be read, memory still answers (and never blocks on it).
  ASSERT_TRUE(RenameTable(*db_, "auth_bans", "auth_bans_gone").has_value());
  EXPECT_TRUE(other_node->KnownBan("2001:db8:1:2::1").has_value());
  ASSERT_TRUE(RenameTable(*db_, "auth_bans_gone", "auth_bans").has_value());
  clock_.Advance(Seconds(900));
  EXPECT_FALSE(defender_->KnownBan("2001:db8:1:2::1").has_value());
}

// ListBans shows bans in force (expired ones on request); RemoveBan lifts one and forgets its
// history; removing again is kNotFound; garbage is kInvalidArgument.
TEST_P(DefenderTest, ListAndRemoveBans) {
  ASSERT_TRUE(Fail(4, "192.0.2.9").has_value());
  ASSERT_TRUE(Fail(4, "192.0.2.7").has_value());
  auto list = defender_->ListBans();
  ASSERT_TRUE(list.has_value()) << list.error().ToString();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].ip, "192.0.2.7");
  EXPECT_EQ((*list)[1].ip, "192.0.2.9");

  ASSERT_TRUE(defender_->RemoveBan("192.0.2.7", "admin:test").has_value());
  EXPECT_FALSE(Banned(*defender_, "192.0.2.7"));
  EXPECT_EQ(defender_->ListBans()->size(), 1u);
  EXPECT_EQ(defender_->RemoveBan("192.0.2.7", "admin:test").error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(defender_->RemoveBan("not-an-ip", "admin:test").error().code(),
            ErrorCode::kInvalidArgument);
  // The removal is audited (actor, action, address; no account).
  auto audited = db_->Read<std::string>([](soci::session& s) -> Result<std::string> {
    std::string actor, detail;
    s << "SELECT actor, detail FROM audit_events WHERE action = 'ban.remove'", soci::into(actor),
        soci::into(detail);
    return actor + " " + detail;
  });
  ASSERT_TRUE(audited.has_value());
  EXPECT_EQ(*audited, "admin:test ip=192.0.2.7");
  // History forgotten: the next ban is a first ban again.
  EXPECT_EQ(Fail(4, "192.0.2.7")->ban_count, 1);

  clock_.Advance(Seconds(900));
  EXPECT_TRUE(defender_->ListBans()->empty());
  EXPECT_EQ(defender_->ListBans(true)->size(), 2u);
}

// A ban check that cannot read the database returns the error instead of "not banned" (the
// Authenticator then refuses the login); a ban this node has seen recently is still enforced.
TEST_P(DefenderTest, BanCheckReportsDatabaseErrors) {
  ASSERT_TRUE(Fail(4, "192.0.2.7").has_value());
  ASSERT_TRUE(RenameTable(*db_, "auth_bans", "auth_bans_away"));
  auto unchecked = defender_->BannedUntil("192.0.2.8");
  ASSERT_FALSE(unchecked.has_value());
  EXPECT_THAT(unchecked.error().message(), ::testing::HasSubstr("auth_bans"));
  EXPECT_TRUE(Banned(*defender_, "192.0.2.7"));  // from the cache
  clock_.Advance(Seconds(10));                   // the cached ban must be asked for again
  EXPECT_FALSE(defender_->BannedUntil("192.0.2.7").has_value());
  ASSERT_TRUE(RenameTable(*db_, "auth_bans_away", "auth_bans"));
  EXPECT_TRUE(Banned(*defender_, "192.0.2.7"));
  EXPECT_FALSE(Banned(*defender_, "192.0.2.8"));
}

// IPv6 addresses are banned per /64; IPv4-mapped addresses count as IPv4.
TEST_P(DefenderTest, Ipv6PerSlash64AndMappedIpv4) {
  ASSERT_TRUE(Fail(4, "2001:db8:1:2::5").has_value());
  EXPECT_TRUE(Banned(*defender_, "2001:db8:1:2:abcd::9"));
  EXPECT_FALSE(Banned(*defender_, "2001:db8:1:3::5"));
  EXPECT_EQ(defender_->ListBans()->at(0).ip, "2001:db8:1:2::/64");

  ASSERT_TRUE(Fail(4, "::ffff:192.0.2.44").has_value());
  EXPECT_TRUE(Banned(*defender_, "192.0.2.44"));
  ASSERT_TRUE(defender_->RemoveBan("2001:db8:1:2::/64", "admin:test").has_value());
  EXPECT_FALSE(Banned(*defender_, "2001:db8:1:2::5"));
}

// The per-name count treats existing and unknown names alike and never bans anything.
TEST_P(DefenderTest, NameUnderAttackCountsAnyNameFromAnyAddress) {
  for (int i = 0; i < 3; ++i) {
    defender_->RecordFailure("192.0.2." + std::to_string(10 + i), "alice");
    defender_->RecordFailure("192.0.2." + std::to_string(10 + i), "nobody");
  }
  EXPECT_FALSE(defender_->NameUnderAttack("alice"));
  EXPECT_FALSE(defender_->NameUnderAttack("nobody"));
  defender_->RecordFailure("192.0.2.20", "alice");
  defender_->RecordFailure("192.0.2.20", "nobody");
  EXPECT_TRUE(defender_->NameUnderAttack("alice"));
  EXPECT_TRUE(defender_->NameUnderAttack("nobody"));
  EXPECT_FALSE(defender_->NameUnderAttack("bob"));
  clock_.Advance(Seconds(600));
  EXPECT_FALSE(defender_->NameUnderAttack("alice"));
}

// A disabled defender neither bans nor reports names under attack.
TEST_P(DefenderTest, DisabledNeverBans) {
  config::DefenderConfig c = SmallConfig();
  c.enabled = false;
  defender_ = MakeDefender(c);
  EXPECT_FALSE(Fail(20, "192.0.2.7").has_value());
  EXPECT_FALSE(Banned(*defender_, "192.0.2.7"));
  EXPECT_FALSE(defender_->NameUnderAttack("alice"));
}

// The database never holds an attempted name: only addresses, times and scores.
TEST_P(DefenderTest, NoUsernameStored) {
  defender_->RecordFailure("192.0.2.7", "secret-looking-name");
  auto n = db_->Read<long long>([](soci::session& s) -> Result<long long> {
    long long c = 0;
    s << "SELECT COUNT(*) FROM auth_failures WHERE ip = '192.0.2.7' AND score = 1", soci::into(c);
    return c;
  });
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, 1);
}

// BanKey normalisation, and no key for text that is no address.
TEST(DefenderBanKeyTest, Normalisation) {
  EXPECT_EQ(Defender::BanKey("192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(Defender::BanKey("::ffff:192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(Defender::BanKey("2001:DB8:0:0:1::1"), "2001:db8::/64");
  EXPECT_EQ(Defender::BanKey("2001:db8:0:0::/64"), "2001:db8::/64");
  EXPECT_EQ(Defender::BanKey(""), std::nullopt);
  EXPECT_EQ(Defender::BanKey("example.com"), std::nullopt);
  EXPECT_EQ(Defender::BanKey("192.0.2.7; DROP TABLE auth_bans"), std::nullopt);
}

INSTANTIATE_TEST_SUITE_P(Backends, DefenderTest,
                         ::testing::Values(db::Backend::kSqlite, db::Backend::kPostgresql),
                         ::sftplc::testing::BackendName);

}  // namespace
}  // namespace sftplc::auth
