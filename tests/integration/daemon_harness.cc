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
#include <thread>

extern char** environ;

namespace sftplc::testing {
namespace {

constexpr const char* kPrefix = "listening on ";

// libfaketime's multithreaded variant (sftpd runs threads), as Debian installs it.
std::string FakeTimeLibrary() {
  for (const char* dir : {"/usr/lib/x86_64-linux-gnu/faketime",
                          "/usr/lib/aarch64-linux-gnu/faketime", "/usr/lib/faketime"}) {
    std::string path = std::string(dir) + "/libfaketimeMT.so.1";
    if (std::filesystem::exists(path)) {
      return path;
    }
  }
  return "";
}

// The variables that run a program under libfaketime from `when` (UTC) on: the wall clock
// only, the steady clock stays real.
std::vector<std::string> FakeTimeEnv(const std::string& when) {
  return {"LD_PRELOAD=" + FakeTimeLibrary(), "FAKETIME=@" + when, "FAKETIME_DONT_FAKE_MONOTONIC=1",
          "TZ=UTC"};
}

int ExitStatus(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return -1;
}

}  // namespace

DaemonHarness::DaemonHarness()
    : log_path_(dir_.Sub("sftpd.log")), sftpctl_log_path_(dir_.Sub("sftpctl.log")) {
  std::filesystem::create_directories(dir_.Sub("var/files"));
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
  cfg["server"] = {"listen = [\"127.0.0.1:0\"]",
                   "host_keys = [\"var/ssh_host_ed25519_key\"]",
                   "allow_root = true",  // CI runs as root
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

bool DaemonHarness::Start(int listen_lines) {
  if (!std::filesystem::exists(config_path())) {
    WriteConfig();
  }
  addresses_.clear();
  port_ = 0;
  if (!fake_time_.empty() && FakeTimeLibrary().empty()) {
    error_ = "libfaketimeMT.so.1 not found (apt-get install faketime)";
    return false;
  }
  // The child's environment, built before fork(): ours, plus libfaketime's when asked for.
  std::vector<std::string> env;
  std::vector<std::string> fake =
      fake_time_.empty() ? std::vector<std::string>{} : FakeTimeEnv(fake_time_);
  for (char** e = environ; *e != nullptr; ++e) {
    std::string var = *e;
    std::string name = var.substr(0, var.find('=') + 1);
    if (std::none_of(fake.begin(), fake.end(),
                     [&](const std::string& f) { return f.rfind(name, 0) == 0; })) {
      env.push_back(std::move(var));
    }
  }
  env.insert(env.end(), fake.begin(), fake.end());
  std::vector<char*> envp;
  for (std::string& v : env) {
    envp.push_back(v.data());
  }
  envp.push_back(nullptr);
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    error_ = "pipe failed";
    return false;
  }
  std::string binary = BinaryPath("sftpd/sftpd");
  std::string config = config_path();
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
    const char* argv[] = {binary.c_str(), "--config", config.c_str(), nullptr};
    execve(binary.c_str(), const_cast<char* const*>(argv), envp.data());
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
      pid_ = -1;
      return ExitStatus(status);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      pid_ = -1;
      return -1;
    }
    // Waiting for a child has no blocking-with-timeout call short of signalfd; poll the child
    // at a short interval (this bounds a wait, it does not order events).
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
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

CommandResult DaemonHarness::Sftpctl(const std::string& args, const std::string& stdin_data) {
  std::string prefix;
  if (!fake_time_.empty()) {
    for (const std::string& v : FakeTimeEnv(fake_time_)) {
      std::size_t eq = v.find('=');
      prefix += v.substr(0, eq + 1) + "'" + v.substr(eq + 1) + "' ";
    }
  }
  CommandResult r = RunCommand(
      prefix + "'" + BinaryPath("admin/sftpctl") + "' --config '" + config_path() + "' " + args,
      stdin_data);
  std::ofstream(sftpctl_log_path_, std::ios::app) << r.err;
  return r;
}

}  // namespace sftplc::testing
