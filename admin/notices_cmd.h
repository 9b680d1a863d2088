#pragma once

// sftpctl notices list [--failed] [--json] and sftpctl notices retry [ID...].

#include <CLI/CLI.hpp>

#include "admin/command_context.h"

namespace sftplc::admin {

void RegisterNoticesCommands(CLI::App& app, CommandContext& ctx);

}  // namespace sftplc::admin
