#pragma once

// SftpProtocol: the production server::ChannelProtocol, an sftp::Processor over the account's
// confined root, and the ProtocolFactory that sftpd hands to the transport.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "sftpd/core/base/log.h"
#include "sftpd/core/files/account_root.h"
#include "sftpd/server/channel_protocol.h"
#include "sftpd/server/sftp/processor.h"

namespace sftplc::sftp {

// Replies one OnData call may accumulate while it drains requests held back by the processor's
// backpressure. ChannelProtocol has no way to say "send this, then call me again", so OnData
// drains everything; a client whose pipelined requests need more than this in one batch (the
// OpenSSH client needs at most 64 x 255 KiB = 16.3 MiB by default) ends its own session.
inline constexpr std::size_t kMaxBatchOutput = 128 * 1024 * 1024;

// Not thread-safe: one per SFTP channel, used by its session's thread.
class SftpProtocol final : public server::ChannelProtocol {
 public:
  SftpProtocol(std::unique_ptr<files::AccountRoot> root, Limits limits, Logger log,
               std::string tag);

  // Processor::OnData, then drains held-back requests (see kMaxBatchOutput): returns an Error
  // (after appending what was answered) on a frame error or past kMaxBatchOutput.
  Status OnData(const uint8_t* data, std::size_t len, std::string& out) override;
  usage::Counters counters() const override;
  bool TakeActivity() override;
  void CloseAll() override;

  Processor& processor() { return processor_; }

 private:
  Processor processor_;
  Logger log_;
  std::string tag_;
};

// A factory that opens `storage_root`/<account id> (created 0700 when missing; refused when a
// symlink) for each logged-in account and runs an SftpProtocol on it. Thread-safe (it copies
// its arguments; each call builds a new protocol).
server::ProtocolFactory MakeSftpProtocolFactory(std::string storage_root, Limits limits,
                                                Logger log);

}  // namespace sftplc::sftp
