#pragma once

// Kernel confinement of the SFTP worker (sftpd-sftp), applied by the worker to itself after it
// has received its account root and before it reads any client byte (docs/security.md says what
// each layer blocks on which kernel). Each step only ever tightens the process:
//   SetResourceLimits  descriptors: max_handles + kFdMargin; address space: AddressSpaceLimit();
//                      no core dumps (they would hold client data)
//   DropCapabilities   every capability set empty (a worker of a root daemon keeps none)
//   SetNoNewPrivs      PR_SET_NO_NEW_PRIVS, and not dumpable (no ptrace by same-uid peers)
//   RestrictToRoot     Landlock: a ruleset handling every access right of the running ABI whose
//                      only rule is path-beneath the root descriptor
//   InstallSeccomp     an allow-list of system calls, everything else kills the process
// The daemon uses LandlockAbi() at start to warn, or refuse with server.confinement = "required".

#include <cstdint>

#include "sftpd/core/base/result.h"

namespace sftplc::confine {

// Descriptors a worker needs besides its handles: stdin/out/err, the data and control
// sockets, the root, and the transient parent-directory descriptors of one request.
inline constexpr int kFdMargin = 16;

// The Landlock ABI version of the running kernel; 0 when Landlock is missing or disabled.
int LandlockAbi();

// RLIMIT_NOFILE = max_handles + kFdMargin, RLIMIT_AS = AddressSpaceLimit(max_handles) (not set
// in sanitizer builds, whose shadow memory is reserved as address space), RLIMIT_CORE = 0.
Status SetResourceLimits(int max_handles);
// The documented worst case of a worker's address space: 128 MiB (program, libraries, stack,
// read and reply buffers, held-back requests) plus 64 KiB per handle (a directory stream).
uint64_t AddressSpaceLimit(int max_handles);

Status DropCapabilities();
Status SetNoNewPrivs();

// Confines file access to what lies beneath `root_fd` (an O_PATH directory descriptor): read,
// write, create files, directories and symlinks, remove, rename and link (REFER) and truncate;
// never execute, create devices, FIFOs or sockets, or use device ioctls. From ABI 4 on no TCP
// bind/connect, from ABI 6 on no abstract UNIX sockets or signals outside the worker.
// Returns the ABI applied (0: the kernel has no Landlock, nothing was done).
// REQUIRES: SetNoNewPrivs() done.
Result<int> RestrictToRoot(int root_fd);

// Installs the system-call allow-list (see confine.cc for each call and why). Fails on an
// architecture the filter does not know. REQUIRES: SetNoNewPrivs() done; the last step.
Status InstallSeccomp();

}  // namespace sftplc::confine
