#include "sftpd/server/sftp/sftp_protocol.h"

namespace sftplc::sftp {

SftpProtocol::SftpProtocol(std::unique_ptr<files::AccountRoot> root, Limits limits, Logger log,
                           std::string tag, RequestObserver* observer)
    : processor_(std::move(root), limits, std::move(log), std::move(tag), SystemClock::Instance(),
                 observer) {}

Status SftpProtocol::OnData(const uint8_t* data, std::size_t len, std::string& out) {
  return processor_.OnData(data, len, out);
}

bool SftpProtocol::HasPendingRequests() const { return processor_.HasPendingRequests(); }

bool SftpProtocol::WantsInput() const { return processor_.WantsInput(); }

usage::Counters SftpProtocol::counters() const {
  const TransferStats& t = processor_.stats();
  usage::Counters c;
  c.bytes_in = t.bytes_in;
  c.bytes_out = t.bytes_out;
  c.files_uploaded = t.files_uploaded;
  c.files_downloaded = t.files_downloaded;
  c.files_removed = t.files_removed;
  return c;
}

bool SftpProtocol::TakeActivity() { return processor_.TakeActivity(); }

void SftpProtocol::CloseAll() { processor_.CloseAll(); }

server::ProtocolFactory MakeSftpProtocolFactory(std::string storage_root, Limits limits,
                                                Logger log) {
  return [storage_root = std::move(storage_root), limits, log = std::move(log)](
             const accounts::Account& account,
             const std::string& tag) -> Result<std::unique_ptr<server::ChannelProtocol>> {
    // The folder is made when the account is created; a missing one (an erasure finished
    // after the login) refuses the session rather than bringing the folder back.
    auto root = files::AccountRoot::OpenExisting(storage_root, account.id);
    if (!root) {
      return std::move(root).error();
    }
    return std::unique_ptr<server::ChannelProtocol>(
        std::make_unique<SftpProtocol>(std::move(*root), limits, log, tag));
  };
}

}  // namespace sftplc::sftp
