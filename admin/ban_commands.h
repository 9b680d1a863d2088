#pragma once

// sftpctl ban ...: the defender's bans of source addresses (see docs/sftpctl.md and
// docs/security.md "Defender").

#include <CLI/CLI.hpp>

#include "admin/command_context.h"

namespace sftplc::admin {

// Adds the "ban" command group (list, remove) to `app`.
void RegisterBanCommands(CLI::App& app, CommandContext& ctx);

}  // namespace sftplc::admin
