#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sftpd/server/sftp/processor.h"
#include "sftpd/server/sftp/protocol.h"
#include "tests/server/sftp/fuzz_harness.h"
#include "tests/server/sftp/sftp_wire.h"
#include "tests/testing/temp_dir.h"

namespace sftplc::sftp::testing {
namespace {

namespace fs = std::filesystem;

// Valid request streams (after INIT) that the mutations start from.
std::vector<std::string> Seeds() {
  std::vector<std::string> s;
  s.push_back(Packet(kFxpMkdir, Body().u32(1).str("d").u32(kAttrPermissions).u32(0755)) +
              Packet(kFxpOpen, Body().u32(2).str("d/f").u32(kOpenWrite | kOpenCreat).u32(0)) +
              Packet(kFxpOpendir, Body().u32(3).str("d")) +
              Packet(kFxpRealpath, Body().u32(4).str("d/../..")));
  s.push_back(
      Packet(kFxpSymlink, Body().u32(1).str("../..").str("up")) +
      Packet(kFxpOpen,
             Body().u32(2).str("up/canary").u32(kOpenRead | kOpenWrite | kOpenTrunc).u32(0)) +
      Packet(kFxpRemove, Body().u32(3).str("up/canary")) +
      Packet(kFxpRename, Body().u32(4).str("up").str("down")));
  s.push_back(
      Packet(kFxpExtended, Body().u32(1).str("limits@openssh.com")) +
      Packet(kFxpExtended, Body().u32(2).str("statvfs@openssh.com").str("/")) +
      Packet(kFxpExtended, Body().u32(3).str("hardlink@openssh.com").str("a").str("b")) +
      Packet(kFxpExtended, Body().u32(4).str("posix-rename@openssh.com").str("a").str("b")));
  s.push_back(Packet(kFxpSetstat, Body()
                                      .u32(1)
                                      .str("/")
                                      .u32(kAttrExtended | kAttrSize)
                                      .u64(1)
                                      .u32(2)
                                      .str("a")
                                      .str("b")
                                      .str("c")
                                      .str("d")) +
              Packet(kFxpStat, Body().u32(2).str("/")) +
              Packet(kFxpRead, Body().u32(3).str(std::string(8, '\0')).u64(0).u32(1 << 30)) +
              Packet(kFxpWrite, Body().u32(4).str("hhhhhhhh").u64(~0ull).str("data")));
  return s;
}

// Streams on the harness's open file and directory handles (mode kWithHandles).
std::vector<std::string> HandleSeeds() {
  const std::string f(kFileMarker);
  const std::string d(kDirMarker);
  std::vector<std::string> s;
  s.push_back(Packet(kFxpWrite, Body().u32(1).str(f).u64(0).str("hello world")) +
              Packet(kFxpRead, Body().u32(2).str(f).u64(3).u32(100)) +
              Packet(kFxpFstat, Body().u32(3).str(f)) +
              Packet(kFxpFsetstat, Body().u32(4).str(f).u32(kAttrSize).u64(2)) +
              Packet(kFxpExtended, Body().u32(5).str("fsync@openssh.com").str(f)) +
              Packet(kFxpClose, Body().u32(6).str(f)) +
              Packet(kFxpRead, Body().u32(7).str(f).u64(0).u32(1)));
  s.push_back(Packet(kFxpReaddir, Body().u32(1).str(d)) +
              Packet(kFxpReaddir, Body().u32(2).str(d)) +
              Packet(kFxpExtended, Body().u32(3).str("fstatvfs@openssh.com").str(d)) +
              Packet(kFxpFsetstat, Body().u32(4).str(d).u32(kAttrPermissions).u32(0700)) +
              Packet(kFxpClose, Body().u32(5).str(d)));
  return s;
}

// Hand-made malformed frames: each must end the session or get a status, never more.
std::vector<std::string> Malformed() {
  std::string init = InitPacket();
  std::vector<std::string> m;
  auto with_mode = [](uint8_t mode, const std::string& s) {
    return std::string(1, static_cast<char>(mode)) + s;
  };
  m.push_back(with_mode(0, Packet(kFxpStat, Body().u32(1).str("/"))));  // before INIT
  m.push_back(with_mode(1, Body().u32(0xffffffff).bytes()));            // oversize
  m.push_back(with_mode(1, Body().u32(static_cast<uint32_t>(kMaxPacket + 1)).bytes()));
  m.push_back(with_mode(1, Body().u32(0).bytes()));                            // empty
  m.push_back(with_mode(1, Body().u32(4).u8(kFxpStat).raw("abc").bytes()));    // no room for id
  m.push_back(with_mode(1, Body().u32(100).u8(kFxpStat).bytes()));             // truncated frame
  m.push_back(with_mode(1, init));                                             // duplicate INIT
  m.push_back(with_mode(1, Packet(kFxpOpen, Body().u32(1).u32(0xfffffff0))));  // huge string
  m.push_back(with_mode(
      1, Packet(kFxpSetstat,
                Body().u32(1).str("/").u32(kAttrExtended).u32(0xffffffff))));  // huge ext count
  m.push_back(with_mode(1, Packet(kFxpStat, Body().u32(1).str("/").raw("trailing"))));
  m.push_back(with_mode(1, Packet(kFxpStat, Body().u32(1).str(std::string("a\0b", 3)))));
  m.push_back(with_mode(1, Packet(kFxpSymlink, Body().u32(1).str("").str("x"))));
  m.push_back(with_mode(1, Packet(kFxpExtended, Body().u32(1))));
  m.push_back(with_mode(3, Packet(kFxpRealpath, Body().u32(1).str(std::string(8000, '/')))));
  m.push_back(with_mode(5, Packet(kFxpOpendir, Body().u32(1).str("/")) +
                               Packet(kFxpReaddir, Body().u32(2).str("junk"))));
  return m;
}

class CorpusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogLevel("off");
    harness_ = std::make_unique<FuzzHarness>(tmp_.path());
  }
  void TearDown() override { SetLogLevel("info"); }
  std::string Run(const std::string& input) {
    return harness_->Run(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  }
  sftplc::testing::TempDir tmp_;
  std::unique_ptr<FuzzHarness> harness_;
};

// Every hand-made malformed frame keeps the invariants (no crash, whole replies, nothing outside).
TEST_F(CorpusTest, MalformedFramesKeepInvariants) {
  for (const std::string& m : Malformed()) {
    EXPECT_EQ(Run(m), "") << "input size " << m.size();
  }
}

// The valid seeds, whole, split per byte and read into the worker's buffer for Consume, keep the
// invariants (the symlink to ".." included).
TEST_F(CorpusTest, SeedsKeepInvariants) {
  for (const std::string& s : Seeds()) {
    for (char mode : {'\x01', '\x03', '\x07'}) {
      EXPECT_EQ(Run(mode + s), "") << "mode " << int{mode};
    }
  }
  for (const std::string& s : HandleSeeds()) {
    for (char mode : {'\x09', '\x0b', '\x0f'}) {
      EXPECT_EQ(Run(mode + s), "") << "mode " << int{mode};
      // The markers became live handles: the handlers behind validation ran.
      const auto& types = harness_->reply_types();
      EXPECT_TRUE(std::find(types.begin(), types.end(), kFxpData) != types.end() ||
                  std::find(types.begin(), types.end(), kFxpName) != types.end())
          << "mode " << int{mode};
    }
  }
}

// Consume as the worker calls it: reads of 1 KiB split the packets, and a pipeline of READs whose
// replies pass Limits.max_output is handled over several calls, every reply whole and none lost.
TEST_F(CorpusTest, ConsumeLikeTheWorkerAnswersEveryRequest) {
  std::string s = Packet(
      kFxpWrite, Body().u32(1).str(std::string(kFileMarker)).u64(0).str(std::string(60000, 'x')));
  const int reads = 40;  // 40 x 30,000 bytes of DATA: past the harness's 64 KiB bound
  for (int i = 0; i < reads; ++i) {
    s += Packet(kFxpRead, Body().u32(2 + i).str(std::string(kFileMarker)).u64(0).u32(30000));
  }
  // Byte 1, the read size, is the first length byte: 0, reads of 1 KiB.
  ASSERT_EQ(Run('\x0f' + s), "");
  const auto& types = harness_->reply_types();
  EXPECT_EQ(std::count(types.begin(), types.end(), kFxpData), reads);
  EXPECT_EQ(types.size(), std::size_t{reads} + 1);
}

// 1500 seeded mutations of the seeds (bit flips, cuts, splices, interesting lengths) keep them.
TEST_F(CorpusTest, DeterministicMutationsKeepInvariants) {
  std::vector<std::string> seeds = Seeds();
  const std::size_t plain = seeds.size();
  for (const std::string& h : HandleSeeds()) {
    seeds.push_back(h);
  }
  uint64_t x = 0x5eed5eed12345678ULL;
  auto next = [&x]() {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  const uint32_t interesting[] = {0,
                                  1,
                                  4,
                                  5,
                                  0x7fffffff,
                                  0xffffffff,
                                  static_cast<uint32_t>(kMaxPacket),
                                  static_cast<uint32_t>(kMaxPacket + 1)};
  for (int i = 0; i < 1500; ++i) {
    const std::size_t which = next() % seeds.size();
    std::string s = seeds[which];
    int edits = 1 + static_cast<int>(next() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      std::size_t pos = next() % s.size();
      switch (next() % 5) {
        case 0:
          s[pos] = static_cast<char>(s[pos] ^ (1 << (next() % 8)));
          break;
        case 1:
          s.resize(pos);
          break;
        case 2:
          s.insert(pos, s.substr(next() % s.size(), next() % 16));
          break;
        case 3: {
          uint32_t v = interesting[next() % std::size(interesting)];
          for (int k = 0; k < 4 && pos + k < s.size(); ++k) {
            s[pos + k] = static_cast<char>(v >> (24 - 8 * k));
          }
          break;
        }
        default:
          s[pos] = static_cast<char>(next());
          break;
      }
    }
    char mode = static_cast<char>(1 | ((next() % 3) << 1) | (which >= plain ? kWithHandles : 0));
    std::string input = std::string(1, mode) + std::string(1, static_cast<char>(next())) + s;
    ASSERT_EQ(Run(input), "") << "mutation " << i;
  }
}

// Inputs saved under corpus/ (crashes found by scripts/fuzz, kept as regressions) replay cleanly.
TEST_F(CorpusTest, SavedCorpusReplays) {
  fs::path dir = fs::path(SFTPLC_SOURCE_DIR) / "tests/server/sftp/corpus";
  int replayed = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    EXPECT_EQ(Run(ss.str()), "") << e.path();
    ++replayed;
  }
  EXPECT_GT(replayed, 0);
}

}  // namespace
}  // namespace sftplc::sftp::testing
