#include "sftpd/server/sftp/sftp_protocol.h"

namespace sftplc::sftp {

SftpProtocol::SftpProtocol(std::unique_ptr<files::AccountRoot> root, Limits limits, Logger log,
                           std::string tag, RequestObserver* observer, DataSender* sender)
    : processor_(std::move(root), limits, std::move(log), std::move(tag), SystemClock::Instance(),
                 observer, sender) {}

Status SftpProtocol::OnData(const uint8_t* data, std::size_t len, std::string& out) {
  return processor_.OnData(data, len, out);
}

bool SftpProtocol::HasPendingRequests() const { return processor_.HasPendingRequests(); }

Result<std::size_t> SftpProtocol::Consume(const uint8_t* data, std::size_t len, std::string& out) {
  return processor_.Consume(data, len, out);
}

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

}  // namespace sftplc::sftp
