#pragma once

// Sweep: one pass of the lifecycle of docs/DESIGN at `now`, as a list of phases run in order
// (Run() names them): the trash left by earlier purges, account transitions (notices queued,
// confirmations by activity, closures, purges), notice deliveries, marketing contact deletions.
// Each phase reads only what is due, by index, in batches. The rules live elsewhere: the policy
// (policy.h) decides, NoticeQueue owns the outbox, Purger purges, ContactStore owns contacts and
// receipts, FailureLog remembers what failed.
//
// Failure isolation: an account whose step fails (a purge whose folder cannot be moved, a row
// that cannot be written) is recorded in FailureLog with a retry time and passed by; the sweep
// goes on for every other account and reports it in SweepReport::failures. Only an unreachable
// database ends a sweep early (kUnavailable).
//
// Concurrency: every claim runs in a db::Database::Write transaction: BEGIN IMMEDIATE on SQLite
// (sweeps take turns), SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL (sweeps take disjoint
// rows). Notices are claimed with a lease (state 'sending') before the SMTP conversation and
// settled afterwards, so two sweeps never send the same notice; a sweep killed between the
// SMTP server's acceptance and the settling commit sends that notice again after the lease
// (at-least-once). A killed sweep otherwise resumes where it was. Thread-safe: each call uses
// its own pooled sessions.

#include <functional>
#include <string>
#include <unordered_set>
#include <vector>

#include "sftpd/core/accounts/account.h"
#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/log.h"
#include "sftpd/core/base/result.h"
#include "sftpd/core/config/config.h"
#include "sftpd/core/db/database.h"
#include "sftpd/core/lifecycle/failure_log.h"
#include "sftpd/core/lifecycle/purger.h"
#include "sftpd/core/notify/mailer.h"
#include "sftpd/core/notify/templates.h"

namespace sftplc::lifecycle {

struct SweepProgress {
  std::string phase;  // "trash", "accounts", "notices", "contacts"
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
  int64_t scheduled = 0;       // accounts whose next action was (re)computed only
  int64_t notices_queued = 0;  // inactivity + closure notices queued
  int64_t reactivated = 0;
  int64_t closed = 0;
  int64_t purged = 0;
  int64_t trash_removed = 0;  // trash entries of earlier purges removed
  int64_t contacts_deleted = 0;
  int64_t notices_sent = 0;
  int64_t notices_deferred = 0;        // temporary failure, retried later
  int64_t notices_failed = 0;          // permanent failure or max attempts reached
  int64_t notices_cancelled = 0;       // no longer relevant (activity, account gone)
  int64_t errors = 0;                  // accounts or notices skipped because of an error
  int64_t notice_copies_deleted = 0;   // retention: copies past lifecycle.mail_copy_retention
  int64_t addresses_dropped = 0;       // retention: rows whose IP address was dropped
  std::vector<SweepFailure> failures;  // accounts that failed in this sweep (retried later)
  std::vector<PlannedAction> planned;  // dry run only
};

class Sweep {
 public:
  // REQUIRES: everything referenced outlives the sweep. `mailer` may be null: then notices
  // stay queued (a sweep without delivery).
  Sweep(db::Database& db, const config::Config& cfg, notify::Mailer* mailer,
        const notify::TemplateSet& templates, Purger& purger, Logger log)
      : db_(db),
        cfg_(cfg),
        mailer_(mailer),
        templates_(templates),
        purger_(purger),
        log_(std::move(log)) {}

  // One sweep at `now`. Failures of single accounts are recorded, counted and logged, and the
  // sweep goes on; kUnavailable when the database is unreachable.
  Result<SweepReport> Run(TimePoint now, const SweepOptions& opts = {});

  // What will happen between `now` and `until`, by account and date (reads only).
  Result<std::vector<PlannedAction>> Plan(TimePoint now, TimePoint until);

 private:
  struct Job;
  struct Claim;
  // The phases of Run(), in order.
  void TrashPhase(TimePoint now, const SweepOptions& opts, SweepReport& report);
  Status AccountPhase(TimePoint now, const SweepOptions& opts, SweepReport& report);
  Status NoticePhase(TimePoint now, const SweepOptions& opts, SweepReport& report);
  Status ContactPhase(TimePoint now, const SweepOptions& opts, SweepReport& report);
  Status RetentionPhase(TimePoint now, const SweepOptions& opts, SweepReport& report);

  Result<SweepReport> DryRun(TimePoint now);
  // The steps due for one account (inside the claim's transaction); a due purge is added to
  // `purges` instead (it runs in its own transaction).
  // `failing`: accounts with a recorded "account" failure, forgotten once a step succeeds.
  void StepAccount(soci::session& s, accounts::Account& a, TimePoint now, SweepReport& report,
                   std::vector<AccountId>& purges, const std::unordered_set<std::string>& failing);
  void PurgeOne(const AccountId& id, TimePoint now, SweepReport& report);
  void Failed(const AccountId& id, const std::string& action, TimePoint now, const Error& error,
              SweepReport& report);
  Result<Claim> ClaimNotices(TimePoint now, int limit, SweepReport& report);
  void Settle(const Job& job, const Status& sent, TimePoint now, SweepReport& report);

  db::Database& db_;
  const config::Config& cfg_;
  notify::Mailer* mailer_;
  const notify::TemplateSet& templates_;
  Purger& purger_;
  Logger log_;
};

}  // namespace sftplc::lifecycle
