#include "sftpd/core/lifecycle/sweep.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "sftpd/core/base/calendar.h"
#include "sftpd/core/base/time_format.h"
#include "sftpd/core/db/audit_log.h"
#include "sftpd/core/db/sql.h"
#include "sftpd/core/lifecycle/account_rows.h"
#include "sftpd/core/lifecycle/contact_store.h"
#include "sftpd/core/lifecycle/notice_queue.h"
#include "sftpd/core/lifecycle/policy.h"
#include "sftpd/core/lifecycle/retention_sweep.h"
#include "sftpd/core/notify/message.h"

namespace sftplc::lifecycle {

using accounts::Account;
using accounts::AccountState;
using accounts::CloseReason;

namespace {

constexpr const char* kActor = "lifecycle";
constexpr long long kLeaseSeconds = 600;  // a claimed notice is retried after this long

// "<notice.<account id>.<outbox id>@<sender's domain>>": no personal data, unique per notice.
std::string NoticeMessageId(const AccountId& account, long long outbox_id,
                            const std::string& from_address) {
  std::size_t at = from_address.rfind('@');
  std::string domain = at == std::string::npos ? "localhost" : from_address.substr(at + 1);
  return fmt::format("<notice.{}.{}@{}>", account.str(), outbox_id, domain);
}

std::string SkipLocked(db::Backend b) {
  return b == db::Backend::kPostgresql ? " FOR UPDATE SKIP LOCKED" : "";
}

// What makes an account due for the sweep at :now, shared by the claims and by AnythingDue().
// Each is answered by one index: next_action_due; the partial indexes of 0005_sweep_indexes
// (closed accounts not yet scheduled for a purge, pending accounts with activity since the
// notice). Notices and contacts: NoticeQueue::kDue, ContactStore::kDue.
constexpr const char* kAccountDue = "next_action_due <= :now";
constexpr const char* kAccountUnscheduled = "next_action_due IS NULL";
constexpr const char* kClosedUnscheduled = "state = 'closed' AND next_action <> 'purge'";
constexpr const char* kPendingWithActivity =
    "state = 'confirmation_pending' AND last_activity_at > notice_queued_at";

// What a claim found: the rows, and whether there were as many as it asked for (then more may
// be due, and the sweep claims again).
struct DueAccounts {
  std::vector<Account> accounts;  // by id, each once
  bool full = false;
};

// Accounts with something due at `now`, never-scheduled accounts (next_action_due NULL:
// created or changed by the account store), closed accounts not yet scheduled for a purge and
// pending accounts with activity since the notice; whole rows, locked on PostgreSQL when `lock`.
DueAccounts LoadDueAccounts(soci::session& s, db::Backend b, long long now, int limit, bool lock) {
  const std::string lk = lock ? SkipLocked(b) : "";
  const long long n = limit;
  DueAccounts out;
  auto more = [&](const std::string& tail, std::vector<long long> params) {
    long long fetched = static_cast<long long>(out.accounts.size());
    if (fetched >= n) {
      return;
    }
    params.push_back(n - fetched);
    auto rows = LoadAccountsWhere(s, tail + lk, params);
    out.accounts.insert(out.accounts.end(), std::make_move_iterator(rows.begin()),
                        std::make_move_iterator(rows.end()));
  };
  more(fmt::format("WHERE {} ORDER BY next_action_due LIMIT :n", kAccountDue), {now});
  more(fmt::format("WHERE {} LIMIT :n", kAccountUnscheduled), {});
  more(fmt::format("WHERE {} LIMIT :n", kClosedUnscheduled), {});
  // Activity without a login (a transfer) while a notice is out: confirmed at once, even if
  // the store kept the scheduled closure date.
  more(fmt::format("WHERE {} LIMIT :n", kPendingWithActivity), {});
  // Counted before duplicates go: a full claim may hide more rows behind them.
  out.full = static_cast<long long>(out.accounts.size()) >= n;
  std::stable_sort(out.accounts.begin(), out.accounts.end(),
                   [](const Account& x, const Account& y) { return x.id < y.id; });
  out.accounts.erase(std::unique(out.accounts.begin(), out.accounts.end(),
                                 [](const Account& x, const Account& y) { return x.id == y.id; }),
                     out.accounts.end());
  return out;
}

// Which phases of a sweep at `now` have anything to do.
struct DuePhases {
  bool accounts = true;
  bool notices = true;
  bool contacts = true;
};

// `condition` with its one ":now" renamed: SQLite binds every ":now" of a statement as one
// parameter and PostgreSQL each as its own, so a statement using it more than once names each.
std::string Renamed(const char* condition, const char* name) {
  std::string out = condition;
  out.replace(out.find(":now"), 4, name);
  return out;
}

// One read answering DuePhases, so that a sweep with nothing due (most of them) costs one
// query and takes no write lock. Rows that fall due after it wait for the next sweep.
// The only statement here naming outbox and marketing_contacts: it reads, and each condition
// is its owner's (NoticeQueue::kDue, ContactStore::kDue). One query per owner would cost two
// more round trips on every sweep (the ten-year simulation on PostgreSQL is bound by them).
DuePhases AnythingDue(soci::session& s, long long now) {
  static const std::string sql = fmt::format(
      "SELECT CASE WHEN EXISTS (SELECT 1 FROM accounts WHERE {}) OR EXISTS (SELECT 1 FROM "
      "accounts WHERE {}) OR EXISTS (SELECT 1 FROM accounts WHERE {}) OR EXISTS (SELECT 1 FROM "
      "accounts WHERE {}) THEN 1 ELSE 0 END, CASE WHEN EXISTS (SELECT 1 FROM outbox WHERE {}) "
      "THEN 1 ELSE 0 END, CASE WHEN EXISTS (SELECT 1 FROM marketing_contacts WHERE {}) THEN 1 "
      "ELSE 0 END",
      Renamed(kAccountDue, ":now1"), kAccountUnscheduled, kClosedUnscheduled, kPendingWithActivity,
      Renamed(NoticeQueue::kDue, ":now2"), Renamed(ContactStore::kDue, ":now3"));
  int accounts = 1, notices = 1, contacts = 1;
  long long t1 = now, t2 = now, t3 = now;
  soci::statement st =
      db::OneShot(s, sql, soci::into(accounts), soci::into(notices), soci::into(contacts),
                  soci::use(t1), soci::use(t2), soci::use(t3));
  st.execute(true);
  return {accounts != 0, notices != 0, contacts != 0};
}

std::string InactivityKey(const Account& a) {
  return fmt::format("inactivity:{}", ToUnix(LastActivity(a)));
}

// Adds the counters of `part` (one committed batch) to `report`.
void Merge(SweepReport& report, const SweepReport& part) {
  report.scheduled += part.scheduled;
  report.notices_queued += part.notices_queued;
  report.reactivated += part.reactivated;
  report.closed += part.closed;
  report.notices_cancelled += part.notices_cancelled;
}

}  // namespace

struct Sweep::Job {
  int64_t outbox_id = 0;
  AccountId account_id;
  notify::NoticeKind kind = notify::NoticeKind::kInactivity;
  std::string event_key;
  int attempts = 0;
  notify::Envelope envelope;
  std::string message;
  std::string subject;
};

struct Sweep::Claim {
  std::vector<Job> jobs;
  bool full = false;
};

Result<SweepReport> Sweep::Run(TimePoint now, const SweepOptions& opts) {
  if (opts.dry_run) {
    return DryRun(now);
  }
  SweepReport report;
  auto due = db_.Read<DuePhases>(
      [&](soci::session& s) -> Result<DuePhases> { return AnythingDue(s, ToUnix(now)); });
  if (!due) {
    return due.error();
  }
  // The phases, in order. A new rule of the lifecycle adds its phase here.
  TrashPhase(now, opts, report);
  if (due->accounts) {
    if (Status s = AccountPhase(now, opts, report); !s) {
      return s.error();
    }
  }
  if (report.purged > 0) {
    Status cp = db_.CheckpointAfterErase();
    if (!cp) {
      SPDLOG_LOGGER_WARN(log_, "checkpoint after purge deferred error=\"{}\"",
                         cp.error().ToString());
    }
  }
  // Notices, including those the account phase just queued.
  if (mailer_ != nullptr && (due->notices || report.notices_queued > 0)) {
    if (Status s = NoticePhase(now, opts, report); !s) {
      return s.error();
    }
  }
  // Marketing contacts, including any a purge of this sweep left already due.
  if (due->contacts || report.purged > 0) {
    if (Status s = ContactPhase(now, opts, report); !s) {
      return s.error();
    }
  }
  // Retention: mail copies and IP addresses past their time; each table's owner deletes its
  // own rows (retention_sweep.h).
  if (Status s = RetentionPhase(now, opts, report); !s) {
    return s.error();
  }
  SPDLOG_LOGGER_INFO(log_,
                     "sweep done queued={} reactivated={} closed={} purged={} sent={} "
                     "deferred={} failed={} contacts_deleted={} trash_removed={} "
                     "notice_copies_deleted={} addresses_dropped={} errors={} accounts_failed={}",
                     report.notices_queued, report.reactivated, report.closed, report.purged,
                     report.notices_sent, report.notices_deferred, report.notices_failed,
                     report.contacts_deleted, report.trash_removed, report.notice_copies_deleted,
                     report.addresses_dropped, report.errors, report.failures.size());
  return report;
}

Status Sweep::RetentionPhase(TimePoint now, const SweepOptions& opts, SweepReport& report) {
  auto kept = ApplyRetention(db_, cfg_, now);
  if (!kept) {
    return kept.error();
  }
  report.notice_copies_deleted = kept->notice_copies;
  report.addresses_dropped = kept->addresses;
  if (opts.progress) {
    opts.progress({"retention", kept->notice_copies + kept->addresses});
  }
  if (kept->notice_copies + kept->addresses > 0) {
    (void)db_.CheckpointAfterErase();  // secure_delete zeroed the pages; empty the -wal too
  }
  return {};
}

void Sweep::TrashPhase(TimePoint now, const SweepOptions& opts, SweepReport& report) {
  Purger::TrashOutcome t = purger_.EmptyTrash(now);
  report.trash_removed += t.removed;
  for (auto& f : t.failed) {
    report.errors++;
    report.failures.push_back(std::move(f));
  }
  if (opts.progress && (t.removed > 0 || !t.failed.empty())) {
    opts.progress({"trash", t.removed});
  }
}

void Sweep::Failed(const AccountId& id, const std::string& action, TimePoint now,
                   const Error& error, SweepReport& report) {
  report.errors++;
  auto f = purger_.RecordFailure(id, action, now, error.message());
  SweepFailure failure;
  if (f) {
    failure = *f;
  } else {
    failure.account_id = id;
    failure.action = action;
    failure.last_error = error.message();
    failure.failures = 1;
  }
  SPDLOG_LOGGER_ERROR(log_,
                      "account skipped by the sweep account={} action={} failures={} "
                      "retry_at={} error=\"{}\"",
                      id.short_str(), action, failure.failures, FormatTime(failure.retry_after),
                      error.ToString());
  report.failures.push_back(std::move(failure));
}

void Sweep::PurgeOne(const AccountId& id, TimePoint now, SweepReport& report) {
  auto r = purger_.PurgeIfDue(id, now);
  if (!r) {
    Failed(id, "purge", now, r.error(), report);
    return;
  }
  if (!*r) {
    return;
  }
  report.purged++;
  SPDLOG_LOGGER_INFO(log_, "account purged account={} reason={} files={} contact_kept={}",
                     id.short_str(), (*r)->reason, (*r)->files_deleted, (*r)->contact_kept);
  if (!(*r)->files_error.empty()) {
    // The rows are gone; its files wait in the trash for the next sweep (recorded and logged
    // by the purger).
    report.errors++;
    auto f = db_.Read<std::optional<SweepFailure>>(
        [&](soci::session& s) -> Result<std::optional<SweepFailure>> {
          return FailureLog::Get(s, id, "trash");
        });
    SweepFailure failure;
    if (f && *f) {
      failure = **f;
    } else {
      failure.account_id = id;
      failure.action = "trash";
      failure.failures = 1;
      failure.last_error = (*r)->files_error;
    }
    report.failures.push_back(std::move(failure));
  }
}

Status Sweep::AccountPhase(TimePoint now, const SweepOptions& opts, SweepReport& report) {
  const db::Backend b = db_.backend();
  const int limit = std::max(1, opts.batch_size);
  std::unordered_set<std::string> failing;
  auto known = db_.Read<int>([&](soci::session& s) -> Result<int> {
    FailureLog::Scan(s, [&](const SweepFailure& f) {
      if (f.action == "account") {
        failing.insert(f.account_id.str());
      }
    });
    return 0;
  });
  if (!known) {
    return known.error();
  }
  // A claim that found fewer rows than it asked for has seen everything due; one that found
  // only rows handled earlier in this sweep would find them again: both end the phase.
  std::unordered_set<std::string> seen;
  int64_t done = 0;
  while (true) {
    std::vector<Account> claimed;
    std::vector<AccountId> purges;
    SweepReport part;
    bool full = false;
    auto batch = db_.Write<int>([&](soci::session& s) -> Result<int> {
      claimed.clear();
      purges.clear();
      part = SweepReport();
      DueAccounts due = LoadDueAccounts(s, b, ToUnix(now), limit, true);
      full = due.full;
      for (Account& a : due.accounts) {
        if (seen.count(a.id.str()) != 0) {
          continue;  // handled earlier in this sweep; its new schedule is in the future
        }
        claimed.push_back(a);
        StepAccount(s, a, now, part, purges, failing);
      }
      return 0;
    });
    if (batch) {
      Merge(report, part);
    } else if (claimed.empty()) {
      return batch.error();  // the claim itself failed: the database, not an account
    } else {
      // One account's step failed and took the batch with it: each again on its own, so that
      // only the failing one is passed by.
      SPDLOG_LOGGER_WARN(log_, "sweep batch failed, retrying its accounts one by one error=\"{}\"",
                         batch.error().ToString());
      purges.clear();
      for (const Account& c : claimed) {
        SweepReport one;
        std::vector<AccountId> one_purge;
        auto r = db_.Write<int>([&](soci::session& s) -> Result<int> {
          one = SweepReport();
          one_purge.clear();
          auto acc = LoadAccount(s, b, c.id, true);
          if (acc) {
            StepAccount(s, *acc, now, one, one_purge, failing);
          }
          return 0;
        });
        if (r) {
          Merge(report, one);
          purges.insert(purges.end(), one_purge.begin(), one_purge.end());
        } else {
          Failed(c.id, "account", now, r.error(), report);
        }
      }
    }
    for (const Account& c : claimed) {
      seen.insert(c.id.str());
    }
    for (const AccountId& id : purges) {
      PurgeOne(id, now, report);
    }
    done += static_cast<int64_t>(claimed.size());
    if (opts.progress) {
      opts.progress({"accounts", done});
    }
    if (!full || claimed.empty()) {
      return {};
    }
  }
}

void Sweep::StepAccount(soci::session& s, Account& a, TimePoint now, SweepReport& report,
                        std::vector<AccountId>& purges,
                        const std::unordered_set<std::string>& failing) {
  const auto& lc = cfg_.lifecycle;
  bool acted = false;
  if (failing.count(a.id.str()) != 0) {
    FailureLog::Clear(s, a.id, "account");
  }
  // An account may need more than one step (e.g. an idle closed account reopened long ago);
  // a few steps per sweep, each re-evaluated, never loop forever.
  for (int step = 0; step < 4; ++step) {
    NextAction next = NextAccountAction(a, lc);
    if (!next.IsDue(now)) {
      break;
    }
    acted = true;
    switch (next.action) {
      case Action::kQueueInactivityNotice: {
        a.state = AccountState::kConfirmationPending;
        a.notice_queued_at = now;
        a.notice_delivered_at.reset();
        a.updated_at = now;
        if (NoticeQueue::Queue(s, a.id, notify::NoticeKind::kInactivity, InactivityKey(a), now,
                               "")) {
          report.notices_queued++;
        }
        db::AuditLog::Append(s, now, kActor, "lifecycle.notice_queued", a.id.str(),
                             "kind=inactivity_notice state=confirmation_pending");
        SPDLOG_LOGGER_INFO(log_, "inactivity notice queued account={}", a.id.short_str());
        break;
      }
      case Action::kReactivate: {
        a.state = AccountState::kActive;
        a.notice_queued_at.reset();
        a.notice_delivered_at.reset();
        a.updated_at = now;
        report.notices_cancelled +=
            NoticeQueue::CancelUndelivered(s, a.id, notify::NoticeKind::kInactivity);
        report.reactivated++;
        db::AuditLog::Append(s, now, kActor, "lifecycle.reactivate", a.id.str(),
                             "state=active cause=activity");
        SPDLOG_LOGGER_INFO(log_, "account confirmed by activity account={}", a.id.short_str());
        break;
      }
      case Action::kCloseForInactivity: {
        // The policy only gets here with a delivered notice and a window without activity.
        a.state = AccountState::kClosed;
        a.closed_at = now;
        a.closed_reason = CloseReason::kInactivity;
        a.updated_at = now;
        if (NoticeQueue::Queue(s, a.id, notify::NoticeKind::kClosure,
                               fmt::format("closure:{}", ToUnix(now)), now, "")) {
          report.notices_queued++;
        }
        report.closed++;
        db::AuditLog::Append(s, now, kActor, "lifecycle.close", a.id.str(),
                             fmt::format("reason=inactivity notice_delivered_at={}",
                                         FormatTime(a.notice_delivered_at)));
        SPDLOG_LOGGER_INFO(log_, "account closed for inactivity account={}", a.id.short_str());
        break;
      }
      case Action::kPurge:
        // In its own transaction, after this claim commits (the closure just made, if any, is
        // saved first).
        purges.push_back(a.id);
        step = 4;
        break;
      case Action::kNone:
      case Action::kDeleteMarketingContact:
        break;
    }
  }
  std::string before_action = a.next_action;
  std::optional<TimePoint> before_due = a.next_action_due;
  ScheduleNext(a, lc);
  if (acted || before_action != a.next_action || before_due != a.next_action_due) {
    SaveLifecycleFields(s, a);
  }
  if (!acted) {
    report.scheduled++;
  }
}

Status Sweep::NoticePhase(TimePoint now, const SweepOptions& opts, SweepReport& report) {
  const int batch = std::max(1, opts.batch_size);
  int64_t handled = 0;
  while (true) {
    auto jobs = ClaimNotices(now, batch, report);
    if (!jobs) {
      return jobs.error();
    }
    for (const Job& job : jobs->jobs) {
      Status sent = job.message.empty() ? Status(Error::InvalidArgument("cannot build notice"))
                                        : mailer_->Send(job.envelope, job.message);
      Settle(job, sent, now, report);
    }
    handled += static_cast<int64_t>(jobs->jobs.size());
    if (opts.progress) {
      opts.progress({"notices", handled});
    }
    // Claimed and cancelled rows are no longer due: a short claim has seen them all.
    if (!jobs->full) {
      return {};
    }
  }
}

Status Sweep::ContactPhase(TimePoint now, const SweepOptions& opts, SweepReport& report) {
  const db::Backend b = db_.backend();
  const int batch = std::max(1, opts.batch_size);
  int64_t contacts = 0;
  int64_t deleted_before = report.contacts_deleted;
  while (true) {
    auto n = db_.Write<int64_t>([&](soci::session& s) -> Result<int64_t> {
      auto ids = ContactStore::Due(s, b, now, batch);
      for (const auto& id : ids) {
        auto c = ContactStore::Load(s, b, id, false);
        std::string reason = c && !c->consent ? "withdrawal" : "retention";
        ContactStore::Delete(s, id, now, reason);
        report.contacts_deleted++;
        SPDLOG_LOGGER_INFO(log_, "marketing contact deleted account={} reason={}", id.short_str(),
                           reason);
      }
      return static_cast<int64_t>(ids.size());
    });
    if (!n) {
      return n.error();
    }
    contacts += *n;
    if (opts.progress) {
      opts.progress({"contacts", contacts});
    }
    if (*n < batch) {
      break;  // deleted contacts are gone: a short claim has seen every one due
    }
  }
  if (report.contacts_deleted > deleted_before) {
    (void)db_.CheckpointAfterErase();
  }
  return {};
}

Result<SweepReport> Sweep::DryRun(TimePoint now) {
  const db::Backend b = db_.backend();
  const auto& lc = cfg_.lifecycle;
  return db_.Read<SweepReport>([&](soci::session& s) -> Result<SweepReport> {
    SweepReport report;
    DueAccounts due = LoadDueAccounts(s, b, ToUnix(now), 1 << 30, false);
    for (const Account& a : due.accounts) {
      NextAction next = NextAccountAction(a, lc);
      if (next.IsDue(now)) {
        report.planned.push_back({a.id, std::string(ActionName(next.action)), *next.due});
      }
    }
    for (const DueNotice& n : NoticeQueue::DueBy(s, now)) {
      report.planned.push_back({n.account_id, "deliver_notice:" + n.kind, n.due});
    }
    for (const auto& [id, due_at] : ContactStore::DueBy(s, now)) {
      report.planned.push_back({id, "delete_contact", due_at});
    }
    return report;
  });
}

Result<std::vector<PlannedAction>> Sweep::Plan(TimePoint now, TimePoint until) {
  const auto& lc = cfg_.lifecycle;
  return db_.Read<std::vector<PlannedAction>>(
      [&](soci::session& s) -> Result<std::vector<PlannedAction>> {
        std::vector<PlannedAction> out;
        long long u = ToUnix(until);
        std::vector<Account> accounts =
            LoadAccountsWhere(s,
                              fmt::format("WHERE next_action_due <= :u OR {} OR ({})",
                                          kAccountUnscheduled, kClosedUnscheduled),
                              {u});
        for (const Account& a : accounts) {
          NextAction next = NextAccountAction(a, lc);
          if (next.action != Action::kNone && next.due && *next.due <= until) {
            out.push_back({a.id, std::string(ActionName(next.action)), std::max(*next.due, now)});
          }
        }
        for (const DueNotice& n : NoticeQueue::DueBy(s, until)) {
          out.push_back({n.account_id, "deliver_notice:" + n.kind, std::max(n.due, now)});
        }
        for (const auto& [id, due_at] : ContactStore::DueBy(s, until)) {
          out.push_back({id, "delete_contact", std::max(due_at, now)});
        }
        std::sort(out.begin(), out.end(), [](const PlannedAction& x, const PlannedAction& y) {
          return std::tie(x.due, x.action) < std::tie(y.due, y.action);
        });
        return out;
      });
}

Result<Sweep::Claim> Sweep::ClaimNotices(TimePoint now, int limit, SweepReport& report) {
  const db::Backend b = db_.backend();
  auto from = notify::ParseMailbox(cfg_.smtp.from);
  return db_.Write<Claim>([&](soci::session& s) -> Result<Claim> {
    Claim claim;
    std::vector<Job>& jobs = claim.jobs;
    std::vector<ClaimedNotice> rows = NoticeQueue::Due(s, b, now, limit);
    claim.full = static_cast<int>(rows.size()) >= limit;
    for (const ClaimedNotice& r : rows) {
      auto cancel = [&](const char* why) {
        NoticeQueue::Cancel(s, r.id, why);
        report.notices_cancelled++;
      };
      auto id = AccountId::Parse(r.account_id);
      auto kind = notify::ParseNoticeKind(r.kind);
      if (!id || !kind) {
        cancel("malformed outbox row");
        continue;
      }
      auto acc = LoadAccount(s, b, *id, true);
      if (!acc) {
        cancel("account no longer exists");
        continue;
      }
      const Account& a = *acc;
      if (*kind == notify::NoticeKind::kInactivity &&
          (a.state != AccountState::kConfirmationPending || a.notice_delivered_at ||
           InactivityKey(a) != r.event_key)) {
        cancel("account confirmed meanwhile");
        continue;
      }
      if (*kind == notify::NoticeKind::kClosure && a.state != AccountState::kClosed) {
        cancel("account reopened meanwhile");
        continue;
      }
      Job job;
      job.outbox_id = r.id;
      job.account_id = *id;
      job.kind = *kind;
      job.event_key = r.event_key;
      job.attempts = r.attempts;
      // Render now: the inactivity deadline counts from delivery, i.e. from this sweep.
      std::map<std::string, std::string> values = {
          {"name", a.full_name},
          {"username", a.username},
          {"company", a.company},
          {"service", from && !from->display_name.empty() ? from->display_name
                                                          : std::string("secure FTP service")},
          {"reply_to", !cfg_.smtp.reply_to.empty() ? cfg_.smtp.reply_to
                                                   : (from ? from->address : std::string())},
          {"last_activity", FormatDate(LastActivity(a))},
          {"deadline", FormatDate(AddPeriod(now, cfg_.lifecycle.confirmation_window))},
          {"purge_date", a.state == AccountState::kClosed
                             ? FormatDate(*NextAccountAction(a, cfg_.lifecycle).due)
                             : std::string()},
          {"account_id", a.id.str()},
      };
      if (*kind == notify::NoticeKind::kFilesWaiting) {
        int64_t count = 0;
        std::string list;
        size_t pos = 0;
        while (pos < r.detail.size()) {
          size_t nl = r.detail.find('\n', pos);
          std::string name = r.detail.substr(pos, nl == std::string::npos ? nl : nl - pos);
          if (!name.empty()) {
            list += (count ? "\n  " : "  ") + name;
            ++count;
          }
          if (nl == std::string::npos) {
            break;
          }
          pos = nl + 1;
        }
        values["files"] = list;
        values["file_count"] = std::to_string(count);
      }
      auto rendered = templates_.Render(*kind, values);
      auto to = notify::ParseMailbox(a.email);
      if (rendered && to && from) {
        notify::MailMessage m;
        m.from = *from;
        m.to = notify::Mailbox{a.full_name, to->address};
        m.reply_to = cfg_.smtp.reply_to;
        m.subject = rendered->subject;
        m.body = rendered->body;
        m.date = now;
        // One Message-ID per notice, the same on every attempt: a notice sent again after a
        // lost SMTP reply or a crash between acceptance and record is the same message, which
        // mail systems recognise as a duplicate.
        m.message_id = NoticeMessageId(a.id, r.id, from->address);
        auto built = notify::BuildMessage(m);
        if (built) {
          job.message = std::move(*built);
          job.subject = rendered->subject;
          job.envelope = {from->address, to->address};
        }
      }
      NoticeQueue::Lease(s, r.id, now + Seconds(kLeaseSeconds));
      jobs.push_back(std::move(job));
    }
    return claim;
  });
}

void Sweep::Settle(const Job& job, const Status& sent, TimePoint now, SweepReport& report) {
  const db::Backend b = db_.backend();
  const auto& lc = cfg_.lifecycle;
  auto r = db_.Write<int>([&](soci::session& s) -> Result<int> {
    int attempts = job.attempts + 1;
    if (sent) {
      NoticeQueue::MarkSent(s, job.outbox_id, now, attempts, job.subject);
      auto acc = LoadAccount(s, b, job.account_id, true);
      if (acc) {
        Account a = std::move(*acc);
        a.last_communication_at = now;
        if (job.kind == notify::NoticeKind::kInactivity &&
            a.state == AccountState::kConfirmationPending && !a.notice_delivered_at &&
            InactivityKey(a) == job.event_key) {
          // The confirmation window starts now, at delivery.
          a.notice_delivered_at = now;
          a.updated_at = now;
          db::AuditLog::Append(s, now, kActor, "lifecycle.notice_delivered", a.id.str(),
                               "kind=inactivity_notice");
        }
        ScheduleNext(a, lc);
        SaveLifecycleFields(s, a);
      }
      return 0;
    }
    bool permanent = !notify::IsTemporary(sent.error()) || attempts >= lc.max_delivery_attempts;
    std::string err = sent.error().ToString();
    if (permanent) {
      NoticeQueue::MarkFailed(s, job.outbox_id, attempts, err);
      return 2;
    }
    NoticeQueue::Defer(s, job.outbox_id, now + RetryBackoff(lc, attempts), attempts, err);
    return 1;
  });
  if (!r) {
    report.errors++;
    SPDLOG_LOGGER_ERROR(log_, "cannot record a notice result notice={} error=\"{}\"", job.outbox_id,
                        r.error().ToString());
    return;
  }
  if (*r == 0) {
    report.notices_sent++;
    SPDLOG_LOGGER_INFO(log_, "notice delivered account={} kind={} notice={}",
                       job.account_id.short_str(), notify::NoticeKindName(job.kind), job.outbox_id);
  } else if (*r == 1) {
    report.notices_deferred++;
    SPDLOG_LOGGER_WARN(log_,
                       "notice deferred account={} kind={} notice={} attempts={} error=\"{}\"",
                       job.account_id.short_str(), notify::NoticeKindName(job.kind), job.outbox_id,
                       job.attempts + 1, sent.error().ToString());
  } else {
    report.notices_failed++;
    SPDLOG_LOGGER_ERROR(log_, "notice failed account={} kind={} notice={} attempts={} error=\"{}\"",
                        job.account_id.short_str(), notify::NoticeKindName(job.kind), job.outbox_id,
                        job.attempts + 1, sent.error().ToString());
  }
}

}  // namespace sftplc::lifecycle
