#pragma once

// sftpctl lifecycle run / lifecycle plan, and the lifecycle side of `account`: confirm, erase,
// export. REQUIRES: RegisterAccountCommands ran first (the `account` group is extended).

#include <CLI/CLI.hpp>

#include "admin/command_context.h"

namespace sftplc::admin {

void RegisterLifecycleCommands(CLI::App& app, CommandContext& ctx);

}  // namespace sftplc::admin
