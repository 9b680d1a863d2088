#pragma once

// PasswordHasher: Argon2id password hashes as PHC strings
// ("$argon2id$v=19$m=65536,t=3,p=1$<salt>$<hash>"), with the parameters of [auth.argon2].
// A 16-byte salt from getrandom(2) per hash, a 32-byte tag, constant-time comparison.
// Work memory comes from a small pool of pre-faulted areas (Argon2Engine), one per concurrent
// call, kept between calls: callers bound concurrency (the Authenticator's semaphore), so the
// resident memory is about m_cost x the peak number of concurrent calls.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "sftpd/core/base/result.h"
#include "sftpd/core/base/secret.h"
#include "sftpd/core/config/config.h"

namespace sftplc::auth {

class Argon2Engine;

class PasswordHasher {
 public:
  // REQUIRES: params within config.h's kArgon2* limits (LoadConfig checks them); outside them
  // every Hash() fails with kInvalidArgument.
  explicit PasswordHasher(const config::Argon2Config& params);
  ~PasswordHasher();
  PasswordHasher(const PasswordHasher&) = delete;
  PasswordHasher& operator=(const PasswordHasher&) = delete;

  // A new PHC string for `password` with the configured parameters and a fresh salt.
  // kInvalidArgument for an empty password or one over 1024 bytes (the policy minimum of 12 is
  // checked by accounts::ValidatePasswordLength where passwords are set); kUnavailable when the
  // work memory cannot be mapped. Thread-safe.
  Result<std::string> Hash(const Secret& password) const;

  // True when `password` matches `phc`, false on a mismatch (the work done is the same).
  // Accepts any Argon2id PHC string within the limits of config.h, whatever the configured
  // parameters. kInvalidArgument for a malformed string or another Argon2 variant;
  // kUnavailable when the work memory cannot be mapped. Thread-safe.
  Result<bool> Verify(std::string_view phc, const Secret& password) const;

  // True when `phc` should be replaced by a fresh Hash() after a successful login: another
  // algorithm or version, or parameters (t, m, p, salt or tag length) different from the
  // configuration's, or a malformed string. Thread-safe.
  bool NeedsRehash(std::string_view phc) const;

  // The configured parameters.
  const config::Argon2Config& params() const { return params_; }

  // Unmaps the idle work memory (for a process that hashes once, such as sftpctl, or after a
  // burst). Thread-safe.
  void ReleaseIdleMemory() const;
  // Unmaps the work areas idle for at least `age` at `now` (steady clock); returns how many.
  // Thread-safe.
  std::size_t ReleaseIdleMemoryOlderThan(std::chrono::steady_clock::duration age,
                                         std::chrono::steady_clock::time_point now) const;
  // Work areas mapped and idle now: after a burst, the peak number of concurrent calls (up to
  // 8). Thread-safe.
  std::size_t idle_work_areas() const;

 private:
  config::Argon2Config params_;
  std::unique_ptr<Argon2Engine> engine_;
};

}  // namespace sftplc::auth
