// sftpctl: the admin CLI (docs/sftpctl.md). Flags -> command group -> exit code.
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

#include "admin/account_commands.h"
#include "admin/ban_commands.h"
#include "admin/command_context.h"
#include "admin/config_commands.h"
#include "admin/consent_commands.h"
#include "admin/db_commands.h"
#include "admin/files_cmd.h"
#include "admin/hostkey_cmd.h"
#include "admin/lifecycle_cmd.h"
#include "admin/notices_cmd.h"
#include "admin/retention_cmd.h"
#include "admin/usage_cmd.h"

int main(int argc, char** argv) {
  using namespace sftplc::admin;  // NOLINT: main only
  // Private by default: the database, its -wal/-shm, account folders and exports sftpctl creates
  // are its owner's only.
  umask(077);
  try {
    CommandContext ctx(sftplc::SystemClock::Instance());
    CLI::App app("sftpctl: administer the accounts of the SFTP service", "sftpctl");
    app.fallthrough();  // global flags also after the command: sftpctl account list --config F
    app.require_subcommand(1);
    app.add_option("--config", ctx.config_flag,
                   "configuration file (default: $SFTPLC_CONFIG, else "
                   "/etc/sftp-lifecycle/sftpd.toml)");
    app.add_flag("--verbose", ctx.verbose, "log what happens (info level) on stderr");
    app.footer(
        "Example:\n  sftpctl --config /etc/sftp-lifecycle/sftpd.toml account list\n"
        "Exit codes: 0 ok, 1 usage, 2 not found, 3 conflict, 4 invalid input, "
        "5 unavailable, 6 past a deadline (retention report).");

    // One line per command group.
    RegisterAccountCommands(app, ctx);
    RegisterConsentCommands(app, ctx);
    RegisterDbCommands(app, ctx);
    RegisterConfigCommands(app, ctx);
    RegisterBanCommands(app, ctx);
    RegisterUsageCommands(app, ctx);
    RegisterLifecycleCommands(app, ctx);  // after RegisterAccountCommands: extends `account`
    RegisterNoticesCommands(app, ctx);
    RegisterRetentionCommands(app, ctx);
    RegisterFilesCommands(app, ctx);
    RegisterHostKeyCommands(app, ctx);

    try {
      app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
      return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
      return app.exit(e);
    } catch (const CLI::ParseError& e) {
      if (e.get_exit_code() == 0) {
        return app.exit(e);
      }
      std::cerr << "sftpctl: " << e.what() << " (see --help)\n";
      return kExitUsage;
    }
    return ctx.exit_code();
  } catch (const std::exception& e) {
    std::cerr << "sftpctl: unexpected failure: " << e.what() << "\n";
    return kExitUnavailable;
  }
}
