#pragma once

// SpliceSender: the SFTP worker's DataSender (processor.h). READ data goes from the file's pages
// to the data socket through a pipe of the worker's own (splice(2)) instead of being copied into
// the worker and out again: the kernel copies it once, when the transport reads it. The data is
// staged first and its DATA header written after, so the header always states what follows,
// even when the file shrinks in between.
//
// The worker makes it before it confines itself (pipe2 is not in its system-call allow-list).
// Not thread-safe: one per worker.

#include <cstddef>
#include <cstdint>
#include <string>

#include "sftpd/core/base/result.h"
#include "sftpd/core/files/account_root.h"
#include "sftpd/server/sftp/processor.h"

namespace sftplc::sftp {

class SpliceSender final : public DataSender {
 public:
  // `out_fd` (not owned, blocking) gets every reply. Makes the pipe and sizes it for a whole
  // READ (kMaxReadLength, which can span one page more than its length): without such a pipe
  // (no descriptor left, the size refused: the user's pipes past fs.pipe-user-pages-soft) every
  // Stage answers -EINVAL, READ data is copied, and pipe_status() says why.
  explicit SpliceSender(int out_fd);

  const Status& pipe_status() const { return pipe_status_; }

  int64_t Stage(int fd, uint64_t offset, std::size_t len) override;
  bool Send(std::string& out) override;
  // Writes `out` whole, waiting as long as the reader does. False (error() says why) if it
  // could not.
  bool Write(const std::string& out);
  // The errno of the Send or Write that failed (EPIPE or ECONNRESET: the reader closed its
  // end), 0 while none has.
  int error() const { return error_; }

 private:
  int out_fd_;
  files::UniqueFd pipe_read_;
  files::UniqueFd pipe_write_;
  Status pipe_status_;
  std::size_t staged_ = 0;  // bytes in the pipe, sent by the next Send
  int error_ = 0;
};

}  // namespace sftplc::sftp
