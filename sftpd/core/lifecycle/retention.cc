#include "sftpd/core/lifecycle/retention.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <set>
#include <string_view>

#include "sftpd/core/auth/defender.h"
#include "sftpd/core/base/calendar.h"
#include "sftpd/core/base/time_format.h"
#include "sftpd/core/db/sql.h"
#include "sftpd/core/files/storage_root.h"
#include "sftpd/core/lifecycle/account_rows.h"
#include "sftpd/core/lifecycle/contact_store.h"
#include "sftpd/core/lifecycle/failure_log.h"
#include "sftpd/core/lifecycle/notice_queue.h"
#include "sftpd/core/lifecycle/policy.h"
#include "sftpd/core/lifecycle/retention_sweep.h"
#include "sftpd/core/usage/usage_store.h"

namespace sftplc::lifecycle {
namespace {

using accounts::Account;
using accounts::AccountState;

}  // namespace

Result<RetentionReport> BuildRetentionReport(db::Database& db, const config::Config& cfg,
                                             TimePoint now) {
  const auto& lc = cfg.lifecycle;
  // Missed = past the deadline by more than one sweep interval.
  auto late = [&](TimePoint deadline) { return AddPeriod(deadline, lc.interval) < now; };
  files::StorageRoot storage(cfg.storage.root);
  std::vector<std::string> folders = storage.EntryNames();
  auto trash = storage.ListTrash();
  // What each owner holds past its deadline, read before the report's own session is taken.
  // Late = due more than one sweep interval ago.
  TimePoint late_before = SubtractPeriod(now, lc.interval);
  auto copies = NoticeQueue(db).CopiesDueBy(late_before, lc.mail_copy_retention, 1000);
  if (!copies) {
    return copies.error();
  }
  auto usage_ip = usage::UsageStore::OldestAddress(db);
  if (!usage_ip) {
    return usage_ip.error();
  }
  auto defender_ip = auth::Defender::OldestAddress(db, now);
  if (!defender_ip) {
    return defender_ip.error();
  }
  return db.Read<RetentionReport>([&](soci::session& s) -> Result<RetentionReport> {
    RetentionReport rep;
    rep.generated_at = now;
    std::set<std::string> live;
    ScanAccounts(s, [&](const Account& a) {
      live.insert(a.id.str());
      rep.accounts++;
      NextAction next = NextAccountAction(a, lc);
      RetentionEntry e;
      e.record = "account";
      e.account_id = a.id;
      e.state = StateText(a.state);
      e.rule = std::string(ActionName(next.action));
      e.deadline = next.due;
      e.status = "ok";
      if (next.action == Action::kNone) {
        e.rule = "close_inactivity";
        e.status = "waiting";
        e.note = fmt::format(
            "inactivity notice queued {} and not delivered yet: the account "
            "cannot be closed until it is",
            FormatTime(a.notice_queued_at));
        rep.waiting++;
      } else if (next.due && late(*next.due)) {
        e.status = "overdue";
        e.note = "no sweep has carried this out: is the lifecycle sweep running?";
        rep.overdue++;
      }
      rep.entries.push_back(std::move(e));
    });
    ContactStore::Scan(s, [&](const MarketingContact& c) {
      rep.contacts++;
      RetentionEntry e;
      e.record = "marketing_contact";
      e.account_id = c.account_id;
      e.state = c.consent ? "consent" : "withdrawn";
      e.rule = "delete_contact";
      e.deadline = c.delete_due;
      e.status = late(c.delete_due) ? "overdue" : "ok";
      if (e.status == "overdue") {
        rep.overdue++;
      }
      rep.entries.push_back(std::move(e));
    });
    for (const Notice& n : NoticeQueue::Unsettled(s)) {
      if (n.account_id.empty()) {
        continue;
      }
      RetentionEntry e;
      e.record = "notice";
      e.account_id = n.account_id;
      e.state = n.state;
      e.rule = n.kind;
      e.deadline = std::nullopt;
      if (n.state == "failed") {
        e.status = "failed";
        e.note = fmt::format(
            "gave up after {} attempts ({}); fix the mail setup and run "
            "`sftpctl notices retry`",
            n.attempts, n.last_error);
        rep.failed++;
      } else {
        e.status = "waiting";
        rep.waiting++;
        e.note = fmt::format("queued {}, {} attempts so far", FormatTime(n.created_at), n.attempts);
      }
      rep.entries.push_back(std::move(e));
    }
    rep.receipts = ContactStore::CountReceipts(s);
    // What the sweep could not do for an account: shown, with the reason, until it succeeds.
    std::set<std::string> trash_failed;
    FailureLog::Scan(s, [&](const SweepFailure& f) {
      RetentionEntry e;
      e.record = f.action == "trash" ? "trash" : "account";
      e.account_id = f.account_id;
      e.state = "failing";
      e.rule = f.action == "account" ? "lifecycle" : "purge";
      e.deadline = f.retry_after;
      e.status = "failed";
      e.note = fmt::format(
          "{} failed {} time(s) since {}: {}; retried after the date shown. If the cause is "
          "not a passing one, fix it (or remove the files with `sftpctl account erase`)",
          f.action == "trash" ? "removing the files of the purged account"
                              : (f.action == "purge" ? "the purge" : "a lifecycle step"),
          f.failures, FormatTime(f.first_failed_at), f.last_error);
      if (f.action == "trash") {
        trash_failed.insert(f.account_id.str());
      }
      rep.failed++;
      rep.entries.push_back(std::move(e));
    });
    // Trash left longer than one sweep interval: a purge whose walk did not finish.
    if (trash) {
      for (const auto& t : *trash) {
        if (!late(t.trashed_at) || trash_failed.count(t.account_id.str()) != 0) {
          continue;
        }
        RetentionEntry e;
        e.record = "trash";
        e.account_id = t.account_id;
        e.name = ".trash/" + t.name;
        e.state = "trash";
        e.rule = "purge";
        e.deadline = AddPeriod(t.trashed_at, lc.interval);
        e.status = "overdue";
        e.note =
            "files of a purged account still in the trash after one sweep interval: is the "
            "lifecycle sweep running?";
        rep.overdue++;
        rep.entries.push_back(std::move(e));
      }
    } else {
      RetentionEntry e;
      e.record = "trash";
      e.state = "unreadable";
      e.rule = "purge";
      e.status = "failed";
      e.note = trash.error().message();
      rep.failed++;
      rep.entries.push_back(std::move(e));
    }
    for (const Notice& n : *copies) {
      RetentionEntry e;
      e.record = "notice_copy";
      e.account_id = n.account_id;
      e.state = n.state;
      e.rule = "delete_copy";
      e.deadline =
          NoticeQueue::CopyDeadline(n.state, n.created_at, n.sent_at, lc.mail_copy_retention);
      e.status = "overdue";
      e.note = fmt::format(
          "a copy of a {} notice kept past {} (section 9): is the lifecycle "
          "sweep running?",
          n.kind, lc.mail_copy_retention.ToWords());
      rep.overdue++;
      rep.entries.push_back(std::move(e));
    }
    for (const auto& [where, oldest] :
         {std::pair<const char*, std::optional<TimePoint>>{"usage", *usage_ip},
          {"defender", *defender_ip}}) {
      if (!oldest) {
        continue;
      }
      RetentionEntry e;
      e.record = "ip_address";
      e.name = where;
      e.state = "held";
      e.rule = "drop_address";
      e.deadline = AddressDeadline(*oldest, lc);
      e.status = late(*e.deadline) ? "overdue" : "ok";
      e.note = fmt::format(
          "the oldest address held here was recorded {}; addresses are "
          "dropped {} after",
          FormatTime(*oldest), lc.ip_retention.ToWords());
      if (e.status == "overdue") {
        rep.overdue++;
      }
      rep.entries.push_back(std::move(e));
    }
    for (const auto& f : folders) {
      if (live.count(f) != 0) {
        continue;
      }
      RetentionEntry e;
      e.record = "files";
      e.name = f;
      auto aid = AccountId::Parse(f);
      if (aid) {
        e.account_id = *aid;
      }
      e.state = "no account";
      e.rule = "purge";
      e.status = "overdue";
      e.note = aid ? "a storage folder whose account is gone (an interrupted purge?): "
                     "`sftpctl account erase` removes it"
                   : "a storage entry that is not an account folder: move it out of storage.root";
      rep.overdue++;
      rep.entries.push_back(std::move(e));
    }
    return rep;
  });
}

}  // namespace sftplc::lifecycle
