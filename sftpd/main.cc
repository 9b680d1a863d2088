// sftpd: flags -> config -> logging -> run. Nothing else lives here.
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <exception>
#include <optional>
#include <string>

#include "sftpd/core/base/log.h"
#include "sftpd/core/config/config.h"
#include "sftpd/server/daemon.h"

int main(int argc, char** argv) {
  // Private by default: every file and folder the service creates (database, -wal/-shm, account
  // folders, exports) is its owner's only, whatever the mode asked for at creation.
  umask(077);
  CLI::App app{"sftpd: the SFTP service (runs in the foreground, logs to stderr)"};
  std::optional<std::string> config_flag;
  bool check = false;
  app.add_option(
      "--config", config_flag,
      "configuration file (default $SFTPLC_CONFIG, else /etc/sftp-lifecycle/sftpd.toml)");
  app.add_flag("--check-config", check, "validate the configuration and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  std::string path = sftplc::config::ResolveConfigPath(config_flag);
  try {
    return check ? sftplc::server::CheckConfig(path) : sftplc::server::RunDaemon(path);
  } catch (const std::exception& e) {
    SPDLOG_LOGGER_CRITICAL(sftplc::GetLogger("sftpd"), "fatal: {}", e.what());
    return 1;
  }
}
