#include "sftpd/server/sftp_protocol.h"

#include "sftpd/core/files/account_root.h"
#include "sftpd/server/sftp/processor.h"

namespace sftplc::server {
namespace {

class SftpProtocol final : public ChannelProtocol {
 public:
  explicit SftpProtocol(std::unique_ptr<sftp::Processor> p) : p_(std::move(p)) {}

  Status OnData(const uint8_t* data, std::size_t len, std::string& out) override {
    return p_->OnData(data, len, out);
  }
  bool HasPendingRequests() const override { return p_->HasPendingRequests(); }
  bool WantsInput() const override { return p_->WantsInput(); }
  usage::Counters counters() const override {
    const sftp::TransferStats& s = p_->stats();
    usage::Counters c;
    c.bytes_in = s.bytes_in;
    c.bytes_out = s.bytes_out;
    c.files_uploaded = s.files_uploaded;
    c.files_downloaded = s.files_downloaded;
    c.files_removed = s.files_removed;
    return c;
  }
  bool TakeActivity() override { return p_->TakeActivity(); }
  void CloseAll() override { p_->CloseAll(); }

 private:
  std::unique_ptr<sftp::Processor> p_;
};

}  // namespace

ProtocolFactory MakeSftpProtocolFactory(std::string storage_root, int max_handles, Logger log,
                                        const Clock& clock) {
  return [storage_root = std::move(storage_root), max_handles, log = std::move(log), &clock](
             const accounts::Account& account,
             const std::string& tag) -> Result<std::unique_ptr<ChannelProtocol>> {
    auto root = files::AccountRoot::Open(storage_root, account.id);
    if (!root) {
      return root.error();
    }
    sftp::Limits limits;
    limits.max_handles = max_handles;
    auto p = std::make_unique<sftp::Processor>(std::move(*root), limits, log, tag, clock);
    return std::unique_ptr<ChannelProtocol>(new SftpProtocol(std::move(p)));
  };
}

}  // namespace sftplc::server
