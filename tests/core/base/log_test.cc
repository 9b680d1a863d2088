#include "sftpd/core/base/log.h"

#include <gtest/gtest.h>

#include <string>

namespace sftplc {
namespace {

// Control characters, DEL, non-ASCII bytes and the backslash are escaped: a client's bytes can
// neither end a log line nor imitate an escape; printable ASCII is kept as it is.
TEST(LogSafeTest, EscapesEverythingThatCouldForgeALine) {
  EXPECT_EQ(LogSafe("curve25519-sha256,ecdh"), "curve25519-sha256,ecdh");
  EXPECT_EQ(LogSafe("a\nINFO forged\r\n"), "a\\x0aINFO forged\\x0d\\x0a");
  EXPECT_EQ(LogSafe(std::string("\0\x1b[31m\x7f\xff\\", 9)), "\\x00\\x1b[31m\\x7f\\xff\\x5c");
}

// Only the first max_bytes of the input are kept, marked with "...".
TEST(LogSafeTest, CutsLongInput) {
  EXPECT_EQ(LogSafe(std::string(600, 'k'), 4), "kkkk...");
  EXPECT_EQ(LogSafe("four", 4), "four");
  EXPECT_EQ(LogSafe(std::string(1000, 'k')).size(), 515u);
}

}  // namespace
}  // namespace sftplc
