#include "sftpd/core/base/ids.h"

#include <gtest/gtest.h>

#include <set>

namespace sftplc {
namespace {

// Fresh ids are 32 lowercase hex digits and do not repeat.
TEST(AccountIdTest, NewIdsAreRandomHex) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    AccountId id = AccountId::New();
    ASSERT_EQ(id.str().size(), 32u);
    ASSERT_TRUE(AccountId::LooksLikeId(id.str()));
    ASSERT_TRUE(seen.insert(id.str()).second);
  }
}

// Parse accepts exactly 32 hex digits (normalising case) and refuses everything else.
TEST(AccountIdTest, ParseIsStrict) {
  auto id = AccountId::Parse("0123456789ABCDEF0123456789abcdef");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->str(), "0123456789abcdef0123456789abcdef");
  EXPECT_FALSE(AccountId::Parse("0123"));
  EXPECT_FALSE(AccountId::Parse("0123456789abcdef0123456789abcdeg"));
  EXPECT_FALSE(AccountId::Parse("'; DROP TABLE accounts; --       "));
}

}  // namespace
}  // namespace sftplc
