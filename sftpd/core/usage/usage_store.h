#pragma once

// UsageStore: one row per SFTP session (who, from where, with what client, how, how much, how it
// ended) and the failed logins of existing accounts, on SQLite or PostgreSQL. The rows are
// personal data of the account: the purge deletes them (DeleteForAccount, in its transaction).
//
// A session row is opened at login with ended_at NULL and closed at the end. Rows carry the
// node (host name) that opened them, so a node restarting after a crash closes only its own
// orphans ("crashed"), never the live sessions of another node sharing a PostgreSQL database.
// Thread-safe: each call takes its own pooled connection.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/ids.h"
#include "sftpd/core/base/result.h"
#include "sftpd/core/usage/counters.h"

namespace soci {
class session;
}  // namespace soci

namespace sftplc::db {
class Database;
}

namespace sftplc::usage {

struct NewSession {
  AccountId account;
  TimePoint started_at{};
  std::string remote_ip;         // "" for local actors
  std::string client_version;    // the client's SSH banner (truncated to 200 bytes)
  std::string auth_method;       // "password", "publickey", or "admin"
  std::string actor = "client";  // "client" or "admin:<os user>" (sftpctl files)
};

struct SessionRecord {
  int64_t id = 0;
  AccountId account;
  std::string actor;
  std::string node;
  TimePoint started_at{};
  std::optional<TimePoint> ended_at;  // absent while the session runs
  std::string remote_ip;
  std::string client_version;
  std::string auth_method;
  Counters counters;
  std::string end_reason;  // "" while open; "closed", "idle_timeout", "shutdown", "crashed", ...
};

struct FailedLogin {
  AccountId account;
  TimePoint at{};
  std::string remote_ip;
  std::string auth_method;
};

// Per-account totals for `sftpctl usage report`.
struct AccountUsage {
  AccountId account;
  int64_t sessions = 0;
  int64_t failed_logins = 0;
  Counters totals;
  std::optional<TimePoint> last_session_at;
};

class UsageStore {
 public:
  // `node` names this process's host in the rows it opens (default: the host name).
  // REQUIRES: db outlives the store; migrations have run.
  UsageStore(db::Database& db, const Clock& clock, std::string node = "");

  const std::string& node() const { return node_; }

  // Opens a session row (ended_at NULL). Returns its id. kInvalidArgument for an empty account.
  Result<int64_t> Open(const NewSession& session);
  // Writes the counters so far into an open row. kNotFound if the row is absent or closed.
  Status Update(int64_t id, const Counters& counters);
  // Closes an open row with final counters and a reason. kNotFound if absent or already closed.
  Status Close(int64_t id, const Counters& counters, std::string_view reason, TimePoint at);
  // Closes every row of this node still open (a previous run died): ended_at = `at`,
  // reason "crashed". Returns how many were closed.
  Result<int64_t> CloseOrphans(TimePoint at);

  // A failed login of an existing account (never of an unknown name; no password).
  Status RecordFailedLogin(const FailedLogin& failure);

  // The sessions of one account, newest first, started at or after `since` when given.
  Result<std::vector<SessionRecord>> ListSessions(const AccountId& account,
                                                  std::optional<TimePoint> since, int limit);
  // Failed logins of one account, newest first.
  Result<std::vector<FailedLogin>> ListFailedLogins(const AccountId& account,
                                                    std::optional<TimePoint> since, int limit);
  // Every session and every failed login of `account`, oldest first, on `s` inside the
  // caller's transaction (the access export reads them with the rest of the account, in one
  // snapshot). May throw soci::soci_error (Write/Read turn it into an Error).
  static Result<std::vector<SessionRecord>> AllSessions(soci::session& s, const AccountId& account);
  static std::vector<FailedLogin> AllFailedLogins(soci::session& s, const AccountId& account);
  // Totals per account (sessions started at or after `since`), ordered by account id. Accounts
  // without sessions or failures in the range do not appear.
  Result<std::vector<AccountUsage>> Report(std::optional<TimePoint> since);

  // Deletes the account's sessions and failed logins on `s`, inside the purge's write
  // transaction. Returns the rows deleted. May throw soci::soci_error (Write turns it into an
  // Error).
  static int64_t DeleteForAccount(soci::session& s, const AccountId& account);

  // IP retention (lifecycle.ip_retention, run by the sweep): the address of every session
  // started before `before` is cleared (the row stays with the account: it is the usage the
  // privacy notice says is tracked) and every failed login recorded before `before` is deleted.
  // Returns the rows changed. kUnavailable when the database cannot be written.
  static Result<int64_t> ForgetAddresses(db::Database& db, TimePoint before);
  // When the oldest address still held was recorded (nullopt when none is), for the retention
  // report. kUnavailable when the database cannot be read.
  static Result<std::optional<TimePoint>> OldestAddress(db::Database& db);

 private:
  db::Database& db_;
  const Clock& clock_;
  std::string node_;
};

}  // namespace sftplc::usage
