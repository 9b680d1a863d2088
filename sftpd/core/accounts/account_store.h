#pragma once

// AccountStore: accounts, their public keys, the marketing-consent ledger and the audit trail
// of admin actions, on SQLite or PostgreSQL (one implementation over db::Database).
// Every change writes an audit_events row (actor, action, account id, time; no personal values)
// in the same transaction. Thread-safe: each call takes its own pooled connection.
//
// The one owner of `consent_events` and `public_keys`: every statement on those tables is
// in account_store.cc. The ledger belongs here rather than in lifecycle::ContactStore because
// core/lifecycle depends on core/accounts and never the reverse: the account store writes the
// first row at account creation and cannot call into the lifecycle module, while the lifecycle
// (the purged account's contact, the purge, the access export) calls the static methods below
// inside its own transaction.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sftpd/core/accounts/account.h"
#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/result.h"
#include "sftpd/core/db/audit_log.h"

namespace soci {
class session;
}  // namespace soci

namespace sftplc::db {
class Database;
}  // namespace sftplc::db

namespace sftplc::accounts {

// An audit_events row (db::AuditLog owns the table).
using AuditEvent = db::AuditEvent;

class AccountStore {
 public:
  // REQUIRES: db outlives the store; migrations have run.
  AccountStore(db::Database& db, const Clock& clock);

  // Creates the account (validated with ValidateNewAccount; a fresh random id). If
  // marketing_consent is set, the first consent_events row is written too.
  // kInvalidArgument for bad fields; kAlreadyExists if the username is taken.
  Result<Account> Create(const NewAccount& account, const Actor& actor);

  // kNotFound when there is no such account (purged accounts have none).
  Result<Account> Get(const AccountId& id);
  Result<Account> FindByUsername(std::string_view username);
  // `key` is a username or a 32-hex-digit id.
  Result<Account> Resolve(std::string_view key);
  // Ordered by username. `state` filters.
  Result<std::vector<Account>> List(std::optional<AccountState> state);

  // Changes the fields that are set (validated); kInvalidArgument, kNotFound.
  Result<Account> Update(const AccountId& id, const AccountUpdate& update, const Actor& actor);
  // Stores a new PHC hash (admin set-password, or sftpd's rehash after login).
  Status SetPasswordHash(const AccountId& id, const std::string& phc, const Actor& actor);

  // Keys. AddKey parses one authorized_keys line ("type base64 [comment]");
  // kInvalidArgument for a malformed line, kAlreadyExists for a key already on this account.
  Result<PublicKey> AddKey(const AccountId& id, std::string_view authorized_keys_line,
                           const Actor& actor);
  // kNotFound when the account has no key with that fingerprint.
  Status RemoveKey(const AccountId& id, std::string_view fingerprint, const Actor& actor);
  // Deletes the accounts row of `id` on `s`, inside the purge's write transaction (the purge
  // deletes the account's other rows first, through their owners). May throw soci::soci_error.
  static void DeleteRow(soci::session& s, const AccountId& id);
  // Deletes every public key of account `id` on `s`, inside the purge's write transaction.
  // Returns the keys deleted. May throw soci::soci_error (Write turns it into an Error).
  static int64_t DeleteKeys(soci::session& s, const AccountId& id);
  Result<std::vector<PublicKey>> ListKeys(const AccountId& id);
  // The keys of account `id` on `s`, inside the caller's transaction, ordered by id. May throw
  // soci::soci_error.
  static std::vector<PublicKey> LoadKeys(soci::session& s, const AccountId& id);

  // Closure by request or by an admin: login is refused at once; the purge is scheduled by the
  // lifecycle engine at closed_at + purge_after_closure. kAlreadyExists if already closed.
  Result<Account> Close(const AccountId& id, CloseReason reason, const Actor& actor);
  // Back to active (only before the purge). kAlreadyExists if not closed.
  Result<Account> Reopen(const AccountId& id, const Actor& actor);

  // Consent ledger. Grant when already granted (or withdraw when not granted) is kAlreadyExists.
  Status GrantConsent(const AccountId& id, std::string_view source, const Actor& actor);
  Status WithdrawConsent(const AccountId& id, std::string_view source, const Actor& actor);
  Result<std::vector<ConsentEvent>> ListConsent(const AccountId& id);
  // The ledger on `s`, inside the caller's transaction (a purged account's marketing contact
  // keeps its ledger; the purge and the contact's deletion delete it). May throw
  // soci::soci_error (Write/Read turn it into an Error).
  // Appends one event; `actor` as Actor::name.
  static void AppendConsent(soci::session& s, const AccountId& id, bool granted, TimePoint at,
                            const std::string& source, const std::string& actor);
  // The events of account `id`, oldest first.
  static std::vector<ConsentEvent> LoadConsent(soci::session& s, const AccountId& id);
  // Deletes the events of account `id`; returns how many were deleted.
  static int64_t DeleteConsent(soci::session& s, const AccountId& id);

  // A successful login: last_login_at = last_activity_at = now; a confirmation_pending account
  // becomes active again (recorded). Returns the updated account.
  Result<Account> RecordLogin(const AccountId& id);
  // Activity without a login (a transfer, or sftpctl files): last_activity_at = at.
  Status RecordActivity(const AccountId& id, TimePoint at);

  // Writes one audit_events row for an action done outside the store (sftpctl files: "files.put",
  // "files.get", "files.rm"). `detail` must hold no personal values. kNotFound if the account
  // does not exist.
  Status RecordAudit(const AccountId& id, std::string_view action, std::string_view detail,
                     const Actor& actor);

  // The audit trail of one account (newest first), or of all accounts when id is empty.
  Result<std::vector<AuditEvent>> ListAudit(const std::optional<AccountId>& id, int limit);

 private:
  db::Database& db_;
  const Clock& clock_;
};

}  // namespace sftplc::accounts
