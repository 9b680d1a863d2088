#pragma once

// DaemonHarness: runs the real sftpd binary for integration tests. It writes a config for a
// temporary world (listen on 127.0.0.1 port 0, a fresh SQLite database, host key and storage
// under a TempDir, allow_root for CI running as root, cheap Argon2 parameters), starts
// `sftpd --config FILE`, and waits for its "listening on ADDRESS:PORT" line on stdout (never a
// sleep). The daemon's stderr (its log) goes to a file the test can read. Stop() sends a signal
// and returns the exit status; the destructor stops a daemon still running (SIGKILL after a
// bounded wait).
//
// With UseFakeTime(), sftpd and sftpctl run under libfaketime with a wall clock the test moves
// forward (MoveClock) while the daemon runs. Only the wall clock (CLOCK_REALTIME: what
// SystemClock::Now() reads, so stored dates and ban ends) moves; the monotonic clock is left
// alone (FAKETIME_DONT_FAKE_MONOTONIC), so the login grace time, idle timeouts and libssh's
// timers do not fire because of a jump.

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "tests/testing/temp_dir.h"
#include "tests/testing/test_env.h"

namespace sftplc::testing {

class DaemonHarness {
 public:
  DaemonHarness();
  ~DaemonHarness();
  DaemonHarness(const DaemonHarness&) = delete;
  DaemonHarness& operator=(const DaemonHarness&) = delete;

  // Extra lines for a section of the config ("server" -> "idle_timeout = \"5s\""). Call before
  // WriteConfig()/Start().
  void Set(const std::string& section, const std::string& line);
  // Writes the config file (Start() calls it when needed) and returns its path.
  std::string WriteConfig();

  // Runs sftpd and sftpctl under libfaketime, starting at the real time. Call before Start().
  // Returns false (the test should fail) when libfaketime is not installed.
  bool UseFakeTime();
  // Moves the wall clock of sftpd and sftpctl `by` further into the future (cumulative); the
  // daemon sees it at its next clock reading. REQUIRES: UseFakeTime().
  void MoveClock(std::chrono::seconds by);

  // Starts sftpd and waits (up to 60 s) for `listen_lines` "listening on" lines. Returns false
  // (with the reason in error()) if the daemon exits or stays silent.
  bool Start(int listen_lines = 1);
  // Sends `sig` and waits (up to `wait_s` seconds) for the exit: exit code, 128+signal when it
  // was killed, or -1 if it did not exit in time (it is then killed).
  int Stop(int sig, int wait_s = 60);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  int port() const { return port_; }
  const std::vector<std::string>& addresses() const { return addresses_; }
  const std::string& error() const { return error_; }
  // The daemon's log so far.
  std::string Log() const { return ReadFile(log_path_); }

  // Waits (up to `timeout_s`) until the daemon's log contains `text`; true if it did.
  bool WaitForLog(const std::string& text, int timeout_s = 30) const;

  // Runs the built sftpctl with this config: `sftpctl --config FILE <args>` (on the daemon's
  // fake clock after UseFakeTime()).
  CommandResult Sftpctl(const std::string& args, const std::string& stdin_data = "");

  const TempDir& dir() const { return dir_; }
  std::string config_path() const { return dir_.Sub("sftpd.toml"); }
  std::string database_path() const { return dir_.Sub("var/accounts.db"); }
  std::string storage_root() const { return dir_.Sub("var/files"); }
  std::string host_key_path() const { return dir_.Sub("var/ssh_host_ed25519_key"); }

 private:
  // The variables that put a process under libfaketime; empty without UseFakeTime().
  std::vector<std::string> FakeTimeEnv() const;

  TempDir dir_;
  std::map<std::string, std::vector<std::string>> extra_;
  std::string log_path_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int port_ = 0;
  std::vector<std::string> addresses_;
  std::string error_;
  std::string faketime_lib_;  // libfaketimeMT.so.1, once UseFakeTime() found it
  std::chrono::seconds clock_offset_{0};
};

}  // namespace sftplc::testing
