#pragma once

// How the monitor starts the processes of a connection (the transport sftpd-session, the SFTP
// worker sftpd-sftp): fork+exec with posix_spawn, so each gets fresh ASLR and none of the
// monitor's memory; a clean environment; stdin and stdout on /dev/null, stderr shared (the
// log); its sockets as descriptors 3 and 4 (the transport only has 4: its client's socket comes
// with its Hello) and no other descriptor of the monitor; every signal unblocked and at its
// default (the daemon blocks its own for sigwait).

#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sftpd/core/base/result.h"
#include "sftpd/core/files/account_root.h"

namespace sftplc::server {

// Starts `binary` with `args` (argv[1]...; argv[0] is its file name) and `fd3`, `fd4` as its
// descriptors 3 and 4 (`fd3` -1: nothing at 3). Returns its pid.
Result<pid_t> SpawnHelper(const std::string& binary, const std::vector<std::string>& args, int fd3,
                          int fd4);

// Waits up to `timeout` for the started program `pid` to exit (its pidfd says when; 0: not at
// all), kills it (SIGKILL) if it has not, and reaps it. Returns its wait status, or -1 when it
// could not be reaped. Without pidfds (kernels before 5.3) it is killed at once: the monitor
// never waits for a connection's process without a bound.
int ReapHelper(pid_t pid, std::chrono::milliseconds timeout);

// A socketpair (AF_UNIX, `type`, close-on-exec): the first end is the monitor's, the second is
// above descriptor 4, so it survives being moved onto 3 or 4 in the child.
Result<std::pair<files::UniqueFd, files::UniqueFd>> HelperSocketPair(int type);

// Where sftpd finds the programs it starts (sftpd-session, sftpd-sftp): <directory of this
// process's executable>/SFTPLC_HELPER_DIR/<name>, "../libexec/sftp-lifecycle" as installed
// (/usr/sbin/sftpd, /usr/libexec/sftp-lifecycle/) and in the build tree alike.
std::string HelperBinary(std::string_view name);

}  // namespace sftplc::server
