#pragma once

// The notice outbox as the admin sees it: list (all, or the failed ones) and retry. The runner
// (runner.h) fills and drains it. Thread-safe: each call uses its own pooled session.

#include <optional>
#include <string>
#include <vector>

#include "sftpd/core/base/calendar.h"
#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/ids.h"
#include "sftpd/core/base/result.h"
#include "sftpd/core/db/database.h"

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

class OutboxStore {
 public:
  // REQUIRES: db outlives the store.
  explicit OutboxStore(db::Database& db) : db_(db) {}

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
  // Notices not yet delivered (pending or sending), oldest first.
  Result<std::vector<Notice>> Undelivered(int limit);

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
