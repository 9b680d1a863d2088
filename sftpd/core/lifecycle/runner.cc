#include "sftpd/core/lifecycle/runner.h"

#include <fmt/format.h>

#include <algorithm>

#include "sftpd/core/base/name_text.h"
#include "sftpd/core/db/audit_log.h"
#include "sftpd/core/db/sql.h"
#include "sftpd/core/lifecycle/account_rows.h"
#include "sftpd/core/lifecycle/notice_queue.h"

namespace sftplc::lifecycle {

using accounts::Account;
using accounts::AccountState;

LifecycleRunner::LifecycleRunner(db::Database& db, config::Config cfg, notify::Mailer* mailer,
                                 notify::TemplateSet templates, const Logger& log)
    : db_(db),
      cfg_(std::make_unique<config::Config>(std::move(cfg))),
      templates_(std::make_unique<notify::TemplateSet>(std::move(templates))),
      storage_(std::make_unique<files::StorageRoot>(cfg_->storage.root)),
      contacts_(std::make_unique<ContactStore>(db, cfg_->lifecycle)),
      purger_(std::make_unique<Purger>(db, *cfg_, *storage_, log)),
      sweep_(std::make_unique<Sweep>(db, *cfg_, mailer, *templates_, *purger_, log)) {}

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
    NoticeQueue::CancelUndelivered(s, id, notify::NoticeKind::kInactivity);
    ScheduleNext(a, cfg_->lifecycle);
    SaveLifecycleFields(s, a);
    db::AuditLog::Append(s, now, actor, "account.confirm", id.str(),
                         "state=" + before + "->active");
    return a;
  });
}

Status LifecycleRunner::QueueFilesNotice(const AccountId& id, const std::vector<std::string>& files,
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
    if (!NoticeQueue::Queue(s, id, notify::NoticeKind::kFilesWaiting, "files:" + event_key, now,
                            detail)) {
      return Error::AlreadyExists("a notice with this key is already queued");
    }
    db::AuditLog::Append(s, now, "lifecycle", "lifecycle.notice_queued", id.str(),
                         fmt::format("kind=files_waiting files={}", files.size()));
    return 0;
  });
  if (!r) {
    return r.error();
  }
  return {};
}

}  // namespace sftplc::lifecycle
