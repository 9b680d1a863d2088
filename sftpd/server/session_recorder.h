#pragma once

// SessionRecorder: what the transport writes about a session - the login, activity in batches,
// and the end. The production implementation (db_session_recorder.h) writes the usage store and
// the account store; tests use fakes. Implementations are thread-safe and never throw; a failure
// to record is logged by the caller and does not end the session.

#include <cstdint>
#include <string>
#include <string_view>

#include "sftpd/core/auth/authenticator.h"
#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/ids.h"
#include "sftpd/core/base/result.h"
#include "sftpd/core/usage/counters.h"

namespace sftplc::server {

struct LoginInfo {
  AccountId account;
  std::string remote_ip;
  std::string client_version;
  auth::AuthMethod method = auth::AuthMethod::kPassword;
  TimePoint at{};
};

// What a session logged in with, so that a revocation can be noticed while it runs.
struct LoginCredential {
  auth::AuthMethod method = auth::AuthMethod::kPassword;
  std::string password_hash;  // the account's hash after the login (password logins)
  std::string key_type;       // the key logged in with (key logins)
  std::string key_base64;
};

class SessionRecorder {
 public:
  virtual ~SessionRecorder() = default;

  // Whether a login still stands: the account exists, may log in, and still has the password
  // hash or the key it logged in with. kPermissionDenied (message: closed, erased, key removed,
  // password changed) when it does not; kUnavailable when the database cannot answer (the
  // session goes on and asks again).
  virtual Status StillAuthorized(const AccountId& account, const LoginCredential& login) = 0;
  // A successful login: records it on the account (last_login_at, last_activity_at) and opens a
  // usage session row. Returns the usage session id.
  virtual Result<int64_t> Begin(const LoginInfo& login) = 0;
  // Periodic progress (at most about once a minute per session): counters so far and, when
  // `activity` is set, last_activity_at = at on the account.
  virtual Status Progress(int64_t usage_id, const AccountId& account, const usage::Counters& c,
                          bool activity, TimePoint at) = 0;
  // The end of the session: final counters, end reason ("closed", "idle_timeout", "shutdown",
  // "error", "protocol_error"), and last_activity_at when `activity` is set.
  virtual Status End(int64_t usage_id, const AccountId& account, const usage::Counters& c,
                     bool activity, std::string_view reason, TimePoint at) = 0;
};

}  // namespace sftplc::server
