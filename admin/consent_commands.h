#pragma once

// sftpctl consent ...: see docs/sftpctl.md.

#include <CLI/CLI.hpp>

#include "admin/command_context.h"

namespace sftplc::admin {

// Adds the "consent" command group to `app`.
void RegisterConsentCommands(CLI::App& app, CommandContext& ctx);

}  // namespace sftplc::admin
