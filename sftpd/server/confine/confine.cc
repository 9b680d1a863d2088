#include "sftpd/server/confine/confine.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <vector>

#include "sftpd/core/files/account_root.h"

namespace sftplc::confine {
namespace {

// Landlock's interface (linux/landlock.h of a recent kernel; Debian 12's headers stop at ABI 2).
struct RulesetAttr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;  // ABI 4
  uint64_t scoped;              // ABI 6
};
struct PathBeneathAttr {
  uint64_t allowed_access;
  int32_t parent_fd;
} __attribute__((packed));
constexpr uint32_t kCreateRulesetVersion = 1U << 0;
constexpr int kRulePathBeneath = 1;

constexpr uint64_t kFsExecute = 1ULL << 0;
constexpr uint64_t kFsWriteFile = 1ULL << 1;
constexpr uint64_t kFsReadFile = 1ULL << 2;
constexpr uint64_t kFsReadDir = 1ULL << 3;
constexpr uint64_t kFsRemoveDir = 1ULL << 4;
constexpr uint64_t kFsRemoveFile = 1ULL << 5;
constexpr uint64_t kFsMakeChar = 1ULL << 6;
constexpr uint64_t kFsMakeDir = 1ULL << 7;
constexpr uint64_t kFsMakeReg = 1ULL << 8;
constexpr uint64_t kFsMakeSock = 1ULL << 9;
constexpr uint64_t kFsMakeFifo = 1ULL << 10;
constexpr uint64_t kFsMakeBlock = 1ULL << 11;
constexpr uint64_t kFsMakeSym = 1ULL << 12;
constexpr uint64_t kFsRefer = 1ULL << 13;           // ABI 2
constexpr uint64_t kFsTruncate = 1ULL << 14;        // ABI 3
constexpr uint64_t kFsIoctlDev = 1ULL << 15;        // ABI 5
constexpr uint64_t kNetBindTcp = 1ULL << 0;         // ABI 4
constexpr uint64_t kNetConnectTcp = 1ULL << 1;      // ABI 4
constexpr uint64_t kScopeAbstractUnix = 1ULL << 0;  // ABI 6
constexpr uint64_t kScopeSignal = 1ULL << 1;        // ABI 6

// What the worker may do beneath its root (a subset of what is handled).
constexpr uint64_t kRootAccess = kFsWriteFile | kFsReadFile | kFsReadDir | kFsRemoveDir |
                                 kFsRemoveFile | kFsMakeDir | kFsMakeReg | kFsMakeSym | kFsRefer |
                                 kFsTruncate;

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif

#if defined(__x86_64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_AARCH64;
#else
#error "the seccomp filter knows x86_64 and aarch64 only"
#endif

sock_filter Stmt(uint16_t code, uint32_t k) { return BPF_STMT(code, k); }
sock_filter Jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
  return BPF_JUMP(code, k, jt, jf);
}

struct Allowed {
  long nr;
  const char* why;
};

// The calls both profiles make: memory, locks, time, signals, exit. mmap and mprotect are
// allowed apart (never with PROT_EXEC), ioctl answers ENOTTY (isatty of the logger).
const Allowed kCommon[] = {
    {__NR_read, "the sockets (data, control, the client's)"},
    {__NR_write, "the sockets, log lines on stderr"},
    {__NR_readv, "stdio"},
    {__NR_writev, "stdio"},
    {__NR_close, "transient descriptors"},
    {__NR_fcntl, "descriptor flags (O_NONBLOCK)"},
    {__NR_fstat, "stdio"},
    {__NR_brk, "malloc"},
    {__NR_munmap, "free of large blocks"},
    {__NR_mremap, "realloc of large blocks"},
    {__NR_madvise, "free"},
    {__NR_futex, "locks of the C++ runtime and the logger"},
    {__NR_clock_gettime, "log timestamps, timeouts (vDSO fallback)"},
    {__NR_gettimeofday, "vDSO fallback"},
    {__NR_getrandom, "the C library's allocator; libgcrypt's random numbers (transport)"},
    {__NR_getpid, "logger"},
    {__NR_gettid, "logger"},
    {__NR_rt_sigaction, "abort()"},
    {__NR_rt_sigprocmask, "abort()"},
    {__NR_rt_sigreturn, "return from a signal handler"},
    {__NR_restart_syscall, "a call interrupted by a stop signal"},
    {__NR_exit, "exit"},
    {__NR_exit_group, "exit"},
#if defined(__SANITIZE_ADDRESS__)
    {__NR_sigaltstack, "AddressSanitizer builds only: it removes its signal stack at exit"},
#endif
};

// The transport (sftpd-session): its client's socket, its control socket to the monitor and,
// after the login, the worker's data socket, which comes over the control socket (recvmsg).
// No open of any kind (answered EACCES, see BuildFilter), no socket, connect, bind, sendmsg,
// execve, clone/fork, ptrace, kill and the rest.
const Allowed kTransport[] = {
    {__NR_recvfrom, "the client's socket (libssh)"},
    {__NR_sendto, "the client's socket (libssh), the data socket"},
    {__NR_recvmsg, "the control socket: answers, the worker's data socket (SCM_RIGHTS)"},
    {__NR_poll, "libssh's event loop, the relay"},
    {__NR_ppoll, "poll (glibc)"},
    {__NR_shutdown, "the client's socket at the end (window exceeded, stop)"},
    {__NR_getrusage, "libgcrypt's own random pool, if its system one is not in effect"},
};

// The SFTP worker. Everything not named here or in kCommon kills the process
// (SECCOMP_RET_KILL_PROCESS): no socket, connect, bind, sendmsg/recvmsg (no descriptor passing
// once confined), execve, clone/fork, ptrace, kill, process_vm_*, mount, prctl, seccomp, bpf,
// io_uring, memfd_create, mknod, chown, setuid and the rest.
const Allowed kWorker[] = {
    {__NR_sendto, "control messages (send with MSG_NOSIGNAL)"},
    // The data and control sockets (already open), files and directories of the root.
    {__NR_pread64, "SFTP READ"},
    {__NR_splice, "SFTP READ: the file's pages to the data socket (splice_sender.h)"},
    {__NR_pwrite64, "SFTP WRITE"},
    {__NR_lseek, "directory streams"},
    {__NR_dup, "directory streams"},
    {__NR_fsync, "fsync@openssh.com"},
    {__NR_fdatasync, "fsync@openssh.com"},
    {__NR_ftruncate, "SETSTAT size on a handle"},
    {__NR_truncate, "SETSTAT size (through the pinned /proc/self/fd link)"},
    // Opening and naming: Landlock decides where (beneath the root only).
    {__NR_openat, "OPEN, OPENDIR and parent directories, beneath the root"},
    {__NR_openat2, "RESOLVE_BENEATH opens of client paths"},
    {__NR_newfstatat, "STAT, LSTAT, FSTAT (glibc's fstat)"},
    {__NR_statx, "stat family"},
    {__NR_getdents64, "READDIR"},
    {__NR_mkdirat, "MKDIR"},
    {__NR_unlinkat, "REMOVE, RMDIR"},
    {__NR_renameat, "RENAME"},
    {__NR_renameat2, "RENAME (RENAME_NOREPLACE), posix-rename"},
    {__NR_symlinkat, "SYMLINK"},
    {__NR_linkat, "hardlink@openssh.com"},
    {__NR_readlinkat, "READLINK, REALPATH (/proc/self/fd links)"},
    {__NR_fchmod, "FSETSTAT permissions"},
    {__NR_fchmodat, "SETSTAT permissions"},
    {__NR_utimensat, "SETSTAT times"},
    {__NR_statfs, "statvfs@openssh.com"},
    {__NR_fstatfs, "fstatvfs@openssh.com"},
#ifdef __NR_open
    // The same, as glibc issues them on x86_64.
    {__NR_open, "glibc open"},
    {__NR_stat, "glibc stat"},
    {__NR_lstat, "glibc lstat"},
    {__NR_readlink, "glibc readlink"},
    {__NR_chmod, "glibc chmod"},
    {__NR_mkdir, "glibc mkdir"},
    {__NR_rmdir, "glibc rmdir"},
    {__NR_unlink, "glibc unlink"},
    {__NR_rename, "glibc rename"},
    {__NR_symlink, "glibc symlink"},
    {__NR_link, "glibc link"},
#endif
    // Memory (mmap and mprotect are checked below: never PROT_EXEC).
    // The rest of a process's life.
};

std::vector<sock_filter> BuildFilter(Profile profile) {
  std::vector<sock_filter> f;
  const uint32_t kKill = SECCOMP_RET_KILL_PROCESS;
  const uint32_t kAllow = SECCOMP_RET_ALLOW;
  // Only the architecture this was built for (a 32-bit or x32 call would bypass the numbers).
  f.push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
  f.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, kAuditArch, 1, 0));
  f.push_back(Stmt(BPF_RET | BPF_K, kKill));
  f.push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
#if defined(__x86_64__)
  f.push_back(Jump(BPF_JMP | BPF_JGE | BPF_K, 0x40000000U /* __X32_SYSCALL_BIT */, 0, 1));
  f.push_back(Stmt(BPF_RET | BPF_K, kKill));
#endif
  auto allow = [&](const Allowed& a) {
    f.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(a.nr), 0, 1));
    f.push_back(Stmt(BPF_RET | BPF_K, kAllow));
  };
  for (const Allowed& a : kCommon) {
    allow(a);
  }
  if (profile == Profile::kWorker) {
    for (const Allowed& a : kWorker) {
      allow(a);
    }
  } else {
    for (const Allowed& a : kTransport) {
      allow(a);
    }
    // fstat (glibc's is newfstatat with AT_EMPTY_PATH): on a descriptor only, never a path.
    f.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, __NR_newfstatat, 0, 4));
    f.push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[3])));  // low word
    f.push_back(Jump(BPF_JMP | BPF_JSET | BPF_K, AT_EMPTY_PATH, 0, 1));
    f.push_back(Stmt(BPF_RET | BPF_K, kAllow));
    f.push_back(Stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EACCES));
    // Every way to open a file or make a socket fails with EACCES rather than killing: a
    // library that tries one lazily (OpenSSL's configuration) gets an error it handles.
    for (long nr : {
#ifdef __NR_open
             static_cast<long>(__NR_open),
#endif
             static_cast<long>(__NR_openat), static_cast<long>(__NR_openat2),
             static_cast<long>(__NR_socket), static_cast<long>(__NR_socketpair)}) {
      f.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 1));
      f.push_back(Stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EACCES));
    }
    // getsockopt: TCP_INFO alone (the round-trip time that paces replies), EACCES otherwise.
    f.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, __NR_getsockopt, 0, 6));
    f.push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[1])));  // level
    f.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP, 0, 2));
    f.push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[2])));  // option
    f.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, TCP_INFO, 1, 0));
    f.push_back(Stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EACCES));
    f.push_back(Stmt(BPF_RET | BPF_K, kAllow));
  }
  // isatty() of the logger: "not a terminal", nothing else.
  f.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 1));
  f.push_back(Stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOTTY));
  // mmap and mprotect (malloc), never with PROT_EXEC: no code can be made executable.
  for (long nr : {static_cast<long>(__NR_mmap), static_cast<long>(__NR_mprotect)}) {
    f.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 4));
    f.push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[2])));  // low word
    f.push_back(Jump(BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 0, 1));
    f.push_back(Stmt(BPF_RET | BPF_K, kKill));
    f.push_back(Stmt(BPF_RET | BPF_K, kAllow));
  }
  f.push_back(Stmt(BPF_RET | BPF_K, kKill));
  return f;
}

}  // namespace

int LandlockAbi() {
  long abi = syscall(__NR_landlock_create_ruleset, nullptr, 0, kCreateRulesetVersion);
  return abi < 0 ? 0 : static_cast<int>(abi);
}

uint64_t AddressSpaceLimit(int max_handles) {
  return (128ULL << 20) + static_cast<uint64_t>(max_handles) * (64ULL << 10);
}

Status SetResourceLimits(int max_handles) {
  return SetLimits(max_handles + kFdMargin, AddressSpaceLimit(max_handles));
}

Status SetTransportLimits() { return SetLimits(kTransportFds, kTransportAddressSpace); }

Status SetLimits(int max_fds, uint64_t address_space) {
  rlimit fds{static_cast<rlim_t>(max_fds), static_cast<rlim_t>(max_fds)};
  if (setrlimit(RLIMIT_NOFILE, &fds) != 0) {
    return files::SysError(errno, "setrlimit NOFILE");
  }
  rlimit core{0, 0};
  if (setrlimit(RLIMIT_CORE, &core) != 0) {
    return files::SysError(errno, "setrlimit CORE");
  }
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  (void)address_space;
#else
  rlimit as{static_cast<rlim_t>(address_space), static_cast<rlim_t>(address_space)};
  if (setrlimit(RLIMIT_AS, &as) != 0) {
    return files::SysError(errno, "setrlimit AS");
  }
#endif
  return {};
}

Status DropCapabilities() {
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    return files::SysError(errno, "clear ambient capabilities");
  }
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) {
    return files::SysError(errno, "capget");
  }
  bool any = false;
  for (const auto& d : data) {
    any = any || d.effective != 0 || d.permitted != 0 || d.inheritable != 0;
  }
  if (!any) {
    return {};  // the usual case: a non-root service user
  }
  // A root daemon: empty the bounding set (while CAP_SETPCAP is still held), then every set.
  for (int cap = 0; cap <= 63; ++cap) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      return files::SysError(errno, "drop bounding capability");
    }
  }
  __user_cap_data_struct none[2] = {};
  hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  if (syscall(SYS_capset, &hdr, none) != 0) {
    return files::SysError(errno, "capset");
  }
  return {};
}

Status SetNoNewPrivs() {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return files::SysError(errno, "PR_SET_NO_NEW_PRIVS");
  }
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return files::SysError(errno, "PR_SET_DUMPABLE");
  }
  return {};
}

namespace {
// RestrictToRoot, or with root_fd -1 a ruleset without any rule.
Result<int> Restrict(int root_fd) {
  const int abi = LandlockAbi();
  if (abi == 0) {
    return 0;
  }
  RulesetAttr attr{};
  attr.handled_access_fs = kFsExecute | kFsWriteFile | kFsReadFile | kFsReadDir | kFsRemoveDir |
                           kFsRemoveFile | kFsMakeChar | kFsMakeDir | kFsMakeReg | kFsMakeSock |
                           kFsMakeFifo | kFsMakeBlock | kFsMakeSym;
  std::size_t size = offsetof(RulesetAttr, handled_access_net);
  if (abi >= 2) {
    attr.handled_access_fs |= kFsRefer;
  }
  if (abi >= 3) {
    attr.handled_access_fs |= kFsTruncate;
  }
  if (abi >= 4) {
    attr.handled_access_net = kNetBindTcp | kNetConnectTcp;
    size = offsetof(RulesetAttr, scoped);
  }
  if (abi >= 5) {
    attr.handled_access_fs |= kFsIoctlDev;
  }
  if (abi >= 6) {
    attr.scoped = kScopeAbstractUnix | kScopeSignal;
    size = sizeof(RulesetAttr);
  }
  // ABI 7 adds audit logging flags, no access right.
  long ruleset = syscall(__NR_landlock_create_ruleset, &attr, size, 0);
  if (ruleset < 0) {
    return files::SysError(errno, "landlock_create_ruleset");
  }
  files::UniqueFd ruleset_fd(static_cast<int>(ruleset));
  PathBeneathAttr rule{kRootAccess & attr.handled_access_fs, root_fd};
  if (root_fd >= 0 &&
      syscall(__NR_landlock_add_rule, ruleset_fd.get(), kRulePathBeneath, &rule, 0) != 0) {
    return files::SysError(errno, "landlock_add_rule");
  }
  if (syscall(__NR_landlock_restrict_self, ruleset_fd.get(), 0) != 0) {
    return files::SysError(errno, "landlock_restrict_self");
  }
  return abi;
}
}  // namespace

Result<int> RestrictToRoot(int root_fd) { return Restrict(root_fd); }

Result<int> RestrictToNothing() { return Restrict(-1); }

Status InstallSeccomp(Profile profile) {
  std::vector<sock_filter> filter = BuildFilter(profile);
  sock_fprog prog{static_cast<unsigned short>(filter.size()), filter.data()};
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) {
    return files::SysError(errno, "PR_SET_SECCOMP");
  }
  return {};
}

Result<int> ConfineSelf(Profile profile, int root_fd, int max_handles) {
  const bool worker = profile == Profile::kWorker;
  Status st = worker ? SetResourceLimits(max_handles) : SetTransportLimits();
  if (st) {
    st = DropCapabilities();
  }
  if (st) {
    st = SetNoNewPrivs();
  }
  if (!st) {
    return st.error();
  }
  auto abi = worker ? RestrictToRoot(root_fd) : RestrictToNothing();
  if (!abi) {
    return abi;
  }
  if (Status sc = InstallSeccomp(profile); !sc) {
    return sc.error();
  }
  return abi;
}

}  // namespace sftplc::confine
