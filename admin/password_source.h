#pragma once

// Where `account create` and `account set-password` get a password: a terminal without echo
// (asked twice), one line of stdin (--password-stdin), or a generated one (--generate-password,
// printed once). Never an argument. The password is checked (12-1024 bytes), hashed with the
// configured Argon2id parameters, and wiped; only the PHC string leaves this file.

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "sftpd/core/base/result.h"
#include "sftpd/core/config/config.h"

namespace sftplc::admin {

struct PasswordFlags {
  bool from_stdin = false;  // --password-stdin
  bool generate = false;    // --generate-password
  bool none = false;        // --no-password (create only: keys only)
};

// Adds --password-stdin and --generate-password (and --no-password when `allow_none`), mutually
// exclusive, to `cmd`.
void AddPasswordFlags(CLI::App& cmd, PasswordFlags& flags, bool allow_none);

// The hashed password, or nullopt for --no-password. Without a flag, asks on the terminal;
// without a terminal, kInvalidArgument naming the flags. A generated password is written to
// stdout once ("password: ..."), after hashing succeeded. kInvalidArgument for a length outside
// 12-1024 bytes or a confirmation that differs; kUnavailable when hashing cannot run.
Result<std::optional<std::string>> ObtainPasswordHash(const PasswordFlags& flags,
                                                      const config::Argon2Config& argon2);

}  // namespace sftplc::admin
