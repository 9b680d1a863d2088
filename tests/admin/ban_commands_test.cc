// Runs the built `sftpctl ban` commands against a temporary SQLite database in which a Defender
// (as sftpd would) has banned addresses, and checks output, exit codes and the database.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "sftpd/core/auth/defender.h"
#include "sftpd/core/base/log.h"
#include "sftpd/core/db/sql.h"
#include "tests/testing/cli_world.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_env.h"

namespace sftplc::admin {
namespace {

using ::sftplc::testing::CommandResult;
using ::testing::HasSubstr;

class BanCommandsTest : public ::testing::Test, protected ::sftplc::testing::CliWorld {
 protected:
  void SetUp() override {
    WriteConfig("[database]\nurl = \"sqlite:accounts.db\"\n[auth.defender]\nthreshold = 2\n");
    ASSERT_EQ(Ctl("db migrate").exit_code, 0);
    db_ = OpenDb();
    ASSERT_TRUE(db_);
    config::DefenderConfig d;
    d.threshold = 2;
    d.score_failure = 1;
    d.ban_time = Seconds(86400 * 365);  // far beyond the wall clock sftpctl reads
    d.max_ban_time = d.ban_time;
    defender_ = std::make_unique<auth::Defender>(d, *db_, clock_, GetLogger("auth"));
  }

  void Ban(const std::string& ip) {
    defender_->RecordFailure(ip, "alice");
    ASSERT_TRUE(defender_->RecordFailure(ip, "alice"));
  }

  // Now, so the bans are in force for the real clock of the sftpctl process.
  ::sftplc::testing::FakeClock clock_{SystemClock::Instance().Now()};
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<auth::Defender> defender_;
};

// `ban list` prints the bans in force, as a table and as JSON.
TEST_F(BanCommandsTest, ListShowsBans) {
  CommandResult empty = Ctl("ban list");
  EXPECT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_THAT(empty.out, HasSubstr("no ban in force"));

  Ban("192.0.2.7");
  Ban("2001:db8:1:2::9");
  CommandResult table = Ctl("ban list");
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("192.0.2.7"));
  EXPECT_THAT(table.out, HasSubstr("2001:db8:1:2::/64"));

  CommandResult j = Ctl("ban list --json");
  ASSERT_EQ(j.exit_code, 0) << j.err;
  auto parsed = nlohmann::json::parse(j.out);
  ASSERT_EQ(parsed.size(), 2u);
  EXPECT_EQ(parsed[0]["ip"], "192.0.2.7");
  EXPECT_EQ(parsed[0]["ban_count"], 1);
  EXPECT_EQ(parsed[0]["active"], true);
}

// `ban remove` lifts a ban (audited); a second removal is "not found" (2); garbage is
// invalid input (4).
TEST_F(BanCommandsTest, RemoveLiftsBan) {
  Ban("192.0.2.7");
  CommandResult r = Ctl("ban remove 192.0.2.7");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("ban removed: 192.0.2.7"));
  EXPECT_FALSE(defender_->ListBans().value().size() > 0);

  CommandResult again = Ctl("ban remove 192.0.2.7");
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_THAT(again.err, HasSubstr("no ban in force"));

  CommandResult bad = Ctl("ban remove not-an-address");
  EXPECT_EQ(bad.exit_code, 4);

  auto audited = db_->Read<long long>([](soci::session& s) -> Result<long long> {
    long long n = 0;
    s << "SELECT COUNT(*) FROM audit_events WHERE action = 'ban.remove' AND actor LIKE 'admin:%'",
        soci::into(n);
    return n;
  });
  ASSERT_TRUE(audited.has_value());
  EXPECT_EQ(*audited, 1);
}

}  // namespace
}  // namespace sftplc::admin
