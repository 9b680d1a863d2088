#include "sftpd/server/sftp/processor.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "sftpd/server/sftp/protocol.h"
#include "sftpd/server/sftp/status.h"
#include "tests/server/sftp/sftp_wire.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/temp_dir.h"

namespace sftplc::sftp {
namespace {

namespace fs = std::filesystem;
using sftplc::testing::ReadFile;
using sftplc::testing::TempDir;
using sftplc::testing::WriteFile;
using testing::Body;
using testing::InitPacket;
using testing::Packet;
using testing::Reply;
using testing::SplitReplies;

class ProcessorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(tmp_.Sub("storage"));
    WriteFile(tmp_.Sub("outside/secret"), "top secret");
    host_ = tmp_.Sub("storage/" + id_.str());
    Make(Limits{});
  }

  void Make(Limits limits) {
    auto root = files::AccountRoot::Open(tmp_.Sub("storage"), id_);
    ASSERT_TRUE(root);
    p_ = std::make_unique<Processor>(std::move(*root), limits, GetLogger("sftp"), "[t1]", clock_);
  }

  std::string Host(const std::string& rel) const { return host_ + "/" + rel; }

  // Feeds `bytes` in one call; the call must succeed.
  std::vector<Reply> Send(const std::string& bytes) {
    out_.clear();
    Status s = p_->OnData(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), out_);
    EXPECT_TRUE(s) << (s ? "" : s.error().ToString());
    bool ok = false;
    auto v = SplitReplies(out_, &ok);
    EXPECT_TRUE(ok);
    return v;
  }
  // Feeds `bytes` and expects the session to end.
  Status SendBad(const std::string& bytes) {
    out_.clear();
    return p_->OnData(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), out_);
  }
  Reply One(const std::string& packet) {
    auto v = Send(packet);
    EXPECT_EQ(v.size(), 1u);
    return v.empty() ? Reply{} : v[0];
  }
  void Init() { ASSERT_EQ(One(InitPacket()).type, kFxpVersion); }

  // STATUS code of a one-reply request, checking type and id.
  uint32_t StatusOf(const std::string& packet, uint32_t id) {
    Reply r = One(packet);
    EXPECT_EQ(r.type, kFxpStatus);
    EXPECT_EQ(r.id(), id);
    return r.type == kFxpStatus ? r.status() : 0xffffffff;
  }
  std::string OpenHandle(const std::string& path, uint32_t pflags, uint32_t id = 1) {
    Reply r = One(Packet(kFxpOpen, Body().u32(id).str(path).u32(pflags).u32(0)));
    EXPECT_EQ(r.type, kFxpHandle) << "status " << (r.body.size() >= 8 ? r.status() : 0);
    return r.type == kFxpHandle ? r.StrAt(4) : std::string();
  }
  std::string OpenDir(const std::string& path, uint32_t id = 1) {
    Reply r = One(Packet(kFxpOpendir, Body().u32(id).str(path)));
    EXPECT_EQ(r.type, kFxpHandle);
    return r.type == kFxpHandle ? r.StrAt(4) : std::string();
  }
  static std::string WritePacket(uint32_t id, const std::string& h, uint64_t off,
                                 std::string_view data) {
    return Packet(kFxpWrite, Body().u32(id).str(h).u64(off).str(data));
  }
  static std::string ReadPacket(uint32_t id, const std::string& h, uint64_t off, uint32_t len) {
    return Packet(kFxpRead, Body().u32(id).str(h).u64(off).u32(len));
  }
  // `count` READs of 32 KiB from the start of `h`, ids 100, 101...
  static std::string Reads(const std::string& h, uint32_t count) {
    std::string stream;
    for (uint32_t i = 0; i < count; ++i) {
      stream += ReadPacket(100 + i, h, uint64_t{i} * 32768, 32768);
    }
    return stream;
  }
  // A session whose replies are bounded at 64 KiB per call, with a 1 MiB file open for
  // reading: its handle.
  std::string BoundedSessionReading1MiB() {
    Make(Limits{.max_output = 64 * 1024});
    Init();
    WriteFile(Host("big"), std::string(1024 * 1024, 'b'));
    return OpenHandle("big", kOpenRead);
  }
  static std::string ClosePacket(uint32_t id, const std::string& h) {
    return Packet(kFxpClose, Body().u32(id).str(h));
  }
  static std::string PathPacket(uint8_t type, uint32_t id, const std::string& path) {
    return Packet(type, Body().u32(id).str(path));
  }

  TempDir tmp_;
  AccountId id_ = AccountId::New();
  std::string host_;
  sftplc::testing::FakeClock clock_{"2026-06-15T12:00:00Z"};
  std::unique_ptr<Processor> p_;
  std::string out_;
};

// INIT gets VERSION 3 advertising exactly the implemented OpenSSH extensions.
TEST_F(ProcessorTest, InitAdvertisesExtensions) {
  Reply r = One(InitPacket());
  ASSERT_EQ(r.type, kFxpVersion);
  EXPECT_EQ(r.U32At(0), 3u);
  std::vector<std::pair<std::string, std::string>> ext;
  std::size_t off = 4;
  while (off < r.body.size()) {
    std::string name = r.StrAt(off);
    off += 4 + name.size();
    std::string ver = r.StrAt(off);
    off += 4 + ver.size();
    ext.emplace_back(name, ver);
  }
  EXPECT_EQ(ext,
            (std::vector<std::pair<std::string, std::string>>{{"posix-rename@openssh.com", "1"},
                                                              {"statvfs@openssh.com", "2"},
                                                              {"fstatvfs@openssh.com", "2"},
                                                              {"hardlink@openssh.com", "1"},
                                                              {"fsync@openssh.com", "1"},
                                                              {"limits@openssh.com", "1"}}));
}

// Any packet before INIT ends the session, and the session stays ended.
TEST_F(ProcessorTest, PacketBeforeInitEndsSession) {
  EXPECT_FALSE(SendBad(PathPacket(kFxpStat, 1, "/")));
  EXPECT_TRUE(out_.empty());
  EXPECT_FALSE(SendBad(InitPacket()));
  EXPECT_FALSE(p_->HasPendingRequests());
}

// A length above kMaxPacket ends the session as soon as the 4 length bytes arrive.
TEST_F(ProcessorTest, OversizeLengthEndsSession) {
  Init();
  Body b;
  b.u32(static_cast<uint32_t>(kMaxPacket + 1));
  EXPECT_FALSE(SendBad(b.bytes()));
  Make(Limits{});
  Init();
  EXPECT_FALSE(SendBad(Body().u32(0xffffffff).bytes()));
  Make(Limits{});
  Init();
  // Too small to hold a type and a request id.
  EXPECT_FALSE(SendBad(Body().u32(1).u8(kFxpStat).bytes()));
  Make(Limits{});
  Init();
  EXPECT_FALSE(SendBad(Body().u32(0).bytes()));
}

// The largest packet that fits (a 255 KiB WRITE) is accepted.
TEST_F(ProcessorTest, MaximalWriteIsAccepted) {
  Init();
  std::string h = OpenHandle("big", kOpenWrite | kOpenCreat);
  std::string data(kMaxReadLength, 'w');
  std::string pkt = WritePacket(2, h, 0, data);
  ASSERT_LE(pkt.size() - 4, kMaxPacket);
  EXPECT_EQ(StatusOf(pkt, 2), kFxOk);
  EXPECT_EQ(fs::file_size(Host("big")), kMaxReadLength);
}

// A second INIT ends the session.
TEST_F(ProcessorTest, DuplicateInitEndsSession) {
  Init();
  EXPECT_FALSE(SendBad(InitPacket()));
}

// A field cut short inside a whole frame gets BAD_MESSAGE with the request id; nothing runs.
TEST_F(ProcessorTest, TruncatedFieldIsBadMessage) {
  Init();
  // MKDIR whose path string claims 100 bytes but carries 3.
  std::string pkt = Packet(kFxpMkdir, Body().u32(7).u32(100).raw("abc"));
  EXPECT_EQ(StatusOf(pkt, 7), kFxBadMessage);
  EXPECT_FALSE(fs::exists(Host("abc")));
  // OPEN without its attrs.
  EXPECT_EQ(StatusOf(Packet(kFxpOpen, Body().u32(8).str("f").u32(kOpenWrite | kOpenCreat)), 8),
            kFxBadMessage);
  EXPECT_FALSE(fs::exists(Host("f")));
  // A request that is only an id.
  EXPECT_EQ(StatusOf(Packet(kFxpRead, Body().u32(9)), 9), kFxBadMessage);
}

// Bytes left over after a request whose fields all parsed are discarded, as OpenSSH's
// sftp-server does (Go's pkg/sftp sends them): the request runs, and the next request in the
// same stream is framed correctly. A short field is still BAD_MESSAGE.
TEST_F(ProcessorTest, TrailingBytesAreDiscarded) {
  Init();
  EXPECT_EQ(StatusOf(Packet(kFxpMkdir, Body().u32(3).str("d").u32(0).raw("x")), 3), kFxOk);
  EXPECT_TRUE(fs::is_directory(Host("d")));
  std::string two =
      Packet(
          kFxpOpen,
          Body().u32(4).str("f").u32(kOpenWrite | kOpenCreat).u32(0).raw(std::string(40, '\0'))) +
      Packet(kFxpMkdir, Body().u32(5).str("e").u32(0).raw("junk"));
  auto replies = Send(two);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].type, kFxpHandle);
  EXPECT_EQ(replies[1].type, kFxpStatus);
  EXPECT_EQ(replies[1].id(), 5u);
  EXPECT_EQ(replies[1].status(), kFxOk);
  EXPECT_TRUE(fs::exists(Host("f")));
  EXPECT_TRUE(fs::is_directory(Host("e")));
  // Fields that do not all parse are still refused, trailing bytes or not.
  EXPECT_EQ(StatusOf(Packet(kFxpMkdir, Body().u32(6).u32(100).raw("abc")), 6), kFxBadMessage);
}

// Unknown request types and extensions get OP_UNSUPPORTED with the request id kept.
TEST_F(ProcessorTest, UnknownTypeKeepsRequestId) {
  Init();
  EXPECT_EQ(StatusOf(Packet(99, Body().u32(0xdeadbeef).raw("whatever")), 0xdeadbeef),
            kFxOpUnsupported);
  EXPECT_EQ(StatusOf(Packet(kFxpStatus, Body().u32(12).u32(0)), 12), kFxOpUnsupported);
  EXPECT_EQ(StatusOf(Packet(kFxpVersion, Body().u32(13)), 13), kFxOpUnsupported);
  EXPECT_EQ(StatusOf(Packet(kFxpExtended, Body().u32(14).str("copy-data").str("x")), 14),
            kFxOpUnsupported);
  EXPECT_EQ(StatusOf(Packet(kFxpExtended, Body().u32(15).u32(50)), 15), kFxBadMessage);
}

// Forged, short, stale and closed handles are refused with FAILURE.
TEST_F(ProcessorTest, GarbageHandlesAreRefused) {
  Init();
  WriteFile(Host("f"), "data");
  std::string h = OpenHandle("f", kOpenRead);
  ASSERT_EQ(h.size(), 8u);
  std::string forged = h;
  forged[7] = static_cast<char>(forged[7] ^ 1);
  EXPECT_EQ(StatusOf(ReadPacket(2, forged, 0, 10), 2), kFxFailure);
  EXPECT_EQ(StatusOf(ReadPacket(3, "", 0, 10), 3), kFxFailure);
  EXPECT_EQ(StatusOf(ReadPacket(4, std::string(1000, '\xff'), 0, 10), 4), kFxFailure);
  EXPECT_EQ(StatusOf(ReadPacket(5, std::string("\xff\xff\xff\xff\0\0\0\1", 8), 0, 10), 5),
            kFxFailure);
  EXPECT_EQ(StatusOf(ClosePacket(6, h), 6), kFxOk);
  EXPECT_EQ(StatusOf(ClosePacket(7, h), 7), kFxFailure);
  EXPECT_EQ(StatusOf(ReadPacket(8, h, 0, 10), 8), kFxFailure);
  // A directory handle is not a file handle, and the reverse.
  std::string d = OpenDir("/");
  EXPECT_EQ(StatusOf(ReadPacket(9, d, 0, 10), 9), kFxFailure);
  EXPECT_EQ(StatusOf(WritePacket(10, d, 0, "x"), 10), kFxFailure);
  std::string f = OpenHandle("f", kOpenRead);
  EXPECT_EQ(StatusOf(Packet(kFxpReaddir, Body().u32(11).str(f)), 11), kFxFailure);
  // Handles are not reused: a new open of the same slot gets a different handle.
  EXPECT_EQ(StatusOf(ClosePacket(12, f), 12), kFxOk);
  std::string f2 = OpenHandle("f", kOpenRead);
  EXPECT_NE(f, f2);
  EXPECT_EQ(StatusOf(ReadPacket(13, f, 0, 10), 13), kFxFailure);
}

// OPEN/WRITE/READ/CLOSE: data round-trips, short reads at EOF, EOF status, counters kept.
TEST_F(ProcessorTest, WriteReadRoundTripAndStats) {
  Init();
  std::string h = OpenHandle("up.bin", kOpenWrite | kOpenCreat | kOpenTrunc);
  EXPECT_TRUE(p_->TakeActivity());  // created
  EXPECT_FALSE(p_->TakeActivity());
  EXPECT_EQ(StatusOf(WritePacket(2, h, 0, "hello "), 2), kFxOk);
  EXPECT_EQ(StatusOf(WritePacket(3, h, 6, "world"), 3), kFxOk);
  EXPECT_TRUE(p_->TakeActivity());
  EXPECT_EQ(StatusOf(ReadPacket(4, h, 0, 5), 4), kFxPermissionDenied);  // write-only handle
  EXPECT_EQ(StatusOf(ClosePacket(5, h), 5), kFxOk);
  EXPECT_EQ(ReadFile(Host("up.bin")), "hello world");

  std::string r = OpenHandle("up.bin", kOpenRead);
  Reply d = One(ReadPacket(6, r, 6, 100));
  ASSERT_EQ(d.type, kFxpData);
  EXPECT_EQ(d.id(), 6u);
  EXPECT_EQ(d.StrAt(4), "world");  // short read at EOF
  EXPECT_EQ(StatusOf(ReadPacket(7, r, 11, 100), 7), kFxEof);
  EXPECT_EQ(StatusOf(ReadPacket(8, r, 1000, 100), 8), kFxEof);
  EXPECT_EQ(StatusOf(WritePacket(9, r, 0, "x"), 9), kFxPermissionDenied);
  EXPECT_EQ(StatusOf(ClosePacket(10, r), 10), kFxOk);
  EXPECT_EQ(StatusOf(PathPacket(kFxpRemove, 11, "up.bin"), 11), kFxOk);

  const TransferStats& s = p_->stats();
  EXPECT_EQ(s.bytes_in, 11u);
  EXPECT_EQ(s.bytes_out, 5u);
  EXPECT_EQ(s.files_uploaded, 1u);
  EXPECT_EQ(s.files_downloaded, 1u);
  EXPECT_EQ(s.files_removed, 1u);
  EXPECT_EQ(s.requests, 13u);  // INIT, 2 OPEN, 2 WRITE, 4 READ, 1 WRITE, 2 CLOSE, 1 REMOVE
}

// OPEN flags: EXCL refuses an existing file, APPEND appends, TRUNC truncates, missing ->
// NO_SUCH_FILE.
TEST_F(ProcessorTest, OpenFlags) {
  Init();
  WriteFile(Host("f"), "abc");
  Reply r =
      One(Packet(kFxpOpen, Body().u32(2).str("f").u32(kOpenWrite | kOpenCreat | kOpenExcl).u32(0)));
  EXPECT_EQ(r.type, kFxpStatus);
  EXPECT_EQ(r.status(), kFxFailure);
  std::string a = OpenHandle("f", kOpenWrite | kOpenAppend);
  EXPECT_EQ(StatusOf(WritePacket(3, a, 0, "d"), 3), kFxOk);
  EXPECT_EQ(ReadFile(Host("f")), "abcd");
  OpenHandle("f", kOpenWrite | kOpenTrunc);
  EXPECT_EQ(ReadFile(Host("f")), "");
  Reply m = One(Packet(kFxpOpen, Body().u32(4).str("missing").u32(kOpenRead).u32(0)));
  EXPECT_EQ(m.status(), kFxNoSuchFile);
  // Permissions from the attrs, without setuid.
  Reply c = One(
      Packet(kFxpOpen,
             Body().u32(5).str("p").u32(kOpenWrite | kOpenCreat).u32(kAttrPermissions).u32(04600)));
  ASSERT_EQ(c.type, kFxpHandle);
  struct stat st;
  ASSERT_EQ(stat(Host("p").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07000, 0u);
  EXPECT_EQ(st.st_mode & 0700, 0600u);
}

// READ lengths are capped at kMaxReadLength.
TEST_F(ProcessorTest, ReadLengthIsCapped) {
  Init();
  WriteFile(Host("big"), std::string(1024 * 1024, 'r'));
  std::string h = OpenHandle("big", kOpenRead);
  Reply d = One(ReadPacket(2, h, 0, 0xffffffff));
  ASSERT_EQ(d.type, kFxpData);
  EXPECT_EQ(d.U32At(4), kMaxReadLength);
  EXPECT_EQ(p_->stats().bytes_out, kMaxReadLength);
}

// The handle table is bounded; closing frees a slot; limits@openssh.com reports the bound.
TEST_F(ProcessorTest, HandleLimit) {
  Make(Limits{.max_handles = 3});
  Init();
  WriteFile(Host("f"), "x");
  std::string h1 = OpenHandle("f", kOpenRead);
  OpenHandle("f", kOpenRead);
  OpenDir("/");
  Reply r = One(Packet(kFxpOpen, Body().u32(9).str("f").u32(kOpenRead).u32(0)));
  EXPECT_EQ(r.type, kFxpStatus);
  EXPECT_EQ(r.status(), kFxFailure);
  EXPECT_EQ(StatusOf(PathPacket(kFxpOpendir, 10, "/"), 10), kFxFailure);
  // A refused OPEN with CREAT creates nothing.
  Reply c = One(Packet(kFxpOpen, Body().u32(11).str("new").u32(kOpenWrite | kOpenCreat).u32(0)));
  EXPECT_EQ(c.status(), kFxFailure);
  EXPECT_FALSE(fs::exists(Host("new")));
  EXPECT_EQ(StatusOf(ClosePacket(12, h1), 12), kFxOk);
  OpenHandle("f", kOpenRead);

  Reply l = One(Packet(kFxpExtended, Body().u32(13).str("limits@openssh.com")));
  ASSERT_EQ(l.type, kFxpExtendedReply);
  EXPECT_EQ(l.U64At(4), kMaxPacket);
  EXPECT_EQ(l.U64At(12), kMaxReadLength);
  EXPECT_EQ(l.U64At(20), kMaxReadLength);
  EXPECT_EQ(l.U64At(28), 3u);
}

// STAT follows, LSTAT does not, FSTAT works on handles; attrs carry size, mode and times.
TEST_F(ProcessorTest, StatFamily) {
  Init();
  WriteFile(Host("f"), "12345");
  ASSERT_EQ(symlink("f", Host("l").c_str()), 0);
  Reply s = One(PathPacket(kFxpStat, 2, "/l"));
  ASSERT_EQ(s.type, kFxpAttrs);
  EXPECT_EQ(s.U32At(4), kAttrSize | kAttrUidGid | kAttrPermissions | kAttrAcModTime);
  EXPECT_EQ(s.U64At(8), 5u);
  EXPECT_TRUE(S_ISREG(s.U32At(24)));
  Reply l = One(PathPacket(kFxpLstat, 3, "l"));
  ASSERT_EQ(l.type, kFxpAttrs);
  EXPECT_TRUE(S_ISLNK(l.U32At(24)));
  std::string h = OpenHandle("f", kOpenRead);
  Reply f = One(Packet(kFxpFstat, Body().u32(4).str(h)));
  ASSERT_EQ(f.type, kFxpAttrs);
  EXPECT_EQ(f.U64At(8), 5u);
  EXPECT_EQ(StatusOf(PathPacket(kFxpStat, 5, "nope"), 5), kFxNoSuchFile);
}

// SETSTAT/FSETSTAT change permissions, times and size but never the owner.
TEST_F(ProcessorTest, SetstatNeverChangesOwner) {
  Init();
  WriteFile(Host("f"), "0123456789");
  std::string attrs = Body()
                          .u32(kAttrSize | kAttrPermissions | kAttrAcModTime)
                          .u64(3)
                          .u32(0640)
                          .u32(1000)
                          .u32(2000)
                          .bytes();
  EXPECT_EQ(StatusOf(Packet(kFxpSetstat, Body().u32(2).str("f").raw(attrs)), 2), kFxOk);
  struct stat st;
  ASSERT_EQ(stat(Host("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 3);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  EXPECT_EQ(st.st_mtime, 2000);
  // Another owner: refused, and nothing else in the request applied.
  std::string chown = Body()
                          .u32(kAttrUidGid | kAttrPermissions)
                          .u32(st.st_uid + 1)
                          .u32(st.st_gid)
                          .u32(0600)
                          .bytes();
  EXPECT_EQ(StatusOf(Packet(kFxpSetstat, Body().u32(3).str("f").raw(chown)), 3),
            kFxPermissionDenied);
  ASSERT_EQ(stat(Host("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  // The same owner is accepted (clients that send every attribute back).
  std::string same =
      Body().u32(kAttrUidGid | kAttrPermissions).u32(st.st_uid).u32(st.st_gid).u32(0600).bytes();
  EXPECT_EQ(StatusOf(Packet(kFxpSetstat, Body().u32(4).str("f").raw(same)), 4), kFxOk);
  std::string h = OpenHandle("f", kOpenWrite);
  std::string fattrs =
      Body().u32(kAttrPermissions | kAttrAcModTime).u32(0604).u32(5).u32(6).bytes();
  EXPECT_EQ(StatusOf(Packet(kFxpFsetstat, Body().u32(5).str(h).raw(fattrs)), 5), kFxOk);
  ASSERT_EQ(stat(Host("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0604u);
  EXPECT_EQ(st.st_mtime, 6);
  EXPECT_EQ(StatusOf(Packet(kFxpFsetstat, Body().u32(6).str(h).raw(chown)), 6),
            kFxPermissionDenied);
}

// A client cannot lock the service (and so the purge) out of its folder: SETSTAT and FSETSTAT
// on the account folder itself are refused whatever they ask, also through a symbolic link;
// a folder's permissions without owner rwx are refused (PERMISSION_DENIED) and leave the mode
// as it was; a folder's other bits and any file mode are applied; MKDIR always adds owner rwx.
TEST_F(ProcessorTest, SetstatKeepsFoldersUsableByTheOwner) {
  Init();
  fs::create_directories(Host("d"));
  WriteFile(Host("f"), "x");
  ASSERT_EQ(symlink(".", Host("self").c_str()), 0);
  auto perms = [](uint32_t mode) { return Body().u32(kAttrPermissions).u32(mode).bytes(); };
  auto mode_of = [&](const std::string& rel) {
    struct stat st {};
    EXPECT_EQ(stat(Host(rel).c_str(), &st), 0);
    return st.st_mode & 0777;
  };
  const uint32_t root_mode = mode_of(".");
  uint32_t n = 10;
  for (const char* root : {"/", ".", "", "self", "d/.."}) {
    ++n;
    EXPECT_EQ(StatusOf(Packet(kFxpSetstat, Body().u32(n).str(root).raw(perms(0755))), n),
              kFxPermissionDenied)
        << root;
  }
  std::string times = Body().u32(kAttrAcModTime).u32(1).u32(2).bytes();
  ++n;
  EXPECT_EQ(StatusOf(Packet(kFxpSetstat, Body().u32(n).str("/").raw(times)), n),
            kFxPermissionDenied);
  std::string rh = OpenDir("/");
  ++n;
  EXPECT_EQ(StatusOf(Packet(kFxpFsetstat, Body().u32(n).str(rh).raw(perms(0000))), n),
            kFxPermissionDenied);
  EXPECT_EQ(mode_of("."), root_mode);
  for (uint32_t bad : {0000u, 0500u, 0600u, 0300u, 0077u}) {
    ++n;
    EXPECT_EQ(StatusOf(Packet(kFxpSetstat, Body().u32(n).str("d").raw(perms(bad))), n),
              kFxPermissionDenied)
        << std::oct << bad;
  }
  std::string dh = OpenDir("d");
  ++n;
  EXPECT_EQ(StatusOf(Packet(kFxpFsetstat, Body().u32(n).str(dh).raw(perms(0000))), n),
            kFxPermissionDenied);
  EXPECT_EQ(mode_of("d") & 0700, 0700u);
  ++n;
  EXPECT_EQ(StatusOf(Packet(kFxpSetstat, Body().u32(n).str("d").raw(perms(0705))), n), kFxOk);
  EXPECT_EQ(mode_of("d"), 0705u);
  ++n;
  EXPECT_EQ(StatusOf(Packet(kFxpSetstat, Body().u32(n).str("f").raw(perms(0000))), n), kFxOk);
  EXPECT_EQ(mode_of("f"), 0000u);
  ++n;
  EXPECT_EQ(StatusOf(Packet(kFxpMkdir, Body().u32(n).str("m").raw(perms(0000))), n), kFxOk);
  EXPECT_EQ(mode_of("m") & 0700, 0700u);
}

// READDIR returns batches of at most 100 entries with ls -l longnames, then EOF.
TEST_F(ProcessorTest, ReaddirBatchesAndLongnames) {
  Init();
  for (int i = 0; i < 250; ++i) {
    WriteFile(Host("d/file" + std::to_string(i)), "x");
  }
  WriteFile(Host("d/known"), "1234");
  struct timespec ts[2] = {{0, UTIME_OMIT}, {1781524800, 0}};  // 2026-06-15T12:00:00Z
  ASSERT_EQ(utimensat(AT_FDCWD, Host("d/known").c_str(), ts, 0), 0);
  ASSERT_EQ(chmod(Host("d/known").c_str(), 0640), 0);
  std::string h = OpenDir("d");
  std::set<std::string> names;
  std::string known_long;
  int batches = 0;
  for (uint32_t id = 10;; ++id) {
    Reply r = One(Packet(kFxpReaddir, Body().u32(id).str(h)));
    ASSERT_EQ(r.id(), id);
    if (r.type == kFxpStatus) {
      EXPECT_EQ(r.status(), kFxEof);
      break;
    }
    ASSERT_EQ(r.type, kFxpName);
    ++batches;
    uint32_t count = r.U32At(4);
    EXPECT_LE(count, 100u);
    std::size_t off = 8;
    for (uint32_t i = 0; i < count; ++i) {
      std::string name = r.StrAt(off);
      off += 4 + name.size();
      std::string longname = r.StrAt(off);
      off += 4 + longname.size();
      uint32_t flags = r.U32At(off);
      off += 4 + 8 + 8 + 4 + 8;  // flags, size, uid+gid, perms, atime+mtime
      EXPECT_EQ(flags, kAttrSize | kAttrUidGid | kAttrPermissions | kAttrAcModTime);
      EXPECT_TRUE(longname.ends_with(" " + name)) << longname;
      names.insert(name);
      if (name == "known") {
        known_long = longname;
      }
    }
    EXPECT_EQ(off, r.body.size());
  }
  EXPECT_EQ(batches, 3);
  EXPECT_EQ(names.size(), 253u);  // 250 + known + . + ..
  EXPECT_TRUE(names.count(".") && names.count(".."));
  std::string uid = std::to_string(getuid());
  std::string gid = std::to_string(getgid());
  uid.resize(std::max<std::size_t>(uid.size(), 8), ' ');
  gid.resize(std::max<std::size_t>(gid.size(), 8), ' ');
  EXPECT_EQ(known_long, "-rw-r-----    1 " + uid + " " + gid + "        4 Jun 15 12:00 known");
}

// Tree operations through the protocol: mkdir, rmdir, rename (plain and posix), remove.
TEST_F(ProcessorTest, TreeOperations) {
  Init();
  EXPECT_EQ(StatusOf(Packet(kFxpMkdir, Body().u32(1).str("a").u32(kAttrPermissions).u32(0750)), 1),
            kFxOk);
  struct stat st;
  ASSERT_EQ(stat(Host("a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0750u);
  EXPECT_EQ(StatusOf(Packet(kFxpMkdir, Body().u32(2).str("a").u32(0)), 2), kFxFailure);
  WriteFile(Host("a/x"), "x");
  WriteFile(Host("a/y"), "y");
  EXPECT_EQ(StatusOf(Packet(kFxpRename, Body().u32(3).str("a/x").str("a/y")), 3), kFxFailure);
  EXPECT_EQ(ReadFile(Host("a/y")), "y");
  EXPECT_EQ(StatusOf(Packet(kFxpExtended,
                            Body().u32(4).str("posix-rename@openssh.com").str("a/x").str("a/y")),
                     4),
            kFxOk);
  EXPECT_EQ(ReadFile(Host("a/y")), "x");
  EXPECT_EQ(StatusOf(Packet(kFxpRename, Body().u32(5).str("a/y").str("/z")), 5), kFxOk);
  EXPECT_EQ(StatusOf(PathPacket(kFxpRmdir, 6, "a"), 6), kFxOk);
  EXPECT_EQ(StatusOf(PathPacket(kFxpRemove, 7, "z"), 7), kFxOk);
  EXPECT_EQ(StatusOf(PathPacket(kFxpRemove, 8, "z"), 8), kFxNoSuchFile);
  EXPECT_EQ(StatusOf(PathPacket(kFxpRmdir, 9, "/"), 9), kFxFailure);
  EXPECT_TRUE(fs::is_empty(host_));
}

// SYMLINK takes (target, linkpath) as OpenSSH sends them; READLINK and REALPATH answer NAME.
TEST_F(ProcessorTest, SymlinkReadlinkRealpath) {
  Init();
  WriteFile(Host("dir/f"), "x");
  EXPECT_EQ(StatusOf(Packet(kFxpSymlink, Body().u32(1).str("dir/f").str("link")), 1), kFxOk);
  struct stat st;
  ASSERT_EQ(lstat(Host("link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  Reply rl = One(PathPacket(kFxpReadlink, 2, "link"));
  ASSERT_EQ(rl.type, kFxpName);
  EXPECT_EQ(rl.U32At(4), 1u);
  EXPECT_EQ(rl.StrAt(8), "dir/f");
  Reply rp = One(PathPacket(kFxpRealpath, 3, "."));
  ASSERT_EQ(rp.type, kFxpName);
  EXPECT_EQ(rp.StrAt(8), "/");
  EXPECT_EQ(One(PathPacket(kFxpRealpath, 4, "/dir/../link")).StrAt(8), "/dir/f");
  EXPECT_EQ(One(PathPacket(kFxpRealpath, 5, "")).StrAt(8), "/");
  EXPECT_EQ(StatusOf(PathPacket(kFxpReadlink, 6, "dir/f"), 6), kFxBadMessage);  // EINVAL
}

// hardlink, statvfs, fstatvfs and fsync extensions.
TEST_F(ProcessorTest, Extensions) {
  Init();
  WriteFile(Host("f"), "x");
  EXPECT_EQ(
      StatusOf(Packet(kFxpExtended, Body().u32(1).str("hardlink@openssh.com").str("f").str("g")),
               1),
      kFxOk);
  struct stat st;
  ASSERT_EQ(stat(Host("g").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 2u);
  Reply sv = One(Packet(kFxpExtended, Body().u32(2).str("statvfs@openssh.com").str("/")));
  ASSERT_EQ(sv.type, kFxpExtendedReply);
  EXPECT_EQ(sv.body.size(), 4u + 11 * 8);
  EXPECT_GT(sv.U64At(4), 0u);  // f_bsize
  std::string h = OpenHandle("f", kOpenWrite);
  Reply fsv = One(Packet(kFxpExtended, Body().u32(3).str("fstatvfs@openssh.com").str(h)));
  ASSERT_EQ(fsv.type, kFxpExtendedReply);
  EXPECT_EQ(fsv.U64At(4), sv.U64At(4));
  EXPECT_EQ(StatusOf(Packet(kFxpExtended, Body().u32(4).str("fsync@openssh.com").str(h)), 4),
            kFxOk);
  EXPECT_EQ(StatusOf(Packet(kFxpExtended, Body().u32(5).str("fsync@openssh.com").str("bogus")), 5),
            kFxFailure);
}

// Escape attempts through the protocol are refused and touch nothing outside the root.
TEST_F(ProcessorTest, EscapesAreRefused) {
  Init();
  Reply r = One(Packet(kFxpOpen, Body().u32(1).str("../../outside/secret").u32(kOpenRead).u32(0)));
  EXPECT_EQ(r.status(), kFxNoSuchFile);
  EXPECT_EQ(StatusOf(Packet(kFxpSymlink, Body().u32(2).str("/etc").str("etc")), 2), kFxOk);
  Reply e = One(Packet(kFxpOpen, Body().u32(3).str("etc/passwd").u32(kOpenRead).u32(0)));
  EXPECT_EQ(e.status(), kFxPermissionDenied);
  EXPECT_EQ(StatusOf(Packet(kFxpSymlink, Body().u32(4).str("../../outside").str("out")), 4), kFxOk);
  Reply w =
      One(Packet(kFxpOpen, Body().u32(5).str("out/secret").u32(kOpenWrite | kOpenTrunc).u32(0)));
  EXPECT_EQ(w.status(), kFxPermissionDenied);
  EXPECT_EQ(StatusOf(PathPacket(kFxpRemove, 6, "out/secret"), 6), kFxPermissionDenied);
  EXPECT_EQ(
      StatusOf(Packet(kFxpExtended,
                      Body().u32(7).str("hardlink@openssh.com").str("out/secret").str("stolen")),
               7),
      kFxPermissionDenied);
  EXPECT_EQ(StatusOf(Packet(kFxpRename, Body().u32(8).str("out/secret").str("stolen")), 8),
            kFxPermissionDenied);
  EXPECT_EQ(StatusOf(PathPacket(kFxpOpendir, 9, "out"), 9), kFxPermissionDenied);
  EXPECT_EQ(StatusOf(PathPacket(kFxpRealpath, 10, "out"), 10), kFxPermissionDenied);
  EXPECT_EQ(ReadFile(tmp_.Sub("outside/secret")), "top secret");
  EXPECT_FALSE(fs::exists(Host("stolen")));
}

// A read-only session refuses every writing request at the gate, before any handler runs.
TEST_F(ProcessorTest, ReadOnlyGate) {
  Make(Limits{.read_only = true});
  Init();
  WriteFile(Host("f"), "x");
  EXPECT_EQ(One(Packet(kFxpOpen, Body().u32(1).str("f").u32(kOpenWrite).u32(0))).status(),
            kFxPermissionDenied);
  EXPECT_EQ(
      One(Packet(kFxpOpen, Body().u32(2).str("n").u32(kOpenRead | kOpenCreat).u32(0))).status(),
      kFxPermissionDenied);
  EXPECT_EQ(StatusOf(Packet(kFxpMkdir, Body().u32(3).str("d").u32(0)), 3), kFxPermissionDenied);
  EXPECT_EQ(StatusOf(PathPacket(kFxpRemove, 4, "f"), 4), kFxPermissionDenied);
  EXPECT_EQ(
      StatusOf(
          Packet(kFxpExtended, Body().u32(5).str("posix-rename@openssh.com").str("f").str("g")), 5),
      kFxPermissionDenied);
  std::string h = OpenHandle("f", kOpenRead);
  EXPECT_EQ(One(ReadPacket(6, h, 0, 10)).type, kFxpData);
  EXPECT_TRUE(fs::exists(Host("f")));
  EXPECT_FALSE(fs::exists(Host("d")));
}

// CloseAll closes every handle and counts the files as CLOSE would.
TEST_F(ProcessorTest, CloseAllCountsFiles) {
  Init();
  std::string h = OpenHandle("u", kOpenWrite | kOpenCreat);
  EXPECT_EQ(StatusOf(WritePacket(2, h, 0, "abc"), 2), kFxOk);
  OpenDir("/");
  p_->CloseAll();
  EXPECT_EQ(p_->stats().files_uploaded, 1u);
  EXPECT_EQ(StatusOf(WritePacket(3, h, 0, "abc"), 3), kFxFailure);
}

// Several requests in one buffer get their replies coalesced in order.
TEST_F(ProcessorTest, PipelinedRepliesAreCoalescedInOrder) {
  Init();
  std::string stream;
  for (uint32_t id = 1; id <= 20; ++id) {
    stream += PathPacket(kFxpStat, id, id % 2 ? "/" : "missing");
  }
  auto replies = Send(stream);
  ASSERT_EQ(replies.size(), 20u);
  for (uint32_t id = 1; id <= 20; ++id) {
    EXPECT_EQ(replies[id - 1].id(), id);
    EXPECT_EQ(replies[id - 1].type, id % 2 ? kFxpAttrs : kFxpStatus);
  }
}

// A pipelined stream split at every byte boundary gives the same replies as in one piece.
TEST_F(ProcessorTest, StreamSplitAtEveryByteBoundary) {
  WriteFile(Host("f"), "0123456789");
  ASSERT_EQ(symlink("f", Host("l").c_str()), 0);
  std::string stream = InitPacket();
  stream += PathPacket(kFxpRealpath, 1, "/a/../.");
  stream += PathPacket(kFxpStat, 2, "f");
  stream += PathPacket(kFxpLstat, 3, "l");
  stream += PathPacket(kFxpReadlink, 4, "l");
  stream += Packet(77, Body().u32(5).raw("junk"));
  stream += Packet(kFxpExtended, Body().u32(6).str("limits@openssh.com"));
  stream += Packet(kFxpStat, Body().u32(7).str("f").raw("!"));  // trailing bytes: discarded
  stream += PathPacket(kFxpStat, 8, "missing");
  auto run = [&](const std::vector<std::string_view>& pieces) {
    Make(Limits{});
    std::string out;
    for (std::string_view piece : pieces) {
      Status s = p_->OnData(reinterpret_cast<const uint8_t*>(piece.data()), piece.size(), out);
      EXPECT_TRUE(s);
    }
    return out;
  };
  const std::string whole = run({stream});
  ASSERT_EQ(SplitReplies(whole).size(), 9u);
  for (std::size_t k = 0; k <= stream.size(); ++k) {
    std::string_view s(stream);
    ASSERT_EQ(run({s.substr(0, k), s.substr(k)}), whole) << "split at " << k;
  }
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < stream.size(); ++i) {
    bytes.push_back(std::string_view(stream).substr(i, 1));
  }
  EXPECT_EQ(run(bytes), whole);
}

// Pipelined WRITEs and READs on one handle split at every byte boundary keep the data intact.
TEST_F(ProcessorTest, WritesSplitAtEveryByteBoundary) {
  auto make_stream = [](const std::string& h) {
    return WritePacket(2, h, 0, "alpha") + WritePacket(3, h, 5, "-beta") +
           ReadPacket(4, h, 0, 100) + ClosePacket(5, h);
  };
  const std::size_t total = make_stream(std::string(8, 'h')).size();
  for (std::size_t k = 0; k <= total; ++k) {
    Make(Limits{});
    Init();
    std::string h = OpenHandle("w", kOpenRead | kOpenWrite | kOpenCreat | kOpenTrunc);
    std::string s = make_stream(h);
    ASSERT_EQ(s.size(), total);
    out_.clear();
    ASSERT_TRUE(p_->OnData(reinterpret_cast<const uint8_t*>(s.data()), k, out_));
    ASSERT_TRUE(p_->OnData(reinterpret_cast<const uint8_t*>(s.data()) + k, s.size() - k, out_));
    auto r = SplitReplies(out_);
    ASSERT_EQ(r.size(), 4u) << "split at " << k;
    EXPECT_EQ(r[0].status(), kFxOk);
    EXPECT_EQ(r[1].status(), kFxOk);
    ASSERT_EQ(r[2].type, kFxpData);
    EXPECT_EQ(r[2].StrAt(4), "alpha-beta");
    EXPECT_EQ(r[3].status(), kFxOk);
    EXPECT_EQ(ReadFile(Host("w")), "alpha-beta");
  }
}

// Past Limits.max_output, requests stay buffered until the transport asks again.
TEST_F(ProcessorTest, BackpressureHoldsRequests) {
  std::string h = BoundedSessionReading1MiB();
  std::string stream = Reads(h, 10);
  auto first = Send(stream);
  EXPECT_EQ(first.size(), 2u);  // 2 x 32 KiB reaches 64 KiB
  EXPECT_TRUE(p_->HasPendingRequests());
  std::vector<Reply> all = first;
  int calls = 0;
  while (p_->HasPendingRequests() && calls < 100) {
    auto more = Send("");
    all.insert(all.end(), more.begin(), more.end());
    ++calls;
  }
  EXPECT_EQ(calls, 4);
  ASSERT_EQ(all.size(), 10u);
  for (uint32_t i = 0; i < 10; ++i) {
    EXPECT_EQ(all[i].id(), 100 + i);
    EXPECT_EQ(all[i].type, kFxpData);
  }
  EXPECT_EQ(p_->stats().bytes_out, 10u * 32768);
}

// Consume (the worker's path, on its own buffer) handles only complete packets, copies nothing,
// stops at Limits.max_output, and leaves the rest to the caller, who hands it over again.
TEST_F(ProcessorTest, ConsumeHandlesCompletePacketsAndLeavesTheRest) {
  std::string h = BoundedSessionReading1MiB();
  std::string stream = Reads(h, 4);
  std::string partial = ReadPacket(104, h, 4 * 32768, 32768);
  stream += partial.substr(0, partial.size() - 1);  // its last byte has not come yet
  auto consume = [&](std::size_t from) {
    out_.clear();
    Result<std::size_t> used = p_->Consume(reinterpret_cast<const uint8_t*>(stream.data()) + from,
                                           stream.size() - from, out_);
    EXPECT_TRUE(used) << (used ? "" : used.error().ToString());
    return used.value_or(0);
  };
  const std::size_t one = ReadPacket(0, h, 0, 0).size();
  EXPECT_EQ(consume(0), 2 * one);  // 2 x 32 KiB of replies reach 64 KiB
  EXPECT_EQ(out_.size(), 2 * (32768 + 13u));
  EXPECT_EQ(consume(2 * one), 2 * one);
  EXPECT_EQ(consume(4 * one), 0u);  // a partial packet: nothing handled, nothing answered
  EXPECT_TRUE(out_.empty());
  EXPECT_FALSE(p_->HasPendingRequests());  // nothing was copied into the processor
  stream = partial;                        // the caller hands it over whole
  EXPECT_EQ(consume(0), partial.size());
  EXPECT_EQ(p_->stats().bytes_out, 5u * 32768);
}

// Consume checks a frame's length as soon as its 4 bytes are there; a session fed with OnData
// cannot switch to Consume while OnData holds bytes (they would come first).
TEST_F(ProcessorTest, ConsumeKeepsTheFrameChecks) {
  Init();
  std::string oversize = Body().u32(static_cast<uint32_t>(kMaxPacket + 1)).bytes();
  out_.clear();
  EXPECT_FALSE(p_->Consume(reinterpret_cast<const uint8_t*>(oversize.data()), 4, out_));
  Make(Limits{});
  Init();
  std::string stat = PathPacket(kFxpStat, 7, "/");
  out_.clear();
  ASSERT_TRUE(SendBad(stat.substr(0, 5)));  // OnData holds a partial packet
  EXPECT_FALSE(p_->Consume(reinterpret_cast<const uint8_t*>(stat.data()), stat.size(), out_));
  EXPECT_FALSE(SendBad(stat.substr(5)));  // and the session has ended
}

// errno maps to SFTP status as OpenSSH's errno_to_portable, with EXDEV as a refusal.
TEST(StatusTest, ErrnoToStatus) {
  EXPECT_EQ(ErrnoToStatus(0), kFxOk);
  EXPECT_EQ(ErrnoToStatus(ENOENT), kFxNoSuchFile);
  EXPECT_EQ(ErrnoToStatus(ELOOP), kFxNoSuchFile);
  EXPECT_EQ(ErrnoToStatus(EACCES), kFxPermissionDenied);
  EXPECT_EQ(ErrnoToStatus(EXDEV), kFxPermissionDenied);
  EXPECT_EQ(ErrnoToStatus(EINVAL), kFxBadMessage);
  EXPECT_EQ(ErrnoToStatus(ENOSYS), kFxOpUnsupported);
  EXPECT_EQ(ErrnoToStatus(EEXIST), kFxFailure);
  EXPECT_EQ(StatusFor(Error::NotFound("x")), kFxNoSuchFile);
  EXPECT_EQ(StatusFor(Error::Internal("x")), kFxFailure);
}

// What an observer is told, request by request.
class RecordingObserver final : public RequestObserver {
 public:
  void OnRequest(const RequestOutcome& o) noexcept override { seen.push_back(o); }
  void OnHandlesClosed(int count) noexcept override { closed += count; }
  std::vector<RequestOutcome> seen;
  int closed = 0;
};

// The dispatch point tells the observer each request's type, reply status, bytes and handle
// change (INIT is no request); handles left open are reported closed when the processor goes.
TEST_F(ProcessorTest, ObserverSeesEveryRequestOnce) {
  RecordingObserver obs;
  auto root = files::AccountRoot::Open(tmp_.Sub("storage"), id_);
  ASSERT_TRUE(root);
  p_ = std::make_unique<Processor>(std::move(*root), Limits{}, GetLogger("sftp"), "[t1]", clock_,
                                   &obs);
  Init();
  std::string h = OpenHandle("up.bin", kOpenWrite | kOpenCreat);
  EXPECT_EQ(StatusOf(WritePacket(2, h, 0, "hello"), 2), kFxOk);
  EXPECT_EQ(StatusOf(PathPacket(kFxpStat, 3, "missing"), 3), kFxNoSuchFile);
  EXPECT_EQ(StatusOf(Packet(99, Body().u32(4)), 4), kFxOpUnsupported);
  std::string r = OpenHandle("up.bin", kOpenRead, 5);
  ASSERT_EQ(One(ReadPacket(6, r, 0, 100)).type, kFxpData);
  EXPECT_EQ(StatusOf(ClosePacket(7, r), 7), kFxOk);
  ASSERT_EQ(obs.seen.size(), 7u);
  EXPECT_EQ(obs.seen[0].type, kFxpOpen);
  EXPECT_EQ(obs.seen[0].status, kFxOk);
  EXPECT_EQ(obs.seen[0].handles_delta, 1);
  EXPECT_EQ(obs.seen[1].type, kFxpWrite);
  EXPECT_EQ(obs.seen[1].bytes_in, 5u);
  EXPECT_EQ(obs.seen[2].status, kFxNoSuchFile);
  EXPECT_EQ(obs.seen[3].type, 99);
  EXPECT_EQ(obs.seen[3].status, kFxOpUnsupported);
  EXPECT_EQ(obs.seen[5].type, kFxpRead);
  EXPECT_EQ(obs.seen[5].bytes_out, 5u);
  EXPECT_EQ(obs.seen[6].handles_delta, -1);
  EXPECT_EQ(obs.closed, 0);
  p_.reset();  // the write handle was never closed
  EXPECT_EQ(obs.closed, 1);
  EXPECT_EQ(RequestTypeName(kFxpWrite), "write");
  EXPECT_EQ(RequestTypeName(kFxpExtended), "extended");
  EXPECT_EQ(RequestTypeName(99), "");
}

}  // namespace
}  // namespace sftplc::sftp
