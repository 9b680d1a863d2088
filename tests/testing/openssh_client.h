#pragma once

// The OpenSSH clients as the suites drive them against a server on the loopback: a password login
// through sshpass (the password in a file, never on a command line), no host-key check, quiet,
// and exactly one password attempt per run (when sshpass gives up after a refusal it closes
// ssh's terminal, and ssh, if it is not hung up first, goes on with empty passwords up to
// NumberOfPasswordPrompts).

#include <string>

#include "tests/testing/test_env.h"

namespace sftplc::testing {

struct OpenSshLogin {
  int port = 0;
  std::string user;
  std::string password_file;
  std::string source = "127.0.0.1";  // the local address to connect from (any of 127.0.0.0/8)
  std::string host = "127.0.0.1";    // the server's address: 127.0.0.1 or ::1
};

// `sftp -b batch_file` for `login`, as a /bin/sh command line (to run in the background or in
// parallel; RunSftpBatch runs one).
std::string SftpBatchCommand(const OpenSshLogin& login, const std::string& batch_file);
// `ssh` with the same options; the caller appends the remote command or its own flags.
std::string SshCommand(const OpenSshLogin& login);
// Writes `batch` to `batch_file`, then runs `sftp -b` on it.
CommandResult RunSftpBatch(const OpenSshLogin& login, const std::string& batch_file,
                           const std::string& batch);

}  // namespace sftplc::testing
