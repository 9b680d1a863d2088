#pragma once

// DaemonHarness: runs the real sftpd binary for integration tests. It writes a config for a
// temporary world (listen on 127.0.0.1 port 0, a fresh SQLite database, host key and storage
// under a TempDir, cheap Argon2 parameters), starts `sftpd --config FILE`, and waits for its
// "listening on ADDRESS:PORT" line on stdout (never a sleep). The daemon's stderr (its log) goes to
// one file over all its runs, and sftpctl's stderr (its log with --verbose) to another, so a test
// can read everything either binary logged. Stop() sends a signal and returns the exit status; the
// destructor stops a daemon still running (SIGKILL after a bounded wait).
//
// sftpd and sftpctl run as production runs them: as a non-root service user. When the tests run
// as root, both drop to the `sftplc-test` user (tests/testing/service_user.h), and the world is
// given to that user before each start and each sftpctl run; what a test writes into the
// world as root while the daemon runs is the daemon's only after GiveWorld().
//
// With SetFakeTime(), sftpd and sftpctl start under libfaketime at a given time (each process
// from its own start on); with UseFakeTime(), they read a clock offset from a file the test moves
// forward (MoveClock) while the daemon runs. Only the wall clock (CLOCK_REALTIME: what
// SystemClock::Now() reads, so stored dates and ban ends) is faked; the monotonic clock is left
// alone (FAKETIME_DONT_FAKE_MONOTONIC), so the login grace time, idle timeouts and libssh's timers
// do not fire because of a jump.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "tests/testing/sftpctl_runner.h"
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
  // Returns false (the test should fail; error() says why) when libfaketime is not installed.
  bool UseFakeTime();
  // From the next Start() or Sftpctl() on, both binaries run under libfaketime with their clock
  // starting at `when` (UTC, "2029-03-20 10:00:00") when the process starts, and running on
  // from there (a daemon already running keeps its clock). Returns false as UseFakeTime().
  bool SetFakeTime(const std::string& when);
  // Moves the wall clock of sftpd and sftpctl `by` further into the future (cumulative); the
  // daemon sees it at its next clock reading. REQUIRES: UseFakeTime().
  void MoveClock(std::chrono::seconds by);

  // The daemon runs as root instead of the service user (for the test of the root refusal).
  // Call before Start().
  void RunAsRoot() { run_as_root_ = true; }
  // Starts this sftpd instead of the build's (a copy placed elsewhere). Call before Start().
  void UseBinary(std::string path) { binary_ = std::move(path); }
  // Gives the world (and anything the test wrote into it as root) to the service user.
  void GiveWorld() const { sftpctl_.GiveWorld(); }

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

  // Waits (up to `timeout_s`) until the daemon's log contains `text` at or after byte `from`
  // (e.g. Log().size() taken before the action whose line is awaited); true if it did.
  bool WaitForLog(const std::string& text, int timeout_s = 30, std::size_t from = 0) const;

  // The daemon's Prometheus text, scraped from the address it logged ("metrics on ADDRESS"),
  // or "" when it serves none (Set("metrics", "listen = \"127.0.0.1:0\"") before Start()).
  std::string ScrapeMetrics() const;

  // Runs the built sftpctl with this config: `sftpctl --config FILE <args>` as the service user
  // (on the daemon's fake clock, if any). Its stderr is also appended to SftpctlLog().
  CommandResult Sftpctl(const std::string& args, const std::string& stdin_data = "");
  // A real OpenSSH sftp session logging in as `username` with `password` (one attempt: after a
  // refusal ssh would otherwise go on with empty passwords once sshpass closes its terminal),
  // running `batch`. After a login, waits until the daemon logged the end of the session (its
  // usage row is closed then); exit code 124 if it did not within 30 s.
  CommandResult SftpWithPassword(const std::string& username, const std::string& password,
                                 const std::string& batch);
  // Everything sftpctl wrote on stderr so far, over all its runs.
  std::string SftpctlLog() const { return ReadFile(sftpctl_log_path_); }

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
  // Finds libfaketimeMT.so.1 (once); false, with error_ set, when it is not installed.
  bool FindFakeTime();

  SftpctlRunner sftpctl_;
  bool run_as_root_ = false;
  std::string binary_;  // empty: the build's sftpd
  std::string sftpctl_log_path_;
  std::string faketime_lib_;  // libfaketimeMT.so.1, once found
  std::chrono::seconds clock_offset_{0};
  std::string start_at_;  // SetFakeTime(); empty: UseFakeTime()'s offset file, if any
};

}  // namespace sftplc::testing
