#pragma once

// AuthenticatorGate: the LoginGate of the real daemon, a thin adapter over auth::Authenticator
// (no user enumeration, failure floor, capped Argon2 verifies, Defender bans, failed-login
// records). Thread-safe and blocking, like the authenticator.

#include "sftpd/core/auth/authenticator.h"
#include "sftpd/server/login_gate.h"

namespace sftplc::server {

class AuthenticatorGate final : public LoginGate {
 public:
  // REQUIRES: `authenticator` outlives the gate.
  explicit AuthenticatorGate(auth::Authenticator& authenticator) : a_(authenticator) {}

  auth::AuthDecision CheckPassword(const auth::AuthRequest& request,
                                   const Secret& password) override {
    return a_.CheckPassword(request, password);
  }
  auth::AuthDecision CheckPublicKey(const auth::AuthRequest& request, const OfferedKey& key,
                                    bool signature_verified) override {
    return a_.CheckPublicKey(request, key.type, key.base64, signature_verified);
  }
  bool SourceBanned(const std::string& remote_ip) override { return a_.SourceBanned(remote_ip); }

 private:
  auth::Authenticator& a_;
};

}  // namespace sftplc::server
