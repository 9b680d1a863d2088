#pragma once

// Host keys: loaded from server.host_keys; a missing file is created as a fresh ed25519 key
// (mode 0600, parent folders 0700) so a first start needs no ssh-keygen.

#include <libssh/libssh.h>

#include <string>
#include <vector>

#include "sftpd/core/base/log.h"
#include "sftpd/core/base/result.h"

namespace sftplc::server {

// An owned ssh_key.
class SshKey {
 public:
  SshKey() = default;
  explicit SshKey(ssh_key key) : key_(key) {}
  ~SshKey() { ssh_key_free(key_); }
  SshKey(SshKey&& o) noexcept : key_(o.key_) { o.key_ = nullptr; }
  SshKey& operator=(SshKey&& o) noexcept {
    if (this != &o) {
      ssh_key_free(key_);
      key_ = o.key_;
      o.key_ = nullptr;
    }
    return *this;
  }
  SshKey(const SshKey&) = delete;
  SshKey& operator=(const SshKey&) = delete;
  ssh_key get() const { return key_; }

 private:
  ssh_key key_ = nullptr;
};

struct HostKey {
  std::string path;
  std::string type;         // "ssh-ed25519", ...
  std::string fingerprint;  // "SHA256:..."
  bool generated = false;   // created by this call
  // The private key in OpenSSH's text format: what each transport is handed (its Hello).
  std::string private_key;
};

// Loads every key (generating missing ones). kInvalidArgument when the list is empty or a file
// is not a private key; kUnavailable when a key cannot be written. Not thread-safe (start-up).
Result<std::vector<HostKey>> LoadOrCreateHostKeys(const std::vector<std::string>& paths);

// "SHA256:<base64>" of a key (public part). Empty on failure.
std::string KeyFingerprint(ssh_key key);

}  // namespace sftplc::server
