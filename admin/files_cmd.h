#pragma once

// sftpctl files ...: the files the company sends to a client (and retrieves), through the same
// confinement code as the SFTP server (files::AccountRoot). See docs/sftpctl.md.

#include <CLI/CLI.hpp>

#include "admin/command_context.h"

namespace sftplc::admin {

// Adds the "files" command group (list, put, get, rm) to `app`.
void RegisterFilesCommands(CLI::App& app, CommandContext& ctx);

}  // namespace sftplc::admin
