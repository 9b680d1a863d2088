#include "sftpd/core/files/account_root.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "tests/testing/temp_dir.h"

namespace sftplc::files {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

// Layout: <tmp>/storage/<id> is the account root; <tmp>/outside holds what must stay untouched.
class AccountRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(tmp_.Sub("storage"));
    WriteFile(tmp_.Sub("outside/secret"), "top secret");
    WriteFile(tmp_.Sub("storage/neighbour"), "other account");
    auto r = AccountRoot::Open(tmp_.Sub("storage"), id_);
    ASSERT_TRUE(r) << r.error().ToString();
    root_ = std::move(*r);
    host_ = tmp_.Sub("storage/" + id_.str());
  }

  std::string Host(const std::string& rel) const { return host_ + "/" + rel; }
  // Everything outside the root is as SetUp left it.
  void ExpectOutsideUntouched() {
    EXPECT_EQ(ReadFile(tmp_.Sub("outside/secret")), "top secret");
    EXPECT_EQ(ReadFile(tmp_.Sub("storage/neighbour")), "other account");
    size_t outside = 0;
    for (auto& e : fs::directory_iterator(tmp_.Sub("outside"))) {
      (void)e;
      ++outside;
    }
    EXPECT_EQ(outside, 1u);
    size_t storage = 0;
    for (auto& e : fs::directory_iterator(tmp_.Sub("storage"))) {
      (void)e;
      ++storage;
    }
    EXPECT_EQ(storage, 2u);  // the account folder and the neighbour file
    for (const char* p : {"/tmp/stolen", "/tmp/evil"}) {
      EXPECT_FALSE(fs::exists(fs::symlink_status(p)));
    }
  }
  static int Errno(const Error& e) { return e.sys_errno(); }

  TempDir tmp_;
  AccountId id_ = AccountId::New();
  std::unique_ptr<AccountRoot> root_;
  std::string host_;
};

std::string ReadAll(int fd) {
  std::string s;
  char buf[4096];
  ssize_t n;
  while ((n = pread(fd, buf, sizeof buf, static_cast<off_t>(s.size()))) > 0) {
    s.append(buf, static_cast<size_t>(n));
  }
  return s;
}

// Open creates the account folder with mode 0700 and reopens it the next time.
TEST_F(AccountRootTest, OpenCreatesFolder0700) {
  struct stat st;
  ASSERT_EQ(lstat(host_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  WriteFile(Host("kept"), "x");
  auto again = AccountRoot::Open(tmp_.Sub("storage"), id_);
  ASSERT_TRUE(again);
  EXPECT_TRUE((*again)->Stat("/kept"));
}

// An account folder that is a symlink (to anywhere) is refused.
TEST_F(AccountRootTest, OpenRefusesSymlinkedAccountFolder) {
  AccountId other = AccountId::New();
  ASSERT_EQ(symlink(tmp_.Sub("outside").c_str(), tmp_.Sub("storage/" + other.str()).c_str()), 0);
  auto r = AccountRoot::Open(tmp_.Sub("storage"), other);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_FALSE(AccountRoot::Open(tmp_.Sub("missing-storage"), other));
  EXPECT_FALSE(AccountRoot::Open(tmp_.Sub("storage"), AccountId()));
}

// Lexical normalisation keeps ".." at the root, drops "." and empty parts, and refuses NUL.
TEST(NormalizeClientPathTest, NormalisesLexically) {
  EXPECT_EQ(*NormalizeClientPath("/"), "");
  EXPECT_EQ(*NormalizeClientPath(""), "");
  EXPECT_EQ(*NormalizeClientPath("."), "");
  EXPECT_EQ(*NormalizeClientPath("../../etc/passwd"), "etc/passwd");
  EXPECT_EQ(*NormalizeClientPath("/a/./b//../c/"), "a/c");
  EXPECT_EQ(*NormalizeClientPath("/.."), "");
  EXPECT_FALSE(NormalizeClientPath(std::string("a\0b", 3)));
  EXPECT_FALSE(NormalizeClientPath(std::string(5000, 'a')));
}

// "../../etc/passwd" and "../secret" resolve inside the root: not found, nothing created outside.
TEST_F(AccountRootTest, DotDotNeverLeavesTheRoot) {
  for (const char* p : {"../../etc/passwd", "../../outside/secret", "/../neighbour", ".."}) {
    auto r = root_->OpenFile(p, O_RDONLY, 0);
    ASSERT_FALSE(r) << p;
  }
  auto w = root_->OpenFile("../../../evil", O_WRONLY | O_CREAT, 0644);
  ASSERT_TRUE(w);
  EXPECT_TRUE(fs::exists(Host("evil")));
  EXPECT_FALSE(fs::exists(tmp_.Sub("evil")));
  ASSERT_TRUE(root_->Mkdir("../../outside", 0755));
  ASSERT_TRUE(root_->Mkdir("../../outside/newdir", 0755));
  EXPECT_TRUE(fs::is_directory(Host("outside/newdir")));
  ExpectOutsideUntouched();
}

// Absolute client paths are relative to the root.
TEST_F(AccountRootTest, AbsolutePathsAreRootRelative) {
  auto r = root_->Stat("/etc/passwd");
  ASSERT_FALSE(r);
  EXPECT_EQ(Errno(r.error()), ENOENT);
  auto w = root_->OpenFile("/tmp/evil", O_WRONLY | O_CREAT, 0644);
  EXPECT_FALSE(w);  // no /tmp folder inside the root
  ASSERT_TRUE(root_->Mkdir("/tmp", 0755));
  ASSERT_TRUE(root_->OpenFile("/tmp/evil", O_WRONLY | O_CREAT, 0644));
  EXPECT_TRUE(fs::exists(Host("tmp/evil")));
  ExpectOutsideUntouched();
}

// A symlink to /etc (absolute target) is stored as given but every use of it is refused.
TEST_F(AccountRootTest, SymlinkToEtcIsRefusedOnUse) {
  ASSERT_TRUE(root_->Symlink("/etc", "etc"));
  EXPECT_EQ(*root_->Readlink("etc"), "/etc");
  auto l = root_->Lstat("etc");
  ASSERT_TRUE(l);
  EXPECT_TRUE(S_ISLNK(l->st_mode));
  auto o = root_->OpenFile("etc/passwd", O_RDONLY, 0);
  ASSERT_FALSE(o);
  EXPECT_EQ(Errno(o.error()), EXDEV);
  EXPECT_EQ(o.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_FALSE(root_->Stat("etc"));
  EXPECT_FALSE(root_->OpenDir("etc"));
  EXPECT_FALSE(root_->StatVfs("etc"));
  EXPECT_FALSE(root_->RealPath("etc/passwd"));
  EXPECT_FALSE(root_->SetStat("etc/passwd", SetAttrs{.permissions = 0777}));
  EXPECT_FALSE(root_->Mkdir("etc/sub", 0755));
  ExpectOutsideUntouched();
}

// A symlink to ".." (and one climbing further) cannot read, list or create outside the root.
TEST_F(AccountRootTest, SymlinkToDotDotIsRefused) {
  ASSERT_TRUE(root_->Symlink("..", "up"));
  ASSERT_TRUE(root_->Symlink("../../outside", "out"));
  EXPECT_FALSE(root_->OpenFile("up/neighbour", O_RDONLY, 0));
  EXPECT_FALSE(root_->OpenFile("out/secret", O_RDONLY, 0));
  EXPECT_FALSE(root_->OpenFile("out/secret", O_WRONLY | O_TRUNC, 0));
  EXPECT_FALSE(root_->OpenFile("out/new", O_WRONLY | O_CREAT, 0644));
  EXPECT_FALSE(root_->OpenDir("up"));
  EXPECT_FALSE(root_->Unlink("out/secret"));
  EXPECT_FALSE(root_->Symlink("x", "out/planted"));
  EXPECT_FALSE(root_->Rename("up/neighbour", "mine", RenameMode::kReplace));
  ASSERT_TRUE(root_->Mkdir("d", 0755));
  ASSERT_TRUE(root_->Symlink("../..", "d/up2"));
  EXPECT_FALSE(root_->OpenDir("d/up2"));
  ExpectOutsideUntouched();
}

// Symlink chains are followed inside the root and refused as soon as a link leaves it.
TEST_F(AccountRootTest, SymlinkChains) {
  WriteFile(Host("dir/file"), "inside");
  ASSERT_TRUE(root_->Symlink("b", "a"));
  ASSERT_TRUE(root_->Symlink("dir/c", "b"));
  ASSERT_TRUE(root_->Symlink("../dir/file", "dir/c"));
  auto fd = root_->OpenFile("a", O_RDONLY, 0);
  ASSERT_TRUE(fd) << fd.error().ToString();
  EXPECT_EQ(ReadAll(fd->get()), "inside");
  EXPECT_EQ(*root_->RealPath("a"), "/dir/file");

  ASSERT_TRUE(root_->Symlink("y", "x"));
  ASSERT_TRUE(root_->Symlink("dir/z", "y"));
  ASSERT_TRUE(root_->Symlink("../../../outside/secret", "dir/z"));
  auto bad = root_->OpenFile("x", O_RDONLY, 0);
  ASSERT_FALSE(bad);
  EXPECT_EQ(Errno(bad.error()), EXDEV);
  // A loop ends with ELOOP, not a hang.
  ASSERT_TRUE(root_->Symlink("loop2", "loop1"));
  ASSERT_TRUE(root_->Symlink("loop1", "loop2"));
  auto loop = root_->OpenFile("loop1", O_RDONLY, 0);
  ASSERT_FALSE(loop);
  EXPECT_EQ(Errno(loop.error()), ELOOP);
  ExpectOutsideUntouched();
}

// A dangling symlink pointing outside cannot be used to create a file there.
TEST_F(AccountRootTest, DanglingSymlinkCannotCreateOutside) {
  ASSERT_TRUE(root_->Symlink(tmp_.Sub("outside/created"), "abs"));
  ASSERT_TRUE(root_->Symlink("../../outside/created", "rel"));
  ASSERT_TRUE(root_->Symlink("/tmp/evil", "tmpevil"));
  for (const char* p : {"abs", "rel", "tmpevil"}) {
    EXPECT_FALSE(root_->OpenFile(p, O_WRONLY | O_CREAT, 0644)) << p;
    EXPECT_FALSE(root_->SetStat(p, SetAttrs{.size = 0})) << p;
  }
  // Relative dangling targets inside the root create the target inside.
  ASSERT_TRUE(root_->Symlink("made", "inner"));
  ASSERT_TRUE(root_->OpenFile("inner", O_WRONLY | O_CREAT, 0644));
  EXPECT_TRUE(fs::is_regular_file(Host("made")));
  ExpectOutsideUntouched();
}

// Magic links (/proc/self/...) are refused even though /proc is reachable by name nowhere.
TEST_F(AccountRootTest, MagicLinksAreRefused) {
  ASSERT_TRUE(root_->Symlink("/proc/self/root/etc/passwd", "magic"));
  EXPECT_FALSE(root_->OpenFile("magic", O_RDONLY, 0));
  ASSERT_TRUE(root_->Symlink("../../../../../../../../proc/self/cwd", "magic2"));
  EXPECT_FALSE(root_->OpenDir("magic2"));
  ExpectOutsideUntouched();
}

// Rename cannot move anything out of the root (nor in from outside).
TEST_F(AccountRootTest, RenameOutOfTheRootIsRefused) {
  WriteFile(Host("mine"), "data");
  ASSERT_TRUE(root_->Symlink("../../outside", "out"));
  EXPECT_FALSE(root_->Rename("mine", "out/mine", RenameMode::kReplace));
  EXPECT_FALSE(root_->Rename("mine", "out/secret", RenameMode::kReplace));
  EXPECT_FALSE(root_->Rename("out/secret", "stolen", RenameMode::kNoReplace));
  // The ".." in the target is lexical: the file stays inside.
  ASSERT_TRUE(root_->Rename("mine", "../../../mine2", RenameMode::kNoReplace));
  EXPECT_EQ(ReadFile(Host("mine2")), "data");
  // Renaming the symlink itself moves the link, not its target.
  ASSERT_TRUE(root_->Rename("out", "out2", RenameMode::kNoReplace));
  EXPECT_TRUE(fs::is_symlink(Host("out2")));
  EXPECT_EQ(root_->Rename("/", "x", RenameMode::kReplace).error().sys_errno(), EBUSY);
  ExpectOutsideUntouched();
}

// Hardlinks cannot name a file outside the root; a hardlinked symlink stays a symlink.
TEST_F(AccountRootTest, HardlinkOutOfTheRootIsRefused) {
  ASSERT_TRUE(root_->Symlink("../../outside", "out"));
  ASSERT_TRUE(root_->Symlink("/etc/passwd", "pw"));
  EXPECT_FALSE(root_->Hardlink("out/secret", "stolen"));
  WriteFile(Host("mine"), "data");
  EXPECT_FALSE(root_->Hardlink("mine", "out/planted"));
  ASSERT_TRUE(root_->Hardlink("pw", "pw2"));
  auto l = root_->Lstat("pw2");
  ASSERT_TRUE(l);
  EXPECT_TRUE(S_ISLNK(l->st_mode));
  EXPECT_FALSE(root_->OpenFile("pw2", O_RDONLY, 0));
  ASSERT_TRUE(root_->Hardlink("mine", "mine2"));
  EXPECT_EQ(root_->Lstat("mine2")->st_nlink, 2u);
  ExpectOutsideUntouched();
}

// A directory swapped for a symlink to outside between two calls (another session) is refused,
// while a handle opened before keeps pointing at the original directory.
TEST_F(AccountRootTest, SymlinkSwappedInBetweenCallsIsRefused) {
  WriteFile(Host("d/inside"), "in");
  auto st = root_->Stat("d");
  ASSERT_TRUE(st);
  EXPECT_TRUE(S_ISDIR(st->st_mode));
  auto dir = root_->OpenDir("d");
  ASSERT_TRUE(dir);
  // The other session: move the directory away and put a symlink in its place.
  ASSERT_EQ(rename(Host("d").c_str(), Host("moved").c_str()), 0);
  ASSERT_EQ(symlink(tmp_.Sub("outside").c_str(), Host("d").c_str()), 0);
  EXPECT_FALSE(root_->OpenFile("d/secret", O_RDONLY, 0));
  EXPECT_FALSE(root_->OpenFile("d/new", O_WRONLY | O_CREAT, 0600));
  EXPECT_FALSE(root_->Unlink("d/secret"));
  EXPECT_FALSE(root_->Rename("d/secret", "x", RenameMode::kReplace));
  EXPECT_FALSE(root_->Hardlink("d/secret", "x"));
  EXPECT_FALSE(root_->SetStat("d/secret", SetAttrs{.permissions = 0666}));
  std::vector<std::string> names;
  for (;;) {
    auto e = (*dir)->Next();
    ASSERT_TRUE(e);
    if (!*e) {
      break;
    }
    names.push_back((*e)->name);
  }
  EXPECT_NE(std::find(names.begin(), names.end(), "inside"), names.end());
  EXPECT_EQ(std::find(names.begin(), names.end(), "secret"), names.end());
  ExpectOutsideUntouched();
}

// OPEN flags behave as open(2): EXCL refuses an existing file, TRUNC empties, APPEND appends.
TEST_F(AccountRootTest, OpenFlags) {
  WriteFile(Host("f"), "hello");
  auto excl = root_->OpenFile("f", O_WRONLY | O_CREAT | O_EXCL, 0644);
  ASSERT_FALSE(excl);
  EXPECT_EQ(Errno(excl.error()), EEXIST);
  {
    auto a = root_->OpenFile("f", O_WRONLY | O_APPEND, 0);
    ASSERT_TRUE(a);
    ASSERT_EQ(write(a->get(), "!", 1), 1);
  }
  EXPECT_EQ(ReadFile(Host("f")), "hello!");
  ASSERT_TRUE(root_->OpenFile("f", O_WRONLY | O_TRUNC, 0));
  EXPECT_EQ(ReadFile(Host("f")), "");
  auto created = root_->OpenFile("g", O_RDWR | O_CREAT, 04777);
  ASSERT_TRUE(created);
  EXPECT_EQ(root_->Fstat(created->get())->st_mode & 07000, 0u);  // no setuid from a client
  EXPECT_EQ(Errno(root_->OpenFile("/", O_RDONLY, 0).error()), EISDIR);
  ASSERT_TRUE(root_->Mkdir("dir", 0755));
  EXPECT_EQ(Errno(root_->OpenFile("dir", O_RDONLY, 0).error()), EISDIR);
  EXPECT_EQ(Errno(root_->OpenFile("f", O_RDONLY | O_DIRECTORY, 0).error()), EINVAL);
}

// A FIFO inside the root is refused at open without blocking the caller.
TEST_F(AccountRootTest, FifoIsRefusedWithoutBlocking) {
  ASSERT_EQ(mkfifo(Host("fifo").c_str(), 0600), 0);
  auto r = root_->OpenFile("fifo", O_RDONLY, 0);
  ASSERT_FALSE(r);
  EXPECT_EQ(Errno(r.error()), EINVAL);
}

// mkdir, rmdir, unlink, rename (plain refuses an existing target, posix replaces).
TEST_F(AccountRootTest, TreeOperations) {
  ASSERT_TRUE(root_->Mkdir("/a", 0755));
  EXPECT_EQ(Errno(root_->Mkdir("/a", 0755).error()), EEXIST);
  EXPECT_EQ(Errno(root_->Mkdir("/", 0755).error()), EEXIST);
  WriteFile(Host("a/f1"), "one");
  WriteFile(Host("a/f2"), "two");
  EXPECT_EQ(Errno(root_->Rename("a/f1", "a/f2", RenameMode::kNoReplace).error()), EEXIST);
  EXPECT_EQ(ReadFile(Host("a/f2")), "two");
  ASSERT_TRUE(root_->Rename("a/f1", "a/f2", RenameMode::kReplace));
  EXPECT_EQ(ReadFile(Host("a/f2")), "one");
  EXPECT_EQ(Errno(root_->Rmdir("a").error()), ENOTEMPTY);
  EXPECT_EQ(Errno(root_->Unlink("a").error()), EISDIR);
  ASSERT_TRUE(root_->Unlink("a/f2"));
  EXPECT_EQ(Errno(root_->Unlink("a/f2").error()), ENOENT);
  ASSERT_TRUE(root_->Rmdir("a"));
  EXPECT_FALSE(fs::exists(Host("a")));
  EXPECT_EQ(Errno(root_->Rmdir("/").error()), EBUSY);
  EXPECT_EQ(Errno(root_->Unlink("/").error()), EBUSY);
  ASSERT_TRUE(root_->Symlink("target-missing", "lnk"));
  EXPECT_EQ(Errno(root_->Rmdir("lnk").error()), ENOTDIR);
  ASSERT_TRUE(root_->Unlink("lnk"));
  EXPECT_FALSE(fs::exists(fs::symlink_status(Host("lnk"))));
}

// SETSTAT changes permissions, times and size; FSETSTAT does the same on a descriptor.
TEST_F(AccountRootTest, SetStat) {
  WriteFile(Host("f"), "0123456789");
  ASSERT_TRUE(
      root_->SetStat("f", SetAttrs{.size = 4, .permissions = 0640, .atime = 1000, .mtime = 2000}));
  auto st = root_->Stat("f");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->st_size, 4);
  EXPECT_EQ(st->st_mode & 07777, 0640u);
  EXPECT_EQ(st->st_atime, 1000);
  EXPECT_EQ(st->st_mtime, 2000);
  ASSERT_TRUE(root_->SetStat("f", SetAttrs{.permissions = 06755}));
  EXPECT_EQ(root_->Stat("f")->st_mode & 07777, 0755u);
  auto fd = root_->OpenFile("f", O_RDWR, 0);
  ASSERT_TRUE(fd);
  ASSERT_TRUE(
      root_->FSetStat(fd->get(), SetAttrs{.size = 1, .permissions = 0600, .atime = 5, .mtime = 6}));
  st = AccountRoot::Fstat(fd->get());
  EXPECT_EQ(st->st_size, 1);
  EXPECT_EQ(st->st_mode & 07777, 0600u);
  EXPECT_EQ(st->st_mtime, 6);
  ASSERT_TRUE(root_->Mkdir("d", 0700));
  EXPECT_EQ(Errno(root_->SetStat("d", SetAttrs{.size = 0}).error()), EISDIR);
}

// REALPATH is "/"-based, lexically normalised and resolves symlinks inside the root.
TEST_F(AccountRootTest, RealPath) {
  WriteFile(Host("dir/sub/f"), "x");
  ASSERT_TRUE(root_->Symlink("dir/sub", "l"));
  EXPECT_EQ(*root_->RealPath("."), "/");
  EXPECT_EQ(*root_->RealPath(""), "/");
  EXPECT_EQ(*root_->RealPath("/../.."), "/");
  EXPECT_EQ(*root_->RealPath("/dir/./sub/../sub/f"), "/dir/sub/f");
  EXPECT_EQ(*root_->RealPath("l"), "/dir/sub");
  EXPECT_EQ(*root_->RealPath("l/f"), "/dir/sub/f");
  EXPECT_EQ(*root_->RealPath("l/new"), "/dir/sub/new");
  EXPECT_EQ(*root_->RealPath("new"), "/new");
  EXPECT_EQ(Errno(root_->RealPath("missing/new").error()), ENOENT);
}

// READDIR lists entries with lstat; ".." of the root describes the root, not its parent.
TEST_F(AccountRootTest, ReadDirOfRootHidesParent) {
  WriteFile(Host("f"), "x");
  ASSERT_TRUE(root_->Symlink("/etc", "s"));
  auto dir = root_->OpenDir("/");
  ASSERT_TRUE(dir);
  struct stat rst;
  ASSERT_EQ(stat(host_.c_str(), &rst), 0);
  std::vector<std::string> names;
  for (;;) {
    auto e = (*dir)->Next();
    ASSERT_TRUE(e);
    if (!*e) {
      break;
    }
    names.push_back((*e)->name);
    if ((*e)->name == "..") {
      EXPECT_EQ((*e)->st.st_ino, rst.st_ino);
    }
    if ((*e)->name == "s") {
      EXPECT_TRUE(S_ISLNK((*e)->st.st_mode));
    }
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{".", "..", "f", "s"}));
  EXPECT_TRUE(AccountRoot::Fstat((*dir)->fd()));
  EXPECT_TRUE(AccountRoot::FStatVfs((*dir)->fd()));
  auto sv = root_->StatVfs("/");
  ASSERT_TRUE(sv);
  EXPECT_GT(sv->f_bsize, 0u);
}

// The operator side: put (atomic, into a folder), list (recursive), get, remove; escape paths
// stay inside the root.
TEST_F(AccountRootTest, OperatorPutGetListRemove) {
  std::string content(600 * 1024, 'z');
  WriteFile(tmp_.Sub("local/report.pdf"), content);
  uint64_t last = 0;
  int calls = 0;
  auto put = root_->Put(tmp_.Sub("local/report.pdf"), "/", [&](uint64_t done, uint64_t total) {
    EXPECT_EQ(total, content.size());
    EXPECT_GT(done, last);
    last = done;
    ++calls;
  });
  ASSERT_TRUE(put) << put.error().ToString();
  EXPECT_EQ(*put, content.size());
  EXPECT_GE(calls, 3);
  EXPECT_EQ(ReadFile(Host("report.pdf")), content);
  ASSERT_TRUE(root_->Mkdir("in", 0755));
  ASSERT_TRUE(root_->Put(tmp_.Sub("local/report.pdf"), "in/renamed.pdf", nullptr));
  ASSERT_TRUE(root_->Put(tmp_.Sub("local/report.pdf"), "../../../escaped", nullptr));
  EXPECT_TRUE(fs::exists(Host("escaped")));
  ASSERT_TRUE(root_->Symlink("../../outside", "out"));
  EXPECT_FALSE(root_->Put(tmp_.Sub("local/report.pdf"), "out/planted", nullptr));
  // A put onto a symlink leading out is refused (EXDEV), and the link is left as it was.
  auto onto = root_->Put(tmp_.Sub("local/report.pdf"), "out", nullptr);
  ASSERT_FALSE(onto);
  EXPECT_EQ(onto.error().sys_errno(), EXDEV);
  EXPECT_EQ(*root_->Readlink("out"), "../../outside");
  EXPECT_FALSE(root_->Put(tmp_.Sub("local"), "x", nullptr));  // not a regular file

  auto list = root_->List("/", true);
  ASSERT_TRUE(list);
  std::vector<std::string> paths;
  for (auto& e : *list) {
    paths.push_back(e.path);
  }
  EXPECT_EQ(paths, (std::vector<std::string>{"/escaped", "/in", "/in/renamed.pdf", "/out",
                                             "/report.pdf"}));
  EXPECT_EQ(root_->List("/", false)->size(), 4u);
  EXPECT_EQ(root_->List("/in/renamed.pdf", false)->at(0).path, "/in/renamed.pdf");
  EXPECT_FALSE(root_->List("out", true)->empty());  // the link itself, not outside
  EXPECT_EQ(root_->List("out", true)->size(), 1u);

  auto got = root_->Get("in/renamed.pdf", tmp_.Sub("local/back.pdf"), false, nullptr);
  ASSERT_TRUE(got);
  EXPECT_EQ(ReadFile(tmp_.Sub("local/back.pdf")), content);
  auto again = root_->Get("in/renamed.pdf", tmp_.Sub("local/back.pdf"), false, nullptr);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_TRUE(root_->Get("in/renamed.pdf", tmp_.Sub("local/back.pdf"), true, nullptr));
  EXPECT_FALSE(root_->Get("out/secret", tmp_.Sub("local/secret"), false, nullptr));
  EXPECT_FALSE(fs::exists(tmp_.Sub("local/secret")));

  EXPECT_FALSE(root_->Remove("out/secret"));
  ASSERT_TRUE(root_->Remove("out"));
  ASSERT_TRUE(root_->Remove("in/renamed.pdf"));
  ASSERT_TRUE(root_->Remove("in"));
  EXPECT_FALSE(root_->Remove("/"));
  ExpectOutsideUntouched();
}

// errno maps to the error categories in one place, and the errno is kept.
TEST(SysErrorTest, MapsErrno) {
  EXPECT_EQ(SysError(ENOENT, "x").code(), ErrorCode::kNotFound);
  EXPECT_EQ(SysError(EXDEV, "x").code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(SysError(EEXIST, "x").code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(SysError(EINVAL, "x").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(SysError(ENOSPC, "x").code(), ErrorCode::kUnavailable);
  EXPECT_EQ(SysError(ENOSPC, "x").sys_errno(), ENOSPC);
  EXPECT_EQ(SysError(EOVERFLOW, "write").code(), ErrorCode::kInternal);
  EXPECT_NE(SysError(ENOENT, "stat").message().find("stat"), std::string::npos);
}

}  // namespace
}  // namespace sftplc::files
