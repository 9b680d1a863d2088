// Until the Argon2id hasher and password input of sftpd/core/auth are on main, sftpctl accepts
// only --no-password. Replaced by password_source.cc when they land.
#include "admin/password_source.h"

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

Result<std::optional<std::string>> ObtainPasswordHash(const PasswordFlags& flags,
                                                      const config::Argon2Config&) {
  if (flags.none) {
    return std::optional<std::string>();
  }
  return Error::Unavailable("passwords are not supported by this build yet: use --no-password");
}

}  // namespace sftplc::admin
