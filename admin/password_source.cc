#include "admin/password_source.h"

#include <unistd.h>

#include <iostream>

#include "sftpd/core/accounts/validation.h"
#include "sftpd/core/auth/password_hasher.h"
#include "sftpd/core/auth/password_input.h"
#include "sftpd/core/base/secret.h"

namespace sftplc::admin {

void AddPasswordFlags(CLI::App& cmd, PasswordFlags& flags, bool allow_none) {
  auto* in = cmd.add_flag("--password-stdin", flags.from_stdin,
                          "read the password from standard input (one line)");
  auto* gen = cmd.add_flag("--generate-password", flags.generate,
                           "generate a random password and print it once");
  in->excludes(gen);
  if (allow_none) {
    auto* none = cmd.add_flag("--no-password", flags.none,
                              "no password: the account logs in with public keys only");
    none->excludes(in)->excludes(gen);
  }
}

Result<ObtainedPassword> ObtainPassword(const PasswordFlags& flags,
                                        const config::Argon2Config& argon2) {
  if (flags.none) {
    return ObtainedPassword{};
  }
  Result<Secret> password = Error::Internal("no password source");
  if (flags.generate) {
    password = auth::GeneratePassword();
  } else if (flags.from_stdin) {
    password = auth::ReadPasswordFromStdin();
  } else if (isatty(STDIN_FILENO)) {
    password = auth::ReadPasswordFromTty("Password: ", true);
  } else {
    return Error::InvalidArgument(
        "no terminal to ask for the password: use --password-stdin or --generate-password");
  }
  if (!password) {
    return password.error();
  }
  if (auto st = accounts::ValidatePasswordLength(password->size()); !st) {
    return st.error();
  }
  auth::PasswordHasher hasher(argon2);
  auto phc = hasher.Hash(*password);
  hasher.ReleaseIdleMemory();
  if (!phc) {
    return phc.error();
  }
  ObtainedPassword out;
  out.phc = std::move(*phc);
  if (flags.generate) {
    out.generated = std::move(*password);
  }
  return out;
}

void PrintGeneratedPassword(const Secret& password) {
  if (password.empty()) {
    return;
  }
  // Alone on its line: scripts/demo reads it with sed.
  std::cout << "password: " << password.view() << "\n"
            << "(the password is shown only this once: hand it to the client)\n";
}

}  // namespace sftplc::admin
