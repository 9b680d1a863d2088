#pragma once

// The server's algorithm settings (server.kex, ciphers, macs, hostkey_algorithms) as libssh
// bind options: one table for the monitor, which checks them at start so a bad list stops the
// start instead of every connection, and for every transport, which applies them.

#include <libssh/libssh.h>
#include <libssh/server.h>

#include <string>

namespace sftplc::server {

// Applies every non-empty list to `bind` (ciphers and MACs both ways). Returns the name of the
// setting libssh refused (its reason in ssh_get_error(bind)), or nullptr when all were taken.
inline const char* ApplyAlgorithms(ssh_bind bind, const std::string& kex,
                                   const std::string& ciphers, const std::string& macs,
                                   const std::string& hostkey_algorithms) {
  const struct {
    ssh_bind_options_e option;
    const std::string& value;
    const char* name;
  } settings[] = {
      {SSH_BIND_OPTIONS_KEY_EXCHANGE, kex, "kex"},
      {SSH_BIND_OPTIONS_CIPHERS_C_S, ciphers, "ciphers"},
      {SSH_BIND_OPTIONS_CIPHERS_S_C, ciphers, "ciphers"},
      {SSH_BIND_OPTIONS_HMAC_C_S, macs, "macs"},
      {SSH_BIND_OPTIONS_HMAC_S_C, macs, "macs"},
      {SSH_BIND_OPTIONS_HOSTKEY_ALGORITHMS, hostkey_algorithms, "hostkey_algorithms"},
  };
  for (const auto& s : settings) {
    if (!s.value.empty() && ssh_bind_options_set(bind, s.option, s.value.c_str()) != SSH_OK) {
      return s.name;
    }
  }
  return nullptr;
}

}  // namespace sftplc::server
