#pragma once

// RequestObserver: told about every SFTP request the Processor answers, from its one dispatch
// point (processor.cc). sftpd's metrics implement it (server/metrics.h); without an observer the
// Processor does no extra work.

#include <cstdint>
#include <string_view>

namespace sftplc::sftp {

// One answered request, or `count` requests of one type and status with their numbers summed
// (as the SFTP worker reports them, sftpd/server/ipc/ipc.h). No path, handle or file name: only
// what may be counted.
struct RequestOutcome {
  uint8_t type = 0;        // the SSH_FXP_* packet type as sent by the client (any value)
  uint32_t status = 0;     // SSH_FX_* of a STATUS reply; SSH_FX_OK for a data reply
  uint64_t bytes_in = 0;   // file data the request wrote
  uint64_t bytes_out = 0;  // file data the request read
  int handles_delta = 0;   // +1 for a handle opened, -1 for one closed, else 0
  uint32_t count = 1;      // how many requests this is
};

class RequestObserver {
 public:
  virtual ~RequestObserver() = default;
  // Called on the session's thread after the reply is appended. Must be cheap and not block.
  virtual void OnRequest(const RequestOutcome& outcome) noexcept = 0;
  // `count` handles were closed at the end of a session (Processor::CloseAll).
  virtual void OnHandlesClosed(int count) noexcept = 0;
};

// The name of request `type` in the dispatch table ("open", "write", "extended", ...), or ""
// for a type the Processor does not handle (it answers SSH_FX_OP_UNSUPPORTED).
std::string_view RequestTypeName(uint8_t type);

}  // namespace sftplc::sftp
