#include "sftpd/server/sftp/sftp_protocol.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <optional>

#include "sftpd/server/sftp/protocol.h"
#include "tests/server/sftp/sftp_wire.h"
#include "tests/testing/temp_dir.h"

namespace sftplc::sftp {
namespace {

namespace fs = std::filesystem;
using testing::Body;
using testing::InitPacket;
using testing::Packet;
using testing::SplitReplies;

class SftpProtocolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(tmp_.Sub("storage"));
    account_.id = AccountId::New();
  }
  std::vector<testing::Reply> Send(server::ChannelProtocol& p, const std::string& bytes) {
    std::string out;
    Status s = p.OnData(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), out);
    EXPECT_TRUE(s);
    return SplitReplies(out);
  }
  sftplc::testing::TempDir tmp_;
  accounts::Account account_;
};

// The worker opens storage/<account id> (made at account creation) with OpenExisting and the
// protocol serves SFTP there, with the processor's counters as usage counters.
TEST_F(SftpProtocolTest, ServesTheAccountRoot) {
  fs::create_directories(tmp_.Sub("storage/" + account_.id.str()));
  auto root = files::AccountRoot::OpenExisting(tmp_.Sub("storage"), account_.id);
  ASSERT_TRUE(root);
  auto p = std::optional<std::unique_ptr<SftpProtocol>>(
      std::make_unique<SftpProtocol>(std::move(*root), Limits{}, GetLogger("sftp"), "[t]"));
  ASSERT_EQ(Send(**p, InitPacket()).at(0).type, kFxpVersion);
  auto h = Send(**p, Packet(kFxpOpen, Body().u32(1).str("up").u32(kOpenWrite | kOpenCreat).u32(0)));
  ASSERT_EQ(h.at(0).type, kFxpHandle);
  std::string handle = h[0].StrAt(4);
  Send(**p, Packet(kFxpWrite, Body().u32(2).str(handle).u64(0).str("12345")));
  Send(**p, Packet(kFxpClose, Body().u32(3).str(handle)));
  usage::Counters c = (*p)->counters();
  EXPECT_EQ(c.bytes_in, 5u);
  EXPECT_EQ(c.files_uploaded, 1u);
  EXPECT_TRUE((*p)->TakeActivity());
  EXPECT_FALSE((*p)->TakeActivity());
  (*p)->CloseAll();
}

// A missing account folder (erased after the login) is refused with kNotFound and not created:
// the worker's factory never brings an erased folder back.
TEST_F(SftpProtocolTest, OpenExistingNeverCreatesTheAccountFolder) {
  auto root = files::AccountRoot::OpenExisting(tmp_.Sub("storage"), account_.id);
  ASSERT_FALSE(root);
  EXPECT_TRUE(root.error().IsNotFound());
  EXPECT_FALSE(fs::exists(tmp_.Sub("storage/" + account_.id.str())));
}

// A symlinked account folder is refused (the session ends).
TEST_F(SftpProtocolTest, OpenExistingRefusesSymlinkedRoot) {
  fs::create_directories(tmp_.Sub("elsewhere"));
  fs::create_directory_symlink(tmp_.Sub("elsewhere"), tmp_.Sub("storage/" + account_.id.str()));
  auto root = files::AccountRoot::OpenExisting(tmp_.Sub("storage"), account_.id);
  ASSERT_FALSE(root);
  EXPECT_EQ(root.error().code(), ErrorCode::kPermissionDenied);
}

// Backpressure reaches the transport: one call answers requests only until its replies reach
// Limits.max_output and reports the rest as pending; asking again (as the transport does after
// sending) answers them in order, each batch bounded, and nothing is lost.
TEST_F(SftpProtocolTest, HoldsBackRequestsPastTheReplyBound) {
  auto root = files::AccountRoot::Open(tmp_.Sub("storage"), account_.id);
  ASSERT_TRUE(root);
  sftplc::testing::WriteFile(tmp_.Sub("storage/" + account_.id.str() + "/big"),
                             std::string(1 << 20, 'b'));
  constexpr std::size_t kBound = 64 * 1024;
  SftpProtocol p(std::move(*root), Limits{.max_output = kBound}, GetLogger("sftp"), "[t]");
  Send(p, InitPacket());
  auto h = Send(p, Packet(kFxpOpen, Body().u32(1).str("big").u32(kOpenRead).u32(0)));
  ASSERT_EQ(h.at(0).type, kFxpHandle);
  std::string stream;
  for (uint32_t i = 0; i < 10; ++i) {
    stream += Packet(kFxpRead, Body().u32(10 + i).str(h[0].StrAt(4)).u64(i * 32768).u32(32768));
  }
  std::string out;
  ASSERT_TRUE(p.OnData(reinterpret_cast<const uint8_t*>(stream.data()), stream.size(), out));
  std::vector<testing::Reply> replies = SplitReplies(out);
  EXPECT_LT(replies.size(), 10u);
  EXPECT_TRUE(p.HasPendingRequests());
  int batches = 1;
  while (p.HasPendingRequests()) {
    out.clear();
    ASSERT_TRUE(p.OnData(nullptr, 0, out));
    // A batch stops at the first reply that reaches the bound: at most one READ reply past it.
    EXPECT_LE(out.size(), kBound + 32768 + 64);
    for (auto& r : SplitReplies(out)) {
      replies.push_back(std::move(r));
    }
    ASSERT_LT(++batches, 20);
  }
  ASSERT_EQ(replies.size(), 10u);
  for (uint32_t i = 0; i < 10; ++i) {
    EXPECT_EQ(replies[i].type, kFxpData);
    EXPECT_EQ(replies[i].id(), 10 + i);
  }
  EXPECT_GT(batches, 1);
}

}  // namespace
}  // namespace sftplc::sftp
