#pragma once

// Kernel confinement of the processes of a connection (docs/security.md says what each layer
// blocks on which kernel), applied by each process to itself before it reads any client byte:
// the SFTP worker (sftpd-sftp) once it has its account root, the transport (sftpd-session) once
// it holds its connection and host keys. Each step only ever tightens the process:
//   SetResourceLimits  worker: descriptors max_handles + kFdMargin, address space
//                      AddressSpaceLimit(); SetTransportLimits: kTransportFds and
//                      kTransportAddressSpace; both: no core dumps (they would hold client data)
//   DropCapabilities   every capability set empty (a process of a root daemon keeps none)
//   SetNoNewPrivs      PR_SET_NO_NEW_PRIVS, and not dumpable (no ptrace by same-uid peers)
//   RestrictToRoot     Landlock: a ruleset handling every access right of the running ABI whose
//                      only rule is path-beneath the root descriptor (worker);
//   RestrictToNothing  the same ruleset without any rule (transport)
//   InstallSeccomp     an allow-list of system calls per profile, everything else kills the
//                      process (the transport's opens and sockets fail with EACCES)
// The daemon uses LandlockAbi() at start to warn, or refuse with server.confinement = "required".

#include <cstdint>

#include "sftpd/core/base/result.h"

namespace sftplc::confine {

// Descriptors a worker needs besides its handles: stdin/out/err, the data and control
// sockets, the root, the two ends of its READ pipe (splice_sender.h), and the transient
// parent-directory descriptors of one request.
inline constexpr int kFdMargin = 16;
// The transport's descriptors: stdin/out/err, its client's socket, the control socket, the
// worker's data socket, and a margin for libssh.
inline constexpr int kTransportFds = 16;
// The documented worst case of a transport's address space: program and libraries (libssh,
// OpenSSL), the 8 MiB channel read buffer, at most 10 MiB of channel data held unread
// (session.h), 4 MiB waiting for the worker, a reply batch, and libssh's packet buffers.
inline constexpr uint64_t kTransportAddressSpace = 256ULL << 20;

enum class Profile { kWorker, kTransport };

// The Landlock ABI version of the running kernel; 0 when Landlock is missing or disabled.
int LandlockAbi();

// RLIMIT_NOFILE = max_handles + kFdMargin, RLIMIT_AS = AddressSpaceLimit(max_handles) (not set
// in sanitizer builds, whose shadow memory is reserved as address space), RLIMIT_CORE = 0.
Status SetResourceLimits(int max_handles);
// The documented worst case of a worker's address space: 128 MiB (program, libraries, stack,
// read and reply buffers, held-back requests) plus 64 KiB per handle (a directory stream).
uint64_t AddressSpaceLimit(int max_handles);
Status SetTransportLimits();
// RLIMIT_NOFILE = max_fds, RLIMIT_AS = address_space (not in sanitizer builds), RLIMIT_CORE = 0.
Status SetLimits(int max_fds, uint64_t address_space);

Status DropCapabilities();
Status SetNoNewPrivs();

// Confines file access to what lies beneath `root_fd` (an O_PATH directory descriptor): read,
// write, create files, directories and symlinks, remove, rename and link (REFER) and truncate;
// never execute, create devices, FIFOs or sockets, or use device ioctls. From ABI 4 on no TCP
// bind/connect, from ABI 6 on no abstract UNIX sockets or signals outside the worker.
// Returns the ABI applied (0: the kernel has no Landlock, nothing was done).
// REQUIRES: SetNoNewPrivs() done.
Result<int> RestrictToRoot(int root_fd);
// The same ruleset with no rule at all: no file can be opened, created or executed.
Result<int> RestrictToNothing();

// Installs the system-call allow-list of `profile` (see confine.cc for each call and why). Fails
// on an architecture the filter does not know. REQUIRES: SetNoNewPrivs() done; the last step.
Status InstallSeccomp(Profile profile);

// Every step above, in order, for `profile`: the worker with its root descriptor and
// max_handles, the transport with neither. Returns the Landlock ABI applied (0: none).
Result<int> ConfineSelf(Profile profile, int root_fd = -1, int max_handles = 0);

}  // namespace sftplc::confine
