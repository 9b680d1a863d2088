#pragma once

// What scripts/test provides to the suites through the environment:
//   SFTPLC_TEST_PG_URL   "postgresql://sftplc@127.0.0.1:PORT/" (a throwaway cluster; a test
//                        creates its own database in it)
//   SFTPLC_TEST_SMTP_PORT  port of the aiosmtpd sink on 127.0.0.1 (its maildir:
//                        SFTPLC_TEST_SMTP_MAILDIR)
// Suites that need one of these and do not find it fail (GTEST_FAIL), unless
// SFTPLC_TEST_ALLOW_SKIP=1 (a developer without PostgreSQL): then they skip with a message.

#include <optional>
#include <string>

namespace sftplc::testing {

std::optional<std::string> Env(const char* name);
// The PostgreSQL server URL, or nullopt.
std::optional<std::string> PostgresUrl();
// Creates a fresh database on the test server and returns its URL; nullopt without a server.
std::optional<std::string> CreatePostgresDatabase(const std::string& prefix);
// Path of a built binary: SFTPLC_BINARY_DIR + "/" + rel ("sftpd/sftpd", "admin/sftpctl").
std::string BinaryPath(const std::string& rel);
std::string SourcePath(const std::string& rel);
// True when SFTPLC_TEST_ALLOW_SKIP=1.
bool SkipAllowed();

// Runs a command line through /bin/sh; returns exit code and captured stdout/stderr.
struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
CommandResult RunCommand(const std::string& command_line, const std::string& stdin_data = "");
// "ASAN_OPTIONS=<the current ones>:detect_leaks=0", for a process run under libfaketime:
// LeakSanitizer's exit-time scan aborts under libfaketime ("The futex facility returned an
// unexpected error code"), so such processes are checked by ASan and UBSan without the leak
// scan (every other process keeps it). Harmless in a build without ASan.
std::string AsanOptionsUnderFakeTime();
// Single-quotes `s` for /bin/sh (bytes pass through unchanged, invalid UTF-8 included).
std::string ShellQuote(const std::string& s);

// The value of the sample `series` (name and labels as printed) in a Prometheus text scrape,
// or -1 if absent.
double PrometheusSample(const std::string& text, const std::string& series);

}  // namespace sftplc::testing
