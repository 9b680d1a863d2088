#pragma once

// The service user the tests run sftpd and sftpctl as. Production runs both binaries as a
// non-root service user, and root bypasses file modes, so a test that ran them as root could
// miss what a mode does (issue 9: a client's `chmod 000 .` stopped the purge only for a
// non-root process). When the tests run as root (CI does), the binaries run as the system user
// `sftplc-test` (no home, no shell; created with useradd the first time it is needed, or by
// scripts/test beforehand); the temporary world a test writes (config, database, storage,
// host key) is given to that user before each run. When the tests already run as a non-root
// user, the binaries run as that user and nothing is changed.

#include <sys/types.h>

#include <functional>
#include <string>

namespace sftplc::testing {

inline constexpr const char* kServiceUserName = "sftplc-test";

struct ServiceUser {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  // True when the tests run as root and the binaries must drop to `uid`/`gid`.
  bool drop = false;
};

// The user the binaries run as (looked up, and created when missing, once). Aborts the test
// program with a message when the tests run as root and the user cannot be created: running the
// binaries as root instead would hide the defects these tests are for.
const ServiceUser& TestServiceUser();

// "setpriv --reuid=U --regid=G --clear-groups " to put before a command line run through
// /bin/sh when the user must be dropped to, "" otherwise. setpriv is not setuid, so LD_PRELOAD
// (libfaketime, a sanitizer runtime) passes through it.
std::string AsServiceUser();

// Gives `path` and everything below it (symlinks themselves, never followed) to the service
// user; nothing when no drop is needed. Call it after the test (as root) wrote into a world the
// binaries must change: the harness and the sftpctl runner call it before each run.
void GiveToServiceUser(const std::string& path);

// Drops the calling process to the service user: only async-signal-safe system calls, for a
// child between fork() and execve(). Returns false when a call failed (the child should _exit).
bool DropToServiceUserInChild(const ServiceUser& user);

// Runs `fn` in this process on a thread without CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and
// CAP_FOWNER (capabilities are per thread), so file modes apply to it as to the non-root service
// user: for core code (a sweep, an erasure, an export) run in the test program as root, on files
// the test made (owned by the test's uid, as the service user owns the storage in production).
// First checks that modes do apply, by failing to open a folder of mode 0 it makes at `scratch`
// (which must not exist; removed afterwards), so a test passing here would pass for a non-root
// user. Fails the test (fatally, on that thread) when the capabilities cannot be dropped.
void OnThreadWithoutDacCapabilities(const std::string& scratch, const std::function<void()>& fn);

}  // namespace sftplc::testing
