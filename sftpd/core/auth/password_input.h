#pragma once

// Where an admin's password comes from: a terminal without echo, one line of stdin, or a
// generated one. Never from argv. Every buffer that held the password is wiped (Secret,
// SecureZero); the result is a Secret, which wipes itself.

#include <string_view>

#include "sftpd/core/base/result.h"
#include "sftpd/core/base/secret.h"

namespace sftplc::auth {

// Longest password accepted, in bytes (accounts::ValidatePasswordLength has the policy).
inline constexpr std::size_t kMaxPasswordInput = 1024;

// Prompts on /dev/tty (not stdout, so output redirection still works) and reads one line with
// echo off; with `confirm`, asks a second time and requires the same input. The terminal's
// settings are restored on every path, including a signal (SIGINT etc. are re-raised after
// restoring). kUnavailable when there is no terminal (use --password-stdin);
// kInvalidArgument for an empty line, a line over 1024 bytes, a NUL byte, end of input before
// the newline, or a confirmation that differs. Not thread-safe (the terminal is shared).
Result<Secret> ReadPasswordFromTty(std::string_view prompt, bool confirm);

// As ReadPasswordFromTty, on an already open terminal `fd` (for tests with a pseudo-terminal).
Result<Secret> ReadPasswordFromTerminal(int fd, std::string_view prompt, bool confirm);

// Reads all of standard input (for --password-stdin): exactly one line, its trailing "\n" or
// "\r\n" removed. kInvalidArgument for empty input, more than one line, more than 1024 bytes,
// or a NUL byte. Not thread-safe (reads stdin).
Result<Secret> ReadPasswordFromStdin();

// As ReadPasswordFromStdin, from `fd` (for tests).
Result<Secret> ReadPasswordFromFd(int fd);

// 24 characters drawn uniformly (getrandom) from 55 letters and digits that cannot be confused
// on paper (no 0/O/o, 1/l/I): about 138 bits. Thread-safe.
Secret GeneratePassword();

}  // namespace sftplc::auth
