#pragma once

// The sftpd process around the Server: configuration, start-up checks, database, stores, host
// keys, the "listening on ADDRESS:PORT" lines, and signals (SIGTERM/SIGINT: graceful stop;
// SIGHUP: reload what can change safely). main.cc parses flags and calls these.

#include <string>

namespace sftplc::server {

// Runs the daemon in the foreground until SIGTERM/SIGINT. Logs to stderr; prints one
// "listening on ADDRESS:PORT" line per listen address to stdout (flushed) once it accepts.
// Returns the process exit code: 0 after a graceful stop, 1 on a start-up error (bad config,
// running as root without server.allow_root, database or listener failure).
int RunDaemon(const std::string& config_path);

// Loads and validates the configuration (and that the host key files, when present, are
// readable private keys) without starting anything. Prints "config ok: PATH" to stdout.
// Returns 0 when valid, 1 otherwise (the error on stderr).
int CheckConfig(const std::string& config_path);

}  // namespace sftplc::server
