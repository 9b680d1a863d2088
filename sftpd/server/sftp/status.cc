#include "sftpd/server/sftp/status.h"

#include <cerrno>

#include "sftpd/server/sftp/protocol.h"

namespace sftplc::sftp {

uint32_t ErrnoToStatus(int err) {
  switch (err) {
    case 0:
      return kFxOk;
    case ENOENT:
    case ENOTDIR:
    case EBADF:
    case ELOOP:
      return kFxNoSuchFile;
    case EPERM:
    case EACCES:
    case EFAULT:
    case EXDEV:
      return kFxPermissionDenied;
    case ENAMETOOLONG:
    case EINVAL:
      return kFxBadMessage;
    case ENOSYS:
      return kFxOpUnsupported;
    default:
      return kFxFailure;
  }
}

uint32_t StatusFor(const Error& error) {
  if (error.sys_errno() != 0) {
    return ErrnoToStatus(error.sys_errno());
  }
  switch (error.code()) {
    case ErrorCode::kNotFound:
      return kFxNoSuchFile;
    case ErrorCode::kPermissionDenied:
      return kFxPermissionDenied;
    default:
      return kFxFailure;
  }
}

std::string_view StatusMessage(uint32_t status) {
  switch (status) {
    case kFxOk:
      return "Success";
    case kFxEof:
      return "End of file";
    case kFxNoSuchFile:
      return "No such file";
    case kFxPermissionDenied:
      return "Permission denied";
    case kFxFailure:
      return "Failure";
    case kFxBadMessage:
      return "Bad message";
    case kFxNoConnection:
      return "No connection";
    case kFxConnectionLost:
      return "Connection lost";
    case kFxOpUnsupported:
      return "Operation unsupported";
    default:
      return "Unknown error";
  }
}

}  // namespace sftplc::sftp
