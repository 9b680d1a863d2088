#pragma once

// NoticeQueue: the one owner of the `outbox` table. The admin's side (list, retry) runs its own
// transactions; the sweep's side (queue, cancel, claim with a lease, settle, and the one rule of
// when a notice is due) runs inside the caller's db::Database::Write transaction, on the
// session it is handed (declared here, defined by SOCI in the .cc file only).
// Thread-safe: each call uses its own pooled session, or the caller's.

#include <optional>
#include <string>
#include <vector>

#include "sftpd/core/base/calendar.h"
#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/ids.h"
#include "sftpd/core/base/result.h"
#include "sftpd/core/db/database.h"
#include "sftpd/core/notify/templates.h"

namespace sftplc::lifecycle {

struct Notice {
  int64_t id = 0;
  AccountId account_id;
  std::string kind;       // "inactivity_notice", "closure_notice", "files_waiting"
  std::string event_key;  // unique per account
  std::string state;      // "pending", "sending", "sent", "failed", "cancelled"
  TimePoint created_at{};
  std::optional<TimePoint> next_attempt_at;
  int attempts = 0;
  std::string last_error;  // no personal data
  std::optional<TimePoint> sent_at;
  std::string subject;
};

// A notice the sweep claimed for delivery (leased: state 'sending').
struct ClaimedNotice {
  int64_t id = 0;
  std::string account_id, kind, event_key, detail;
  int attempts = 0;
};

// A notice due for delivery at `due` (for a plan or a dry run).
struct DueNotice {
  AccountId account_id;
  std::string kind;
  TimePoint due{};
};

class NoticeQueue {
 public:
  // REQUIRES: db outlives the queue.
  explicit NoticeQueue(db::Database& db) : db_(db) {}

  // Newest first; `failed_only` lists permanent failures; `account` filters.
  Result<std::vector<Notice>> List(bool failed_only, const std::optional<AccountId>& account,
                                   int limit);
  // Puts failed notices back in the queue (attempts reset, due now); all of them, or those of
  // `ids` (ids of notices that are not failed are skipped). Writes one audit row per notice
  // queued again (notices.retry, by `actor`, detail "notice=ID kind=KIND") in the same
  // transaction. Returns how many. kNotFound, naming them, when an id has no notice: then
  // nothing is changed. Idempotent.
  Result<int64_t> RetryFailed(const std::vector<int64_t>& ids, TimePoint now,
                              const std::string& actor);

  // --- Inside the caller's transaction (may throw soci::soci_error) ---

  // Every notice of account `id`, oldest first (the access export).
  static std::vector<Notice> OfAccount(soci::session& s, const AccountId& id);
  // Every notice still to be delivered or given up ("pending", "sending", "failed"), oldest
  // first (the retention report). Account ids that do not parse are left empty.
  static std::vector<Notice> Unsettled(soci::session& s);

  // When a notice is due at ":now": the one statement of the rule (claims, plans, dry runs and
  // the sweep's "anything due" read all use it). Answered by the outbox_due index.
  static constexpr const char* kDue = "next_attempt_at <= :now AND state IN ('pending', 'sending')";

  // Queues a notice, due at once. False when one with this (account, event_key) exists.
  static bool Queue(soci::session& s, const AccountId& id, notify::NoticeKind kind,
                    const std::string& event_key, TimePoint now, const std::string& detail);
  // Cancels the account's undelivered notices of `kind`; returns how many.
  static int64_t CancelUndelivered(soci::session& s, const AccountId& id, notify::NoticeKind kind);
  // Deletes every notice of the account (a purge); returns how many.
  static int64_t DeleteAll(soci::session& s, const AccountId& id);
  // Claims up to `limit` due notices, oldest due first (SKIP LOCKED on PostgreSQL), without
  // leasing them yet: the caller leases or cancels each.
  static std::vector<ClaimedNotice> Due(soci::session& s, db::Backend b, TimePoint now, int limit);
  static void Lease(soci::session& s, int64_t id, TimePoint until);
  static void Cancel(soci::session& s, int64_t id, const std::string& reason);
  static void MarkSent(soci::session& s, int64_t id, TimePoint now, int attempts,
                       const std::string& subject);
  static void MarkFailed(soci::session& s, int64_t id, int attempts, const std::string& error);
  static void Defer(soci::session& s, int64_t id, TimePoint next, int attempts,
                    const std::string& error);
  // Every notice due by `until`, oldest first (reads only).
  static std::vector<DueNotice> DueBy(soci::session& s, TimePoint until);

  // When the copy of a notice must be gone (section 9 of the privacy notice): `retention`
  // after it was sent; for one never sent and given up ("failed", "cancelled") `retention`
  // after it was queued; nullopt while it is still to be delivered. Pure.
  static std::optional<TimePoint> CopyDeadline(const std::string& state, TimePoint created_at,
                                               std::optional<TimePoint> sent_at,
                                               const Period& retention);
  // Deletes every notice row (subject, detail, everything that reconstructs the message) whose
  // CopyDeadline is at or before `now`, whatever the state of its account; in transactions of
  // at most `batch` rows. Returns how many were deleted. kUnavailable when the database cannot
  // be written (what was deleted stays deleted).
  Result<int64_t> DeleteExpiredCopies(TimePoint now, const Period& retention, int batch = 500);
  // Notices whose CopyDeadline is at or before `when`, oldest first, at most `limit` (for the
  // retention report: copies a sweep should have deleted). kUnavailable.
  Result<std::vector<Notice>> CopiesDueBy(TimePoint when, const Period& retention, int limit);

 private:
  db::Database& db_;
};

}  // namespace sftplc::lifecycle
