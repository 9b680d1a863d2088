#pragma once

// The production ChannelProtocol: sftp::Processor over the account's confined root
// (files::AccountRoot at storage.root/<account id>).

#include <string>

#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/log.h"
#include "sftpd/server/channel_protocol.h"

namespace sftplc::server {

// A factory that opens the account root under `storage_root` and runs an sftp::Processor on
// it with `max_handles`. The factory returns the AccountRoot error (kNotFound, kPermissionDenied,
// ...) when the root cannot be opened. Thread-safe (each call builds independent objects).
ProtocolFactory MakeSftpProtocolFactory(std::string storage_root, int max_handles, Logger log,
                                        const Clock& clock);

}  // namespace sftplc::server
