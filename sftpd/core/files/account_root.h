#pragma once

// files::AccountRoot: one account's folder (`storage.root/<account id>`), which its client sees as
// "/". Every client path is resolved by the kernel beneath the root's directory descriptor with
// openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS); operations that must not follow a final
// symlink act on it with *at() calls and O_NOFOLLOW / AT_SYMLINK_NOFOLLOW relative to a parent
// descriptor obtained the same way. Path strings are never checked for safety and never used
// twice (no check-then-use), so `..`, absolute paths, symlinks (existing or created by a client,
// absolute or relative targets), hardlinks and renames cannot reach outside the root, even when
// another session changes the tree between two calls.
//
// Client paths: "/" and "" are the root; a relative path is relative to the root; "." and ".."
// are normalised lexically first ("/../a" is "/a", as under a chroot). A symlink whose target
// would leave the root (an absolute target, or too many "..") fails when used, with EXDEV
// (kPermissionDenied); the target is stored as given.
//
// Errors: Result/Status whose Error carries the errno of the failed system call (sys_errno()),
// mapped to an ErrorCode by SysError(). Messages name the operation, never the path.
//
// Both the SFTP server (one AccountRoot per session) and `sftpctl files` (the operator side:
// List, Put, Get, Remove) use this class. Thread-safe: the root descriptor never changes after
// Open(); every method only issues system calls relative to it.

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sftpd/core/base/ids.h"
#include "sftpd/core/base/result.h"

struct __dirstream;  // DIR

namespace sftplc::files {

// An owned file descriptor, closed when destroyed. Move-only.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd();
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset();

 private:
  int fd_ = -1;
};

// An Error for a failed system call: the ErrorCode follows errno (ENOENT/ENOTDIR/ELOOP ->
// kNotFound; EACCES/EPERM/EXDEV/EROFS -> kPermissionDenied; EEXIST/ENOTEMPTY/EBUSY ->
// kAlreadyExists; EINVAL/ENAMETOOLONG/EISDIR/EBADF -> kInvalidArgument; ENOSPC/EDQUOT/EIO/
// EAGAIN/EMFILE/ENFILE -> kUnavailable; anything else kInternal), sys_errno() is `err`, and the
// message is "<what>: <strerror>". The one place errno becomes an ErrorCode.
Error SysError(int err, std::string_view what);

// Normalises a client path lexically: drops empty and "." components, applies ".." (never above
// the root), and returns it relative to the root without a leading "/" ("" for the root itself).
// kInvalidArgument (EINVAL) for a path with a NUL byte; (ENAMETOOLONG) longer than PATH_MAX.
Result<std::string> NormalizeClientPath(std::string_view path);

// What a client may change on a file (SFTP SETSTAT). The owner is never changed.
struct SetAttrs {
  std::optional<uint64_t> size;         // truncate/extend (regular files only)
  std::optional<uint32_t> permissions;  // masked to 0777: no setuid, setgid or sticky bits
  std::optional<int64_t> atime;         // seconds since the epoch; set together with mtime
  std::optional<int64_t> mtime;
};

// One entry of a directory listing, with its lstat (a symlink is described, not followed).
struct DirEntry {
  std::string name;
  struct stat st {};
};

// An open directory (SFTP OPENDIR handle). Not thread-safe.
class Directory {
 public:
  ~Directory();
  Directory(const Directory&) = delete;
  Directory& operator=(const Directory&) = delete;

  // The next entry ("." and ".." included, as OpenSSH does), or nullopt at the end. Entries that
  // vanish between readdir and lstat are skipped. ".." of the root describes the root itself,
  // so nothing about the folder above it is revealed. Errors carry errno.
  Result<std::optional<DirEntry>> Next();
  // The directory's own descriptor (for fstat / fstatvfs on the handle).
  int fd() const;

 private:
  friend class AccountRoot;
  Directory(__dirstream* dir, bool is_root) : dir_(dir), is_root_(is_root) {}
  __dirstream* dir_;
  bool is_root_;
};

enum class RenameMode {
  kNoReplace,  // SFTP RENAME: fails with EEXIST when the target exists
  kReplace,    // posix-rename@openssh.com: atomically replaces the target
};

// One row of List(): the client path ("/a/b") and its lstat.
struct ListEntry {
  std::string path;
  struct stat st {};
};

// Called after each chunk of Put/Get with (bytes done, total bytes; 0 when unknown).
using Progress = std::function<void(uint64_t done, uint64_t total)>;

class AccountRoot {
 public:
  // Opens the root of account `id` under `storage_root` (which must exist), creating the
  // account's folder with mode 0700 when missing. kPermissionDenied if the account's folder is
  // a symlink; kNotFound / others (with errno) if the storage root cannot be opened.
  static Result<std::unique_ptr<AccountRoot>> Open(const std::string& storage_root,
                                                   const AccountId& id);
  // Opens the root of account `id` like Open(), but never creates the folder: a session must
  // not bring back the folder of an erased account. kNotFound when the folder is missing.
  static Result<std::unique_ptr<AccountRoot>> OpenExisting(const std::string& storage_root,
                                                           const AccountId& id);
  // Takes a root already opened by Open() in another process (the SFTP worker receives it as
  // a descriptor). kInvalidArgument if `root` is not a directory.
  static Result<std::unique_ptr<AccountRoot>> Adopt(UniqueFd root);

  ~AccountRoot();
  AccountRoot(const AccountRoot&) = delete;
  AccountRoot& operator=(const AccountRoot&) = delete;

  // --- Operations of the SFTP server. `path` is a client path (see the file comment). ---

  // open(2) of a regular file with `flags` (O_RDONLY/O_WRONLY/O_RDWR, O_APPEND, O_CREAT,
  // O_TRUNC, O_EXCL; O_CLOEXEC is added) and `mode` (masked to 0777) for a created file.
  // Symlinks inside the root are followed. EINVAL (kInvalidArgument) for anything that is not
  // a regular file (a directory, a FIFO, a device), so a session never blocks on a FIFO.
  Result<UniqueFd> OpenFile(std::string_view path, int flags, mode_t mode) const;
  // stat(2) (follows symlinks inside the root).
  Result<struct stat> Stat(std::string_view path) const;
  // lstat(2): describes a final symlink itself.
  Result<struct stat> Lstat(std::string_view path) const;
  // fstat(2) on a descriptor returned by OpenFile or a Directory.
  static Result<struct stat> Fstat(int fd);
  // Applies `attrs` to the file at `path` (follows symlinks inside the root). So that a client
  // can never lock the service out of its own folder (docs/sftp.md, SETSTAT): the account
  // folder itself is refused whatever the attributes (EPERM: kPermissionDenied), and so are
  // permissions without owner rwx (0700) on a folder; files take any mode.
  Status SetStat(std::string_view path, const SetAttrs& attrs) const;
  // Applies `attrs` to an open descriptor, with the same refusals as SetStat.
  Status FSetStat(int fd, const SetAttrs& attrs) const;
  // mkdir(2) with `mode` masked to 0777 and owner rwx added (a folder always keeps them).
  // EEXIST if anything exists there (a symlink included).
  Status Mkdir(std::string_view path, mode_t mode) const;
  // rmdir(2) of an empty directory; ENOTDIR for a symlink. EBUSY for the root itself.
  Status Rmdir(std::string_view path) const;
  // unlink(2): removes a file or a symlink itself (never its target). EISDIR for a directory,
  // EBUSY for the root.
  Status Unlink(std::string_view path) const;
  // Renames `from` (a symlink is renamed itself) to `to`; see RenameMode. EBUSY for the root.
  Status Rename(std::string_view from, std::string_view to, RenameMode mode) const;
  // Creates a symlink at `linkpath` whose target is `target`, stored exactly as given (its use
  // is resolved inside the root). EINVAL for an empty target or one with a NUL byte.
  Status Symlink(std::string_view target, std::string_view linkpath) const;
  // The stored target of the symlink at `path`. EINVAL if it is not a symlink.
  Result<std::string> Readlink(std::string_view path) const;
  // link(2): a new name `newpath` for `existing` (a symlink is linked itself, not its target).
  Status Hardlink(std::string_view existing, std::string_view newpath) const;
  // Opens a directory for reading (follows symlinks inside the root).
  Result<std::unique_ptr<Directory>> OpenDir(std::string_view path) const;
  // The canonical client path ("/"-based) of `path`: lexically normalised, then every symlink
  // resolved inside the root. A missing final component is allowed (as OpenSSH's realpath).
  Result<std::string> RealPath(std::string_view path) const;
  // statvfs(2) of the file system holding `path`.
  Result<struct statvfs> StatVfs(std::string_view path) const;
  static Result<struct statvfs> FStatVfs(int fd);

  // --- Operator side (`sftpctl files`), through the same confinement. ---

  // Lists `path`: the entry itself if it is not a directory, else its entries (without "." and
  // ".."), sorted by path, descending into subdirectories when `recursive` (symlinks are listed,
  // never followed; at most 64 levels deep).
  Result<std::vector<ListEntry>> List(std::string_view path, bool recursive) const;
  // Copies the local file `local` to `remote` (into it, under the local file's name, when
  // `remote` is a directory; "" means the root). Writes a hidden temporary file next to the
  // target and renames it into place, so a client never sees half a file. Returns the bytes
  // copied. kInvalidArgument if `local` is not a regular file; EXDEV (kPermissionDenied) when
  // `remote` is a symlink leading out of the root (the link is not replaced).
  Result<uint64_t> Put(const std::string& local, std::string_view remote,
                       const Progress& progress) const;
  // Copies the file `remote` to the local path `local` (created 0600; replaced only when
  // `overwrite`, else kAlreadyExists). Returns the bytes copied.
  Result<uint64_t> Get(std::string_view remote, const std::string& local, bool overwrite,
                       const Progress& progress) const;
  // Removes a file, a symlink or an empty directory.
  Status Remove(std::string_view remote) const;

  // The root's descriptor (O_PATH | O_DIRECTORY).
  int fd() const { return root_.get(); }

 private:
  // EPERM for the account folder itself, and for a folder's permissions without owner rwx.
  Status CheckSetStat(int fd, const SetAttrs& attrs, const char* what) const;
  static Result<std::unique_ptr<AccountRoot>> OpenFolder(const std::string& storage_root,
                                                         const AccountId& id, bool create);
  explicit AccountRoot(UniqueFd root) : root_(std::move(root)) {}

  // A parent directory descriptor and the final component of a normalised path.
  struct Parent {
    UniqueFd dir;
    std::string name;
  };
  // Resolves everything but the last component of `path` (a client path) beneath the root.
  // EBUSY when `path` is the root itself (it has no parent inside the root).
  Result<Parent> ResolveParent(std::string_view path, std::string_view what) const;
  // openat2 beneath the root with a normalised relative path ("" = the root).
  Result<UniqueFd> OpenBeneath(const std::string& rel, int flags, mode_t mode,
                               std::string_view what) const;
  // The root's own host path, for turning a resolved descriptor back into a client path.
  Result<std::string> HostPathOf(int fd) const;

  UniqueFd root_;
};

}  // namespace sftplc::files
