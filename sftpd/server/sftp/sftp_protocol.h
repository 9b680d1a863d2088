#pragma once

// SftpProtocol: the production server::ChannelProtocol, an sftp::Processor over the account's
// confined root, run by the SFTP worker (sftpd-sftp) on its data socket.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "sftpd/core/base/log.h"
#include "sftpd/core/files/account_root.h"
#include "sftpd/server/channel_protocol.h"
#include "sftpd/server/sftp/processor.h"

namespace sftplc::sftp {

// Not thread-safe: one per SFTP channel, used by its session's thread.
class SftpProtocol final : public server::ChannelProtocol {
 public:
  // `observer` and `sender` may be null (REQUIRES: they outlive the protocol); see Processor.
  SftpProtocol(std::unique_ptr<files::AccountRoot> root, Limits limits, Logger log, std::string tag,
               RequestObserver* observer = nullptr, DataSender* sender = nullptr);

  // Processor::OnData: answers complete requests until the replies reach Limits.max_output,
  // and holds the rest back (HasPendingRequests) for the transport to ask for once it has sent
  // `out`. So a session's reply buffer stays near max_output however deep the client pipelines.
  // Returns an Error (after appending what was answered) on a frame error.
  Status OnData(const uint8_t* data, std::size_t len, std::string& out) override;
  bool HasPendingRequests() const override;
  // Processor::Consume: the worker's path, on its own read buffer.
  Result<std::size_t> Consume(const uint8_t* data, std::size_t len, std::string& out);
  usage::Counters counters() const override;
  bool TakeActivity() override;
  void CloseAll() override;

 private:
  Processor processor_;
};

}  // namespace sftplc::sftp
