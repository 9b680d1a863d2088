#pragma once

// Error and Result<T>: failures are values. The methods of Result<T> are a subset of
// std::expected<T, Error> (g++ 12 ships no <expected> in C++20), so a later move is mechanical:
// has_value(), operator bool, value(), error(), operator*, operator->, value_or().

#include <fmt/format.h>

#include <cstdlib>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace sftplc {

// What went wrong, as a category callers can branch on. The admin CLI maps these to its exit
// codes (docs/sftpctl.md); the SFTP layer maps them to SSH_FX_* status codes.
enum class ErrorCode {
  kNotFound,          // the thing named does not exist
  kInvalidArgument,   // bad input: the message says which field and why
  kPermissionDenied,  // exists, but the caller may not do this (or a path left its root)
  kAlreadyExists,     // a conflict: unique key taken, state does not allow the change
  kUnavailable,       // a dependency (database, SMTP, disk) cannot be reached now
  kInternal,          // a bug or a broken invariant
};

std::string_view ErrorCodeName(ErrorCode code);

// An error code plus one human sentence. Messages never contain personal data or secrets.
class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Error NotFound(std::string m) { return {ErrorCode::kNotFound, std::move(m)}; }
  static Error InvalidArgument(std::string m) {
    return {ErrorCode::kInvalidArgument, std::move(m)};
  }
  static Error PermissionDenied(std::string m) {
    return {ErrorCode::kPermissionDenied, std::move(m)};
  }
  static Error AlreadyExists(std::string m) { return {ErrorCode::kAlreadyExists, std::move(m)}; }
  static Error Unavailable(std::string m) { return {ErrorCode::kUnavailable, std::move(m)}; }
  static Error Internal(std::string m) { return {ErrorCode::kInternal, std::move(m)}; }

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  bool IsNotFound() const { return code_ == ErrorCode::kNotFound; }
  // The errno of the system call that failed, or 0 when the error did not come from one. Set by
  // files/ (files::SysError) so the SFTP layer maps it to a status exactly (errno_to_portable).
  int sys_errno() const { return sys_errno_; }
  Error& set_sys_errno(int e) {
    sys_errno_ = e;
    return *this;
  }
  // "not found: no account named ..." - for logs and CLI output.
  std::string ToString() const;

 private:
  ErrorCode code_;
  std::string message_;
  int sys_errno_ = 0;
};

// Holds either a T or an Error. Constructible implicitly from either, so functions write
// `return value;` and `return Error::NotFound("...");`.
template <typename T>
class [[nodiscard]] Result {
 public:
  using value_type = T;

  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT: implicit
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  // REQUIRES: has_value() (aborts otherwise: calling it on an error is a bug).
  T& value() & {
    Check();
    return std::get<0>(v_);
  }
  const T& value() const& {
    Check();
    return std::get<0>(v_);
  }
  T&& value() && {
    Check();
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  template <typename U>
  T value_or(U&& fallback) const& {
    return has_value() ? std::get<0>(v_) : static_cast<T>(std::forward<U>(fallback));
  }

  // REQUIRES: !has_value().
  const Error& error() const& {
    CheckError();
    return std::get<1>(v_);
  }
  Error&& error() && {
    CheckError();
    return std::get<1>(std::move(v_));
  }

 private:
  void Check() const {
    if (v_.index() != 0) {
      std::abort();
    }
  }
  void CheckError() const {
    if (v_.index() != 1) {
      std::abort();
    }
  }
  std::variant<T, Error> v_;
};

// Result<void>: success or an Error. `return {};` is success.
template <>
class [[nodiscard]] Result<void> {
 public:
  using value_type = void;
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit

  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  void value() const {
    if (!ok_) {
      std::abort();
    }
  }
  const Error& error() const& {
    if (ok_) {
      std::abort();
    }
    return error_;
  }
  Error&& error() && {
    if (ok_) {
      std::abort();
    }
    return std::move(error_);
  }

 private:
  Error error_{ErrorCode::kInternal, ""};
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace sftplc

template <>
struct fmt::formatter<sftplc::Error> : fmt::formatter<std::string> {
  auto format(const sftplc::Error& e, fmt::format_context& ctx) const {
    return fmt::formatter<std::string>::format(e.ToString(), ctx);
  }
};
