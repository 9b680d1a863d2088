// The startup limits decided at accept: the early-drop chance (OpenSSH's MaxStartups), the
// per-source cap, and the source key (an IPv6 /64, as the defender bans).

#include "sftpd/server/startups.h"

#include <gtest/gtest.h>

#include <vector>

namespace sftplc::server {
namespace {

constexpr config::MaxStartups kDefault{10, 30, 100};

// Below start nothing is dropped; at start `rate` %; then linear up to 100 % at full and beyond
// (the numbers sshd.c's should_drop_connection gives for 10:30:100).
TEST(StartupDropPercentTest, RisesLinearlyFromRateAtStartToAllAtFull) {
  EXPECT_EQ(StartupDropPercent(kDefault, 0), 0);
  EXPECT_EQ(StartupDropPercent(kDefault, 9), 0);
  EXPECT_EQ(StartupDropPercent(kDefault, 10), 30);
  EXPECT_EQ(StartupDropPercent(kDefault, 11), 30);  // 70 x 1 / 90 rounds down
  EXPECT_EQ(StartupDropPercent(kDefault, 55), 65);
  EXPECT_EQ(StartupDropPercent(kDefault, 99), 99);
  EXPECT_EQ(StartupDropPercent(kDefault, 100), 100);
  EXPECT_EQ(StartupDropPercent(kDefault, 5000), 100);
}

// One number N ("N:100:N") is a hard cap; start == full with any rate too.
TEST(StartupDropPercentTest, HardCapDropsEverythingFromStart) {
  EXPECT_EQ(StartupDropPercent({7, 100, 7}, 6), 0);
  EXPECT_EQ(StartupDropPercent({7, 100, 7}, 7), 100);
  EXPECT_EQ(StartupDropPercent({7, 30, 7}, 7), 100);
  // The largest values do not overflow.
  EXPECT_EQ(StartupDropPercent({1, 1, config::kMaxStartupsLimit}, config::kMaxStartupsLimit - 1),
            99);
}

// A roll that returns the given numbers in turn and counts how often it was asked.
struct ScriptedRoll {
  std::vector<int> values;
  std::size_t asked = 0;
  PercentRoll Fn() {
    return [this] { return values.at(asked++ % values.size()); };
  }
};

// With the drop chance at p %, a roll below p drops and a roll of p or more admits; no roll is
// made below start or at full.
TEST(StartupsTest, EarlyDropFollowsTheRoll) {
  ScriptedRoll roll{{29, 30}};
  Startups s(roll.Fn());
  config::MaxStartups limits{2, 30, 4};
  EXPECT_EQ(s.Admit("a", limits, 100), nullptr);
  EXPECT_EQ(s.Admit("b", limits, 100), nullptr);
  EXPECT_EQ(roll.asked, 0u);
  // 2 waiting: 30 %. Roll 29 drops, roll 30 admits.
  EXPECT_STREQ(s.Admit("c", limits, 100), Startups::kFull);
  EXPECT_EQ(s.Admit("c", limits, 100), nullptr);
  EXPECT_EQ(roll.asked, 2u);
  EXPECT_EQ(s.total(), 3);
  // 3 waiting: 65 %; roll 29 drops, roll 30 drops too.
  EXPECT_STREQ(s.Admit("d", limits, 100), Startups::kFull);
  EXPECT_STREQ(s.Admit("d", limits, 100), Startups::kFull);
  roll.values = {65};
  EXPECT_EQ(s.Admit("d", limits, 100), nullptr);
  // 4 waiting: full, dropped without a roll.
  std::size_t asked = roll.asked;
  EXPECT_STREQ(s.Admit("e", limits, 100), Startups::kFull);
  EXPECT_EQ(roll.asked, asked);
  // A login (or an end) frees a place.
  s.Leave("a");
  s.Leave("b");
  EXPECT_EQ(s.total(), 2);
  EXPECT_EQ(s.from("a"), 0);
  EXPECT_EQ(s.from("c"), 1);
}

// A source holding per_source connections gets no more, whatever the total; others still do.
TEST(StartupsTest, PerSourceCapIsHard) {
  ScriptedRoll roll{{99}};
  Startups s(roll.Fn());
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(s.Admit("2001:db8:1:2::/64", kDefault, 3), nullptr);
  }
  EXPECT_STREQ(s.Admit("2001:db8:1:2::/64", kDefault, 3), Startups::kPerSource);
  EXPECT_EQ(s.Admit("192.0.2.7", kDefault, 3), nullptr);
  EXPECT_EQ(s.from("2001:db8:1:2::/64"), 3);
  s.Leave("2001:db8:1:2::/64");
  EXPECT_EQ(s.Admit("2001:db8:1:2::/64", kDefault, 3), nullptr);
}

// Addresses of one IPv6 /64 share one key (the defender's ban key); other /64s, and IPv4
// addresses, have their own; an IPv4-mapped address counts as its IPv4 address.
TEST(SourceKeyTest, IPv6CountsPerSlash64) {
  EXPECT_EQ(SourceKey("2001:db8:1:2::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(SourceKey("2001:db8:1:2:ffff:ee:dd:cc"), "2001:db8:1:2::/64");
  EXPECT_NE(SourceKey("2001:db8:1:3::1"), SourceKey("2001:db8:1:2::1"));
  EXPECT_EQ(SourceKey("::1"), "::/64");
  EXPECT_EQ(SourceKey("192.0.2.7"), "192.0.2.7");
  EXPECT_NE(SourceKey("192.0.2.8"), SourceKey("192.0.2.7"));
  EXPECT_EQ(SourceKey("::ffff:192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(SourceKey("not an address"), "not an address");
}

}  // namespace
}  // namespace sftplc::server
