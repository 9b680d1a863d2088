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
#include "sftpd/core/usage/usage_store.h"

namespace sftplc::server {

struct LoginInfo {
  AccountId account;
  std::string remote_ip;
  std::string client_version;
  auth::AuthMethod method = auth::AuthMethod::kPassword;
  TimePoint at{};
};

class SessionRecorder {
 public:
  virtual ~SessionRecorder() = default;
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
