#pragma once

// ChannelProtocol: what runs inside an accepted "sftp" subsystem channel. The transport feeds it
// the channel's bytes and writes back what it returns. The production implementation wraps
// sftp::Processor (sftp_protocol.h); the transport's tests use a minimal stand-in.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "sftpd/core/accounts/account.h"
#include "sftpd/core/base/result.h"
#include "sftpd/core/usage/usage_store.h"

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
  // False while the protocol holds too much unhandled input: the transport drains first.
  virtual bool WantsInput() const { return true; }
  // A protocol served by another process (the SFTP worker): a descriptor the transport polls,
  // for ReadyEvents(), together with the client's socket, and calls OnReady() when it has an
  // event. OnReady() moves what is ready along and appends replies to `out`; an Error ends the
  // session after `out` has been sent. -1: every reply comes from OnData.
  virtual int ReadyFd() const { return -1; }
  virtual short ReadyEvents() const { return 0; }
  virtual Status OnReady(std::string& /*out*/) { return {}; }
  // The end reason recorded when OnData or OnReady ended the session with an Error.
  virtual std::string FailureReason() const { return "protocol_error"; }
  // Transfer counters so far (for the usage record).
  virtual usage::Counters counters() const = 0;
  // True if a transfer happened since the last call (resets the flag).
  virtual bool TakeActivity() = 0;
  // Closes whatever the protocol holds open (end of session).
  virtual void CloseAll() = 0;
};

// Creates the protocol for a logged-in account. `tag` ("[c42]") starts every log line.
// An Error (e.g. the account root cannot be opened) ends the session.
using ProtocolFactory = std::function<Result<std::unique_ptr<ChannelProtocol>>(
    const accounts::Account& account, const std::string& tag)>;

}  // namespace sftplc::server
