// AddressSanitizer builds only (scripts/test --sanitize), linked into the two confined programs
// (sftpd-session, sftpd-sftp). Confined, they may not clone or ptrace, which LeakSanitizer's
// check at exit does (seccomp would kill every exiting process); and a crash must end them by
// its signal, as in production, not by ASan's exit(1), for the crash-isolation tests. Memory
// errors are still reported.

#if defined(__SANITIZE_ADDRESS__)
extern "C" const char* __asan_default_options() {
  return "detect_leaks=0:handle_segv=0:handle_sigbus=0";
}
#endif
