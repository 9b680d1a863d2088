#pragma once

// sftpctl retention report [--json] [--all]: exit 6 when anything is past its deadline.

#include <CLI/CLI.hpp>

#include "admin/command_context.h"

namespace sftplc::admin {

inline constexpr int kExitOverdue = 6;

void RegisterRetentionCommands(CLI::App& app, CommandContext& ctx);

}  // namespace sftplc::admin
