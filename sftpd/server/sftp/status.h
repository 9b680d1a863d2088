#pragma once

// The one mapping from failures to SFTP status codes.

#include <cstdint>
#include <string_view>

#include "sftpd/core/base/result.h"

namespace sftplc::sftp {

// errno -> SSH_FX_* as OpenSSH's errno_to_portable(): ENOENT/ENOTDIR/EBADF/ELOOP ->
// NO_SUCH_FILE; EPERM/EACCES/EFAULT/EXDEV (a path that would leave the root) ->
// PERMISSION_DENIED; ENAMETOOLONG/EINVAL -> BAD_MESSAGE; ENOSYS -> OP_UNSUPPORTED; 0 -> OK;
// anything else FAILURE.
uint32_t ErrnoToStatus(int err);

// The status for an Error: its errno when it came from a system call, else its ErrorCode
// (kNotFound -> NO_SUCH_FILE, kPermissionDenied -> PERMISSION_DENIED, others FAILURE).
uint32_t StatusFor(const Error& error);

// The text sent with a status ("No such file", ...).
std::string_view StatusMessage(uint32_t status);

}  // namespace sftplc::sftp
