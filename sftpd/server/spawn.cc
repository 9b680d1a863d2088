#include "sftpd/server/spawn.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

namespace sftplc::server {

using files::SysError;
using files::UniqueFd;

Result<pid_t> SpawnHelper(const std::string& binary, const std::vector<std::string>& args, int fd3,
                          int fd4) {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  if (fd3 >= 0) {
    posix_spawn_file_actions_adddup2(&fa, fd3, 3);
  } else {
    posix_spawn_file_actions_addclose(&fa, 3);  // glibc: a 3 that is not open is no error
  }
  posix_spawn_file_actions_adddup2(&fa, fd4, 4);
  posix_spawn_file_actions_addclosefrom_np(&fa, 5);  // nothing else of the monitor
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<std::string> argv_s;
  auto slash = binary.rfind('/');
  argv_s.push_back(slash == std::string::npos ? binary : binary.substr(slash + 1));
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_s) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  char* envp[] = {nullptr};
  pid_t pid = -1;
  int rc = posix_spawn(&pid, binary.c_str(), &fa, &attr, argv.data(), envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return SysError(rc, "spawn " + argv_s[0]);
  }
  return pid;
}

int ReapHelper(pid_t pid, std::chrono::milliseconds timeout) {
  bool exited = false;
  if (timeout.count() > 0) {
    UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
    if (pidfd.valid()) {
      pollfd p{pidfd.get(), POLLIN, 0};
      int n;
      do {
        n = poll(&p, 1, static_cast<int>(timeout.count()));
      } while (n < 0 && errno == EINTR);
      exited = n > 0;
    }
  }
  if (!exited) {
    kill(pid, SIGKILL);
  }
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid, &status, 0);
  } while (r < 0 && errno == EINTR);
  return r == pid ? status : -1;
}

Result<std::pair<UniqueFd, UniqueFd>> HelperSocketPair(int type) {
  int fds[2];
  if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds) != 0) {
    return SysError(errno, "socketpair");
  }
  UniqueFd ours(fds[0]);
  UniqueFd theirs(fds[1]);
  if (fds[1] <= 4) {
    int moved = fcntl(fds[1], F_DUPFD_CLOEXEC, 5);
    if (moved < 0) {
      return SysError(errno, "dup socket");
    }
    theirs = UniqueFd(moved);
  }
  return std::make_pair(std::move(ours), std::move(theirs));
}

std::string HelperBinary(std::string_view name) {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  std::string self = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  auto slash = self.rfind('/');
  return (slash == std::string::npos ? std::string(".") : self.substr(0, slash)) +
         "/" SFTPLC_HELPER_DIR "/" + std::string(name);
}

}  // namespace sftplc::server
