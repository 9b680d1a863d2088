#pragma once

// sftpctl config ...: see docs/sftpctl.md.

#include <CLI/CLI.hpp>

#include "admin/command_context.h"

namespace sftplc::admin {

// Adds the "config" command group to `app`.
void RegisterConfigCommands(CLI::App& app, CommandContext& ctx);

}  // namespace sftplc::admin
