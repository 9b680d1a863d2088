#include "sftpd/core/base/result.h"

#include <gtest/gtest.h>

namespace sftplc {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) {
    return Error::InvalidArgument("odd");
  }
  return x / 2;
}

// A value and an error are told apart, and the error keeps its code and message.
TEST(ResultTest, HoldsValueOrError) {
  auto ok = Half(4);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(*ok, 2);
  auto bad = Half(3);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().message(), "odd");
  EXPECT_EQ(bad.value_or(7), 7);
}

// Status (Result<void>) is success by default and carries an error otherwise.
TEST(ResultTest, StatusDefaultsToSuccess) {
  Status ok;
  EXPECT_TRUE(ok);
  Status bad = Error::NotFound("none");
  EXPECT_FALSE(bad);
  EXPECT_TRUE(bad.error().IsNotFound());
}

}  // namespace
}  // namespace sftplc
