#pragma once

// ContactStore: the one owner of `marketing_contacts` (the contact kept after a purge while
// consent stands) and `purge_receipts` (the PII-free record of each purge). Reads and the
// consent withdrawal run their own transactions; the purge's and the sweep's steps run inside
// the caller's db::Database::Write transaction on the session it is handed (declared here,
// defined by SOCI in the .cc file only). Thread-safe.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/ids.h"
#include "sftpd/core/base/result.h"
#include "sftpd/core/config/config.h"
#include "sftpd/core/db/database.h"

namespace sftplc::lifecycle {

// A receipt of a purge, as stored in purge_receipts. No personal data.
struct PurgeReceipt {
  AccountId account_id;
  TimePoint purged_at{};
  std::string reason;  // "inactivity", "request", "admin", "erasure"
  std::optional<TimePoint> closed_at;
  int64_t files_deleted = 0;  // counted when the trash entry is gone (after the commit)
  int64_t bytes_deleted = 0;
  int64_t keys_deleted = 0;
  int64_t usage_rows_deleted = 0;
  int64_t notices_deleted = 0;
  int64_t consent_events_deleted = 0;
  bool contact_kept = false;
  std::optional<TimePoint> contact_deleted_at;
  std::string contact_deleted_reason;  // "retention", "withdrawal", "erasure"
  bool folder_only = false;  // EraseNow: only a storage folder left without an account was held
  // Not stored: why files of the purge remain in the trash ("" when all were removed); the
  // sweep retries them (FailureLog action "trash").
  std::string files_error;
};

// The marketing contact kept after a purge while consent stands.
struct MarketingContact {
  AccountId account_id;
  std::string full_name, company, email, phone;
  bool consent = false;
  std::optional<TimePoint> consent_withdrawn_at;
  TimePoint last_communication_at{};
  TimePoint created_at{};
  TimePoint delete_due{};
};

class ContactStore {
 public:
  // REQUIRES: db outlives the store.
  ContactStore(db::Database& db, config::LifecycleConfig cfg) : db_(db), cfg_(std::move(cfg)) {}

  Result<std::optional<PurgeReceipt>> GetReceipt(const AccountId& id);
  Result<std::optional<MarketingContact>> GetContact(const AccountId& id);
  // The accounts whose purge receipt was written at or after `since` (purged_at), or whose
  // marketing contact was deleted at or after `since` (contact_deleted_at), ordered by id: the
  // receipts an operator keeps outside a database backup, to replay after a restore (sftpctl
  // db export-receipts, docs/operations.md "Backup and restore"). kUnavailable when the
  // database cannot be read; kInternal for a malformed id.
  Result<std::vector<AccountId>> ReceiptsChangedSince(TimePoint since);

  // Consent withdrawn on a purged account's marketing contact: ledger row, audit row
  // (consent.withdraw, detail record=marketing_contact), and deletion scheduled at
  // min(last communication + marketing_retention, now + withdrawal_purge). kInvalidArgument for
  // a bad source (as accounts::ValidateConsentSource); kNotFound without a contact;
  // kAlreadyExists when consent is already withdrawn.
  Status WithdrawConsent(const AccountId& id, TimePoint now, const std::string& source,
                         const std::string& actor);

  // --- Inside the caller's transaction (may throw soci::soci_error) ---

  // When a contact is due for deletion at ":now" (index marketing_contacts_delete_due).
  static constexpr const char* kDue = "delete_due <= :now";

  // The contact of `id`; `lock` adds FOR UPDATE on PostgreSQL.
  static std::optional<MarketingContact> Load(soci::session& s, db::Backend b, const AccountId& id,
                                              bool lock);
  static void Insert(soci::session& s, const MarketingContact& c);
  // Deletes the contact and its consent ledger, notes it on the receipt, writes the audit row
  // lifecycle.contact_delete (`reason`: "retention", "withdrawal", "erasure").
  static void Delete(soci::session& s, const AccountId& id, TimePoint now,
                     const std::string& reason);
  // Up to `limit` contacts due at `now`, oldest due first (SKIP LOCKED on PostgreSQL).
  static std::vector<AccountId> Due(soci::session& s, db::Backend b, TimePoint now, int limit);
  // Every contact due by `until` with its due time (reads only).
  static std::vector<std::pair<AccountId, TimePoint>> DueBy(soci::session& s, TimePoint until);
  // Calls `fn` for every contact, by deletion date.
  static void Scan(soci::session& s, const std::function<void(const MarketingContact&)>& fn);

  static void InsertReceipt(soci::session& s, const PurgeReceipt& r);
  // Adds what the purge walk removed (after the commit) to the receipt of `id`, if any.
  static void AddRemoved(soci::session& s, const AccountId& id, int64_t files, int64_t bytes);
  static std::optional<PurgeReceipt> LoadReceipt(soci::session& s, const AccountId& id);
  static int64_t CountReceipts(soci::session& s);

 private:
  db::Database& db_;
  config::LifecycleConfig cfg_;
};

}  // namespace sftplc::lifecycle
