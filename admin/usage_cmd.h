#pragma once

// sftpctl usage ...: the usage records of sftpd sessions (docs/sftpctl.md).
//   sftpctl usage show U [--since DATE] [--limit N] [--json]
//   sftpctl usage report [--since DATE] [--json]

#include <CLI/CLI.hpp>

#include "admin/command_context.h"

namespace sftplc::admin {

// Adds the "usage" command group to `app`.
void RegisterUsageCommands(CLI::App& app, CommandContext& ctx);

}  // namespace sftplc::admin
