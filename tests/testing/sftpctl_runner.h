#pragma once

// SftpctlRunner: the one way the tests run the built sftpctl. `sftpctl --config FILE ARGS` as
// the service user (tests/testing/service_user.h), through /bin/sh, with optional variables in
// front (libfaketime's) and in a chosen folder. Before each run the test's world (the folder
// holding config, database and storage) is given to the service user, so what the test wrote
// there as root is the service's, as it would be in production. sftpctl's stderr is also
// appended to a log file when one is set (DaemonHarness reads everything sftpctl logged).

#include <initializer_list>
#include <string>
#include <vector>

#include "tests/testing/test_env.h"

namespace sftplc::testing {

class SftpctlRunner {
 public:
  // `config`: the --config file; `world`: the folder given to the service user before each run
  // (usually the TempDir holding the config).
  SftpctlRunner(std::string config, std::string world);

  // Variables ("NAME=value") set for sftpctl only, e.g. libfaketime's LD_PRELOAD and FAKETIME.
  void set_env(std::vector<std::string> vars) { env_ = std::move(vars); }
  // A command put between the user switch and sftpctl ("faketime '2026-01-10 10:00:00'").
  void set_wrapper(std::string wrapper) { wrapper_ = std::move(wrapper); }
  // A file sftpctl's stderr of every run is appended to ("" for none).
  void set_log(std::string path) { log_ = std::move(path); }

  // Runs `sftpctl --config CONFIG <args>`; `args` is a shell fragment (quote what needs it,
  // ShellQuote), `cwd` the folder it runs in (default: the world).
  CommandResult Run(const std::string& args, const std::string& stdin_data = "",
                    const std::string& cwd = "") const;
  // The same with each argument quoted.
  CommandResult Run(std::initializer_list<std::string> args,
                    const std::string& stdin_data = "") const;
  // The shell command line Run() uses, for a test that composes its own (a pipe, another
  // config): `sftpctl <args>` as the service user, with the variables and the wrapper, and
  // with --config CONFIG before `args` when `with_config`.
  std::string CommandLine(const std::string& args, bool with_config = true) const;
  // Gives the world to the service user (Run() does it before each run).
  void GiveWorld() const;

 private:
  std::string config_;
  std::string world_;
  std::vector<std::string> env_;
  std::string wrapper_;
  std::string log_;
};

// Each argument single-quoted, each preceded by a space.
std::string QuoteArgs(std::initializer_list<std::string> args);

}  // namespace sftplc::testing
