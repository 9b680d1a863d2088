// RepliesAhead (sftpd/server/session.h): how far the transport's replies run ahead of the
// client's window adjusts, given the TCP round trip. The pacing itself is exercised end to end
// by sftp_transport_test (a client that adjusts late) and measured by scripts/bench.

#include <gtest/gtest.h>

#include <limits>

#include "sftpd/server/session.h"

namespace sftplc::server {
namespace {

// 512 KiB on a short path, a 10 Gbit/s link's worth on a longer one, never past 32 bits.
TEST(RepliesAheadTest, ShortPathFloorLongPathBandwidthDelay) {
  EXPECT_EQ(RepliesAhead(0), kMinRepliesAhead);   // not TCP
  EXPECT_EQ(RepliesAhead(30), kMinRepliesAhead);  // loopback
  EXPECT_EQ(RepliesAhead(1000), 1'250'000u);      // 1 ms
  EXPECT_EQ(RepliesAhead(50'000), 62'500'000u);   // 50 ms: the client's window bounds it
  EXPECT_EQ(RepliesAhead(4'000'000'000u), std::numeric_limits<uint32_t>::max());
}

}  // namespace
}  // namespace sftplc::server
