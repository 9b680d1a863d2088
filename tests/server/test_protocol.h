#pragma once

// A stand-in for the SFTP layer, for transport tests only: it answers INIT, REALPATH ("/"),
// OPEN (a handle that swallows data), WRITE (counted, not stored), CLOSE, and refuses the rest
// with OP_UNSUPPORTED. A declared length over 256 KiB is a frame error that ends the session.
// It exists so the transport (window, coalesced writes, closing, usage counters) can be driven
// by real clients; it is not an SFTP implementation.

#include <cstdint>
#include <string>

#include "sftpd/server/channel_protocol.h"

namespace sftplc::testing {

class TestProtocol final : public server::ChannelProtocol {
 public:
  Status OnData(const uint8_t* data, std::size_t len, std::string& out) override;
  usage::Counters counters() const override { return counters_; }
  bool TakeActivity() override {
    bool a = activity_;
    activity_ = false;
    return a;
  }
  void CloseAll() override {}

 private:
  void Handle(const std::string& packet, std::string& out);
  std::string pending_;
  usage::Counters counters_;
  bool activity_ = false;
};

}  // namespace sftplc::testing
