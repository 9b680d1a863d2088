#pragma once

// LifecycleRunner: the sweep of docs/DESIGN. RunOnce(now) reads only what is due (accounts by
// the indexed next_action_due, notices by next_attempt_at, marketing contacts by delete_due),
// applies the policy (policy.h), queues notices in the same transaction as the state change,
// delivers them with exponential backoff, purges closed accounts (files, keys, usage, notices,
// personal data; a PII-free receipt remains, plus a marketing contact while consent stands)
// and deletes contacts whose retention ended.
//
// Concurrency: every claim runs in a db::Database::Write transaction: BEGIN IMMEDIATE on SQLite
// (sweeps take turns), SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL (sweeps take disjoint
// rows). Notices are claimed with a lease (state 'sending') before the SMTP conversation and
// settled afterwards, so two sweeps never send the same notice; a sweep killed between the
// SMTP server's acceptance and the settling commit sends that notice again after the lease
// (at-least-once; the Message-ID differs). A killed sweep otherwise resumes where it was:
// nothing is half-applied. Thread-safe: each call uses its own pooled sessions.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "sftpd/core/accounts/account.h"
#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/log.h"
#include "sftpd/core/base/result.h"
#include "sftpd/core/config/config.h"
#include "sftpd/core/db/database.h"
#include "sftpd/core/lifecycle/policy.h"
#include "sftpd/core/notify/mailer.h"
#include "sftpd/core/notify/templates.h"

namespace sftplc::lifecycle {

struct SweepProgress {
  std::string phase;  // "accounts", "notices", "contacts"
  int64_t done = 0;   // items handled so far in this phase
};

struct SweepOptions {
  bool dry_run = false;  // compute what is due, change nothing, send nothing
  int batch_size = 200;  // rows per claim transaction
  std::function<void(const SweepProgress&)> progress;  // called after each batch (may be empty)
};

// One thing the sweep did (or, in a dry run, would do).
struct PlannedAction {
  AccountId account_id;
  std::string action;  // ActionName(), "deliver_notice:<kind>" or "delete_contact"
  TimePoint due{};
};

struct SweepReport {
  int64_t scheduled = 0;          // accounts whose next action was (re)computed only
  int64_t notices_queued = 0;     // inactivity + closure notices queued
  int64_t reactivated = 0;
  int64_t closed = 0;
  int64_t purged = 0;
  int64_t contacts_deleted = 0;
  int64_t notices_sent = 0;
  int64_t notices_deferred = 0;   // temporary failure, retried later
  int64_t notices_failed = 0;     // permanent failure or max attempts reached
  int64_t notices_cancelled = 0;  // no longer relevant (activity, account gone)
  int64_t errors = 0;             // accounts or notices skipped because of an error
  int64_t notice_copies_deleted = 0;   // retention: copies past lifecycle.mail_copy_retention
  int64_t addresses_dropped = 0;       // retention: rows whose IP address was dropped
  std::vector<PlannedAction> planned;  // dry run only
};

// A receipt of a purge, as stored in purge_receipts. No personal data.
struct PurgeReceipt {
  AccountId account_id;
  TimePoint purged_at{};
  std::string reason;  // "inactivity", "request", "admin", "erasure"
  std::optional<TimePoint> closed_at;
  int64_t files_deleted = 0;
  int64_t bytes_deleted = 0;
  int64_t keys_deleted = 0;
  int64_t usage_rows_deleted = 0;
  int64_t notices_deleted = 0;
  int64_t consent_events_deleted = 0;
  bool contact_kept = false;
  std::optional<TimePoint> contact_deleted_at;
  std::string contact_deleted_reason;  // "retention", "withdrawal", "erasure"
  bool folder_only = false;  // EraseNow: only a storage folder left without an account was held
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

class LifecycleRunner {
 public:
  // REQUIRES: db and mailer outlive the runner; migrations have run. `mailer` may be null:
  // then notices stay queued (a sweep without delivery).
  LifecycleRunner(db::Database& db, config::Config cfg, notify::Mailer* mailer,
                  notify::TemplateSet templates, Logger log);

  // One sweep at `now`: account transitions, then notice deliveries, then contact deletions,
  // each in batches until nothing due remains, then the retention phase (retention_sweep.h:
  // mail copies and IP addresses past their time). Errors on single rows are counted and logged
  // (the row is retried by the next sweep); kUnavailable when the database is unreachable.
  Result<SweepReport> RunOnce(TimePoint now, const SweepOptions& opts = {});

  // What will happen between `now` and `until`, by account and date (reads only).
  Result<std::vector<PlannedAction>> Plan(TimePoint now, TimePoint until);

  // An erasure request: the purge, now, the marketing contact and consent ledger included.
  // Works on what remains without an account too: a purged account's marketing contact, and a
  // storage folder left behind (folder_only when that is all). Writes account.erase in the
  // same transaction. kNotFound when nothing is held; kUnavailable when the folder cannot be
  // removed (then nothing is erased).
  Result<PurgeReceipt> EraseNow(const AccountId& id, TimePoint now, const std::string& actor);

  // An admin confirms an account (the client replied): last_activity_at = now, back to active,
  // an undelivered inactivity notice is cancelled. kNotFound; kAlreadyExists when closed.
  Result<accounts::Account> Confirm(const AccountId& id, TimePoint now, const std::string& actor);

  // Queues a files-waiting notice (sftpctl files put --notify) listing `files`; `event_key`
  // makes it unique (a second call with the same key is kAlreadyExists). kNotFound.
  Status QueueFilesNotice(const AccountId& id, const std::vector<std::string>& files,
                          const std::string& event_key, TimePoint now);

  // Consent withdrawn on a purged account's marketing contact: ledger row, audit row
  // (consent.withdraw, detail record=marketing_contact), and deletion scheduled at
  // min(last communication + marketing_retention, now + withdrawal_purge). kInvalidArgument for
  // a bad source (as accounts::ValidateConsentSource); kNotFound without a contact;
  // kAlreadyExists when consent is already withdrawn.
  Status WithdrawContactConsent(const AccountId& id, TimePoint now, const std::string& source,
                                const std::string& actor);

  // Sets next_action/next_action_due from the policy (after a change made elsewhere).
  Status Reschedule(const AccountId& id);

  Result<std::optional<PurgeReceipt>> GetReceipt(const AccountId& id);
  Result<std::optional<MarketingContact>> GetContact(const AccountId& id);

  const config::Config& config() const { return cfg_; }

 private:
  struct Job;
  // What one claim transaction did: rows handled, and whether it found as many rows as it
  // asked for (then more may be due and the sweep claims again).
  struct Batch {
    int64_t handled = 0;
    bool full = false;
  };
  struct Claim {
    std::vector<Job> jobs;
    bool full = false;
  };
  Result<Batch> AccountBatch(TimePoint now, const SweepOptions& opts, SweepReport& report,
                             std::unordered_set<std::string>& seen);
  Result<Claim> ClaimNotices(TimePoint now, int limit, SweepReport& report);
  void Settle(const Job& job, const Status& sent, TimePoint now, SweepReport& report);
  Result<int64_t> ContactBatch(TimePoint now, int limit, SweepReport& report);

  db::Database& db_;
  config::Config cfg_;
  notify::Mailer* mailer_;
  notify::TemplateSet templates_;
  Logger log_;
};

}  // namespace sftplc::lifecycle
