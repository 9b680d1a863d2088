#include "sftpd/core/base/secret.h"

#include <gtest/gtest.h>

namespace sftplc {
namespace {

// A secret holds its bytes, moves without copying, and is empty after Wipe().
TEST(SecretTest, HoldsMovesAndWipes) {
  Secret s("correct horse battery staple");
  EXPECT_EQ(s.view(), "correct horse battery staple");
  Secret moved(std::move(s));
  EXPECT_EQ(moved.size(), 28u);
  EXPECT_TRUE(s.empty());  // NOLINT: moved-from is specified as empty
  moved.Wipe();
  EXPECT_TRUE(moved.empty());
}

// push_back grows past the initial capacity without losing bytes.
TEST(SecretTest, PushBackGrows) {
  Secret s;
  for (int i = 0; i < 5000; ++i) {
    s.push_back(static_cast<char>('a' + i % 26));
  }
  ASSERT_EQ(s.size(), 5000u);
  EXPECT_EQ(s.view()[4999], static_cast<char>('a' + 4999 % 26));
}

}  // namespace
}  // namespace sftplc
