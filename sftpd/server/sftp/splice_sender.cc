#include "sftpd/server/sftp/splice_sender.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace sftplc::sftp {

namespace {

// A READ of kMaxReadLength at an offset within a page spans one page more than its length; the
// kernel rounds a pipe's size up to a power of two pages.
constexpr int kPipeSize = 2 * static_cast<int>(kMaxReadLength);

}  // namespace

SpliceSender::SpliceSender(int out_fd) : out_fd_(out_fd) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    pipe_status_ = files::SysError(errno, "pipe2");
    return;
  }
  files::UniqueFd r(p[0]);
  files::UniqueFd w(p[1]);
  if (fcntl(w.get(), F_SETPIPE_SZ, kPipeSize) < 0) {
    // EPERM: the user's pipes already hold fs.pipe-user-pages-soft pages (16,384 by default:
    // 128 workers' pipes), and no pipe of this user may grow past its default size.
    pipe_status_ = files::SysError(
        errno, errno == EPERM ? "F_SETPIPE_SZ (the user's pipe quota, fs.pipe-user-pages-soft)"
                              : "F_SETPIPE_SZ");
    return;
  }
  pipe_read_ = std::move(r);
  pipe_write_ = std::move(w);
}

int64_t SpliceSender::Stage(int fd, uint64_t offset, std::size_t len) {
  if (!pipe_write_.valid()) {
    return -EINVAL;
  }
  auto off = static_cast<loff_t>(offset);
  ssize_t n;
  do {
    // The pipe is empty (Send drains it) and holds a whole READ: never waits for room.
    n = splice(fd, &off, pipe_write_.get(), nullptr, len, SPLICE_F_NONBLOCK);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    return -errno;
  }
  staged_ = static_cast<std::size_t>(n);
  return n;
}

bool SpliceSender::Send(std::string& out) {
  if (!Write(out)) {
    return false;
  }
  out.clear();
  while (staged_ > 0) {
    ssize_t n = splice(pipe_read_.get(), nullptr, out_fd_, nullptr, staged_, 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      error_ = n < 0 ? errno : EPIPE;
      return false;
    }
    staged_ -= static_cast<std::size_t>(n);
  }
  return true;
}

bool SpliceSender::Write(const std::string& out) {
  std::size_t off = 0;
  while (off < out.size()) {
    ssize_t n = write(out_fd_, out.data() + off, out.size() - off);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      error_ = n < 0 ? errno : EPIPE;
      return false;
    }
    off += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace sftplc::sftp
