#include "tests/testing/sftpctl_runner.h"

#include <fstream>

#include "tests/testing/service_user.h"

namespace sftplc::testing {

SftpctlRunner::SftpctlRunner(std::string config, std::string world)
    : config_(std::move(config)), world_(std::move(world)) {}

std::string SftpctlRunner::CommandLine(const std::string& args, bool with_config) const {
  std::string line = AsServiceUser();
  if (!env_.empty()) {
    line += "env";
    for (const std::string& var : env_) {
      std::size_t eq = var.find('=');
      line += " " + var.substr(0, eq + 1) + ShellQuote(var.substr(eq + 1));
    }
    line += " ";
  }
  if (!wrapper_.empty()) {
    line += wrapper_ + " ";
  }
  line += ShellQuote(BinaryPath("admin/sftpctl"));
  if (with_config) {
    line += " --config " + ShellQuote(config_);
  }
  return line + " " + args;
}

void SftpctlRunner::GiveWorld() const { GiveToServiceUser(world_); }

CommandResult SftpctlRunner::Run(const std::string& args, const std::string& stdin_data,
                                 const std::string& cwd) const {
  GiveWorld();
  CommandResult r = RunCommand(
      "cd " + ShellQuote(cwd.empty() ? world_ : cwd) + " && " + CommandLine(args), stdin_data);
  if (!log_.empty()) {
    std::ofstream(log_, std::ios::app) << r.err;
  }
  return r;
}

CommandResult SftpctlRunner::Run(std::initializer_list<std::string> args,
                                 const std::string& stdin_data) const {
  return Run(QuoteArgs(args), stdin_data);
}

std::string QuoteArgs(std::initializer_list<std::string> args) {
  std::string out;
  for (const std::string& a : args) {
    out += " " + ShellQuote(a);
  }
  return out;
}

}  // namespace sftplc::testing
