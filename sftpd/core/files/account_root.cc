#include "sftpd/core/files/account_root.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

namespace sftplc::files {
namespace {

// The confinement of every client path. RESOLVE_BENEATH refuses (EXDEV) any resolution that
// would leave the directory descriptor: "..", absolute symlinks, and symlinks climbing out.
// RESOLVE_NO_MAGICLINKS refuses /proc-style links that jump to arbitrary objects.
constexpr uint64_t kResolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;

int Openat2(int dirfd, const char* path, int flags, mode_t mode, uint64_t resolve) {
  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags);
  // openat2 refuses a mode without O_CREAT/O_TMPFILE.
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = resolve;
  // EAGAIN: a concurrent rename raced a ".." step; the kernel asks for a retry.
  for (int attempt = 0; attempt < 16; ++attempt) {
    long r = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
    if (r >= 0) {
      return static_cast<int>(r);
    }
    if (errno != EAGAIN && errno != EINTR) {
      return -1;
    }
  }
  return -1;
}

std::string ProcFdPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

Result<std::string> ReadLinkAt(int dirfd, const char* name, std::string_view what) {
  std::string buf(PATH_MAX + 1, '\0');
  ssize_t n = readlinkat(dirfd, name, buf.data(), buf.size());
  if (n < 0) {
    return SysError(errno, what);
  }
  if (static_cast<size_t>(n) >= buf.size()) {
    return SysError(ENAMETOOLONG, what);
  }
  buf.resize(static_cast<size_t>(n));
  return buf;
}

bool SameFile(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

Status WriteAll(int fd, const char* data, size_t len, std::string_view what) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return SysError(errno, what);
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  return {};
}

// Copies `in` to `out` in 256 KiB chunks, reporting progress. Returns the bytes copied.
Result<uint64_t> CopyFd(int in, int out, uint64_t total, const Progress& progress) {
  std::vector<char> buf(256 * 1024);
  uint64_t done = 0;
  for (;;) {
    ssize_t n = read(in, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return SysError(errno, "read");
    }
    if (n == 0) {
      break;
    }
    Status s = WriteAll(out, buf.data(), static_cast<size_t>(n), "write");
    if (!s) {
      return std::move(s).error();
    }
    done += static_cast<uint64_t>(n);
    if (progress) {
      progress(done, total);
    }
  }
  return done;
}

}  // namespace

UniqueFd::~UniqueFd() { reset(); }

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    reset();
    fd_ = o.release();
  }
  return *this;
}

void UniqueFd::reset() {
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
}

Error SysError(int err, std::string_view what) {
  ErrorCode code;
  switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ELOOP:
      code = ErrorCode::kNotFound;
      break;
    case EACCES:
    case EPERM:
    case EXDEV:
    case EROFS:
      code = ErrorCode::kPermissionDenied;
      break;
    case EEXIST:
    case ENOTEMPTY:
    case EBUSY:
      code = ErrorCode::kAlreadyExists;
      break;
    case EINVAL:
    case ENAMETOOLONG:
    case EISDIR:
    case EBADF:
      code = ErrorCode::kInvalidArgument;
      break;
    case ENOSPC:
    case EDQUOT:
    case EIO:
    case EAGAIN:
    case EMFILE:
    case ENFILE:
      code = ErrorCode::kUnavailable;
      break;
    default:
      code = ErrorCode::kInternal;
      break;
  }
  Error e(code, fmt::format("{}: {}", what, std::strerror(err)));
  e.set_sys_errno(err);
  return e;
}

Result<std::string> NormalizeClientPath(std::string_view path) {
  if (path.find('\0') != std::string_view::npos) {
    return SysError(EINVAL, "path");
  }
  if (path.size() > PATH_MAX) {
    return SysError(ENAMETOOLONG, "path");
  }
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) {
      j = path.size();
    }
    std::string_view c = path.substr(i, j - i);
    if (c.empty() || c == ".") {
      // nothing
    } else if (c == "..") {
      if (!parts.empty()) {
        parts.pop_back();
      }
    } else {
      if (c.size() > NAME_MAX) {
        return SysError(ENAMETOOLONG, "path");
      }
      parts.push_back(c);
    }
    i = j + 1;
  }
  std::string out;
  out.reserve(path.size());
  for (std::string_view c : parts) {
    if (!out.empty()) {
      out.push_back('/');
    }
    out.append(c);
  }
  return out;
}

Directory::~Directory() {
  if (dir_ != nullptr) {
    closedir(dir_);
  }
}

int Directory::fd() const { return dirfd(dir_); }

Result<std::optional<DirEntry>> Directory::Next() {
  for (;;) {
    errno = 0;
    struct dirent* d = readdir(dir_);
    if (d == nullptr) {
      if (errno != 0) {
        return SysError(errno, "readdir");
      }
      return std::optional<DirEntry>();
    }
    DirEntry e;
    e.name = d->d_name;
    // ".." of the root is the storage folder: describe the root instead.
    const char* target = (is_root_ && e.name == "..") ? "." : d->d_name;
    if (fstatat(dirfd(dir_), target, &e.st, AT_SYMLINK_NOFOLLOW) != 0) {
      continue;  // vanished meanwhile
    }
    return std::optional<DirEntry>(std::move(e));
  }
}

Result<std::unique_ptr<AccountRoot>> AccountRoot::Open(const std::string& storage_root,
                                                       const AccountId& id) {
  return OpenFolder(storage_root, id, true);
}

Result<std::unique_ptr<AccountRoot>> AccountRoot::OpenExisting(const std::string& storage_root,
                                                               const AccountId& id) {
  return OpenFolder(storage_root, id, false);
}

Result<std::unique_ptr<AccountRoot>> AccountRoot::OpenFolder(const std::string& storage_root,
                                                             const AccountId& id, bool create) {
  if (id.empty()) {
    return Error::InvalidArgument("account root: empty account id");
  }
  UniqueFd storage(open(storage_root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!storage.valid()) {
    return SysError(errno, "open storage root");
  }
  if (create && mkdirat(storage.get(), id.str().c_str(), 0700) != 0 && errno != EEXIST) {
    return SysError(errno, "create account folder");
  }
  int fd = Openat2(storage.get(), id.str().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC, 0,
                   RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
  if (fd < 0) {
    int err = errno;
    if (err == ELOOP) {
      return Error::PermissionDenied("account root: the account folder is a symlink");
    }
    if (err == ENOTDIR) {
      return Error::PermissionDenied("account root: the account folder is not a directory");
    }
    if (err == ENOENT) {
      return Error::NotFound("account root: the account folder does not exist");
    }
    return SysError(err, "open account folder");
  }
  return std::unique_ptr<AccountRoot>(new AccountRoot(UniqueFd(fd)));
}

Result<std::unique_ptr<AccountRoot>> AccountRoot::Adopt(UniqueFd root) {
  struct stat st;
  if (!root.valid() || fstat(root.get(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Error::InvalidArgument("account root: not a directory descriptor");
  }
  return std::unique_ptr<AccountRoot>(new AccountRoot(std::move(root)));
}

AccountRoot::~AccountRoot() = default;

Result<UniqueFd> AccountRoot::OpenBeneath(const std::string& rel, int flags, mode_t mode,
                                          std::string_view what) const {
  int fd = Openat2(root_.get(), rel.empty() ? "." : rel.c_str(), flags | O_CLOEXEC, mode, kResolve);
  if (fd < 0) {
    return SysError(errno, what);
  }
  return UniqueFd(fd);
}

Result<AccountRoot::Parent> AccountRoot::ResolveParent(std::string_view path,
                                                       std::string_view what) const {
  auto rel = NormalizeClientPath(path);
  if (!rel) {
    return std::move(rel).error();
  }
  if (rel->empty()) {
    return SysError(EBUSY, what);  // the root itself has no parent inside the root
  }
  size_t slash = rel->rfind('/');
  std::string parent = slash == std::string::npos ? std::string() : rel->substr(0, slash);
  std::string name = slash == std::string::npos ? *rel : rel->substr(slash + 1);
  auto dir = OpenBeneath(parent, O_PATH | O_DIRECTORY, 0, what);
  if (!dir) {
    return std::move(dir).error();
  }
  return Parent{std::move(*dir), std::move(name)};
}

Result<UniqueFd> AccountRoot::OpenFile(std::string_view path, int flags, mode_t mode) const {
  constexpr int kAllowed = O_ACCMODE | O_APPEND | O_CREAT | O_TRUNC | O_EXCL;
  if ((flags & ~kAllowed) != 0 || (flags & O_ACCMODE) == O_ACCMODE) {
    return SysError(EINVAL, "open");
  }
  auto rel = NormalizeClientPath(path);
  if (!rel) {
    return std::move(rel).error();
  }
  if (rel->empty()) {
    return SysError(EISDIR, "open");
  }
  // O_NONBLOCK so that a FIFO placed in the folder cannot block the session in open(2).
  auto fd = OpenBeneath(*rel, flags | O_NONBLOCK, mode & 0777, "open");
  if (!fd) {
    return fd;
  }
  struct stat st;
  if (fstat(fd->get(), &st) != 0) {
    return SysError(errno, "open");
  }
  if (!S_ISREG(st.st_mode)) {
    return SysError(S_ISDIR(st.st_mode) ? EISDIR : EINVAL, "open");
  }
  int fl = fcntl(fd->get(), F_GETFL);
  if (fl < 0 || fcntl(fd->get(), F_SETFL, fl & ~O_NONBLOCK) != 0) {
    return SysError(errno, "open");
  }
  return fd;
}

Result<struct stat> AccountRoot::Stat(std::string_view path) const {
  auto rel = NormalizeClientPath(path);
  if (!rel) {
    return std::move(rel).error();
  }
  auto fd = OpenBeneath(*rel, O_PATH, 0, "stat");
  if (!fd) {
    return std::move(fd).error();
  }
  return Fstat(fd->get());
}

Result<struct stat> AccountRoot::Lstat(std::string_view path) const {
  auto rel = NormalizeClientPath(path);
  if (!rel) {
    return std::move(rel).error();
  }
  if (rel->empty()) {
    return Fstat(root_.get());
  }
  auto p = ResolveParent(*rel, "lstat");
  if (!p) {
    return std::move(p).error();
  }
  struct stat st;
  if (fstatat(p->dir.get(), p->name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return SysError(errno, "lstat");
  }
  return st;
}

Result<struct stat> AccountRoot::Fstat(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    return SysError(errno, "fstat");
  }
  return st;
}

Status AccountRoot::CheckSetStat(int fd, const SetAttrs& attrs, const char* what) const {
  struct stat st {};
  struct stat root {};
  if (fstat(fd, &st) != 0 || fstat(root_.get(), &root) != 0) {
    return SysError(errno, what);
  }
  if (st.st_dev == root.st_dev && st.st_ino == root.st_ino) {
    return SysError(EPERM, "the attributes of the account folder itself cannot be changed");
  }
  if (S_ISDIR(st.st_mode) && attrs.permissions && (*attrs.permissions & S_IRWXU) != S_IRWXU) {
    return SysError(EPERM, "a folder keeps read, write and search permission for its owner");
  }
  return {};
}

Status AccountRoot::SetStat(std::string_view path, const SetAttrs& attrs) const {
  auto rel = NormalizeClientPath(path);
  if (!rel) {
    return std::move(rel).error();
  }
  auto fd = OpenBeneath(*rel, O_PATH, 0, "setstat");
  if (!fd) {
    return std::move(fd).error();
  }
  if (Status ok = CheckSetStat(fd->get(), attrs, "setstat"); !ok) {
    return ok;
  }
  // The object is pinned by the O_PATH descriptor; its /proc/self/fd link reaches exactly that
  // inode (our own use of a magic link, never a client's path).
  const std::string self = ProcFdPath(fd->get());
  if (attrs.size) {
    struct stat st;
    if (fstat(fd->get(), &st) != 0) {
      return SysError(errno, "setstat");
    }
    if (!S_ISREG(st.st_mode)) {
      return SysError(S_ISDIR(st.st_mode) ? EISDIR : EINVAL, "setstat size");
    }
    if (truncate(self.c_str(), static_cast<off_t>(*attrs.size)) != 0) {
      return SysError(errno, "setstat size");
    }
  }
  if (attrs.permissions && chmod(self.c_str(), *attrs.permissions & 0777) != 0) {
    return SysError(errno, "setstat permissions");
  }
  if (attrs.atime || attrs.mtime) {
    struct timespec ts[2];
    ts[0].tv_sec = attrs.atime.value_or(0);
    ts[0].tv_nsec = attrs.atime ? 0 : UTIME_OMIT;
    ts[1].tv_sec = attrs.mtime.value_or(0);
    ts[1].tv_nsec = attrs.mtime ? 0 : UTIME_OMIT;
    if (utimensat(fd->get(), "", ts, AT_EMPTY_PATH) != 0) {
      return SysError(errno, "setstat times");
    }
  }
  return {};
}

Status AccountRoot::FSetStat(int fd, const SetAttrs& attrs) const {
  if (Status ok = CheckSetStat(fd, attrs, "fsetstat"); !ok) {
    return ok;
  }
  if (attrs.size && ftruncate(fd, static_cast<off_t>(*attrs.size)) != 0) {
    return SysError(errno, "fsetstat size");
  }
  if (attrs.permissions && fchmod(fd, *attrs.permissions & 0777) != 0) {
    return SysError(errno, "fsetstat permissions");
  }
  if (attrs.atime || attrs.mtime) {
    struct timespec ts[2];
    ts[0].tv_sec = attrs.atime.value_or(0);
    ts[0].tv_nsec = attrs.atime ? 0 : UTIME_OMIT;
    ts[1].tv_sec = attrs.mtime.value_or(0);
    ts[1].tv_nsec = attrs.mtime ? 0 : UTIME_OMIT;
    if (futimens(fd, ts) != 0) {
      return SysError(errno, "fsetstat times");
    }
  }
  return {};
}

Status AccountRoot::Mkdir(std::string_view path, mode_t mode) const {
  auto p = ResolveParent(path, "mkdir");
  if (!p) {
    // mkdir of the root: it exists.
    return p.error().sys_errno() == EBUSY ? SysError(EEXIST, "mkdir") : std::move(p).error();
  }
  if (mkdirat(p->dir.get(), p->name.c_str(), (mode & 0777) | S_IRWXU) != 0) {
    return SysError(errno, "mkdir");
  }
  return {};
}

Status AccountRoot::Rmdir(std::string_view path) const {
  auto p = ResolveParent(path, "rmdir");
  if (!p) {
    return std::move(p).error();
  }
  if (unlinkat(p->dir.get(), p->name.c_str(), AT_REMOVEDIR) != 0) {
    return SysError(errno, "rmdir");
  }
  return {};
}

Status AccountRoot::Unlink(std::string_view path) const {
  auto p = ResolveParent(path, "remove");
  if (!p) {
    return std::move(p).error();
  }
  if (unlinkat(p->dir.get(), p->name.c_str(), 0) != 0) {
    return SysError(errno, "remove");
  }
  return {};
}

Status AccountRoot::Rename(std::string_view from, std::string_view to, RenameMode mode) const {
  auto a = ResolveParent(from, "rename");
  if (!a) {
    return std::move(a).error();
  }
  auto b = ResolveParent(to, "rename");
  if (!b) {
    return std::move(b).error();
  }
  if (mode == RenameMode::kReplace) {
    if (renameat(a->dir.get(), a->name.c_str(), b->dir.get(), b->name.c_str()) != 0) {
      return SysError(errno, "rename");
    }
    return {};
  }
  if (renameat2(a->dir.get(), a->name.c_str(), b->dir.get(), b->name.c_str(), RENAME_NOREPLACE) ==
      0) {
    return {};
  }
  if (errno != EINVAL) {
    return SysError(errno, "rename");
  }
  // A file system without RENAME_NOREPLACE: check, then rename. The race only concerns two
  // names inside this root, never confinement.
  struct stat st;
  if (fstatat(b->dir.get(), b->name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    return SysError(EEXIST, "rename");
  }
  if (renameat(a->dir.get(), a->name.c_str(), b->dir.get(), b->name.c_str()) != 0) {
    return SysError(errno, "rename");
  }
  return {};
}

Status AccountRoot::Symlink(std::string_view target, std::string_view linkpath) const {
  if (target.empty() || target.find('\0') != std::string_view::npos) {
    return SysError(EINVAL, "symlink");
  }
  if (target.size() >= PATH_MAX) {
    return SysError(ENAMETOOLONG, "symlink");
  }
  auto p = ResolveParent(linkpath, "symlink");
  if (!p) {
    return p.error().sys_errno() == EBUSY ? SysError(EEXIST, "symlink") : std::move(p).error();
  }
  if (symlinkat(std::string(target).c_str(), p->dir.get(), p->name.c_str()) != 0) {
    return SysError(errno, "symlink");
  }
  return {};
}

Result<std::string> AccountRoot::Readlink(std::string_view path) const {
  auto p = ResolveParent(path, "readlink");
  if (!p) {
    return p.error().sys_errno() == EBUSY ? SysError(EINVAL, "readlink") : std::move(p).error();
  }
  return ReadLinkAt(p->dir.get(), p->name.c_str(), "readlink");
}

Status AccountRoot::Hardlink(std::string_view existing, std::string_view newpath) const {
  auto a = ResolveParent(existing, "hardlink");
  if (!a) {
    return std::move(a).error();
  }
  auto b = ResolveParent(newpath, "hardlink");
  if (!b) {
    return std::move(b).error();
  }
  // Flags 0: a symlink is linked itself, never the object it names.
  if (linkat(a->dir.get(), a->name.c_str(), b->dir.get(), b->name.c_str(), 0) != 0) {
    return SysError(errno, "hardlink");
  }
  return {};
}

Result<std::unique_ptr<Directory>> AccountRoot::OpenDir(std::string_view path) const {
  auto rel = NormalizeClientPath(path);
  if (!rel) {
    return std::move(rel).error();
  }
  auto fd = OpenBeneath(*rel, O_RDONLY | O_DIRECTORY, 0, "opendir");
  if (!fd) {
    return std::move(fd).error();
  }
  struct stat dst;
  struct stat rst;
  if (fstat(fd->get(), &dst) != 0 || fstat(root_.get(), &rst) != 0) {
    return SysError(errno, "opendir");
  }
  DIR* dir = fdopendir(fd->get());
  if (dir == nullptr) {
    return SysError(errno, "opendir");
  }
  fd->release();
  return std::unique_ptr<Directory>(new Directory(dir, SameFile(dst, rst)));
}

Result<std::string> AccountRoot::HostPathOf(int fd) const {
  auto root = ReadLinkAt(AT_FDCWD, ProcFdPath(root_.get()).c_str(), "realpath");
  if (!root) {
    return root;
  }
  auto host = ReadLinkAt(AT_FDCWD, ProcFdPath(fd).c_str(), "realpath");
  if (!host) {
    return host;
  }
  if (*host == *root) {
    return std::string("/");
  }
  if (host->size() > root->size() && host->compare(0, root->size(), *root) == 0 &&
      (*host)[root->size()] == '/') {
    return host->substr(root->size());
  }
  return SysError(EXDEV, "realpath");  // moved out of the root meanwhile
}

Result<std::string> AccountRoot::RealPath(std::string_view path) const {
  auto rel = NormalizeClientPath(path);
  if (!rel) {
    return std::move(rel).error();
  }
  auto fd = OpenBeneath(*rel, O_PATH, 0, "realpath");
  if (fd) {
    return HostPathOf(fd->get());
  }
  if (fd.error().sys_errno() != ENOENT || rel->empty()) {
    return std::move(fd).error();
  }
  // A missing last component: resolve its parent and append the name.
  size_t slash = rel->rfind('/');
  std::string parent = slash == std::string::npos ? std::string() : rel->substr(0, slash);
  std::string name = slash == std::string::npos ? *rel : rel->substr(slash + 1);
  auto pfd = OpenBeneath(parent, O_PATH | O_DIRECTORY, 0, "realpath");
  if (!pfd) {
    return std::move(pfd).error();
  }
  auto base = HostPathOf(pfd->get());
  if (!base) {
    return base;
  }
  return *base == "/" ? "/" + name : *base + "/" + name;
}

Result<struct statvfs> AccountRoot::StatVfs(std::string_view path) const {
  auto rel = NormalizeClientPath(path);
  if (!rel) {
    return std::move(rel).error();
  }
  auto fd = OpenBeneath(*rel, O_PATH, 0, "statvfs");
  if (!fd) {
    return std::move(fd).error();
  }
  return FStatVfs(fd->get());
}

Result<struct statvfs> AccountRoot::FStatVfs(int fd) {
  struct statvfs sv;
  if (fstatvfs(fd, &sv) != 0) {
    return SysError(errno, "statvfs");
  }
  return sv;
}

namespace {

// Appends the entries of the directory `dirfd` (whose client path is `prefix`) to `out`,
// descending without following symlinks.
Status Walk(int dirfd, const std::string& prefix, bool recursive, int depth,
            std::vector<ListEntry>& out) {
  if (depth > 64) {
    return SysError(ELOOP, "list");
  }
  int dup_fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) {
    return SysError(errno, "list");
  }
  DIR* dir = fdopendir(dup_fd);
  if (dir == nullptr) {
    int err = errno;
    close(dup_fd);
    return SysError(err, "list");
  }
  std::unique_ptr<DIR, int (*)(DIR*)> guard(dir, closedir);
  std::vector<ListEntry> here;
  for (;;) {
    errno = 0;
    struct dirent* d = readdir(dir);
    if (d == nullptr) {
      if (errno != 0) {
        return SysError(errno, "list");
      }
      break;
    }
    std::string_view name = d->d_name;
    if (name == "." || name == "..") {
      continue;
    }
    ListEntry e;
    e.path = prefix == "/" ? "/" + std::string(name) : prefix + "/" + std::string(name);
    if (fstatat(dirfd, d->d_name, &e.st, AT_SYMLINK_NOFOLLOW) != 0) {
      continue;
    }
    here.push_back(std::move(e));
  }
  std::sort(here.begin(), here.end(),
            [](const ListEntry& a, const ListEntry& b) { return a.path < b.path; });
  for (ListEntry& e : here) {
    bool descend = recursive && S_ISDIR(e.st.st_mode);
    std::string child_path = e.path;
    std::string name = child_path.substr(child_path.rfind('/') + 1);
    out.push_back(std::move(e));
    if (descend) {
      UniqueFd child(openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!child.valid()) {
        if (errno == ENOENT) {
          continue;
        }
        return SysError(errno, "list");
      }
      Status s = Walk(child.get(), child_path, recursive, depth + 1, out);
      if (!s) {
        return s;
      }
    }
  }
  return {};
}

std::string BaseName(const std::string& local) {
  size_t end = local.find_last_not_of('/');
  if (end == std::string::npos) {
    return std::string();
  }
  size_t start = local.rfind('/', end);
  return local.substr(start == std::string::npos ? 0 : start + 1,
                      end - (start == std::string::npos ? 0 : start + 1) + 1);
}

}  // namespace

Result<std::vector<ListEntry>> AccountRoot::List(std::string_view path, bool recursive) const {
  auto rel = NormalizeClientPath(path);
  if (!rel) {
    return std::move(rel).error();
  }
  auto st = Lstat(*rel);
  if (!st) {
    return std::move(st).error();
  }
  std::string client = "/" + *rel;
  std::vector<ListEntry> out;
  if (!S_ISDIR(st->st_mode)) {
    out.push_back(ListEntry{client, *st});
    return out;
  }
  auto fd = OpenBeneath(*rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, "list");
  if (!fd) {
    return std::move(fd).error();
  }
  Status s = Walk(fd->get(), client, recursive, 0, out);
  if (!s) {
    return std::move(s).error();
  }
  return out;
}

Result<uint64_t> AccountRoot::Put(const std::string& local, std::string_view remote,
                                  const Progress& progress) const {
  UniqueFd in(open(local.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!in.valid()) {
    return SysError(errno, "open local file");
  }
  struct stat lst;
  if (fstat(in.get(), &lst) != 0) {
    return SysError(errno, "open local file");
  }
  if (!S_ISREG(lst.st_mode)) {
    return Error::InvalidArgument("put: the local path is not a regular file");
  }
  auto rel = NormalizeClientPath(remote);
  if (!rel) {
    return std::move(rel).error();
  }
  std::string target = *rel;
  auto tst = Stat(target);
  if (!tst && tst.error().sys_errno() == EXDEV) {
    // A symlink leading out of the root: refused, rather than replacing the link.
    return std::move(tst).error();
  }
  if (tst && S_ISDIR(tst->st_mode)) {
    std::string base = BaseName(local);
    if (base.empty()) {
      return Error::InvalidArgument("put: the local path has no file name");
    }
    target = target.empty() ? base : target + "/" + base;
  }
  auto p = ResolveParent(target, "put");
  if (!p) {
    return std::move(p).error();
  }
  const std::string tmp = ".sftpctl-" + RandomHex(8) + ".part";
  UniqueFd out(openat(p->dir.get(), tmp.c_str(),
                      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out.valid()) {
    return SysError(errno, "put: create");
  }
  auto copied = CopyFd(in.get(), out.get(), static_cast<uint64_t>(lst.st_size), progress);
  Status done = copied ? Status() : Status(copied.error());
  if (done && fsync(out.get()) != 0) {
    done = SysError(errno, "put: fsync");
  }
  if (done && renameat(p->dir.get(), tmp.c_str(), p->dir.get(), p->name.c_str()) != 0) {
    done = SysError(errno, "put: rename");
  }
  if (!done) {
    unlinkat(p->dir.get(), tmp.c_str(), 0);
    return std::move(done).error();
  }
  return copied;
}

Result<uint64_t> AccountRoot::Get(std::string_view remote, const std::string& local, bool overwrite,
                                  const Progress& progress) const {
  auto in = OpenFile(remote, O_RDONLY, 0);
  if (!in) {
    return std::move(in).error();
  }
  auto st = Fstat(in->get());
  if (!st) {
    return std::move(st).error();
  }
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL);
  UniqueFd out(open(local.c_str(), flags, 0600));
  if (!out.valid()) {
    return SysError(errno, "get: create local file");
  }
  return CopyFd(in->get(), out.get(), static_cast<uint64_t>(st->st_size), progress);
}

Status AccountRoot::Remove(std::string_view remote) const {
  auto st = Lstat(remote);
  if (!st) {
    return std::move(st).error();
  }
  return S_ISDIR(st->st_mode) ? Rmdir(remote) : Unlink(remote);
}

}  // namespace sftplc::files
