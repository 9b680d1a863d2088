#pragma once

// What every sftpctl command group shares: the global flags, the configuration and database
// (opened once, on first use, and migrated), the actor of changes ("admin:<os user>"), the
// clock, and the mapping from an Error to an exit code and one line on stderr.
//
// A command group lives in its own file and exposes
//   void RegisterXxxCommands(CLI::App& app, CommandContext& ctx);
// which adds its subcommands; each callback wraps its body in ctx.Run(). Not thread-safe (one
// command per process).

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "sftpd/core/accounts/account.h"
#include "sftpd/core/accounts/account_store.h"
#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/result.h"
#include "sftpd/core/config/config.h"
#include "sftpd/core/db/database.h"
#include "sftpd/core/lifecycle/configured_runner.h"

namespace sftplc::admin {

// Exit codes (docs/sftpctl.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 1;
inline constexpr int kExitNotFound = 2;
inline constexpr int kExitConflict = 3;
inline constexpr int kExitInvalid = 4;
inline constexpr int kExitUnavailable = 5;

// kNotFound -> 2, kAlreadyExists -> 3, kInvalidArgument -> 4, everything else (unavailable,
// permission denied, internal) -> 5.
int ExitCodeFor(ErrorCode code);

class CommandContext {
 public:
  explicit CommandContext(const Clock& clock);
  ~CommandContext();

  // Global flags, filled by CLI11 before any command runs.
  std::string config_flag;  // --config (empty: $SFTPLC_CONFIG, else the default path)
  bool verbose = false;     // --verbose: info-level log lines on stderr

  const Clock& clock() const { return clock_; }

  // The configuration (loaded once). Errors name the key and file:line.
  Result<const config::Config*> Config();
  // The database, opened once and migrated (every command but `db status` migrates first).
  Result<db::Database*> Database(bool migrate = true);
  // The account store over Database().
  Result<accounts::AccountStore*> Accounts();
  // A lifecycle runner on this configuration and database (migrated), with the SMTP mailer and
  // the notice templates only when `with_mailer` (a sweep that sends mail). Errors as Config()
  // and Database(), or the mailer's and templates' kInvalidArgument.
  Result<lifecycle::ConfiguredRunner> Runner(bool with_mailer);

  // "admin:<name of the effective OS user>" ("admin:uid<N>" when it has no name).
  accounts::Actor Actor() const;

  // Runs a command body: an Error becomes one line "sftpctl: <message>" on stderr and the exit
  // code of ExitCodeFor(); an exception escaping the body is an internal error (exit 5).
  void Run(const std::function<Status()>& body);
  // Sets the exit code without a message (e.g. a partial failure already reported).
  void Fail(int exit_code) { exit_code_ = exit_code; }
  int exit_code() const { return exit_code_; }

 private:
  const Clock& clock_;
  std::optional<config::Config> config_;
  std::unique_ptr<db::Database> db_;
  bool migrated_ = false;
  std::unique_ptr<accounts::AccountStore> store_;
  int exit_code_ = kExitOk;
};

// Writes `j` to stdout, indented, with a final newline.
void PrintJson(const nlohmann::ordered_json& j);
// A time as RFC 3339 ("2026-11-25T15:23:20Z") or JSON null.
nlohmann::ordered_json TimeJson(const std::optional<TimePoint>& t);

}  // namespace sftplc::admin
