#pragma once

// LoginGate: what the SSH transport asks when a client tries to log in. The server calls it from
// the session's own thread inside libssh's auth callbacks; an implementation may block (Argon2
// verification) but must not throw. The production implementation delegates to
// auth::Authenticator (see auth_gate.h); tests use fakes.

#include <string>

#include "sftpd/core/auth/authenticator.h"
#include "sftpd/core/base/secret.h"

namespace sftplc::server {

// A public key offered by a client, in the forms the account store keeps.
struct OfferedKey {
  std::string type;         // "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa", ...
  std::string base64;       // the key blob, base64, as in authorized_keys
  std::string fingerprint;  // "SHA256:..." as ssh-keygen -l prints it
};

class LoginGate {
 public:
  virtual ~LoginGate() = default;

  // A password attempt. kAccepted carries the account; kRejected and kBanned are answered the
  // same way to the client (the banned case also ends the connection). Thread-safe; blocking.
  virtual auth::AuthDecision CheckPassword(const auth::AuthRequest& request,
                                           const Secret& password) = 0;

  // A public-key attempt. With `signature_verified` false this is the client's probe ("would this
  // key be accepted?"), answered before the client signs anything; with true, libssh has checked
  // the signature and this decides the login. Thread-safe; blocking.
  virtual auth::AuthDecision CheckPublicKey(const auth::AuthRequest& request, const OfferedKey& key,
                                            bool signature_verified) = 0;

  // True when `remote_ip` is known to be banned: its connection is dropped before the SSH
  // banner, so a banned source gets no key exchange (no cryptography to spend CPU on). False
  // when it is not, or when that cannot be told (the login then fails closed). A gate that keeps
  // no bans answers false. Thread-safe; may block on the database.
  virtual bool SourceBanned(const std::string& remote_ip) {
    (void)remote_ip;
    return false;
  }

  // True when `remote_ip` is banned as far as the gate knows from memory alone: answered without
  // any I/O (no database), so the accept loop can ask it for every connection and drop a banned
  // source before a session thread or a slot is taken. False when not known (SourceBanned, asked
  // on the session's thread, then has the last word). Thread-safe; never blocks on I/O.
  virtual bool SourceKnownBanned(const std::string& remote_ip) {
    (void)remote_ip;
    return false;
  }
};

}  // namespace sftplc::server
