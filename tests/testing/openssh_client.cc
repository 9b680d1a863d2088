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

std::string Destination(const OpenSshLogin& login) { return ShellQuote(login.user + "@127.0.0.1"); }

}  // namespace

std::string SftpBatchCommand(const OpenSshLogin& login, const std::string& batch_file) {
  return Sshpass(login) + "sftp" + Options(login) + "-P " + std::to_string(login.port) + " -b " +
         ShellQuote(batch_file) + " " + Destination(login);
}

std::string SshCommand(const OpenSshLogin& login) {
  return Sshpass(login) + "ssh" + Options(login) + "-p " + std::to_string(login.port) + " " +
         Destination(login);
}

CommandResult RunSftpBatch(const OpenSshLogin& login, const std::string& batch_file,
                           const std::string& batch) {
  WriteFile(batch_file, batch);
  return RunCommand(SftpBatchCommand(login, batch_file));
}

}  // namespace sftplc::testing
