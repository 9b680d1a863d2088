#include "sftpd/server/sftp/splice_sender.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "sftpd/server/sftp/processor.h"
#include "sftpd/server/sftp/protocol.h"
#include "tests/server/sftp/sftp_wire.h"
#include "tests/testing/service_user.h"
#include "tests/testing/temp_dir.h"

namespace sftplc::sftp {
namespace {

namespace fs = std::filesystem;
using sftplc::testing::TempDir;
using sftplc::testing::WriteFile;
using testing::Body;
using testing::InitPacket;
using testing::Packet;

// Bytes that differ at every offset a test reads from.
std::string Pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>((i * 7 + i / 251) & 0xff);
  }
  return s;
}

// A socket pair whose far end is read to EOF by a thread: what the sender under test sent.
class SpliceSenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);  // as the worker: a gone reader is EPIPE, not a signal
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    near_ = files::UniqueFd(sv[0]);
    far_ = files::UniqueFd(sv[1]);
  }
  void TearDown() override { Received(); }

  void StartReading() {
    reader_ = std::thread([this] {
      char buf[65536];
      ssize_t n;
      while ((n = read(far_.get(), buf, sizeof(buf))) > 0) {
        received_.append(buf, static_cast<std::size_t>(n));
      }
    });
  }
  // Closes the near end and returns everything the far end read.
  const std::string& Received() {
    near_.reset();
    if (reader_.joinable()) {
      reader_.join();
    }
    return received_;
  }
  files::UniqueFd OpenFile(const std::string& content) {
    std::string path = tmp_.Sub("f");
    WriteFile(path, content);
    return files::UniqueFd(open(path.c_str(), O_RDWR | O_CLOEXEC));
  }

  TempDir tmp_;
  files::UniqueFd near_;
  files::UniqueFd far_;
  std::thread reader_;
  std::string received_;
};

TEST_F(SpliceSenderTest, SendsTheRepliesBeforeItThenTheStagedBytes) {
  const std::string content = Pattern(10000);
  files::UniqueFd f = OpenFile(content);
  SpliceSender sender(near_.get());
  ASSERT_TRUE(sender.pipe_status());
  StartReading();
  ASSERT_EQ(sender.Stage(f.get(), 100, 5000), 5000);
  std::string out = "replies and a header";
  ASSERT_TRUE(sender.Send(out));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(Received(), "replies and a header" + content.substr(100, 5000));
  EXPECT_EQ(sender.error(), 0);
}

TEST_F(SpliceSenderTest, StagesAWholeLongestReadThatStartsWithinAPage) {
  // kMaxReadLength from offset 1 spans one page more than its length.
  const std::string content = Pattern(2 * kMaxReadLength);
  files::UniqueFd f = OpenFile(content);
  SpliceSender sender(near_.get());
  StartReading();
  ASSERT_EQ(sender.Stage(f.get(), 1, kMaxReadLength), static_cast<int64_t>(kMaxReadLength));
  std::string out;
  ASSERT_TRUE(sender.Send(out));
  EXPECT_EQ(Received(), content.substr(1, kMaxReadLength));
}

TEST_F(SpliceSenderTest, StagesNothingAtTheEndOfTheFile) {
  files::UniqueFd f = OpenFile("abc");
  SpliceSender sender(near_.get());
  EXPECT_EQ(sender.Stage(f.get(), 3, 100), 0);
  EXPECT_EQ(sender.Stage(f.get(), 1000, 100), 0);
  EXPECT_EQ(sender.Stage(f.get(), 1, 100), 2);
}

// Another session of the account truncates the file while this one reads it: the bytes staged
// still all go, so the stream keeps the length its DATA header stated.
TEST_F(SpliceSenderTest, AFileThatShrinksAfterStagingStillSendsWhatWasStaged) {
  files::UniqueFd f = OpenFile(Pattern(65536));
  SpliceSender sender(near_.get());
  StartReading();
  ASSERT_EQ(sender.Stage(f.get(), 0, 65536), 65536);
  ASSERT_EQ(ftruncate(f.get(), 0), 0);
  std::string out = "header";
  ASSERT_TRUE(sender.Send(out));
  EXPECT_EQ(Received().size(), 6u + 65536u);
}

TEST_F(SpliceSenderTest, AGoneReaderFailsTheSendWithEpipe) {
  files::UniqueFd f = OpenFile(Pattern(8192));
  SpliceSender sender(near_.get());
  far_.reset();
  ASSERT_EQ(sender.Stage(f.get(), 0, 8192), 8192);
  std::string out;
  EXPECT_FALSE(sender.Send(out));
  EXPECT_EQ(sender.error(), EPIPE);
  EXPECT_FALSE(sender.Write("more"));
}

TEST_F(SpliceSenderTest, ADescriptorThatCannotBeSplicedAnswersEinval) {
  files::UniqueFd dir(open(tmp_.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  SpliceSender sender(near_.get());
  EXPECT_EQ(sender.Stage(dir.get(), 0, 100), -EINVAL);
}

// The service user's pipes hold fs.pipe-user-pages-soft pages (128 workers' pipes at the
// default): a worker started then gets no pipe of its size, says why, and copies.
TEST_F(SpliceSenderTest, PastTheUsersPipeQuotaTheDataIsCopied) {
  const sftplc::testing::ServiceUser& user = sftplc::testing::TestServiceUser();
  files::UniqueFd f = OpenFile(Pattern(4096));
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // As the service user (whose quota this is), without gtest: exit codes say what failed.
    if (user.drop && !sftplc::testing::DropToServiceUserInChild(user)) {
      _exit(10);
    }
    rlimit fds{4096, 4096};
    setrlimit(RLIMIT_NOFILE, &fds);
    bool full = false;
    for (int i = 0; i < 2000 && !full; ++i) {  // keeps every pipe open until the end
      int p[2];
      if (pipe2(p, O_CLOEXEC) != 0) {
        _exit(11);
      }
      full = fcntl(p[1], F_SETPIPE_SZ, 2 * static_cast<int>(kMaxReadLength)) < 0;
    }
    if (!full) {
      _exit(12);  // no quota reached: nothing to check
    }
    SpliceSender sender(near_.get());
    if (sender.pipe_status()) {
      _exit(13);
    }
    if (sender.pipe_status().error().message().find("pipe-user-pages-soft") == std::string::npos) {
      _exit(14);
    }
    _exit(sender.Stage(f.get(), 0, 4096) == -EINVAL ? 0 : 15);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 12) {
    GTEST_SKIP() << "fs.pipe-user-pages-soft is 0 or above what 2,000 pipes reach";
  }
  EXPECT_EQ(WEXITSTATUS(status), 0) << "see the _exit codes in the child";
}

// A processor with a SpliceSender, and one without, answer the same requests with the same bytes.
class ProcessorWithSenderTest : public SpliceSenderTest {
 protected:
  std::unique_ptr<Processor> Make(DataSender* sender) {
    fs::create_directories(tmp_.Sub("storage"));
    auto root = files::AccountRoot::Open(tmp_.Sub("storage"), id_);
    EXPECT_TRUE(root);
    return std::make_unique<Processor>(std::move(*root), Limits{}, GetLogger("sftp"), "[t1]",
                                       SystemClock::Instance(), nullptr, sender);
  }
  std::string Host(const std::string& rel) const {
    return tmp_.Sub("storage/" + id_.str() + "/" + rel);
  }
  // INIT and OPEN of "f" for reading (their replies are in `out`, not sent): the handle.
  static std::string OpenF(Processor& p, std::string& out) {
    std::string requests =
        InitPacket() + Packet(kFxpOpen, Body().u32(1).str("f").u32(kOpenRead).u32(0));
    EXPECT_TRUE(p.OnData(Bytes(requests), requests.size(), out));
    bool ok = false;
    auto replies = testing::SplitReplies(out, &ok);
    EXPECT_TRUE(ok && replies.size() == 2 && replies[1].type == kFxpHandle);
    return replies.size() == 2 ? replies[1].StrAt(4) : std::string();
  }
  static std::string Read(uint32_t id, const std::string& h, uint64_t off, uint32_t len) {
    return Packet(kFxpRead, Body().u32(id).str(h).u64(off).u32(len));
  }
  static const uint8_t* Bytes(const std::string& s) {
    return reinterpret_cast<const uint8_t*>(s.data());
  }

  AccountId id_ = AccountId::New();
};

TEST_F(ProcessorWithSenderTest, AnswersByteForByteAsTheCopyingProcessor) {
  const std::string content = Pattern(3 * kMaxReadLength + 123);
  WriteFile(Host("f"), content);
  // Whole reads, one past the longest, unaligned ones, the tail, past the end; then a STATUS.
  const std::vector<std::pair<uint64_t, uint32_t>> reads = {
      {0, 32768},    {32768, kMaxReadLength + 1}, {1, 4095},
      {4097, 65536}, {3 * kMaxReadLength, 4096},  {content.size(), 10},
      {1u << 30, 1}};
  auto session = [&](Processor& p, std::string& out) {
    std::string h = OpenF(p, out);
    std::string more;
    for (std::size_t i = 0; i < reads.size(); ++i) {
      more += Read(10 + static_cast<uint32_t>(i), h, reads[i].first, reads[i].second);
    }
    more += Packet(kFxpFstat, Body().u32(20).str("no such handle")) +
            Packet(kFxpClose, Body().u32(21).str(h));
    EXPECT_TRUE(p.OnData(Bytes(more), more.size(), out));
  };
  auto copying = Make(nullptr);
  std::string expected;
  session(*copying, expected);

  SpliceSender sender(near_.get());
  auto splicing = Make(&sender);
  StartReading();
  std::string out;
  session(*splicing, out);
  ASSERT_TRUE(sender.Write(out));
  // The same replies, but for the handle (random per session).
  bool ok_expected = false;
  bool ok_received = false;
  auto want = testing::SplitReplies(expected, &ok_expected);
  auto got = testing::SplitReplies(Received(), &ok_received);
  ASSERT_TRUE(ok_expected && ok_received);
  ASSERT_EQ(got.size(), want.size());
  ASSERT_EQ(got.size(), 2 + reads.size() + 2);
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].type, want[i].type) << "reply " << i;
    if (got[i].type != kFxpHandle) {
      EXPECT_TRUE(got[i].body == want[i].body) << "reply " << i;  // no dump of 255 KiB
    }
  }
  EXPECT_EQ(got[3].type, kFxpData);
  EXPECT_EQ(got[3].StrAt(4).size(), kMaxReadLength);
  EXPECT_EQ(splicing->stats().bytes_out, copying->stats().bytes_out);
  EXPECT_GT(splicing->stats().bytes_out, kMaxReadLength);
}

TEST_F(ProcessorWithSenderTest, AFailedSendEndsTheSession) {
  SpliceSender sender(near_.get());
  auto p = Make(&sender);
  WriteFile(Host("f"), Pattern(4096));
  std::string out;
  std::string h = OpenF(*p, out);
  far_.reset();
  std::string requests = Read(2, h, 0, 4096) + Packet(kFxpStat, Body().u32(3).str("f"));
  EXPECT_FALSE(p->OnData(Bytes(requests), requests.size(), out));
  EXPECT_EQ(sender.error(), EPIPE);
  out.clear();
  std::string stat = Packet(kFxpStat, Body().u32(4).str("f"));
  EXPECT_FALSE(p->OnData(Bytes(stat), stat.size(), out));
  EXPECT_TRUE(out.empty());
}

// A sender that cannot take the file (Stage answers -EINVAL) leaves the READ to the copy.
class RefusingSender final : public DataSender {
 public:
  int64_t Stage(int, uint64_t, std::size_t) override { return -EINVAL; }
  bool Send(std::string&) override {
    ADD_FAILURE() << "Send after a refused Stage";
    return false;
  }
};

TEST_F(ProcessorWithSenderTest, AFileTheSenderCannotTakeIsCopied) {
  RefusingSender refusing;
  auto p = Make(&refusing);
  WriteFile(Host("f"), "hello");
  std::string out;
  std::string h = OpenF(*p, out);
  std::string read = Read(2, h, 0, 100);
  ASSERT_TRUE(p->OnData(Bytes(read), read.size(), out));
  bool ok = false;
  auto replies = testing::SplitReplies(out, &ok);
  ASSERT_TRUE(ok);
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[2].type, kFxpData);
  EXPECT_EQ(replies[2].StrAt(4), "hello");
}

}  // namespace
}  // namespace sftplc::sftp
