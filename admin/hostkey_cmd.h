#pragma once

// sftpctl hostkey ...: see docs/sftpctl.md.

#include <CLI/CLI.hpp>

#include "admin/command_context.h"

namespace sftplc::admin {

// Adds the "hostkey" command group to `app`.
void RegisterHostKeyCommands(CLI::App& app, CommandContext& ctx);

}  // namespace sftplc::admin
