#include "sftpd/core/lifecycle/file_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace sftplc::lifecycle {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }

 private:
  int fd_;
};

Error Errno(const char* what) {
  return Error::Unavailable(fmt::format("{}: {}", what, std::strerror(errno)));
}

// Removes the directory `name` in `parent` and everything below it.
Status RemoveDirAt(int parent, const char* name, RemovedCounts& counts, int depth) {
  if (depth > 256) {
    return Error::Unavailable("folder tree too deep to remove");
  }
  Fd fd(openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) {
    return Errno("cannot open a folder to delete it");
  }
  // A 0500 folder cannot have entries removed: make it writable first (it is going anyway).
  fchmod(fd.get(), 0700);
  int dup_fd = dup(fd.get());
  if (dup_fd < 0) {
    return Errno("dup");
  }
  DIR* dir = fdopendir(dup_fd);
  if (dir == nullptr) {
    close(dup_fd);
    return Errno("cannot read a folder to delete it");
  }
  std::vector<std::string> names;
  while (dirent* e = readdir(dir)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      names.emplace_back(e->d_name);
    }
  }
  closedir(dir);
  for (const auto& n : names) {
    struct stat st;
    if (fstatat(fd.get(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) {
        continue;
      }
      return Errno("cannot stat a file to delete it");
    }
    if (S_ISDIR(st.st_mode)) {
      Status s = RemoveDirAt(fd.get(), n.c_str(), counts, depth + 1);
      if (!s) {
        return s;
      }
    } else {
      if (unlinkat(fd.get(), n.c_str(), 0) != 0 && errno != ENOENT) {
        return Errno("cannot delete a file");
      }
      counts.files++;
      counts.bytes += st.st_size;
    }
  }
  if (unlinkat(parent, name, AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return Errno("cannot delete a folder");
  }
  return {};
}

// A folder of the account as the client sees it: "/" for the account's folder itself.
std::string ClientPath(const std::string& prefix) { return "/" + prefix; }

Error UnreadableFolder(const std::string& prefix) {
  return Error::Unavailable(fmt::format("cannot read the folder \"{}\" of the account: {}",
                                        ClientPath(prefix), std::strerror(errno)));
}

// Lists the folder `dirfd` (its path relative to the account's folder: `prefix`) and every
// folder below it. An entry that vanishes meanwhile is skipped; anything else that cannot be
// read is an error, so a listing is never silently incomplete.
Status ListDirAt(int dirfd, const std::string& prefix, std::vector<FileEntry>& out, int depth) {
  if (depth > 256) {
    return Error::Unavailable(fmt::format(
        "the folder \"{}\" of the account is nested too deep to list", ClientPath(prefix)));
  }
  int dup_fd = dup(dirfd);
  if (dup_fd < 0) {
    return UnreadableFolder(prefix);
  }
  DIR* dir = fdopendir(dup_fd);
  if (dir == nullptr) {
    close(dup_fd);
    return UnreadableFolder(prefix);
  }
  std::vector<std::string> names;
  errno = 0;
  while (dirent* e = readdir(dir)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      names.emplace_back(e->d_name);
    }
    errno = 0;
  }
  if (errno != 0) {
    Error e = UnreadableFolder(prefix);
    closedir(dir);
    return e;
  }
  closedir(dir);
  for (const auto& n : names) {
    struct stat st;
    if (fstatat(dirfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) {
        continue;
      }
      return UnreadableFolder(prefix);
    }
    FileEntry f;
    f.path = prefix.empty() ? n : prefix + "/" + n;
    f.size = S_ISDIR(st.st_mode) ? 0 : st.st_size;
    f.modified = FromUnix(st.st_mtim.tv_sec);
    f.is_dir = S_ISDIR(st.st_mode);
    f.is_symlink = S_ISLNK(st.st_mode);
    out.push_back(f);
    if (f.is_dir) {
      Fd sub(openat(dirfd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub.get() < 0) {
        if (errno == ENOENT) {
          continue;
        }
        return UnreadableFolder(f.path);
      }
      if (Status s = ListDirAt(sub.get(), f.path, out, depth + 1); !s) {
        return s;
      }
    }
  }
  return {};
}

}  // namespace

Result<RemovedCounts> RemoveAccountRoot(const std::string& storage_root, const AccountId& id) {
  RemovedCounts counts;
  if (storage_root.empty() || id.empty()) {
    return counts;
  }
  Fd root(open(storage_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (root.get() < 0) {
    if (errno == ENOENT) {
      return counts;
    }
    return Errno("cannot open storage.root");
  }
  struct stat st;
  if (fstatat(root.get(), id.str().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) {
      return counts;
    }
    return Errno("cannot stat the account folder");
  }
  if (!S_ISDIR(st.st_mode)) {
    // Not a folder (a stray file or a link): remove the entry itself, never a link's target.
    if (unlinkat(root.get(), id.str().c_str(), 0) != 0 && errno != ENOENT) {
      return Errno("cannot delete the account entry");
    }
    counts.files = 1;
    counts.bytes = st.st_size;
    return counts;
  }
  Status s = RemoveDirAt(root.get(), id.str().c_str(), counts, 0);
  if (!s) {
    return s.error();
  }
  return counts;
}

Result<std::vector<FileEntry>> ListAccountFiles(const std::string& storage_root,
                                                const AccountId& id) {
  std::vector<FileEntry> out;
  if (storage_root.empty() || id.empty()) {
    return out;
  }
  std::string path = storage_root + "/" + id.str();
  Fd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) {
      return out;
    }
    return UnreadableFolder("");
  }
  if (Status s = ListDirAt(fd.get(), "", out, 0); !s) {
    return s.error();
  }
  std::sort(out.begin(), out.end(),
            [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
  return out;
}

bool AccountRootExists(const std::string& storage_root, const AccountId& id) {
  if (storage_root.empty() || id.empty()) {
    return false;
  }
  struct stat st;
  std::string path = storage_root + "/" + id.str();
  return lstat(path.c_str(), &st) == 0;
}

}  // namespace sftplc::lifecycle
