#pragma once

// ChannelProtocol: what answers an "sftp" subsystem channel's bytes. The SFTP worker feeds it
// what comes from its data socket and writes back what it returns. The production
// implementation wraps sftp::Processor (sftp_protocol.h); the transport's tests serve it, or a
// minimal stand-in, on a thread (tests/testing/in_process_sftp.h).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "sftpd/core/accounts/account.h"
#include "sftpd/core/base/result.h"
#include "sftpd/core/usage/counters.h"

namespace sftplc::server {

class ChannelProtocol {
 public:
  virtual ~ChannelProtocol() = default;
  // Consumes bytes (any split) and appends replies to `out`. An Error ends the session after
  // `out` has been sent.
  virtual Status OnData(const uint8_t* data, std::size_t len, std::string& out) = 0;
  // Backpressure: true when complete requests are buffered but not yet handled (OnData stopped
  // because its replies reached a bound). The transport sends `out` and calls
  // OnData(nullptr, 0, out) until this is false before it waits on the channel again.
  virtual bool HasPendingRequests() const { return false; }
  // Transfer counters so far (for the usage record).
  virtual usage::Counters counters() const = 0;
  // True if a transfer happened since the last call (resets the flag).
  virtual bool TakeActivity() = 0;
  // Closes whatever the protocol holds open (end of session).
  virtual void CloseAll() = 0;
};

}  // namespace sftplc::server
