#pragma once

// CliWorld: the fixture of the CLI suites. A temporary folder holding a config file
// (`sftpd.toml`, relative paths from it: storage.root "files", database "sqlite:accounts.db"
// by default), the runner of the built sftpctl for it (as the service user), and the test's own
// connection to that SQLite database.

#include <initializer_list>
#include <memory>
#include <string>

#include "sftpd/core/db/database.h"
#include "tests/testing/sftpctl_runner.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_env.h"

namespace sftplc::testing {

class CliWorld {
 public:
  // The usual world: files under "files", the database "accounts.db", info logging, and
  // `extra` (more TOML sections) after them.
  static std::string DefaultConfig(const std::string& extra = "");

  CliWorld();

  const TempDir& dir() const { return dir_; }
  const std::string& config_path() const { return config_; }
  std::string database_path() const { return dir_.Sub("accounts.db"); }
  std::string storage_root() const { return dir_.Sub("files"); }

  // Writes the config file (replacing it).
  void WriteConfig(const std::string& toml) const;

  SftpctlRunner& sftpctl() { return sftpctl_; }
  // sftpctl_.Run(...): `sftpctl --config CONFIG <args>`.
  CommandResult Ctl(const std::string& args, const std::string& stdin_data = "",
                    const std::string& cwd = "") const {
    return sftpctl_.Run(args, stdin_data, cwd);
  }
  CommandResult Ctl(std::initializer_list<std::string> args,
                    const std::string& stdin_data = "") const {
    return sftpctl_.Run(args, stdin_data);
  }

  // Opens the world's SQLite database (migrating it if new); nullptr, with a test failure, when
  // it cannot be opened.
  std::unique_ptr<db::Database> OpenDb() const;

 private:
  TempDir dir_;
  std::string config_;
  SftpctlRunner sftpctl_;
};

}  // namespace sftplc::testing
