#include "tests/testing/in_process_sftp.h"

#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <thread>

#include "sftpd/server/sftp/sftp_protocol.h"

namespace sftplc::testing {
namespace {

using files::UniqueFd;

class InProcessBackend final : public server::SftpBackend {
 public:
  InProcessBackend(std::unique_ptr<server::ChannelProtocol> protocol, UniqueFd ours,
                   UniqueFd theirs)
      : protocol_(std::move(protocol)), ours_(std::move(ours)), theirs_(std::move(theirs)) {
    thread_ = std::thread([this] { Serve(); });
  }
  ~InProcessBackend() override { End(/*kill=*/true, 0); }

  UniqueFd TakeTransportEnd() override { return std::move(theirs_); }
  usage::Counters counters() const override {
    std::lock_guard lock(mu_);
    return protocol_->counters();
  }
  bool TakeActivity() override {
    std::lock_guard lock(mu_);
    return protocol_->TakeActivity();
  }
  void End(bool kill, uint64_t) override {
    if (kill) {
      shutdown(ours_.get(), SHUT_RDWR);
    }
    if (thread_.joinable()) {
      thread_.join();
    }
    std::lock_guard lock(mu_);
    protocol_->CloseAll();
  }
  std::string FailureReason() const override {
    std::lock_guard lock(mu_);
    return failure_;
  }

 private:
  bool WriteAll(const std::string& out) {
    std::size_t off = 0;
    while (off < out.size()) {
      ssize_t n = send(ours_.get(), out.data() + off, out.size() - off, MSG_NOSIGNAL);
      if (n <= 0) {
        return false;
      }
      off += static_cast<std::size_t>(n);
    }
    return true;
  }

  void Serve() {
    std::string buf(1024 * 1024, '\0');
    std::string out;
    for (;;) {
      ssize_t n = read(ours_.get(), buf.data(), buf.size());
      if (n <= 0) {
        break;
      }
      std::unique_lock lock(mu_);
      out.clear();
      Status st = protocol_->OnData(reinterpret_cast<const uint8_t*>(buf.data()),
                                    static_cast<std::size_t>(n), out);
      bool ok = true;
      for (;;) {
        lock.unlock();
        ok = WriteAll(out);
        lock.lock();
        if (!ok || !st || !protocol_->HasPendingRequests()) {
          break;
        }
        out.clear();
        st = protocol_->OnData(nullptr, 0, out);
      }
      if (!st) {
        failure_ = "protocol_error";
      }
      if (!ok || !st) {
        break;
      }
    }
    shutdown(ours_.get(), SHUT_RDWR);
  }

  mutable std::mutex mu_;
  std::unique_ptr<server::ChannelProtocol> protocol_;  // guarded by mu_
  std::string failure_;                                // guarded by mu_
  UniqueFd ours_;
  UniqueFd theirs_;
  std::thread thread_;
};

}  // namespace

ProtocolFactory SftpProtocols(std::string storage_root, sftp::Limits limits, Logger log) {
  return [storage_root = std::move(storage_root), limits, log = std::move(log)](
             const accounts::Account& account,
             const std::string& tag) -> Result<std::unique_ptr<server::ChannelProtocol>> {
    auto root = files::AccountRoot::OpenExisting(storage_root, account.id);
    if (!root) {
      return std::move(root).error();
    }
    return std::unique_ptr<server::ChannelProtocol>(
        std::make_unique<sftp::SftpProtocol>(std::move(*root), limits, log, tag));
  };
}

server::SftpBackendFactory InProcessBackends(ProtocolFactory protocols) {
  return [protocols = std::move(protocols)](
             const accounts::Account& account, uint64_t,
             const std::string& tag) -> Result<std::unique_ptr<server::SftpBackend>> {
    auto protocol = protocols(account, tag);
    if (!protocol) {
      return std::move(protocol).error();
    }
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
      return files::SysError(errno, "socketpair");
    }
    return std::unique_ptr<server::SftpBackend>(std::make_unique<InProcessBackend>(
        std::move(*protocol), UniqueFd(fds[0]), UniqueFd(fds[1])));
  };
}

}  // namespace sftplc::testing
