#include "admin/config_commands.h"

#include <iostream>

#include "sftpd/server/confine/confine.h"

namespace sftplc::admin {

void RegisterConfigCommands(CLI::App& app, CommandContext& ctx) {
  auto* group = app.add_subcommand("config", "the configuration file");
  group->require_subcommand(1);
  group->footer(
      "Example:\n  sftpctl config check\nRun a command with --help for its options and an "
      "example.");
  auto json_out = std::make_shared<bool>(false);
  auto* cmd = group->add_subcommand(
      "check", "validate the configuration file (--config, $SFTPLC_CONFIG, or the default)");
  cmd->add_flag("--json", *json_out, "print JSON");
  cmd->footer("Example:\n  sftpctl --config /etc/sftp-lifecycle/sftpd.toml config check");
  cmd->callback([&ctx, json_out] {
    ctx.Run([&]() -> Status {
      auto cfg = ctx.Config();
      if (!cfg) {
        return cfg.error();
      }
      std::vector<std::string> warnings = config::LooseFileModes(**cfg);
      // The kernel's Landlock, as sftpd sees it at start (docs/security.md).
      const int abi = confine::LandlockAbi();
      if (abi == 0) {
        warnings.push_back(
            (*cfg)->server.confinement == "required"
                ? "this kernel has no Landlock: sftpd will refuse to start "
                  "(server.confinement = \"required\")"
                : "this kernel has no Landlock: transports and SFTP workers are confined "
                  "by seccomp, no_new_privs and rlimits only (docs/security.md)");
      }
      if (*json_out) {
        PrintJson({{"path", (*cfg)->path},
                   {"ok", true},
                   {"database", (*cfg)->database.url},
                   {"storage_root", (*cfg)->storage.root},
                   {"landlock_abi", abi},
                   {"warnings", warnings}});
      } else {
        std::cout << "configuration OK: " << (*cfg)->path << "\n";
        if (abi > 0) {
          std::cout << "landlock: ABI " << abi << "\n";
        }
        for (const std::string& w : warnings) {
          std::cout << "warning: " << w << "\n";
        }
      }
      return {};
    });
  });
}

}  // namespace sftplc::admin
