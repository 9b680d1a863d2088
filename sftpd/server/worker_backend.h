#pragma once

// WorkerBackend: the SftpBackend of sftpd. For each "sftp" subsystem it opens the account's
// root, spawns the SFTP worker (sftpd-sftp, HelperBinary in spawn.h), hands it the root as a
// descriptor (SCM_RIGHTS) and waits for it to report itself confined. The transport then relays
// the channel to the worker's data socket directly; the monitor keeps the worker's control
// socket: usage counters, activity, request tallies (told to `requests`, the metrics) and the
// end reason come over it (sftpd/server/ipc/ipc.h), checked by an ipc::WorkerGuard: the worker
// is treated as hostile. The handles a worker reported open are reported closed when it ends,
// however it ends.
//
// A worker that dies (crash, SIGKILL, seccomp kill) ends its own connection only; the end reason
// is "worker_crashed". Not thread-safe: one per SFTP channel, used by its connection's thread.

#include <string>

#include "sftpd/core/base/log.h"
#include "sftpd/server/sftp/request_observer.h"
#include "sftpd/server/sftp_backend.h"

namespace sftplc::server {

struct WorkerOptions {
  std::string binary;        // the sftpd-sftp executable
  std::string storage_root;  // account roots are <storage_root>/<account id>
  int max_handles = 256;
  bool read_only = false;
  std::string log_level = "info";  // the worker's log level (SetLogLevel names)
  bool require_landlock = false;   // server.confinement = "required"
  Logger log;                      // null: GetLogger("sftpd")
  // Told every request tally the workers report (REQUIRES: thread-safe, outlives the factory);
  // null: not told.
  sftp::RequestObserver* requests = nullptr;
};

// The factory sftpd hands to the server. Thread-safe (each call spawns its own worker).
SftpBackendFactory MakeWorkerBackendFactory(WorkerOptions options);

}  // namespace sftplc::server
