#include "sftpd/server/metrics.h"

namespace sftplc::server {
namespace {

class Nothing final : public Metrics {
 public:
  void OnRequest(const sftp::RequestOutcome&) noexcept override {}
  void OnHandlesClosed(int) noexcept override {}
  void ConnectionRefused(std::string_view) noexcept override {}
  void SessionEnded(std::string_view, bool) noexcept override {}
  void LoginDecided(auth::AuthMethod, auth::AuthOutcome) noexcept override {}
};

}  // namespace

Metrics& NoMetrics() {
  static Nothing nothing;
  return nothing;
}

}  // namespace sftplc::server
