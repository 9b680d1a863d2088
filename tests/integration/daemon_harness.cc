#include "tests/integration/daemon_harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string_view>
#include <thread>

#include "tests/testing/openssh_client.h"
#include "tests/testing/service_user.h"

namespace sftplc::testing {
namespace {

// The user of a daemon started with RunAsRoot(): no drop.
const ServiceUser kRoot{"root", 0, 0, false};

constexpr const char* kPrefix = "listening on ";

int ExitStatus(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return -1;
}

// Removes what libfaketime leaves in /dev/shm when a process under it is killed (it cleans up
// itself on a normal exit).
void RemoveFakeTimeShm(pid_t pid) {
  for (const char* name : {"/dev/shm/faketime_shm_", "/dev/shm/sem.faketime_sem_"}) {
    unlink((name + std::to_string(pid)).c_str());
  }
}

}  // namespace

DaemonHarness::DaemonHarness()
    : log_path_(dir_.Sub("sftpd.log")),
      sftpctl_(config_path(), dir_.path()),
      sftpctl_log_path_(dir_.Sub("sftpctl.log")) {
  std::filesystem::create_directories(dir_.Sub("var/files"));
  sftpctl_.set_log(sftpctl_log_path_);
}

DaemonHarness::~DaemonHarness() {
  if (pid_ > 0) {
    Stop(SIGTERM, 30);
  }
  if (stdout_fd_ >= 0) {
    close(stdout_fd_);
  }
}

void DaemonHarness::Set(const std::string& section, const std::string& line) {
  extra_[section].push_back(line);
}

std::string DaemonHarness::WriteConfig() {
  std::map<std::string, std::vector<std::string>> cfg;
  cfg["server"] = {"listen = [\"127.0.0.1:0\"]", "host_keys = [\"var/ssh_host_ed25519_key\"]",
                   "shutdown_grace = \"10s\""};
  cfg["storage"] = {"root = \"var/files\""};
  cfg["database"] = {"url = \"sqlite:var/accounts.db\""};
  // Cheap hashes: the tests exercise the transport, not Argon2's cost.
  cfg["auth.argon2"] = {"t_cost = 1", "m_cost_kib = 8192", "parallelism = 1"};
  cfg["auth"] = {"failure_floor_ms = 0"};
  cfg["lifecycle"] = {"enabled = false"};
  cfg["log"] = {"level = \"info\""};
  for (const auto& [section, lines] : extra_) {
    for (const std::string& l : lines) {
      // A later line for the same key replaces the default one.
      std::string key = l.substr(0, l.find('='));
      auto& v = cfg[section];
      std::erase_if(v, [&](const std::string& x) { return x.substr(0, x.find('=')) == key; });
      v.push_back(l);
    }
  }
  std::string text;
  for (const auto& [section, lines] : cfg) {
    text += "[" + section + "]\n";
    for (const std::string& l : lines) {
      text += l + "\n";
    }
    text += "\n";
  }
  WriteFile(config_path(), text);
  return config_path();
}

bool DaemonHarness::FindFakeTime() {
  if (faketime_lib_.empty()) {
    // Debian installs the library under the multiarch folder (/usr/lib/x86_64-linux-gnu/...).
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/usr/lib", ec)) {
      std::filesystem::path lib = entry.path() / "faketime" / "libfaketimeMT.so.1";
      if (std::filesystem::exists(lib, ec)) {
        faketime_lib_ = lib.string();
        break;
      }
    }
  }
  if (faketime_lib_.empty()) {
    error_ = "libfaketime is not installed (scripts/setup installs the faketime package)";
    return false;
  }
  return true;
}

bool DaemonHarness::UseFakeTime() {
  if (!FindFakeTime()) {
    return false;
  }
  start_at_.clear();
  clock_offset_ = std::chrono::seconds(0);
  WriteFile(dir_.Sub("faketime.rc"), "+0\n");
  return true;
}

bool DaemonHarness::SetFakeTime(const std::string& when) {
  if (!FindFakeTime()) {
    return false;
  }
  start_at_ = when;
  return true;
}

void DaemonHarness::MoveClock(std::chrono::seconds by) {
  clock_offset_ += by;
  // Written aside and renamed, so the daemon never reads a half-written offset.
  WriteFile(dir_.Sub("faketime.rc.new"), "+" + std::to_string(clock_offset_.count()) + "\n");
  std::filesystem::rename(dir_.Sub("faketime.rc.new"), dir_.Sub("faketime.rc"));
}

std::vector<std::string> DaemonHarness::FakeTimeEnv() const {
  if (faketime_lib_.empty()) {
    return {};
  }
  std::string preload = faketime_lib_;
  if (auto existing = Env("LD_PRELOAD")) {
    preload += ":" + *existing;
  }
  if (!start_at_.empty()) {
    return {"LD_PRELOAD=" + preload, "FAKETIME=@" + start_at_, "FAKETIME_DONT_FAKE_MONOTONIC=1",
            "TZ=UTC", AsanOptionsUnderFakeTime()};
  }
  // NO_CACHE: the offset file is read at every clock reading, so a move is seen at once (the
  // default caches it for 10 s).
  return {"LD_PRELOAD=" + preload,
          "FAKETIME_TIMESTAMP_FILE=" + dir_.Sub("faketime.rc"),
          "FAKETIME_NO_CACHE=1",
          "FAKETIME_DONT_FAKE_MONOTONIC=1",
          "TZ=UTC",
          AsanOptionsUnderFakeTime()};
}

bool DaemonHarness::Start(int listen_lines) {
  if (!std::filesystem::exists(config_path())) {
    WriteConfig();
  }
  addresses_.clear();
  port_ = 0;
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    error_ = "pipe failed";
    return false;
  }
  // What the test wrote into the world as root becomes the service's, as in production.
  const ServiceUser& user = run_as_root_ ? kRoot : TestServiceUser();
  GiveToServiceUser(dir_.path());
  std::string binary = binary_.empty() ? BinaryPath("sftpd/sftpd") : binary_;
  std::string config = config_path();
  // The environment is built before fork(): the child only calls async-signal-safe functions.
  std::vector<std::string> env_strings = FakeTimeEnv();
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view var(*e);
    bool replaced = std::any_of(env_strings.begin(), env_strings.end(), [&](const std::string& x) {
      return var.substr(0, var.find('=') + 1) == x.substr(0, x.find('=') + 1);
    });
    if (!replaced) {
      env_strings.emplace_back(var);
    }
  }
  std::vector<char*> envp;
  for (std::string& e : env_strings) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);
  char* argv[] = {binary.data(), const_cast<char*>("--config"), config.data(), nullptr};
  pid_t pid = fork();
  if (pid < 0) {
    error_ = "fork failed";
    return false;
  }
  if (pid == 0) {
    int log = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    dup2(out[1], STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, STDIN_FILENO);
    if (!DropToServiceUserInChild(user)) {
      _exit(126);
    }
    execve(binary.c_str(), argv, envp.data());
    _exit(127);
  }
  close(out[1]);
  pid_ = pid;
  stdout_fd_ = out[0];
  std::string buffer;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (static_cast<int>(addresses_.size()) < listen_lines) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      error_ = "sftpd printed no 'listening on' line within 60 s; log:\n" + Log();
      return false;
    }
    pollfd p{stdout_fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      continue;
    }
    char chunk[4096];
    ssize_t n = read(stdout_fd_, chunk, sizeof(chunk));
    if (n <= 0) {
      int status = 0;
      waitpid(pid_, &status, 0);
      pid_ = -1;
      error_ = "sftpd exited (status " + std::to_string(ExitStatus(status)) + "); log:\n" + Log();
      return false;
    }
    buffer.append(chunk, static_cast<std::size_t>(n));
    std::size_t nl;
    while ((nl = buffer.find('\n')) != std::string::npos) {
      std::string line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      if (line.rfind(kPrefix, 0) == 0) {
        std::string addr = line.substr(std::strlen(kPrefix));
        addresses_.push_back(addr);
        if (port_ == 0) {
          port_ = std::stoi(addr.substr(addr.rfind(':') + 1));
        }
      }
    }
  }
  return true;
}

int DaemonHarness::Stop(int sig, int wait_s) {
  if (pid_ <= 0) {
    return -1;
  }
  kill(pid_, sig);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_s);
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      RemoveFakeTimeShm(pid_);
      pid_ = -1;
      return ExitStatus(status);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      RemoveFakeTimeShm(pid_);
      pid_ = -1;
      return -1;
    }
    // Waiting for a child has no blocking-with-timeout call short of signalfd; poll the child
    // at a short interval (this bounds a wait, it does not order events).
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string DaemonHarness::ScrapeMetrics() const {
  std::string log = Log();
  std::smatch m;
  if (!std::regex_search(log, m, std::regex(R"(metrics on (127\.0\.0\.1:[0-9]+))"))) {
    return "";
  }
  CommandResult r = RunCommand("curl -sf http://" + m[1].str() + "/metrics");
  return r.exit_code == 0 ? r.out : "";
}

bool DaemonHarness::WaitForLog(const std::string& text, int timeout_s, std::size_t from) const {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (Log().find(text, from) == std::string::npos) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    // The log is a file another process appends to: re-read it at a short interval.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

CommandResult DaemonHarness::SftpWithPassword(const std::string& username,
                                              const std::string& password,
                                              const std::string& batch) {
  WriteFile(dir_.Sub("pw"), password + "\n");
  std::size_t mark = Log().size();
  CommandResult r = RunSftpBatch({port(), username, dir_.Sub("pw")}, dir_.Sub("batch"), batch);
  if (r.exit_code == 0 && !WaitForLog("session ended", 30, mark)) {
    r.exit_code = 124;
    r.err += "sftpd logged no end of the session within 30 s; log:\n" + Log();
  }
  return r;
}

CommandResult DaemonHarness::Sftpctl(const std::string& args, const std::string& stdin_data) {
  sftpctl_.set_env(FakeTimeEnv());
  return sftpctl_.Run(args, stdin_data);
}

}  // namespace sftplc::testing
