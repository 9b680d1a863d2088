#pragma once

// DbSessionRecorder: the SessionRecorder of the real daemon. At login it records the login on
// the account (AccountStore::RecordLogin: last_login_at and last_activity_at; a
// confirmation_pending account becomes active) and opens a usage session row; progress and the
// end write the counters, and last_activity_at when a transfer happened since the last write
// (so activity reaches the database at most once a minute per session, never per packet).
// Thread-safe (the stores are).

#include "sftpd/core/accounts/account_store.h"
#include "sftpd/core/usage/usage_store.h"
#include "sftpd/server/session_recorder.h"

namespace sftplc::server {

class DbSessionRecorder final : public SessionRecorder {
 public:
  // REQUIRES: both stores outlive the recorder.
  DbSessionRecorder(accounts::AccountStore& accounts, usage::UsageStore& usage)
      : accounts_(accounts), usage_(usage) {}

  // kNotFound if the account vanished; kUnavailable when the database cannot be reached.
  Result<int64_t> Begin(const LoginInfo& login) override;
  // One account read (and, for a key login, its keys): a poll that sees every node's change on
  // a shared PostgreSQL database.
  Status StillAuthorized(const AccountId& account, const LoginCredential& login) override;
  Status Progress(int64_t usage_id, const AccountId& account, const usage::Counters& c,
                  bool activity, TimePoint at) override;
  Status End(int64_t usage_id, const AccountId& account, const usage::Counters& c, bool activity,
             std::string_view reason, TimePoint at) override;

 private:
  accounts::AccountStore& accounts_;
  usage::UsageStore& usage_;
};

}  // namespace sftplc::server
