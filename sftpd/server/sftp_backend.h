#pragma once

// SftpBackend: the monitor's side of what serves one connection's "sftp" channel. The transport
// (sftpd-session) relays the channel's bytes to a data socket whose other end the backend
// serves; the monitor hands the transport its end (SCM_RIGHTS) and keeps the rest: usage
// counters, activity and the end. The production backend is the SFTP worker process
// (worker_backend.h); transport tests serve a stand-in protocol on a thread of the test.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "sftpd/core/accounts/account.h"
#include "sftpd/core/base/result.h"
#include "sftpd/core/files/account_root.h"
#include "sftpd/core/usage/counters.h"

namespace sftplc::server {

class SftpBackend {
 public:
  virtual ~SftpBackend() = default;
  // The transport's end of the data socket; the caller sends it and closes its copy. Valid
  // once; invalid afterwards.
  virtual files::UniqueFd TakeTransportEnd() = 0;
  // A descriptor the monitor polls for POLLIN together with the transport's control socket, and
  // calls OnReady() when it has an event; -1: none. `relayed_in` is how many client bytes the
  // transport says it has handed over (the bound of what the backend may claim). An Error
  // means the backend broke its protocol: the connection ends.
  virtual int ReadyFd() const { return -1; }
  virtual Status OnReady(uint64_t /*relayed_in*/) { return {}; }
  // Transfer counters so far (for the usage record).
  virtual usage::Counters counters() const = 0;
  // True if a transfer happened since the last call (resets the flag).
  virtual bool TakeActivity() = 0;
  // Ends it: with `kill`, at once; without, waits (bounded) for it to finish on its own once
  // the transport has closed its end, reading its last report. Idempotent.
  virtual void End(bool kill, uint64_t relayed_in) = 0;
  // The end reason to record when the backend ended the session ("worker_crashed",
  // "protocol_error", "error"), or empty when it did not.
  virtual std::string FailureReason() const = 0;
};

// Creates the backend for a logged-in account's "sftp" channel. `connection` numbers its log
// lines ("[c42]", `tag`). kNotFound: the account's folder is gone (erased after the login).
using SftpBackendFactory = std::function<Result<std::unique_ptr<SftpBackend>>(
    const accounts::Account& account, uint64_t connection, const std::string& tag)>;

}  // namespace sftplc::server
