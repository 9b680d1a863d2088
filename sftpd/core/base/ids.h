#pragma once

// AccountId: a random 128-bit identifier (never sequential), written as 32 lowercase hex
// digits. It is what log lines name instead of a person.

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "sftpd/core/base/result.h"

namespace sftplc {

class AccountId {
 public:
  AccountId() = default;  // the empty id (invalid); valid ids come from New() or Parse()
  // A fresh id from getrandom(2). Aborts only if the kernel cannot provide randomness.
  static AccountId New();
  // Accepts exactly 32 hex digits (either case). kInvalidArgument otherwise.
  static Result<AccountId> Parse(std::string_view text);
  // True for anything Parse() would accept.
  static bool LooksLikeId(std::string_view text);

  const std::string& str() const { return hex_; }
  // The first 8 hex digits, for log lines.
  std::string_view short_str() const { return std::string_view(hex_).substr(0, 8); }
  bool empty() const { return hex_.empty(); }
  friend bool operator==(const AccountId&, const AccountId&) = default;
  friend auto operator<=>(const AccountId&, const AccountId&) = default;

 private:
  explicit AccountId(std::string hex) : hex_(std::move(hex)) {}
  std::string hex_;
};

// Fills `out` with random bytes from getrandom(2). Aborts if the kernel cannot provide them.
void RandomBytes(void* out, std::size_t n);
// n random bytes as 2n lowercase hex digits.
std::string RandomHex(std::size_t n);

}  // namespace sftplc

template <>
struct fmt::formatter<sftplc::AccountId> : fmt::formatter<std::string_view> {
  auto format(const sftplc::AccountId& id, fmt::format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(id.str(), ctx);
  }
};

template <>
struct std::hash<sftplc::AccountId> {
  std::size_t operator()(const sftplc::AccountId& id) const noexcept {
    return std::hash<std::string>()(id.str());
  }
};
