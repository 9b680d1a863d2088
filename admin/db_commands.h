#pragma once

// sftpctl db ...: see docs/sftpctl.md.

#include <CLI/CLI.hpp>

#include "admin/command_context.h"

namespace sftplc::admin {

// Adds the "db" command group to `app`.
void RegisterDbCommands(CLI::App& app, CommandContext& ctx);

}  // namespace sftplc::admin
