#include "tests/testing/syscall_injector.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

namespace sftplc::testing {

bool WaitBlockedIn(pid_t pid, long nr) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < until) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/syscall");
    long now = -1;
    if (in >> now && now >= 0 && (nr < 0 || now == nr)) {
      return true;
    }
    std::this_thread::yield();
  }
  return false;
}

#if defined(__x86_64__)
static_assert(sizeof(user_regs_struct) == 27 * 8);

bool SyscallInjector::Supported() { return true; }

SyscallInjector::~SyscallInjector() { Detach(); }

bool SyscallInjector::Attach(pid_t pid) {
  if (ptrace(PTRACE_SEIZE, pid, nullptr, nullptr) != 0) {
    error_ = std::string("PTRACE_SEIZE: ") + std::strerror(errno);
    return false;
  }
  pid_ = pid;
  // A process seen blocked may be woken (a request arrives) before the interrupt lands, and
  // then stops wherever it runs: let it go on and try again once it blocks again.
  for (int attempt = 0; attempt < 100; ++attempt) {
    if (!WaitBlockedIn(pid)) {
      error_ = "the process did not block in a system call";
      return false;
    }
    if (ptrace(PTRACE_INTERRUPT, pid, nullptr, nullptr) != 0) {
      error_ = std::string("PTRACE_INTERRUPT: ") + std::strerror(errno);
      return false;
    }
    int status = 0;
    if (waitpid(pid, &status, __WALL) != pid || !WIFSTOPPED(status)) {
      error_ = "the process did not stop";
      return false;
    }
    user_regs_struct regs{};
    if (ptrace(PTRACE_GETREGS, pid, nullptr, &regs) != 0) {
      error_ = std::string("PTRACE_GETREGS: ") + std::strerror(errno);
      return false;
    }
    errno = 0;
    long text = ptrace(PTRACE_PEEKTEXT, pid, reinterpret_cast<void*>(regs.rip - 2), nullptr);
    if (errno == 0 && static_cast<long long>(regs.orig_rax) >= 0 && (text & 0xffff) == 0x050f) {
      std::memcpy(saved_.data(), &regs, sizeof(regs));
      return true;
    }
    if (ptrace(PTRACE_CONT, pid, nullptr, nullptr) != 0) {
      error_ = std::string("PTRACE_CONT: ") + std::strerror(errno);
      return false;
    }
  }
  error_ = "the process was not stopped in a system call in 100 tries";
  return false;
}

bool SyscallInjector::Poke(uint64_t addr, const std::string& bytes) {
  for (std::size_t off = 0; off < bytes.size(); off += 8) {
    long word = 0;
    std::memcpy(&word, bytes.data() + off, std::min<std::size_t>(8, bytes.size() - off));
    if (ptrace(PTRACE_POKEDATA, pid_, reinterpret_cast<void*>(addr + off),
               reinterpret_cast<void*>(word)) != 0) {
      return false;
    }
  }
  return true;
}

SyscallInjector::Outcome SyscallInjector::Syscall(long nr, const std::array<uint64_t, 6>& args) {
  Outcome o;
  if (pid_ < 0 || dead_) {
    o.killed = true;
    return o;
  }
  user_regs_struct regs;
  std::memcpy(&regs, saved_.data(), sizeof(regs));
  regs.rip -= 2;  // the syscall instruction the process is stopped after
  regs.rax = static_cast<uint64_t>(nr);
  regs.orig_rax = static_cast<uint64_t>(-1);  // not a call to restart
  regs.rdi = args[0];
  regs.rsi = args[1];
  regs.rdx = args[2];
  regs.r10 = args[3];
  regs.r8 = args[4];
  regs.r9 = args[5];
  ptrace(PTRACE_SETREGS, pid_, nullptr, &regs);
  ptrace(PTRACE_SINGLESTEP, pid_, nullptr, nullptr);
  int status = 0;
  waitpid(pid_, &status, __WALL);
  if (WIFSIGNALED(status) || WIFEXITED(status)) {
    dead_ = true;
    o.killed = true;
    o.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    return o;
  }
  ptrace(PTRACE_GETREGS, pid_, nullptr, &regs);
  o.ret = static_cast<long>(regs.rax);
  ptrace(PTRACE_SETREGS, pid_, nullptr, saved_.data());
  return o;
}

SyscallInjector::Outcome SyscallInjector::OpenAt(const std::string& path, int flags) {
  user_regs_struct regs;
  std::memcpy(&regs, saved_.data(), sizeof(regs));
  // Below the red zone and anything the interrupted call uses.
  uint64_t addr = (regs.rsp - 1024 - path.size()) & ~uint64_t{15};
  if (!Poke(addr, path + std::string(8, '\0'))) {
    Outcome o;
    o.ret = -EFAULT;
    return o;
  }
  Outcome o = Syscall(
      SYS_openat, {static_cast<uint64_t>(AT_FDCWD), addr, static_cast<uint64_t>(flags), 0, 0, 0});
  if (!o.killed && o.ret >= 0) {
    Syscall(SYS_close, {static_cast<uint64_t>(o.ret), 0, 0, 0, 0, 0});
  }
  return o;
}

void SyscallInjector::Detach() {
  if (pid_ > 0 && !dead_) {
    ptrace(PTRACE_DETACH, pid_, nullptr, nullptr);
  }
  pid_ = -1;
}

#else

bool SyscallInjector::Supported() { return false; }
SyscallInjector::~SyscallInjector() = default;
bool SyscallInjector::Attach(pid_t) {
  error_ = "x86_64 only";
  return false;
}
SyscallInjector::Outcome SyscallInjector::Syscall(long, const std::array<uint64_t, 6>&) {
  return {};
}
SyscallInjector::Outcome SyscallInjector::OpenAt(const std::string&, int) { return {}; }
void SyscallInjector::Detach() {}
bool SyscallInjector::Poke(uint64_t, const std::string&) { return false; }

#endif

}  // namespace sftplc::testing
