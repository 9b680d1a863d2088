#include "sftpd/core/lifecycle/runner.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <unordered_set>

#include "sftpd/core/accounts/validation.h"
#include "sftpd/core/base/calendar.h"
#include "sftpd/core/base/name_text.h"
#include "sftpd/core/base/time_format.h"
#include "sftpd/core/lifecycle/account_rows.h"
#include "sftpd/core/lifecycle/file_tree.h"
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

std::vector<std::string> FetchIds(soci::statement& st, std::string& id) {
  std::vector<std::string> out;
  st.execute();
  while (st.fetch()) {
    out.push_back(id);
  }
  return out;
}

// What makes a row due for the sweep at :now, shared by the claims and by AnythingDue(). Each
// is answered by one index: next_action_due; the partial indexes of 0005_sweep_indexes
// (closed accounts not yet scheduled for a purge, pending accounts with activity since the
// notice); outbox_state or outbox_due; marketing_contacts_delete_due.
constexpr const char* kAccountDue = "next_action_due <= :now";
constexpr const char* kAccountUnscheduled = "next_action_due IS NULL";
constexpr const char* kClosedUnscheduled = "state = 'closed' AND next_action <> 'purge'";
constexpr const char* kPendingWithActivity =
    "state = 'confirmation_pending' AND last_activity_at > notice_queued_at";
constexpr const char* kNoticeDue = "next_attempt_at <= :now AND state IN ('pending', 'sending')";
constexpr const char* kContactDue = "delete_due <= :now";

// What a claim found: the rows, and whether there were as many as it asked for (then more may
// be due, and the sweep claims again).
struct DueAccounts {
  std::vector<Account> accounts;  // by id, each once
  bool full = false;
};

// Accounts with something due at `now`, never-scheduled accounts (next_action_due NULL:
// created or changed by the account store), closed accounts not yet scheduled for a purge (a
// closure made elsewhere that kept an older schedule) and pending accounts with activity since
// the notice; whole rows, locked on PostgreSQL when `lock`.
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
DuePhases AnythingDue(soci::session& s, long long now) {
  static const std::string sql = fmt::format(
      "SELECT CASE WHEN EXISTS (SELECT 1 FROM accounts WHERE {}) OR EXISTS (SELECT 1 FROM "
      "accounts WHERE {}) OR EXISTS (SELECT 1 FROM accounts WHERE {}) OR EXISTS (SELECT 1 FROM "
      "accounts WHERE {}) THEN 1 ELSE 0 END, CASE WHEN EXISTS (SELECT 1 FROM outbox WHERE {}) "
      "THEN 1 ELSE 0 END, CASE WHEN EXISTS (SELECT 1 FROM marketing_contacts WHERE {}) THEN 1 "
      "ELSE 0 END",
      Renamed(kAccountDue, ":now1"), kAccountUnscheduled, kClosedUnscheduled, kPendingWithActivity,
      Renamed(kNoticeDue, ":now2"), Renamed(kContactDue, ":now3"));
  int accounts = 1, notices = 1, contacts = 1;
  long long t1 = now, t2 = now, t3 = now;
  soci::statement st =
      db::OneShot(s, sql, soci::into(accounts), soci::into(notices), soci::into(contacts),
                  soci::use(t1), soci::use(t2), soci::use(t3));
  st.execute(true);
  return {accounts != 0, notices != 0, contacts != 0};
}

// Stores the policy's next action on `a` (kNone is stored as "" with kNeverDue).
void Schedule(Account& a, const config::LifecycleConfig& cfg) {
  NextAction next = NextAccountAction(a, cfg);
  a.next_action = std::string(ActionName(next.action));
  a.next_action_due = next.action == Action::kNone || !next.due ? FromUnix(kNeverDue) : *next.due;
}

std::string InactivityKey(const Account& a) {
  return fmt::format("inactivity:{}", ToUnix(LastActivity(a)));
}

bool InsertNotice(soci::session& s, const AccountId& id, notify::NoticeKind kind,
                  const std::string& key, TimePoint now, const std::string& detail) {
  std::string sid = id.str(), k(notify::NoticeKindName(kind)), ek = key, d = detail;
  long long t = ToUnix(now);
  soci::statement st = db::OneShot(
      s,
      "INSERT INTO outbox (account_id, kind, event_key, state, created_at, "
      "next_attempt_at, attempts, detail) VALUES (:a, :k, :e, 'pending', :c, :n, "
      "0, :d) ON CONFLICT (account_id, event_key) DO NOTHING",
      soci::use(sid), soci::use(k), soci::use(ek), soci::use(t), soci::use(t), soci::use(d));
  st.execute(true);
  return st.get_affected_rows() > 0;
}

int64_t CancelNotices(soci::session& s, const AccountId& id, const std::string& kind) {
  std::string sid = id.str(), k = kind;
  soci::statement st =
      db::OneShot(s,
                  "UPDATE outbox SET state = 'cancelled', next_attempt_at = NULL "
                  "WHERE account_id = :a AND kind = :k AND state IN ('pending', 'sending')",
                  soci::use(sid), soci::use(k));
  st.execute(true);
  return st.get_affected_rows();
}

int64_t Exec(soci::session& s, const std::string& sql, const std::string& id) {
  std::string v = id;
  soci::statement st = db::OneShot(s, sql, soci::use(v));
  st.execute(true);
  return st.get_affected_rows();
}

TimePoint LastCommunicationOrActivity(const Account& a) {
  TimePoint t = LastActivity(a);
  if (a.last_communication_at && *a.last_communication_at > t) {
    t = *a.last_communication_at;
  }
  return t;
}

// Deletes everything held for `a` (files first: a failure there rolls the whole purge back and
// the next sweep retries), writes the receipt, and keeps the marketing contact if `keep`.
Result<PurgeReceipt> PurgeInTx(soci::session& s, db::Backend b, const config::Config& cfg,
                               const Account& a, const std::string& reason, TimePoint now,
                               bool keep) {
  PurgeReceipt r;
  r.account_id = a.id;
  r.purged_at = now;
  r.reason = reason;
  r.closed_at = a.closed_at;
  auto files = RemoveAccountRoot(cfg.storage.root, a.id);
  if (!files) {
    return files.error();
  }
  r.files_deleted = files->files;
  r.bytes_deleted = files->bytes;
  const std::string id = a.id.str();
  r.keys_deleted = Exec(s, "DELETE FROM public_keys WHERE account_id = :id", id);
  for (const char* table : {"usage_sessions", "usage_failed_logins"}) {
    if (TableExists(s, b, table)) {
      r.usage_rows_deleted +=
          Exec(s, fmt::format("DELETE FROM {} WHERE account_id = :id", table), id);
    }
  }
  r.notices_deleted = Exec(s, "DELETE FROM outbox WHERE account_id = :id", id);
  r.contact_kept = keep;
  if (keep) {
    ContactRetention c{true, std::nullopt, LastCommunicationOrActivity(a)};
    long long last_comm = ToUnix(c.last_communication_at), created = ToUnix(now),
              due = ToUnix(ContactDeadline(c, cfg.lifecycle));
    std::string name = a.full_name, company = a.company, email = a.email, phone = a.phone;
    std::string sid = id;
    s << "INSERT INTO marketing_contacts (account_id, full_name, company, email, phone, consent, "
         "consent_withdrawn_at, last_communication_at, created_at, delete_due) VALUES (:id, :n, "
         ":c, :e, :p, 1, NULL, :lc, :ca, :due)",
        soci::use(sid), soci::use(name), soci::use(company), soci::use(email), soci::use(phone),
        soci::use(last_comm), soci::use(created), soci::use(due);
  } else {
    r.consent_events_deleted = Exec(s, "DELETE FROM consent_events WHERE account_id = :id", id);
  }
  Exec(s, "DELETE FROM accounts WHERE id = :id", id);
  {
    std::string sid = id, rs = reason;
    long long purged = ToUnix(now);
    long long closed = a.closed_at ? ToUnix(*a.closed_at) : 0;
    soci::indicator i_closed = a.closed_at ? soci::i_ok : soci::i_null;
    long long fd = r.files_deleted, bd = r.bytes_deleted, kd = r.keys_deleted,
              ud = r.usage_rows_deleted, nd = r.notices_deleted, cd = r.consent_events_deleted;
    int kept = keep ? 1 : 0;
    s << "INSERT INTO purge_receipts (account_id, purged_at, reason, closed_at, files_deleted, "
         "bytes_deleted, keys_deleted, usage_rows_deleted, notices_deleted, "
         "consent_events_deleted, contact_kept) VALUES (:id, :at, :r, :ca, :fd, :bd, :kd, :ud, "
         ":nd, :cd, :kept)",
        soci::use(sid), soci::use(purged), soci::use(rs), soci::use(closed, i_closed),
        soci::use(fd), soci::use(bd), soci::use(kd), soci::use(ud), soci::use(nd), soci::use(cd),
        soci::use(kept);
  }
  WriteAudit(s, now, kActor, "lifecycle.purge", a.id,
             fmt::format("reason={} files={} keys={} usage_rows={} notices={} contact_kept={}",
                         reason, r.files_deleted, r.keys_deleted, r.usage_rows_deleted,
                         r.notices_deleted, keep));
  return r;
}

std::optional<MarketingContact> LoadContact(soci::session& s, db::Backend b, const AccountId& id,
                                            bool lock) {
  std::string sid = id.str();
  MarketingContact c;
  int consent = 0;
  long long withdrawn = 0, last_comm = 0, created = 0, due = 0;
  soci::indicator i_withdrawn;
  std::string sql =
      "SELECT full_name, company, email, phone, consent, consent_withdrawn_at, "
      "last_communication_at, created_at, delete_due FROM marketing_contacts "
      "WHERE account_id = :id";
  if (lock && b == db::Backend::kPostgresql) {
    sql += " FOR UPDATE";
  }
  s << sql, soci::into(c.full_name), soci::into(c.company), soci::into(c.email),
      soci::into(c.phone), soci::into(consent), soci::into(withdrawn, i_withdrawn),
      soci::into(last_comm), soci::into(created), soci::into(due), soci::use(sid);
  if (!s.got_data()) {
    return std::nullopt;
  }
  c.account_id = id;
  c.consent = consent != 0;
  if (i_withdrawn == soci::i_ok) {
    c.consent_withdrawn_at = FromUnix(withdrawn);
  }
  c.last_communication_at = FromUnix(last_comm);
  c.created_at = FromUnix(created);
  c.delete_due = FromUnix(due);
  return c;
}

void DeleteContactInTx(soci::session& s, const AccountId& id, TimePoint now,
                       const std::string& reason) {
  std::string sid = id.str(), rs = reason;
  long long t = ToUnix(now);
  Exec(s, "DELETE FROM marketing_contacts WHERE account_id = :id", sid);
  Exec(s, "DELETE FROM consent_events WHERE account_id = :id", sid);
  s << "UPDATE purge_receipts SET contact_deleted_at = :t, contact_deleted_reason = :r "
       "WHERE account_id = :id",
      soci::use(t), soci::use(rs), soci::use(sid);
  WriteAudit(s, now, kActor, "lifecycle.contact_delete", id, "reason=" + reason);
}

Seconds Backoff(const config::LifecycleConfig& cfg, int attempts) {
  Seconds d = cfg.retry_base;
  for (int i = 1; i < attempts && d < cfg.retry_max; ++i) {
    d *= 2;
  }
  return std::min(d, cfg.retry_max);
}

}  // namespace

struct LifecycleRunner::Job {
  int64_t outbox_id = 0;
  AccountId account_id;
  notify::NoticeKind kind = notify::NoticeKind::kInactivity;
  std::string event_key;
  int attempts = 0;
  notify::Envelope envelope;
  std::string message;
  std::string subject;
};

LifecycleRunner::LifecycleRunner(db::Database& db, config::Config cfg, notify::Mailer* mailer,
                                 notify::TemplateSet templates, Logger log)
    : db_(db), cfg_(std::move(cfg)), mailer_(mailer), templates_(std::move(templates)),
      log_(std::move(log)) {}

Result<SweepReport> LifecycleRunner::RunOnce(TimePoint now, const SweepOptions& opts) {
  SweepReport report;
  int batch = std::max(1, opts.batch_size);
  DuePhases due;
  if (!opts.dry_run) {
    auto d = db_.Read<DuePhases>(
        [&](soci::session& s) -> Result<DuePhases> { return AnythingDue(s, ToUnix(now)); });
    if (!d) {
      return d.error();
    }
    due = *d;
  }
  // Accounts. A claim that found fewer rows than it asked for has seen everything due; one
  // that found only rows handled earlier in this sweep would find them again: both end it.
  std::unordered_set<std::string> seen;
  int64_t done = 0;
  while (due.accounts) {
    auto n = AccountBatch(now, opts, report, seen);
    if (!n) {
      return n.error();
    }
    done += n->handled;
    if (opts.progress) {
      opts.progress({"accounts", done});
    }
    if (!n->full || n->handled == 0 || opts.dry_run) {
      break;
    }
  }
  if (opts.dry_run) {
    // Notices and contacts that are due, without touching them.
    auto r = db_.Read<std::vector<PlannedAction>>(
        [&](soci::session& s) -> Result<std::vector<PlannedAction>> {
          std::vector<PlannedAction> out;
          long long t = ToUnix(now);
          std::string id, kind;
          long long due = 0;
          soci::statement st =
              db::OneShot(s,
                          "SELECT account_id, kind, next_attempt_at FROM outbox WHERE "
                          "next_attempt_at <= :now AND state IN ('pending', 'sending')",
                          soci::into(id), soci::into(kind), soci::into(due), soci::use(t));
          st.execute();
          while (st.fetch()) {
            auto aid = AccountId::Parse(id);
            if (aid) {
              out.push_back({*aid, "deliver_notice:" + kind, FromUnix(due)});
            }
          }
          soci::statement st2 =
              db::OneShot(s,
                          "SELECT account_id, delete_due FROM marketing_contacts WHERE "
                          "delete_due <= :now",
                          soci::into(id), soci::into(due), soci::use(t));
          st2.execute();
          while (st2.fetch()) {
            auto aid = AccountId::Parse(id);
            if (aid) {
              out.push_back({*aid, "delete_contact", FromUnix(due)});
            }
          }
          return out;
        });
    if (!r) {
      return r.error();
    }
    report.planned.insert(report.planned.end(), r->begin(), r->end());
    return report;
  }
  if (report.purged > 0) {
    Status cp = db_.CheckpointAfterErase();
    if (!cp) {
      SPDLOG_LOGGER_WARN(log_, "checkpoint after purge deferred error=\"{}\"", cp.error().ToString());
    }
  }
  // Notices, including those the account phase just queued.
  if (mailer_ != nullptr && (due.notices || report.notices_queued > 0)) {
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
        break;
      }
    }
  }
  // Marketing contacts, including any a purge of this sweep left already due.
  int64_t contacts = 0;
  while (due.contacts || report.purged > 0) {
    auto n = ContactBatch(now, batch, report);
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
  if (report.contacts_deleted > 0) {
    (void)db_.CheckpointAfterErase();
  }
  // --- Retention phase (mail copies, IP addresses): each table's owner deletes its own rows.
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
  // --- End of the retention phase.
  SPDLOG_LOGGER_INFO(log_,
                     "sweep done queued={} reactivated={} closed={} purged={} sent={} "
                     "deferred={} failed={} contacts_deleted={} notice_copies_deleted={} "
                     "addresses_dropped={} errors={}",
                     report.notices_queued, report.reactivated, report.closed, report.purged,
                     report.notices_sent, report.notices_deferred, report.notices_failed,
                     report.contacts_deleted, report.notice_copies_deleted,
                     report.addresses_dropped, report.errors);
  return report;
}

Result<LifecycleRunner::Batch> LifecycleRunner::AccountBatch(
    TimePoint now, const SweepOptions& opts, SweepReport& report,
    std::unordered_set<std::string>& seen) {
  const db::Backend b = db_.backend();
  const auto& lc = cfg_.lifecycle;
  auto body = [&](soci::session& s) -> Result<Batch> {
    long long t = ToUnix(now);
    // A dry run looks at everything due at once; a real sweep works in batches.
    int limit = opts.dry_run ? 1 << 30 : std::max(1, opts.batch_size);
    DueAccounts due = LoadDueAccounts(s, b, t, limit, !opts.dry_run);
    Batch batch{0, due.full};
    for (Account& a : due.accounts) {
      if (!seen.insert(a.id.str()).second) {
        continue;  // handled earlier in this sweep; its new schedule is in the future
      }
      ++batch.handled;
      if (opts.dry_run) {
        NextAction next = NextAccountAction(a, lc);
        if (next.IsDue(now)) {
          report.planned.push_back({a.id, std::string(ActionName(next.action)), *next.due});
        }
        continue;
      }
      bool purged = false;
      bool acted = false;
      // An account may need more than one step (e.g. an idle closed account reopened long
      // ago); a few steps per sweep, each re-evaluated, never loop forever.
      for (int step = 0; step < 4 && !purged; ++step) {
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
            if (InsertNotice(s, a.id, notify::NoticeKind::kInactivity, InactivityKey(a), now,
                             "")) {
              report.notices_queued++;
            }
            WriteAudit(s, now, kActor, "lifecycle.notice_queued", a.id,
                       "kind=inactivity_notice state=confirmation_pending");
            SPDLOG_LOGGER_INFO(log_, "inactivity notice queued account={}", a.id.short_str());
            break;
          }
          case Action::kReactivate: {
            a.state = AccountState::kActive;
            a.notice_queued_at.reset();
            a.notice_delivered_at.reset();
            a.updated_at = now;
            report.notices_cancelled += CancelNotices(s, a.id, "inactivity_notice");
            report.reactivated++;
            WriteAudit(s, now, kActor, "lifecycle.reactivate", a.id,
                       "state=active cause=activity");
            SPDLOG_LOGGER_INFO(log_, "account confirmed by activity account={}",
                               a.id.short_str());
            break;
          }
          case Action::kCloseForInactivity: {
            // The policy only gets here with a delivered notice and a window without activity.
            a.state = AccountState::kClosed;
            a.closed_at = now;
            a.closed_reason = CloseReason::kInactivity;
            a.updated_at = now;
            if (InsertNotice(s, a.id, notify::NoticeKind::kClosure,
                             fmt::format("closure:{}", ToUnix(now)), now, "")) {
              report.notices_queued++;
            }
            report.closed++;
            WriteAudit(s, now, kActor, "lifecycle.close", a.id,
                       fmt::format("reason=inactivity notice_delivered_at={}",
                                   FormatTime(a.notice_delivered_at)));
            SPDLOG_LOGGER_INFO(log_, "account closed for inactivity account={}",
                               a.id.short_str());
            break;
          }
          case Action::kPurge: {
            std::string reason =
                a.closed_reason ? CloseReasonText(*a.closed_reason) : std::string("request");
            auto r = PurgeInTx(s, b, cfg_, a, reason, now, KeepsMarketingContact(a));
            if (!r) {
              return r.error();
            }
            purged = true;
            report.purged++;
            SPDLOG_LOGGER_INFO(log_, "account purged account={} reason={} files={} contact_kept={}",
                               a.id.short_str(), reason, r->files_deleted, r->contact_kept);
            break;
          }
          case Action::kNone:
          case Action::kDeleteMarketingContact:
            break;
        }
      }
      if (purged) {
        continue;
      }
      std::string before_action = a.next_action;
      std::optional<TimePoint> before_due = a.next_action_due;
      Schedule(a, lc);
      if (acted || before_action != a.next_action || before_due != a.next_action_due) {
        SaveLifecycleFields(s, a);
      }
      if (!acted) {
        report.scheduled++;
      }
    }
    return batch;
  };
  if (opts.dry_run) {
    return db_.Read<Batch>(body);
  }
  return db_.Write<Batch>(body);
}

Result<LifecycleRunner::Claim> LifecycleRunner::ClaimNotices(TimePoint now, int limit,
                                                             SweepReport& report) {
  const db::Backend b = db_.backend();
  auto from = notify::ParseMailbox(cfg_.smtp.from);
  return db_.Write<Claim>([&](soci::session& s) -> Result<Claim> {
    Claim claim;
    std::vector<Job>& jobs = claim.jobs;
    long long t = ToUnix(now);
    struct Row {
      long long id;
      std::string account_id, kind, key, detail;
      int attempts;
    };
    std::vector<Row> rows;
    {
      Row r{};
      soci::statement st = db::OneShot(
          s,
          fmt::format("SELECT id, account_id, kind, event_key, detail, attempts FROM outbox "
                      "WHERE {} ORDER BY next_attempt_at LIMIT :n{}",
                      kNoticeDue, SkipLocked(b)),
          soci::into(r.id), soci::into(r.account_id), soci::into(r.kind), soci::into(r.key),
          soci::into(r.detail), soci::into(r.attempts), soci::use(t), soci::use(limit));
      st.execute();
      while (st.fetch()) {
        rows.push_back(r);
      }
    }
    claim.full = static_cast<int>(rows.size()) >= limit;
    for (Row& r : rows) {
      long long oid = r.id;
      auto cancel = [&](const char* why) {
        std::string reason = why;
        s << "UPDATE outbox SET state = 'cancelled', next_attempt_at = NULL, last_error = :e "
             "WHERE id = :id",
            soci::use(reason), soci::use(oid);
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
           InactivityKey(a) != r.key)) {
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
      job.event_key = r.key;
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
        m.message_id = NoticeMessageId(a.id, oid, from->address);
        auto built = notify::BuildMessage(m);
        if (built) {
          job.message = std::move(*built);
          job.subject = rendered->subject;
          job.envelope = {from->address, to->address};
        }
      }
      long long lease = t + kLeaseSeconds;
      s << "UPDATE outbox SET state = 'sending', next_attempt_at = :l WHERE id = :id",
          soci::use(lease), soci::use(oid);
      jobs.push_back(std::move(job));
    }
    return claim;
  });
}

void LifecycleRunner::Settle(const Job& job, const Status& sent, TimePoint now,
                             SweepReport& report) {
  const db::Backend b = db_.backend();
  const auto& lc = cfg_.lifecycle;
  auto r = db_.Write<int>([&](soci::session& s) -> Result<int> {
    long long t = ToUnix(now), oid = job.outbox_id;
    int attempts = job.attempts + 1;
    if (sent) {
      std::string subject = job.subject;
      s << "UPDATE outbox SET state = 'sent', sent_at = :t, next_attempt_at = NULL, "
           "attempts = :a, subject = :s, last_error = '' WHERE id = :id",
          soci::use(t), soci::use(attempts), soci::use(subject), soci::use(oid);
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
          WriteAudit(s, now, kActor, "lifecycle.notice_delivered", a.id,
                     "kind=inactivity_notice");
        }
        Schedule(a, lc);
        SaveLifecycleFields(s, a);
      }
      return 0;
    }
    bool permanent = !notify::IsTemporary(sent.error()) || attempts >= lc.max_delivery_attempts;
    std::string err = sent.error().ToString();
    if (permanent) {
      s << "UPDATE outbox SET state = 'failed', next_attempt_at = NULL, attempts = :a, "
           "last_error = :e WHERE id = :id",
          soci::use(attempts), soci::use(err), soci::use(oid);
      return 2;
    }
    long long next = t + Backoff(lc, attempts).count();
    s << "UPDATE outbox SET state = 'pending', next_attempt_at = :n, attempts = :a, "
         "last_error = :e WHERE id = :id",
        soci::use(next), soci::use(attempts), soci::use(err), soci::use(oid);
    return 1;
  });
  if (!r) {
    report.errors++;
    SPDLOG_LOGGER_ERROR(log_, "cannot record a notice result notice={} error=\"{}\"",
                        job.outbox_id, r.error().ToString());
    return;
  }
  if (*r == 0) {
    report.notices_sent++;
    SPDLOG_LOGGER_INFO(log_, "notice delivered account={} kind={} notice={}",
                       job.account_id.short_str(), notify::NoticeKindName(job.kind),
                       job.outbox_id);
  } else if (*r == 1) {
    report.notices_deferred++;
    SPDLOG_LOGGER_WARN(log_, "notice deferred account={} kind={} notice={} attempts={} error=\"{}\"",
                       job.account_id.short_str(), notify::NoticeKindName(job.kind),
                       job.outbox_id, job.attempts + 1, sent.error().ToString());
  } else {
    report.notices_failed++;
    SPDLOG_LOGGER_ERROR(log_, "notice failed account={} kind={} notice={} attempts={} error=\"{}\"",
                        job.account_id.short_str(), notify::NoticeKindName(job.kind),
                        job.outbox_id, job.attempts + 1, sent.error().ToString());
  }
}

Result<int64_t> LifecycleRunner::ContactBatch(TimePoint now, int limit, SweepReport& report) {
  const db::Backend b = db_.backend();
  return db_.Write<int64_t>([&](soci::session& s) -> Result<int64_t> {
    long long t = ToUnix(now);
    std::string id;
    soci::statement st = db::OneShot(
        s,
        fmt::format("SELECT account_id FROM marketing_contacts WHERE {} ORDER BY delete_due "
                    "LIMIT :n{}",
                    kContactDue, SkipLocked(b)),
        soci::into(id), soci::use(t), soci::use(limit));
    auto ids = FetchIds(st, id);
    for (const auto& sid : ids) {
      auto aid = AccountId::Parse(sid);
      if (!aid) {
        continue;
      }
      auto c = LoadContact(s, b, *aid, false);
      std::string reason = c && !c->consent ? "withdrawal" : "retention";
      DeleteContactInTx(s, *aid, now, reason);
      report.contacts_deleted++;
      SPDLOG_LOGGER_INFO(log_, "marketing contact deleted account={} reason={}",
                         aid->short_str(), reason);
    }
    return static_cast<int64_t>(ids.size());
  });
}

Result<std::vector<PlannedAction>> LifecycleRunner::Plan(TimePoint now, TimePoint until) {
  const auto& lc = cfg_.lifecycle;
  return db_.Read<std::vector<PlannedAction>>(
      [&](soci::session& s) -> Result<std::vector<PlannedAction>> {
        std::vector<PlannedAction> out;
        long long u = ToUnix(until);
        std::vector<Account> accounts = LoadAccountsWhere(
            s,
            "WHERE next_action_due <= :u OR next_action_due IS NULL OR (state = 'closed' AND "
            "next_action <> 'purge')",
            {u});
        for (const Account& a : accounts) {
          NextAction next = NextAccountAction(a, lc);
          if (next.action != Action::kNone && next.due && *next.due <= until) {
            out.push_back({a.id, std::string(ActionName(next.action)), std::max(*next.due, now)});
          }
        }
        std::string id;
        std::string kind;
        long long due = 0;
        soci::statement st =
            db::OneShot(s,
                        "SELECT account_id, kind, next_attempt_at FROM outbox WHERE "
                        "next_attempt_at <= :u AND state IN ('pending', 'sending')",
                        soci::into(id), soci::into(kind), soci::into(due), soci::use(u));
        st.execute();
        while (st.fetch()) {
          if (auto aid = AccountId::Parse(id)) {
            out.push_back({*aid, "deliver_notice:" + kind, std::max(FromUnix(due), now)});
          }
        }
        soci::statement st2 =
            db::OneShot(s,
                        "SELECT account_id, delete_due FROM marketing_contacts WHERE "
                        "delete_due <= :u",
                        soci::into(id), soci::into(due), soci::use(u));
        st2.execute();
        while (st2.fetch()) {
          if (auto aid = AccountId::Parse(id)) {
            out.push_back({*aid, "delete_contact", std::max(FromUnix(due), now)});
          }
        }
        std::sort(out.begin(), out.end(), [](const PlannedAction& x, const PlannedAction& y) {
          return std::tie(x.due, x.action) < std::tie(y.due, y.action);
        });
        return out;
      });
}

Result<PurgeReceipt> LifecycleRunner::EraseNow(const AccountId& id, TimePoint now,
                                               const std::string& actor) {
  const db::Backend b = db_.backend();
  auto r = db_.Write<PurgeReceipt>([&](soci::session& s) -> Result<PurgeReceipt> {
    auto acc = LoadAccount(s, b, id, true);
    if (acc) {
      auto receipt = PurgeInTx(s, b, cfg_, *acc, "erasure", now, false);
      if (receipt) {
        WriteAudit(s, now, actor, "account.erase", id, "erasure request");
      }
      return receipt;
    }
    // No account: what may remain is the marketing contact of a purged account and a storage
    // folder left behind (an interrupted purge, a folder made by hand). Both go.
    auto contact = LoadContact(s, b, id, true);
    bool folder = AccountRootExists(cfg_.storage.root, id);
    if (!contact && !folder) {
      return Error::NotFound("nothing is held for this account id");
    }
    PurgeReceipt pr;
    pr.account_id = id;
    pr.purged_at = now;
    pr.reason = "erasure";
    pr.folder_only = !contact;
    if (folder) {
      // First, as in a purge: if the folder cannot be removed, nothing else is done.
      auto files = RemoveAccountRoot(cfg_.storage.root, id);
      if (!files) {
        return files.error();
      }
      pr.files_deleted = files->files;
      pr.bytes_deleted = files->bytes;
    }
    if (contact) {
      DeleteContactInTx(s, id, now, "erasure");
      pr.contact_deleted_at = now;
      pr.contact_deleted_reason = "erasure";
    }
    std::string detail = contact ? "erasure request (marketing contact)"
                                 : "erasure request (storage folder without an account)";
    if (folder) {
      detail += fmt::format(" files={}", pr.files_deleted);
    }
    WriteAudit(s, now, actor, "account.erase", id, detail);
    return pr;
  });
  if (r) {
    Status cp = db_.CheckpointAfterErase();
    if (!cp) {
      SPDLOG_LOGGER_WARN(log_, "checkpoint after erasure deferred error=\"{}\"",
                         cp.error().ToString());
    }
    SPDLOG_LOGGER_INFO(log_, "account erased account={}", id.short_str());
  }
  return r;
}

Result<Account> LifecycleRunner::Confirm(const AccountId& id, TimePoint now,
                                         const std::string& actor) {
  const db::Backend b = db_.backend();
  return db_.Write<Account>([&](soci::session& s) -> Result<Account> {
    auto acc = LoadAccount(s, b, id, true);
    if (!acc) {
      return Error::NotFound("no such account");
    }
    Account a = std::move(*acc);
    if (a.state == AccountState::kClosed) {
      return Error::AlreadyExists("the account is closed: reopen it instead of confirming");
    }
    std::string before = StateText(a.state);
    a.state = AccountState::kActive;
    a.last_activity_at = now;
    a.notice_queued_at.reset();
    a.notice_delivered_at.reset();
    a.updated_at = now;
    CancelNotices(s, id, "inactivity_notice");
    Schedule(a, cfg_.lifecycle);
    SaveLifecycleFields(s, a);
    WriteAudit(s, now, actor, "account.confirm", id, "state=" + before + "->active");
    return a;
  });
}

Status LifecycleRunner::QueueFilesNotice(const AccountId& id,
                                         const std::vector<std::string>& files,
                                         const std::string& event_key, TimePoint now) {
  const db::Backend b = db_.backend();
  auto r = db_.Write<int>([&](soci::session& s) -> Result<int> {
    if (!LoadAccount(s, b, id, true)) {
      return Error::NotFound("no such account");
    }
    std::string detail;
    for (const auto& f : files) {
      detail += EscapeName(f) + "\n";  // one line per name, whatever its bytes
    }
    if (!InsertNotice(s, id, notify::NoticeKind::kFilesWaiting, "files:" + event_key, now,
                      detail)) {
      return Error::AlreadyExists("a notice with this key is already queued");
    }
    WriteAudit(s, now, "lifecycle", "lifecycle.notice_queued", id,
               fmt::format("kind=files_waiting files={}", files.size()));
    return 0;
  });
  if (!r) {
    return r.error();
  }
  return {};
}

Status LifecycleRunner::WithdrawContactConsent(const AccountId& id, TimePoint now,
                                               const std::string& source,
                                               const std::string& actor) {
  if (auto st = accounts::ValidateConsentSource(source); !st) {
    return st;
  }
  const db::Backend b = db_.backend();
  auto r = db_.Write<int>([&](soci::session& s) -> Result<int> {
    auto c = LoadContact(s, b, id, true);
    if (!c) {
      return Error::NotFound("no marketing contact for this account id");
    }
    if (!c->consent) {
      return Error::AlreadyExists("consent is already withdrawn");
    }
    ContactRetention cr{false, now, c->last_communication_at};
    long long t = ToUnix(now), due = ToUnix(ContactDeadline(cr, cfg_.lifecycle));
    std::string sid = id.str(), src = source, act = actor;
    int granted = 0;
    s << "INSERT INTO consent_events (account_id, granted, at, source, actor) VALUES (:id, :g, "
         ":at, :s, :a)",
        soci::use(sid), soci::use(granted), soci::use(t), soci::use(src), soci::use(act);
    s << "UPDATE marketing_contacts SET consent = 0, consent_withdrawn_at = :t, delete_due = :d "
         "WHERE account_id = :id",
        soci::use(t), soci::use(due), soci::use(sid);
    // The same action as a withdrawal on a live account; the detail says which record.
    WriteAudit(s, now, actor, "consent.withdraw", id, "record=marketing_contact");
    return 0;
  });
  if (!r) {
    return r.error();
  }
  return {};
}

Status LifecycleRunner::Reschedule(const AccountId& id) {
  const db::Backend b = db_.backend();
  auto r = db_.Write<int>([&](soci::session& s) -> Result<int> {
    auto acc = LoadAccount(s, b, id, true);
    if (!acc) {
      return Error::NotFound("no such account");
    }
    Schedule(*acc, cfg_.lifecycle);
    SaveLifecycleFields(s, *acc);
    return 0;
  });
  if (!r) {
    return r.error();
  }
  return {};
}

Result<std::optional<PurgeReceipt>> LifecycleRunner::GetReceipt(const AccountId& id) {
  return db_.Read<std::optional<PurgeReceipt>>(
      [&](soci::session& s) -> Result<std::optional<PurgeReceipt>> {
        std::string sid = id.str();
        PurgeReceipt r;
        long long purged = 0, closed = 0, cdel = 0;
        soci::indicator i_closed, i_cdel;
        long long fd = 0, bd = 0, kd = 0, ud = 0, nd = 0, cd = 0;
        int kept = 0;
        s << "SELECT purged_at, reason, closed_at, files_deleted, bytes_deleted, keys_deleted, "
             "usage_rows_deleted, notices_deleted, consent_events_deleted, contact_kept, "
             "contact_deleted_at, contact_deleted_reason FROM purge_receipts WHERE "
             "account_id = :id",
            soci::into(purged), soci::into(r.reason), soci::into(closed, i_closed),
            soci::into(fd), soci::into(bd), soci::into(kd), soci::into(ud), soci::into(nd),
            soci::into(cd), soci::into(kept), soci::into(cdel, i_cdel),
            soci::into(r.contact_deleted_reason), soci::use(sid);
        if (!s.got_data()) {
          return std::optional<PurgeReceipt>();
        }
        r.account_id = id;
        r.purged_at = FromUnix(purged);
        if (i_closed == soci::i_ok) {
          r.closed_at = FromUnix(closed);
        }
        r.files_deleted = fd;
        r.bytes_deleted = bd;
        r.keys_deleted = kd;
        r.usage_rows_deleted = ud;
        r.notices_deleted = nd;
        r.consent_events_deleted = cd;
        r.contact_kept = kept != 0;
        if (i_cdel == soci::i_ok) {
          r.contact_deleted_at = FromUnix(cdel);
        }
        return std::optional<PurgeReceipt>(r);
      });
}

Result<std::optional<MarketingContact>> LifecycleRunner::GetContact(const AccountId& id) {
  const db::Backend b = db_.backend();
  return db_.Read<std::optional<MarketingContact>>(
      [&](soci::session& s) -> Result<std::optional<MarketingContact>> {
        return LoadContact(s, b, id, false);
      });
}

}  // namespace sftplc::lifecycle
