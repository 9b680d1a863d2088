#pragma once

// SFTP backends for the transport's tests: a ChannelProtocol (the real SftpProtocol, or a
// stand-in) served on a thread of the test process, over the data socket the transport relays
// to, instead of a confined worker process. The transport, the monitor and the client are the
// real ones; only where the SFTP requests are answered differs.

#include <functional>
#include <memory>
#include <string>

#include "sftpd/core/base/log.h"
#include "sftpd/server/channel_protocol.h"
#include "sftpd/server/sftp/processor.h"
#include "sftpd/server/sftp_backend.h"

namespace sftplc::testing {

// Creates the protocol of a logged-in account; an Error refuses the channel.
using ProtocolFactory = std::function<Result<std::unique_ptr<server::ChannelProtocol>>(
    const accounts::Account& account, const std::string& tag)>;

// SftpProtocol on `storage_root`/<account id> (kNotFound when the folder is missing, as the
// worker's factory answers).
ProtocolFactory SftpProtocols(std::string storage_root, sftp::Limits limits, Logger log);

// The transport the tests' servers spawn (ServerDeps::transport_binary).
inline constexpr const char* kTransportBinary = SFTPLC_TRANSPORT_BINARY;

// Backends that serve each protocol `protocols` makes on a thread of this process.
server::SftpBackendFactory InProcessBackends(ProtocolFactory protocols);

}  // namespace sftplc::testing
