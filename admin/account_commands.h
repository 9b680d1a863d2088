#pragma once

// sftpctl account ...: see docs/sftpctl.md.

#include <CLI/CLI.hpp>

#include "admin/command_context.h"

namespace sftplc::admin {

// Adds the "account" command group to `app`.
void RegisterAccountCommands(CLI::App& app, CommandContext& ctx);

}  // namespace sftplc::admin
