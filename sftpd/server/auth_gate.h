#pragma once

// AuthenticatorGate: the LoginGate of the real daemon, a thin adapter over auth::Authenticator
// (no user enumeration, failure floor, capped Argon2 verifies, Defender bans, failed-login
// records). Thread-safe and blocking, like the authenticator. Every decided login is counted in
// `metrics` (a key probe is no login).

#include "sftpd/core/auth/authenticator.h"
#include "sftpd/server/login_gate.h"
#include "sftpd/server/metrics.h"

namespace sftplc::server {

class AuthenticatorGate final : public LoginGate {
 public:
  // REQUIRES: `authenticator` and `metrics` outlive the gate.
  explicit AuthenticatorGate(auth::Authenticator& authenticator, Metrics& metrics = NoMetrics())
      : a_(authenticator), metrics_(metrics) {}

  auth::AuthDecision CheckPassword(const auth::AuthRequest& request,
                                   const Secret& password) override {
    auth::AuthDecision d = a_.CheckPassword(request, password);
    metrics_.LoginDecided(auth::AuthMethod::kPassword, d.outcome);
    return d;
  }
  auth::AuthDecision CheckPublicKey(const auth::AuthRequest& request, const OfferedKey& key,
                                    bool signature_verified) override {
    auth::AuthDecision d = a_.CheckPublicKey(request, key.type, key.base64, signature_verified);
    if (signature_verified) {
      metrics_.LoginDecided(auth::AuthMethod::kPublicKey, d.outcome);
    }
    return d;
  }
  bool SourceBanned(const std::string& remote_ip) override { return a_.SourceBanned(remote_ip); }
  bool SourceKnownBanned(const std::string& remote_ip) override {
    return a_.SourceKnownBanned(remote_ip);
  }

 private:
  auth::Authenticator& a_;
  Metrics& metrics_;
};

}  // namespace sftplc::server
