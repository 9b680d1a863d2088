#pragma once

// SyscallInjector: makes another process issue system calls of the test's choosing, to prove
// from outside what that process may do (its own seccomp filter, Landlock domain, rlimits and
// capabilities apply, since it is the process that calls). It attaches with ptrace, interrupts
// the process while it is blocked in a system call, and re-uses the `syscall` instruction it
// stopped after (rip - 2): registers set, one single step, the result read from rax, the
// registers restored, so the interrupted call restarts when it detaches. x86_64 only
// (Supported() is false elsewhere). Needs CAP_SYS_PTRACE (the worker is not dumpable).

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <string>

namespace sftplc::testing {

// True once `pid` waits in system call `nr` (any, when nr < 0) per /proc/PID/syscall, within
// 30 s.
bool WaitBlockedIn(pid_t pid, long nr = -1);

class SyscallInjector {
 public:
  struct Outcome {
    bool killed = false;  // the call ended the process (e.g. a seccomp kill)
    int signal = 0;       // the signal that ended it, when killed
    long ret = 0;         // the raw return value (-errno on failure), when not killed
  };

  static bool Supported();

  SyscallInjector() = default;
  ~SyscallInjector();
  SyscallInjector(const SyscallInjector&) = delete;
  SyscallInjector& operator=(const SyscallInjector&) = delete;

  // Attaches to `pid` and stops it inside a blocking system call: it waits (30 s at most) for
  // the process to block in one (an idle worker waits in read), and tries again when the
  // process was woken before the stop landed. False with error() set otherwise.
  bool Attach(pid_t pid);
  // The process issues `nr` with `args`.
  Outcome Syscall(long nr, const std::array<uint64_t, 6>& args);
  // openat(AT_FDCWD, path, flags) issued by the process (the path is written below its stack
  // pointer first); a descriptor it got is closed again in the process.
  Outcome OpenAt(const std::string& path, int flags);
  // Lets the process go on (its interrupted call restarts). Also done by the destructor.
  void Detach();

  const std::string& error() const { return error_; }

 private:
  bool Poke(uint64_t addr, const std::string& bytes);

  pid_t pid_ = -1;
  bool dead_ = false;
  std::string error_;
  std::array<unsigned char, 27 * 8> saved_{};  // struct user_regs_struct
};

}  // namespace sftplc::testing
