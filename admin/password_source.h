#pragma once

// Where `account create` and `account set-password` get a password: a terminal without echo
// (asked twice), one line of stdin (--password-stdin), or a generated one (--generate-password,
// printed once). Never an argument. The password is checked (12-1024 bytes), hashed with the
// configured Argon2id parameters, and wiped; only the PHC string leaves this file.

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "sftpd/core/base/result.h"
#include "sftpd/core/base/secret.h"
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

struct ObtainedPassword {
  std::optional<std::string> phc;  // nullopt for --no-password
  Secret generated;                // the password, when --generate-password made it
};

// The hashed password. Without a flag, asks on the terminal; without a terminal,
// kInvalidArgument naming the flags. kInvalidArgument for a length outside 12-1024 bytes or a
// confirmation that differs; kUnavailable when hashing cannot run.
Result<ObtainedPassword> ObtainPassword(const PasswordFlags& flags,
                                        const config::Argon2Config& argon2);

// Prints a generated password once, alone on its line ("password: ..."), once the change that
// uses it has been stored. Nothing for an empty secret.
void PrintGeneratedPassword(const Secret& password);

}  // namespace sftplc::admin
