#pragma once

// LifecycleRunner: the lifecycle module's entry point for sftpd and sftpctl. It owns one
// configuration and hands each call to the part that owns the rule: Sweep (the phases of a
// sweep, the plan), Purger (purge, erasure, trash), NoticeQueue (the outbox), ContactStore
// (marketing contacts, receipts). Thread-safe: each call uses its own pooled sessions.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sftpd/core/accounts/account.h"
#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/log.h"
#include "sftpd/core/base/result.h"
#include "sftpd/core/config/config.h"
#include "sftpd/core/db/database.h"
#include "sftpd/core/files/storage_root.h"
#include "sftpd/core/lifecycle/contact_store.h"
#include "sftpd/core/lifecycle/purger.h"
#include "sftpd/core/lifecycle/sweep.h"
#include "sftpd/core/notify/mailer.h"
#include "sftpd/core/notify/templates.h"

namespace sftplc::lifecycle {

class LifecycleRunner {
 public:
  // REQUIRES: db and mailer outlive the runner; migrations have run. `mailer` may be null:
  // then notices stay queued (a sweep without delivery).
  LifecycleRunner(db::Database& db, config::Config cfg, notify::Mailer* mailer,
                  notify::TemplateSet templates, const Logger& log);

  // One sweep at `now` (Sweep::Run).
  Result<SweepReport> RunOnce(TimePoint now, const SweepOptions& opts = {}) {
    return sweep_->Run(now, opts);
  }

  // What will happen between `now` and `until`, by account and date (reads only).
  Result<std::vector<PlannedAction>> Plan(TimePoint now, TimePoint until) {
    return sweep_->Plan(now, until);
  }

  // An erasure request (Purger::EraseNow).
  Result<PurgeReceipt> EraseNow(const AccountId& id, TimePoint now, const std::string& actor) {
    return purger_->EraseNow(id, now, actor);
  }
  // A purge receipt replayed after a restore (Purger::ReplayPurge).
  Result<PurgeReceipt> ReplayPurge(const AccountId& id, bool contact_kept, TimePoint now,
                                   const std::string& actor) {
    return purger_->ReplayPurge(id, contact_kept, now, actor);
  }

  // An admin confirms an account (the client replied): last_activity_at = now, back to active,
  // an undelivered inactivity notice is cancelled. kNotFound; kAlreadyExists when closed.
  Result<accounts::Account> Confirm(const AccountId& id, TimePoint now, const std::string& actor);

  // Queues a files-waiting notice (sftpctl files put --notify) listing `files`; `event_key`
  // makes it unique (a second call with the same key is kAlreadyExists). kNotFound.
  Status QueueFilesNotice(const AccountId& id, const std::vector<std::string>& files,
                          const std::string& event_key, TimePoint now);

  // Consent withdrawn on a purged account's marketing contact (ContactStore::WithdrawConsent).
  Status WithdrawContactConsent(const AccountId& id, TimePoint now, const std::string& source,
                                const std::string& actor) {
    return contacts_->WithdrawConsent(id, now, source, actor);
  }

  Result<std::optional<PurgeReceipt>> GetReceipt(const AccountId& id) {
    return contacts_->GetReceipt(id);
  }
  Result<std::optional<MarketingContact>> GetContact(const AccountId& id) {
    return contacts_->GetContact(id);
  }
  // ContactStore::ReceiptsChangedSince.
  Result<std::vector<AccountId>> ReceiptsChangedSince(TimePoint since) {
    return contacts_->ReceiptsChangedSince(since);
  }

  const config::Config& config() const { return *cfg_; }

 private:
  db::Database& db_;
  // Behind pointers so that the parts keep their references when the runner is moved.
  std::unique_ptr<config::Config> cfg_;
  std::unique_ptr<notify::TemplateSet> templates_;
  std::unique_ptr<files::StorageRoot> storage_;
  std::unique_ptr<ContactStore> contacts_;
  std::unique_ptr<Purger> purger_;
  std::unique_ptr<Sweep> sweep_;
};

}  // namespace sftplc::lifecycle
