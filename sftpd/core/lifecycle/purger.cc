#include "sftpd/core/lifecycle/purger.h"

#include <fmt/format.h>

#include "sftpd/core/accounts/account_store.h"
#include "sftpd/core/db/audit_log.h"
#include "sftpd/core/db/sql.h"
#include "sftpd/core/lifecycle/account_rows.h"
#include "sftpd/core/lifecycle/notice_queue.h"
#include "sftpd/core/lifecycle/policy.h"
#include "sftpd/core/usage/usage_store.h"

namespace sftplc::lifecycle {

using accounts::Account;

namespace {

constexpr const char* kActor = "lifecycle";

TimePoint LastCommunicationOrActivity(const Account& a) {
  TimePoint t = LastActivity(a);
  if (a.last_communication_at && *a.last_communication_at > t) {
    t = *a.last_communication_at;
  }
  return t;
}

// Deletes every row held for `a`, writes the receipt (files are counted after the commit),
// keeps the marketing contact if `keep`, and forgets the account's sweep failures.
PurgeReceipt PurgeRowsInTx(soci::session& s, const config::Config& cfg, const Account& a,
                           const std::string& reason, TimePoint now, bool keep) {
  PurgeReceipt r;
  r.account_id = a.id;
  r.purged_at = now;
  r.reason = reason;
  r.closed_at = a.closed_at;
  const std::string id = a.id.str();
  r.keys_deleted = accounts::AccountStore::DeleteKeys(s, a.id);
  r.usage_rows_deleted = usage::UsageStore::DeleteForAccount(s, a.id);
  r.notices_deleted = NoticeQueue::DeleteAll(s, a.id);
  r.contact_kept = keep;
  if (keep) {
    ContactRetention c{true, std::nullopt, LastCommunicationOrActivity(a)};
    MarketingContact mc;
    mc.account_id = a.id;
    mc.full_name = a.full_name;
    mc.company = a.company;
    mc.email = a.email;
    mc.phone = a.phone;
    mc.consent = true;
    mc.last_communication_at = c.last_communication_at;
    mc.created_at = now;
    mc.delete_due = ContactDeadline(c, cfg.lifecycle);
    ContactStore::Insert(s, mc);
  } else {
    r.consent_events_deleted = accounts::AccountStore::DeleteConsent(s, a.id);
  }
  accounts::AccountStore::DeleteRow(s, a.id);
  ContactStore::InsertReceipt(s, r);
  FailureLog::Clear(s, a.id, "account");
  FailureLog::Clear(s, a.id, "purge");
  db::AuditLog::Append(
      s, now, kActor, "lifecycle.purge", id,
      fmt::format("reason={} keys={} usage_rows={} notices={} contact_kept={}", reason,
                  r.keys_deleted, r.usage_rows_deleted, r.notices_deleted, keep));
  return r;
}

}  // namespace

Result<files::RemovedCounts> Purger::FinishTrash(const files::TrashEntry& e, TimePoint now) {
  auto removed = storage_.RemoveTrashEntry(e.name);
  if (e.account_id.empty()) {
    return removed;
  }
  auto recorded = db_.Write<int>([&](soci::session& s) -> Result<int> {
    if (removed) {
      ContactStore::AddRemoved(s, e.account_id, removed->files, removed->bytes);
      FailureLog::Clear(s, e.account_id, "trash");
    } else {
      FailureLog::Record(s, cfg_.lifecycle, e.account_id, "trash", now, removed.error().message());
    }
    return 0;
  });
  if (!recorded) {
    SPDLOG_LOGGER_WARN(log_, "cannot record a trash removal account={} error=\"{}\"",
                       e.account_id.short_str(), recorded.error().ToString());
  }
  if (!removed) {
    SPDLOG_LOGGER_ERROR(log_, "files of a purged account not removed account={} error=\"{}\"",
                        e.account_id.short_str(), removed.error().ToString());
  }
  return removed;
}

Result<std::optional<PurgeReceipt>> Purger::PurgeIfDue(const AccountId& id, TimePoint now) {
  const db::Backend b = db_.backend();
  std::optional<files::TrashEntry> moved;
  auto r = db_.Write<std::optional<PurgeReceipt>>(
      [&](soci::session& s) -> Result<std::optional<PurgeReceipt>> {
        moved.reset();
        auto acc = LoadAccount(s, b, id, true);
        if (!acc) {
          return std::optional<PurgeReceipt>();
        }
        NextAction next = NextAccountAction(*acc, cfg_.lifecycle);
        if (next.action != Action::kPurge || !next.IsDue(now)) {
          return std::optional<PurgeReceipt>();
        }
        std::string reason =
            acc->closed_reason ? CloseReasonText(*acc->closed_reason) : std::string("request");
        PurgeReceipt receipt =
            PurgeRowsInTx(s, cfg_, *acc, reason, now, KeepsMarketingContact(*acc));
        // Last: out of every client's reach; the walk waits for the commit.
        auto trashed = storage_.MoveToTrash(id, now);
        if (!trashed) {
          return trashed.error();
        }
        moved = *trashed;
        return std::optional<PurgeReceipt>(receipt);
      });
  if (!r) {
    if (moved) {
      if (Status back = storage_.RestoreFromTrash(*moved, id); !back) {
        SPDLOG_LOGGER_ERROR(log_,
                            "purge rolled back but the folder stays in the trash "
                            "account={} error=\"{}\"",
                            id.short_str(), back.error().ToString());
      }
    }
    return r.error();
  }
  if (*r && moved) {
    if (auto counts = FinishTrash(*moved, now)) {
      (*r)->files_deleted = counts->files;
      (*r)->bytes_deleted = counts->bytes;
    } else {
      (*r)->files_error = counts.error().message();
    }
  }
  return r;
}

Result<PurgeReceipt> Purger::EraseNow(const AccountId& id, TimePoint now,
                                      const std::string& actor) {
  return Erase(id, now, actor, /*keep_contact=*/false, "erasure", "account.erase");
}

Result<PurgeReceipt> Purger::ReplayPurge(const AccountId& id, bool contact_kept, TimePoint now,
                                         const std::string& actor) {
  return Erase(id, now, actor, contact_kept, "replay", "account.replay");
}

Result<PurgeReceipt> Purger::Erase(const AccountId& id, TimePoint now, const std::string& actor,
                                   bool keep_contact, const std::string& reason,
                                   const std::string& audit_action) {
  const db::Backend b = db_.backend();
  std::vector<files::TrashEntry> earlier;
  if (auto trash = storage_.ListTrash()) {
    for (const auto& e : *trash) {
      if (e.account_id == id) {
        earlier.push_back(e);
      }
    }
  }
  std::optional<files::TrashEntry> moved;
  auto r = db_.Write<PurgeReceipt>([&](soci::session& s) -> Result<PurgeReceipt> {
    moved.reset();
    PurgeReceipt pr;
    auto acc = LoadAccount(s, b, id, true);
    if (acc) {
      pr = PurgeRowsInTx(s, cfg_, *acc, reason, now, keep_contact && KeepsMarketingContact(*acc));
      db::AuditLog::Append(s, now, actor, audit_action, id.str(), reason + " request");
    } else {
      // No account: what may remain is the marketing contact of a purged account, a storage
      // folder left behind (a folder made by hand, an old interrupted purge) and trash.
      std::optional<MarketingContact> contact;
      if (!keep_contact) {
        contact = ContactStore::Load(s, b, id, true);
      }
      bool folder = storage_.AccountFolderExists(id);
      if (!contact && !folder && earlier.empty()) {
        return Error::NotFound("nothing is held for this account id");
      }
      pr.account_id = id;
      pr.purged_at = now;
      pr.reason = reason;
      pr.folder_only = !contact;
      if (contact) {
        ContactStore::Delete(s, id, now, reason);
        pr.contact_deleted_at = now;
        pr.contact_deleted_reason = reason;
      }
      FailureLog::Clear(s, id, "trash");
      db::AuditLog::Append(s, now, actor, audit_action, id.str(),
                           contact ? reason + " request (marketing contact)"
                                   : reason + " request (storage folder without an account)");
    }
    auto trashed = storage_.MoveToTrash(id, now);
    if (!trashed) {
      return trashed.error();
    }
    moved = *trashed;
    return pr;
  });
  if (!r) {
    if (moved) {
      (void)storage_.RestoreFromTrash(*moved, id);
    }
    return r.error();
  }
  if (moved) {
    earlier.push_back(*moved);
  }
  std::optional<Error> left;
  for (const auto& e : earlier) {
    auto counts = FinishTrash(e, now);
    if (!counts) {
      left = counts.error();
      continue;
    }
    r->files_deleted += counts->files;
    r->bytes_deleted += counts->bytes;
  }
  Status cp = db_.CheckpointAfterErase();
  if (!cp) {
    SPDLOG_LOGGER_WARN(log_, "checkpoint after erasure deferred error=\"{}\"",
                       cp.error().ToString());
  }
  if (left) {
    return Error(left->code(),
                 fmt::format("the account's data is erased from the database, but some of its "
                             "files remain in the trash of storage.root: {}; fix the cause and "
                             "run the erasure again",
                             left->message()));
  }
  SPDLOG_LOGGER_INFO(log_, "account erased account={} files={}", id.short_str(), r->files_deleted);
  return r;
}

Purger::TrashOutcome Purger::EmptyTrash(TimePoint now) {
  TrashOutcome out;
  auto trash = storage_.ListTrash();
  if (!trash) {
    SPDLOG_LOGGER_ERROR(log_, "cannot read the trash error=\"{}\"", trash.error().ToString());
    return out;
  }
  const db::Backend b = db_.backend();
  for (const auto& e : *trash) {
    if (!e.account_id.empty()) {
      // An entry whose account still exists belongs to a purge that has not committed (or was
      // rolled back and could not be moved back): never touch it. One whose backoff is not
      // over waits.
      auto wait = db_.Read<bool>([&](soci::session& s) -> Result<bool> {
        if (LoadAccount(s, b, e.account_id, false)) {
          return true;
        }
        auto f = FailureLog::Get(s, e.account_id, "trash");
        return f && f->retry_after > now;
      });
      if (!wait || *wait) {
        continue;
      }
    }
    auto counts = FinishTrash(e, now);
    if (counts) {
      out.removed++;
      continue;
    }
    auto f = db_.Read<std::optional<SweepFailure>>(
        [&](soci::session& s) -> Result<std::optional<SweepFailure>> {
          return FailureLog::Get(s, e.account_id, "trash");
        });
    SweepFailure failure;
    if (f && *f) {
      failure = **f;
    } else {
      failure.account_id = e.account_id;
      failure.action = "trash";
      failure.last_error = counts.error().message();
    }
    out.failed.push_back(std::move(failure));
  }
  return out;
}

Result<SweepFailure> Purger::RecordFailure(const AccountId& id, const std::string& action,
                                           TimePoint now, const std::string& error) {
  return db_.Write<SweepFailure>([&](soci::session& s) -> Result<SweepFailure> {
    SweepFailure f = FailureLog::Record(s, cfg_.lifecycle, id, action, now, error);
    SetNextActionDue(s, id, f.retry_after);
    return f;
  });
}

}  // namespace sftplc::lifecycle
