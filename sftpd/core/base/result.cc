#include "sftpd/core/base/result.h"

namespace sftplc {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kInvalidArgument:
      return "invalid input";
    case ErrorCode::kPermissionDenied:
      return "permission denied";
    case ErrorCode::kAlreadyExists:
      return "conflict";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kInternal:
      return "internal error";
  }
  return "error";
}

std::string Error::ToString() const { return message_; }

}  // namespace sftplc
