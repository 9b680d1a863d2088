#include "sftpd/core/files/storage_root.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>

#include "sftpd/core/files/account_root.h"

namespace sftplc::files {
namespace {

constexpr const char* kTrash = ".trash";
constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
// A folder a live session keeps filling while the walk empties it is tried this many times.
constexpr int kMaxRounds = 1000;

// Reads a folder's entries (without "." and "..") through its own descriptor, so that the
// caller's descriptor stays usable for *at() calls. Bounded memory: libc's one buffer.
class DirReader {
 public:
  static Result<DirReader> Open(int dirfd, const char* what) {
    int d = dup(dirfd);
    if (d < 0) {
      return SysError(errno, what);
    }
    DIR* dir = fdopendir(d);
    if (dir == nullptr) {
      int e = errno;
      close(d);
      return SysError(e, what);
    }
    // A dup shares the file offset with `dirfd`, which an earlier reader left at the end.
    rewinddir(dir);
    return DirReader(dir);
  }
  DirReader(DirReader&& o) noexcept : dir_(std::exchange(o.dir_, nullptr)) {}
  DirReader(const DirReader&) = delete;
  DirReader& operator=(const DirReader&) = delete;
  ~DirReader() {
    if (dir_ != nullptr) {
      closedir(dir_);
    }
  }
  // The next entry; nullptr at the end (errno set on a read error, 0 at the end).
  const dirent* Next() {
    while (true) {
      errno = 0;
      const dirent* e = readdir(dir_);
      if (e == nullptr) {
        return nullptr;
      }
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
        return e;
      }
    }
  }

 private:
  explicit DirReader(DIR* dir) : dir_(dir) {}
  DIR* dir_;
};

// Gives the owner rwx on the folder `name` in `dirfd` unless it has it, never following a
// symbolic link (fchmodat with AT_SYMLINK_NOFOLLOW refuses one: EOPNOTSUPP). A client may have
// left any mode; the folder is going anyway (or, for a listing, it is the service's own).
int MakeOwnerRwx(int dirfd, const char* name, const struct stat& st) {
  if ((st.st_mode & S_IRWXU) == S_IRWXU) {
    return 0;
  }
  return fchmodat(dirfd, name, (st.st_mode & 07777) | S_IRWXU, AT_SYMLINK_NOFOLLOW);
}

// Opens the folder `name` in `dirfd` for the walk: owner rwx first, then open without
// following a link. -1 with errno on failure.
int OpenFolder(int dirfd, const char* name) {
  struct stat st {};
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) {
    errno = ENOTDIR;
    return -1;
  }
  if (MakeOwnerRwx(dirfd, name, st) != 0) {
    return -1;
  }
  return openat(dirfd, name, kDirFlags);
}

// The purge walk over the folder `top` (already owner rwx and open). Each round reads `top`
// once: files are removed, and each folder is emptied by EmptyInto (its files removed, its
// subfolders moved up into `top` under fresh names) and removed. Rounds repeat until one finds
// `top` empty, so the tree gets flatter each round and the walk never goes more than one folder
// below `top`.
class Walk {
 public:
  Walk(int top, RemovedCounts& counts) : top_(top), counts_(counts) {}

  Status Run() {
    while (true) {
      auto reader = DirReader::Open(top_, "cannot read a folder to delete it");
      if (!reader) {
        return reader.error();
      }
      bool any = false;
      while (const dirent* e = reader->Next()) {
        any = true;
        std::string name = e->d_name;
        if (Status s = RemoveEntry(top_, name, true); !s) {
          return s;
        }
      }
      if (errno != 0) {
        return SysError(errno, "cannot read a folder to delete it");
      }
      if (!any) {
        return {};
      }
    }
  }

 private:
  // Removes the entry `name` of `dir`: a file at once; a folder in `top_` is emptied and
  // removed; a folder anywhere else is moved up into `top_` for a later round.
  Status RemoveEntry(int dir, const std::string& name, bool in_top) {
    struct stat st {};
    if (fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return errno == ENOENT ? Status()
                             : Status(SysError(errno, "cannot stat a file to delete it"));
    }
    if (!S_ISDIR(st.st_mode)) {
      if (unlinkat(dir, name.c_str(), 0) != 0) {
        // EISDIR: replaced by a folder meanwhile; the next round sees it as one.
        if (errno == ENOENT || errno == EISDIR) {
          return {};
        }
        return SysError(errno, "cannot delete a file");
      }
      counts_.files++;
      counts_.bytes += st.st_size;
      return {};
    }
    // Owner rwx: needed to list and empty it, and to move it (a folder moved to another parent
    // has its ".." rewritten).
    if (MakeOwnerRwx(dir, name.c_str(), st) != 0) {
      if (errno == ENOENT || errno == EOPNOTSUPP) {
        return {};  // gone, or replaced by a link meanwhile: the next round sees it
      }
      return SysError(errno, "cannot make a folder deletable");
    }
    if (!in_top) {
      return MoveUp(dir, name);
    }
    return EmptyAndRemove(name);
  }

  // Moves the folder `name` of `dir` into `top_` under a name no entry has.
  Status MoveUp(int dir, const std::string& name) {
    while (true) {
      std::string to = fmt::format(".purge-{}", next_++);
      if (renameat2(dir, name.c_str(), top_, to.c_str(), RENAME_NOREPLACE) == 0) {
        return {};
      }
      if (errno == EEXIST) {
        continue;
      }
      if (errno == ENOENT) {
        return {};
      }
      return SysError(errno, "cannot move a folder to delete it");
    }
  }

  // Empties the folder `name` of `top_` (files removed, folders moved up) and removes it.
  Status EmptyAndRemove(const std::string& name) {
    UniqueFd fd(openat(top_, name.c_str(), kDirFlags));
    if (fd.get() < 0) {
      if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) {
        return {};  // gone or replaced meanwhile: the next round sees what is there
      }
      return SysError(errno, "cannot open a folder to delete it");
    }
    for (int round = 0; round < kMaxRounds; ++round) {
      auto reader = DirReader::Open(fd.get(), "cannot read a folder to delete it");
      if (!reader) {
        return reader.error();
      }
      while (const dirent* e = reader->Next()) {
        std::string sub = e->d_name;
        if (Status s = RemoveEntry(fd.get(), sub, false); !s) {
          return s;
        }
      }
      if (errno != 0) {
        return SysError(errno, "cannot read a folder to delete it");
      }
      if (unlinkat(top_, name.c_str(), AT_REMOVEDIR) == 0) {
        counts_.folders++;
        return {};
      }
      if (errno == ENOENT) {
        return {};
      }
      if (errno != ENOTEMPTY && errno != EEXIST) {
        return SysError(errno, "cannot delete a folder");
      }
      // Something was added meanwhile (a live session): read it again.
    }
    return Error::Unavailable("a folder kept filling while it was being deleted");
  }

  int top_;
  RemovedCounts& counts_;
  uint64_t next_ = 0;
};

// "<32 hex>.<unix>[-N]" -> the id and the time; other names keep an empty id and time 0.
TrashEntry ParseTrashName(const std::string& name) {
  TrashEntry e;
  e.name = name;
  std::size_t dot = name.find('.');
  if (dot == std::string::npos) {
    return e;
  }
  if (auto id = AccountId::Parse(std::string_view(name).substr(0, dot))) {
    e.account_id = *id;
  }
  long long t = 0;
  const char* first = name.data() + dot + 1;
  const char* last = name.data() + name.size();
  if (std::from_chars(first, last, t).ec == std::errc()) {
    e.trashed_at = FromUnix(t);
  }
  return e;
}

Error RootError(const std::string& path, const char* what) {
  Error e = SysError(errno, what);
  return Error(ErrorCode::kUnavailable, fmt::format("storage.root {}: {}", path, e.message()));
}

}  // namespace

Status StorageRoot::Ensure() const {
  std::error_code ec;
  if (std::filesystem::is_directory(path_, ec)) {
    return {};
  }
  std::filesystem::create_directories(path_, ec);
  if (ec) {
    return Error::Unavailable(
        fmt::format("cannot create storage.root {}: {}", path_, ec.message()));
  }
  if (::chmod(path_.c_str(), 0700) != 0) {
    return RootError(path_, "cannot make it private");
  }
  return {};
}

Status StorageRoot::CreateAccountFolder(const AccountId& id) const {
  if (Status s = Ensure(); !s) {
    return s;
  }
  UniqueFd root(open(path_.c_str(), kDirFlags));
  if (root.get() < 0) {
    return RootError(path_, "cannot open it");
  }
  if (mkdirat(root.get(), id.str().c_str(), 0700) != 0) {
    if (errno == EEXIST) {
      return Error::AlreadyExists("the account folder exists already");
    }
    return RootError(path_, "cannot create the account folder");
  }
  // mkdir's mode is filtered by the umask: make sure of 0700.
  if (fchmodat(root.get(), id.str().c_str(), 0700, AT_SYMLINK_NOFOLLOW) != 0) {
    return RootError(path_, "cannot make the account folder private");
  }
  struct stat st {};
  if (geteuid() == 0 && fstat(root.get(), &st) == 0 && st.st_uid != 0) {
    if (fchownat(root.get(), id.str().c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0) {
      return RootError(path_, "cannot give the account folder to the owner of storage.root");
    }
  }
  return {};
}

bool StorageRoot::AccountFolderExists(const AccountId& id) const {
  if (path_.empty() || id.empty()) {
    return false;
  }
  struct stat st {};
  return fstatat(AT_FDCWD, (path_ + "/" + id.str()).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

Result<std::optional<TrashEntry>> StorageRoot::MoveToTrash(const AccountId& id,
                                                           TimePoint now) const {
  if (path_.empty() || id.empty()) {
    return std::optional<TrashEntry>();
  }
  UniqueFd root(open(path_.c_str(), kDirFlags));
  if (root.get() < 0) {
    if (errno == ENOENT) {
      return std::optional<TrashEntry>();
    }
    return RootError(path_, "cannot open it");
  }
  const std::string& name = id.str();
  struct stat st {};
  if (fstatat(root.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) {
      return std::optional<TrashEntry>();
    }
    return SysError(errno, "cannot stat the account folder");
  }
  if (S_ISDIR(st.st_mode) && MakeOwnerRwx(root.get(), name.c_str(), st) != 0) {
    return SysError(errno, "cannot make the account folder movable");
  }
  std::string base = fmt::format("{}.{}", name, ToUnix(now));
  // The trash folder is removed when it is empty (RemoveTrashEntry): made again if another
  // process removed it between our mkdir and our rename.
  for (int attempt = 0; attempt < 10; ++attempt) {
    if (mkdirat(root.get(), kTrash, 0700) != 0 && errno != EEXIST) {
      return RootError(path_, "cannot create the trash folder");
    }
    UniqueFd trash(openat(root.get(), kTrash, kDirFlags));
    if (trash.get() < 0) {
      if (errno == ENOENT) {
        continue;
      }
      return RootError(path_, "cannot open the trash folder");
    }
    for (int n = 0;; ++n) {
      std::string to = n == 0 ? base : fmt::format("{}-{}", base, n);
      if (renameat2(root.get(), name.c_str(), trash.get(), to.c_str(), RENAME_NOREPLACE) == 0) {
        TrashEntry e;
        e.name = to;
        e.account_id = id;
        e.trashed_at = now;
        return std::optional<TrashEntry>(e);
      }
      if (errno == EEXIST) {
        continue;
      }
      if (errno == ENOENT) {
        break;  // the folder went (nothing to move), or the trash folder did (try again)
      }
      return SysError(errno, "cannot move the account folder to the trash");
    }
    if (fstatat(root.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT) {
      return std::optional<TrashEntry>();
    }
  }
  return Error::Unavailable(
      "cannot move the account folder to the trash: the trash folder "
      "keeps disappearing");
}

Status StorageRoot::RestoreFromTrash(const TrashEntry& entry, const AccountId& id) const {
  UniqueFd root(open(path_.c_str(), kDirFlags));
  if (root.get() < 0) {
    return RootError(path_, "cannot open it");
  }
  UniqueFd trash(openat(root.get(), kTrash, kDirFlags));
  if (trash.get() < 0) {
    return RootError(path_, "cannot open the trash folder");
  }
  if (renameat2(trash.get(), entry.name.c_str(), root.get(), id.str().c_str(), RENAME_NOREPLACE) !=
      0) {
    return SysError(errno, "cannot move the account folder back from the trash");
  }
  return {};
}

Result<RemovedCounts> StorageRoot::RemoveTrashEntry(const std::string& name) const {
  RemovedCounts counts;
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
    return Error::InvalidArgument("not the name of a trash entry");
  }
  UniqueFd trash(open((path_ + "/" + kTrash).c_str(), kDirFlags));
  if (trash.get() < 0) {
    if (errno == ENOENT) {
      return counts;
    }
    return RootError(path_, "cannot open the trash folder");
  }
  struct stat st {};
  if (fstatat(trash.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) {
      return counts;
    }
    return SysError(errno, "cannot stat a trash entry");
  }
  if (!S_ISDIR(st.st_mode)) {
    if (unlinkat(trash.get(), name.c_str(), 0) != 0 && errno != ENOENT) {
      return SysError(errno, "cannot delete a trash entry");
    }
    counts.files = 1;
    counts.bytes = st.st_size;
    RemoveEmptyTrash();
    return counts;
  }
  UniqueFd top(OpenFolder(trash.get(), name.c_str()));
  if (top.get() < 0) {
    if (errno == ENOENT) {
      return counts;
    }
    return SysError(errno, "cannot open a folder to delete it");
  }
  Walk walk(top.get(), counts);
  if (Status s = walk.Run(); !s) {
    return s.error();
  }
  if (unlinkat(trash.get(), name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return SysError(errno, "cannot delete a folder");
  }
  counts.folders++;
  RemoveEmptyTrash();
  return counts;
}

void StorageRoot::RemoveEmptyTrash() const {
  // Fails (ENOTEMPTY) while anything is in it; MoveToTrash makes it again when needed.
  (void)rmdir((path_ + "/" + kTrash).c_str());
}

Result<std::vector<TrashEntry>> StorageRoot::ListTrash() const {
  std::vector<TrashEntry> out;
  UniqueFd trash(open((path_ + "/" + kTrash).c_str(), kDirFlags));
  if (trash.get() < 0) {
    if (errno == ENOENT) {
      return out;
    }
    return RootError(path_, "cannot open the trash folder");
  }
  auto reader = DirReader::Open(trash.get(), "cannot read the trash folder");
  if (!reader) {
    return reader.error();
  }
  while (const dirent* e = reader->Next()) {
    out.push_back(ParseTrashName(e->d_name));
  }
  if (errno != 0) {
    return SysError(errno, "cannot read the trash folder");
  }
  std::sort(out.begin(), out.end(), [](const TrashEntry& a, const TrashEntry& b) {
    return std::tie(a.trashed_at, a.name) < std::tie(b.trashed_at, b.name);
  });
  return out;
}

namespace {

// A folder of the account as the client sees it: "/" for the account's folder itself.
Error UnreadableFolder(const std::string& prefix, int err) {
  return Error::Unavailable(
      fmt::format("cannot read the folder \"/{}\" of the account: {}", prefix, std::strerror(err)));
}

}  // namespace

Result<std::vector<FileEntry>> StorageRoot::ListAccountFiles(const AccountId& id) const {
  std::vector<FileEntry> out;
  if (path_.empty() || id.empty()) {
    return out;
  }
  // Depth-first without recursion and with one open folder (a descriptor per level would run
  // out at a few thousand levels): each level keeps its (device, inode) and the subfolders it
  // still has to list; the walk climbs back with "..", checking that it arrives where it came
  // from, so a tree moved meanwhile makes the listing fail, never list something else.
  struct Level {
    std::string prefix;  // "" for the account folder
    dev_t dev = 0;
    ino_t ino = 0;
    std::vector<std::string> dirs;  // subfolders still to list, last first
  };
  // Folders are opened as the purge opens them, owner rwx first: a client's `chmod 000` on its
  // folder (or on one inside) must not keep its access request from being answered.
  UniqueFd root(open(path_.c_str(), kDirFlags));
  UniqueFd cur(root.get() < 0 ? -1 : OpenFolder(root.get(), id.str().c_str()));
  if (cur.get() < 0) {
    if (errno == ENOENT) {
      return out;
    }
    return UnreadableFolder("", errno);
  }
  std::vector<Level> stack;
  auto read_level = [&](int fd, const std::string& prefix) -> Result<Level> {
    Level lv;
    lv.prefix = prefix;
    struct stat self {};
    if (fstat(fd, &self) != 0) {
      return UnreadableFolder(prefix, errno);
    }
    lv.dev = self.st_dev;
    lv.ino = self.st_ino;
    auto reader = DirReader::Open(fd, "read");
    if (!reader) {
      return UnreadableFolder(prefix, reader.error().sys_errno());
    }
    while (const dirent* e = reader->Next()) {
      std::string n = e->d_name;
      struct stat st {};
      if (fstatat(fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) {
          continue;
        }
        return UnreadableFolder(prefix, errno);
      }
      FileEntry f;
      f.path = prefix.empty() ? n : prefix + "/" + n;
      f.is_dir = S_ISDIR(st.st_mode);
      f.is_symlink = S_ISLNK(st.st_mode);
      f.size = f.is_dir ? 0 : st.st_size;
      f.modified = FromUnix(st.st_mtim.tv_sec);
      if (f.is_dir) {
        lv.dirs.push_back(n);
      }
      out.push_back(std::move(f));
    }
    if (errno != 0) {
      return UnreadableFolder(prefix, errno);
    }
    return lv;
  };
  auto first = read_level(cur.get(), "");
  if (!first) {
    return first.error();
  }
  stack.push_back(std::move(*first));
  while (!stack.empty()) {
    Level& top = stack.back();
    if (top.dirs.empty()) {
      stack.pop_back();
      if (stack.empty()) {
        break;
      }
      UniqueFd up(openat(cur.get(), "..", kDirFlags));
      struct stat st {};
      if (up.get() < 0 || fstat(up.get(), &st) != 0 || st.st_dev != stack.back().dev ||
          st.st_ino != stack.back().ino) {
        return Error::Unavailable(
            fmt::format("the folder \"/{}\" of the account changed while it was listed: try again",
                        stack.back().prefix));
      }
      cur = std::move(up);
      continue;
    }
    std::string name = std::move(top.dirs.back());
    top.dirs.pop_back();
    std::string prefix = top.prefix.empty() ? name : top.prefix + "/" + name;
    UniqueFd sub(OpenFolder(cur.get(), name.c_str()));
    if (sub.get() < 0) {
      if (errno == ENOENT) {
        continue;
      }
      return UnreadableFolder(prefix, errno);
    }
    auto lv = read_level(sub.get(), prefix);
    if (!lv) {
      return lv.error();
    }
    cur = std::move(sub);
    stack.push_back(std::move(*lv));
  }
  std::sort(out.begin(), out.end(),
            [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
  return out;
}

std::vector<std::string> StorageRoot::EntryNames() const {
  std::vector<std::string> out;
  if (path_.empty()) {
    return out;
  }
  UniqueFd root(open(path_.c_str(), kDirFlags));
  if (root.get() < 0) {
    return out;
  }
  auto reader = DirReader::Open(root.get(), "read");
  if (!reader) {
    return out;
  }
  while (const dirent* e = reader->Next()) {
    if (e->d_name[0] == '.') {
      continue;
    }
    // The file system's own folder at the root of a mount (mkfs makes it): no one's data.
    struct stat st {};
    if (std::strcmp(e->d_name, "lost+found") == 0 &&
        fstatat(root.get(), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
      continue;
    }
    out.emplace_back(e->d_name);
  }
  return out;
}

}  // namespace sftplc::files
