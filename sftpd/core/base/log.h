#pragma once

// Named spdlog loggers, one per component ("sftpd", "auth", "sftp", "lifecycle", "mail",
// "store", "admin"), all writing to stderr (journald-friendly, no colours when not a TTY).
// A line is a short sentence then key=value pairs; session lines start "[c42]". Never log a
// name, email, phone, password, attempted login name or file contents: log AccountId.

#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>

namespace sftplc {

using Logger = std::shared_ptr<spdlog::logger>;

// Returns the logger called `name`, creating it on first use with the process-wide level.
// Thread-safe.
Logger GetLogger(std::string_view name);

// Sets the level of every logger, existing and future: "trace", "debug", "info", "warn",
// "error", "off". Returns false for an unknown level name.
bool SetLogLevel(std::string_view level);

// Bytes a client sent, made safe for one log line: every byte outside printable ASCII (control
// characters, DEL, bytes >= 0x80) and the backslash become "\xNN", so a client cannot forge or
// split log lines; at most `max_bytes` of the input are kept, then "...". Thread-safe (pure).
std::string LogSafe(std::string_view client_bytes, std::size_t max_bytes = 512);

}  // namespace sftplc
