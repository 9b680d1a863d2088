// Purge and erasure of whatever tree a client leaves behind, on both backends, with the file
// system work done as the service user would do it: the thread that sweeps has no
// CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH or CAP_FOWNER (capabilities are per thread), so file
// modes apply to it as to a non-root sftpd.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "sftpd/core/base/calendar.h"
#include "sftpd/core/files/storage_root.h"
#include "sftpd/core/lifecycle/retention.h"
#include "sftpd/core/lifecycle/runner.h"
#include "tests/core/lifecycle/lifecycle_fixture.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/service_user.h"
#include "tests/testing/temp_dir.h"

namespace sftplc::lifecycle {
namespace {

using testing::MkdirAt;
using testing::OnThreadWithoutDacCapabilities;
using testing::T;
using testing::TouchAt;

bool Exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

class PurgeTest : public ::testing::TestWithParam<db::Backend> {
 protected:
  void SetUp() override {
    env_ = testing::LifecycleEnv::Create(GetParam(), "lifecycle_purge");
    if (!env_) {
      if (GetParam() == db::Backend::kPostgresql && testing::SkipAllowed()) {
        GTEST_SKIP() << "no PostgreSQL test server (SFTPLC_TEST_PG_URL)";
      }
      GTEST_FAIL() << "no test database";
    }
    outside_ = env_->storage.Sub("outside.txt");
    int fd = open(outside_.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, "keep", 4), 4);
    close(fd);
  }
  void TearDown() override {
    if (env_) {
      unlink(outside_.c_str());
    }
  }

  std::string Folder(const AccountId& id) const { return env_->storage.Sub(id.str()); }

  // An account closed on request on 2026-01-10, so that its purge is due on 2026-02-10.
  AccountId ClosedAccount() {
    AccountId id = env_->AddAccount(T("2026-01-01"), false);
    env_->Close(id, T("2026-01-10"));
    return id;
  }

  // Sweeps at `now` on a thread without the DAC capabilities.
  SweepReport SweepAsServiceUser(TimePoint now) {
    SweepReport report;
    OnThreadWithoutDacCapabilities(env_->storage.Sub(".probe"), [&] {
      auto r = env_->runner->RunOnce(now);
      ASSERT_TRUE(r) << r.error().ToString();
      report = *r;
    });
    return report;
  }

  // Purges the account (due at this time) as the service user and checks that nothing of its
  // folder is left anywhere under the storage root, and that nothing outside was touched.
  void ExpectPurged(const AccountId& id) {
    SweepReport r = SweepAsServiceUser(T("2026-02-12"));
    EXPECT_EQ(r.purged, 1);
    EXPECT_TRUE(r.failures.empty()) << r.failures.front().last_error;
    EXPECT_FALSE(env_->Get(id));
    EXPECT_FALSE(Exists(Folder(id)));
    auto trash = files::StorageRoot(env_->cfg.storage.root).ListTrash();
    ASSERT_TRUE(trash);
    EXPECT_TRUE(trash->empty());
    struct stat st {};
    ASSERT_EQ(lstat(outside_.c_str(), &st), 0) << "a file outside the account was removed";
    EXPECT_EQ(st.st_size, 4);
  }

  std::unique_ptr<testing::LifecycleEnv> env_;
  std::string outside_;
};

// chmod 000 on the account's folder, on folders and files inside it, and folders a client
// made unreadable or unwritable: the purge, run without root's bypass, removes all of it.
TEST_P(PurgeTest, RemovesFoldersAndFilesOfAnyMode) {
  AccountId id = ClosedAccount();
  int root = open(Folder(id).c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(root, 0);
  for (mode_t mode : {0000, 0100, 0200, 0300, 0400, 0500, 0600}) {
    std::string name = "m" + std::to_string(mode);
    int d = MkdirAt(root, name.c_str());
    TouchAt(d, "f", "data", 0000);
    int sub = MkdirAt(d, "sub");
    TouchAt(sub, "g");
    fchmod(sub, 0000);
    close(sub);
    fchmod(d, mode);
    close(d);
  }
  TouchAt(root, "nomode", "x", 0000);
  fchmod(root, 0000);
  close(root);
  ExpectPurged(id);
  auto receipt = env_->runner->GetReceipt(id);
  ASSERT_TRUE(receipt && *receipt);
  // 7 folders x (f + g) + nomode + the fixture's file.
  EXPECT_EQ((*receipt)->files_deleted, 16);
}

// A chain 10,000 folders deep (paths far beyond PATH_MAX) goes with bounded stack and memory.
TEST_P(PurgeTest, RemovesTenThousandFoldersDeep) {
  AccountId id = ClosedAccount();
  int fd = open(Folder(id).c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  for (int i = 0; i < 10000; ++i) {
    int next = MkdirAt(fd, "d");
    if (i % 1000 == 0) {
      TouchAt(next, "f");
    }
    if (i % 7 == 0) {
      fchmod(next, 0000);  // a client's chmod deep down
    }
    close(fd);
    fd = next;
  }
  close(fd);
  ExpectPurged(id);
}

// Names of any bytes (not UTF-8, newlines, control characters, a leading dash), symbolic links
// (to "/", to a file outside the account, in a loop, dangling) and a hardlink to a file outside
// the account's folder: links are removed, never followed; the linked file outside stays.
TEST_P(PurgeTest, RemovesOddNamesAndLinksWithoutFollowingThem) {
  AccountId id = ClosedAccount();
  int root = open(Folder(id).c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(root, 0);
  TouchAt(root, "\xff\xfe not utf-8");
  TouchAt(root, "line\nbreak\r\x01\x1b[2J");
  TouchAt(root, "-rf");
  int d = MkdirAt(root, "\xc3\x28 folder\n");
  ASSERT_EQ(symlinkat("/", d, "to-root"), 0);
  ASSERT_EQ(symlinkat(outside_.c_str(), d, "to-outside"), 0);
  ASSERT_EQ(symlinkat(".", d, "loop"), 0);
  ASSERT_EQ(symlinkat("..", d, "up"), 0);
  ASSERT_EQ(symlinkat("nowhere", d, "dangling"), 0);
  ASSERT_EQ(linkat(AT_FDCWD, outside_.c_str(), d, "hardlink", 0), 0);
  ASSERT_EQ(linkat(d, "hardlink", root, "hardlink2", 0), 0);
  close(d);
  close(root);
  ExpectPurged(id);
  struct stat st {};
  ASSERT_EQ(lstat(outside_.c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 1u);
}

// A file a live session still holds open (and writes to) is removed all the same.
TEST_P(PurgeTest, RemovesAFileHeldOpen) {
  AccountId id = ClosedAccount();
  std::string path = Folder(id) + "/open.bin";
  int fd = open(path.c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "partial", 7), 7);
  ExpectPurged(id);
  EXPECT_EQ(write(fd, "more", 4), 4);  // the session's descriptor still works, on nothing
  close(fd);
}

// An erasure request works on the same hostile tree: the operator's way out.
TEST_P(PurgeTest, ErasureRemovesAHostileTree) {
  AccountId id = env_->AddAccount(T("2026-01-01"), true);
  int fd = open(Folder(id).c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  for (int i = 0; i < 500; ++i) {
    int next = MkdirAt(fd, "\n");
    fchmod(next, 0000);
    close(fd);
    fd = next;
  }
  close(fd);
  chmod(Folder(id).c_str(), 0000);
  OnThreadWithoutDacCapabilities(env_->storage.Sub(".probe"), [&] {
    auto r = env_->runner->EraseNow(id, T("2026-01-02"), "admin:test");
    ASSERT_TRUE(r) << r.error().ToString();
    EXPECT_EQ(r->files_deleted, 1);
  });
  EXPECT_FALSE(env_->Get(id));
  EXPECT_FALSE(Exists(Folder(id)));
  EXPECT_EQ(env_->CountFor("consent_events", id), 0);
}

// A crash between the purge's commit and the removal of its trash leaves only trash, which the
// next sweep removes; the receipt then counts the files.
TEST_P(PurgeTest, NextSweepFinishesTrashLeftByACrash) {
  AccountId id = ClosedAccount();
  files::StorageRoot storage(env_->cfg.storage.root);
  // What a crash leaves: the rows gone (erasure of the rows only is not possible from here, so
  // the folder is moved to the trash by hand after a purge that found no folder).
  std::string saved = env_->storage.Sub("saved");
  ASSERT_EQ(rename(Folder(id).c_str(), saved.c_str()), 0);
  SweepReport first = SweepAsServiceUser(T("2026-02-12"));
  EXPECT_EQ(first.purged, 1);
  ASSERT_EQ(mkdir(env_->storage.Sub(".trash").c_str(), 0700) == 0 || errno == EEXIST, true);
  std::string entry = id.str() + "." + std::to_string(ToUnix(T("2026-02-12")));
  ASSERT_EQ(rename(saved.c_str(), env_->storage.Sub(".trash/" + entry).c_str()), 0);
  auto before = BuildRetentionReport(*env_->db, env_->cfg, T("2026-02-20"));
  ASSERT_TRUE(before);
  bool listed = false;
  for (const auto& e : before->entries) {
    listed = listed || (e.record == "trash" && e.account_id == id && e.status == "overdue");
  }
  EXPECT_TRUE(listed) << "trash older than one sweep interval is not in the report";
  SweepReport second = SweepAsServiceUser(T("2026-02-20"));
  EXPECT_EQ(second.trash_removed, 1);
  auto trash = storage.ListTrash();
  ASSERT_TRUE(trash);
  EXPECT_TRUE(trash->empty());
  auto receipt = env_->runner->GetReceipt(id);
  ASSERT_TRUE(receipt && *receipt);
  EXPECT_EQ((*receipt)->files_deleted, 1);
}

// Sets or clears the immutable attribute (only root can: CAP_LINUX_IMMUTABLE).
bool SetImmutable(const std::string& path, bool on) {
  int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  int flags = 0;
  bool ok = ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
  flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
  ok = ok && ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
  close(fd);
  return ok;
}

// Failure isolation: one account whose folder cannot be moved (immutable) and one with an
// immutable file inside do not stop the ten others due in the same sweep. Both are reported,
// with the reason, in the sweep and in the retention report, retried with backoff, and purged
// by the first sweep after the cause is gone.
TEST_P(PurgeTest, FailingAccountsDoNotStopTheOthers) {
  AccountId stuck = ClosedAccount();
  AccountId sticky = ClosedAccount();
  std::vector<AccountId> others;
  for (int i = 0; i < 10; ++i) {
    others.push_back(ClosedAccount());
  }
  const std::string inner = Folder(sticky) + "/inbox/report.pdf";
  if (!SetImmutable(Folder(stuck), true) || !SetImmutable(inner, true)) {
    GTEST_SKIP() << "the file system of the test folder has no immutable attribute";
  }
  SweepReport r = SweepAsServiceUser(T("2026-02-12"));
  SetImmutable(Folder(stuck), false);
  bool cleared_inner = false;
  // The sticky account's folder is in the trash now: find its file there to clear it later.
  EXPECT_EQ(r.purged, 11);  // the ten and the sticky one (rows gone, files left in the trash)
  for (const AccountId& id : others) {
    EXPECT_FALSE(env_->Get(id));
    EXPECT_FALSE(Exists(Folder(id)));
  }
  ASSERT_EQ(r.failures.size(), 2u);
  EXPECT_GT(r.errors, 0);
  auto stuck_row = env_->Get(stuck);
  ASSERT_TRUE(stuck_row);
  EXPECT_EQ(stuck_row->state, accounts::AccountState::kClosed);
  auto report = BuildRetentionReport(*env_->db, env_->cfg, T("2026-02-12T01:00:00Z"));
  ASSERT_TRUE(report);
  int failed = 0;
  for (const auto& e : report->entries) {
    if (e.status == "failed" && (e.account_id == stuck || e.account_id == sticky)) {
      ++failed;
      EXPECT_NE(e.note.find("Operation not permitted"), std::string::npos) << e.note;
    }
  }
  EXPECT_EQ(failed, 2);
  // Retried, with backoff: not within the backoff, then after it.
  SetImmutable(Folder(stuck), true);
  SweepReport again = SweepAsServiceUser(T("2026-02-12T00:01:00Z"));
  EXPECT_TRUE(again.failures.empty());
  SetImmutable(Folder(stuck), false);
  auto trash = files::StorageRoot(env_->cfg.storage.root).ListTrash();
  ASSERT_TRUE(trash);
  for (const auto& t : *trash) {
    cleared_inner =
        cleared_inner ||
        SetImmutable(env_->storage.Sub(".trash/" + t.name + "/inbox/report.pdf"), false);
  }
  EXPECT_TRUE(cleared_inner);
  SweepReport fixed = SweepAsServiceUser(T("2026-02-13"));
  EXPECT_TRUE(fixed.failures.empty());
  EXPECT_EQ(fixed.purged, 1);
  EXPECT_EQ(fixed.trash_removed, 1);
  EXPECT_FALSE(env_->Get(stuck));
  EXPECT_FALSE(Exists(Folder(stuck)));
  auto after = BuildRetentionReport(*env_->db, env_->cfg, T("2026-02-13T01:00:00Z"));
  ASSERT_TRUE(after);
  for (const auto& e : after->entries) {
    EXPECT_NE(e.status, "failed") << e.record << " " << e.account_id.str() << " " << e.note;
  }
  EXPECT_EQ(env_->Count("SELECT COUNT(*) FROM sweep_failures"), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, PurgeTest,
                         ::testing::Values(db::Backend::kSqlite, db::Backend::kPostgresql),
                         [](const auto& info) {
                           return info.param == db::Backend::kSqlite ? "sqlite" : "postgresql";
                         });

// A million entries in one account's folder, removed by the purge walk as the service user
// (label "slow": about a minute on a shared 2-core machine). Both backends.
class PurgeLargeTest : public PurgeTest {};

TEST_P(PurgeLargeTest, RemovesAMillionEntries) {
  AccountId id = ClosedAccount();
  int root = open(Folder(id).c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(root, 0);
  // 1,000 folders of 1,000 empty files: fast to make (mknodat), the same walk as one folder.
  for (int i = 0; i < 1000; ++i) {
    int d = MkdirAt(root, std::to_string(i).c_str());
    for (int j = 0; j < 999; ++j) {
      ASSERT_EQ(mknodat(d, std::to_string(j).c_str(), S_IFREG | 0600, 0), 0);
    }
    close(d);
  }
  close(root);
  ExpectPurged(id);
  auto receipt = env_->runner->GetReceipt(id);
  ASSERT_TRUE(receipt && *receipt);
  EXPECT_EQ((*receipt)->files_deleted, 999000 + 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, PurgeLargeTest,
                         ::testing::Values(db::Backend::kSqlite, db::Backend::kPostgresql),
                         [](const auto& info) {
                           return info.param == db::Backend::kSqlite ? "sqlite" : "postgresql";
                         });

}  // namespace
}  // namespace sftplc::lifecycle
