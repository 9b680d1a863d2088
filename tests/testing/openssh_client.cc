#include "tests/testing/openssh_client.h"

#include "tests/testing/temp_dir.h"

namespace sftplc::testing {
namespace {

std::string Options(const OpenSshLogin& login) {
  return " -o BatchMode=no -o PubkeyAuthentication=no -o PreferredAuthentications=password"
         " -o NumberOfPasswordPrompts=1 -o StrictHostKeyChecking=no"
         " -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=20"
         " -o BindAddress=" +
         ShellQuote(login.source) + " ";
}

std::string Sshpass(const OpenSshLogin& login) {
  return "sshpass -f " + ShellQuote(login.password_file) + " ";
}

// user@host; sftp takes an IPv6 address only in brackets (host:path otherwise), ssh only without.
std::string Destination(const OpenSshLogin& login, bool brackets) {
  bool v6 = login.host.find(':') != std::string::npos;
  return ShellQuote(login.user + "@" + (v6 && brackets ? "[" + login.host + "]" : login.host));
}

}  // namespace

std::string SftpBatchCommand(const OpenSshLogin& login, const std::string& batch_file) {
  return Sshpass(login) + "sftp" + Options(login) + "-P " + std::to_string(login.port) + " -b " +
         ShellQuote(batch_file) + " " + Destination(login, true);
}

std::string SshCommand(const OpenSshLogin& login) {
  return Sshpass(login) + "ssh" + Options(login) + "-p " + std::to_string(login.port) + " " +
         Destination(login, false);
}

CommandResult RunSftpBatch(const OpenSshLogin& login, const std::string& batch_file,
                           const std::string& batch) {
  WriteFile(batch_file, batch);
  return RunCommand(SftpBatchCommand(login, batch_file));
}

}  // namespace sftplc::testing
