#include "sftpd/core/lifecycle/retention_sweep.h"

#include "sftpd/core/auth/defender.h"
#include "sftpd/core/base/calendar.h"
#include "sftpd/core/lifecycle/notice_queue.h"
#include "sftpd/core/usage/usage_store.h"

namespace sftplc::lifecycle {

Result<RetentionCounts> ApplyRetention(db::Database& db, const config::Config& cfg, TimePoint now) {
  RetentionCounts out;
  auto copies = NoticeQueue(db).DeleteExpiredCopies(now, cfg.lifecycle.mail_copy_retention);
  if (!copies) {
    return copies.error();
  }
  out.notice_copies = *copies;
  // Recorded before this instant, an address has reached its deadline (at + ip_retention).
  TimePoint before = SubtractPeriod(now, cfg.lifecycle.ip_retention);
  auto usage = usage::UsageStore::ForgetAddresses(db, before);
  if (!usage) {
    return usage.error();
  }
  auto defender = auth::Defender::ForgetAddresses(db, cfg.auth.defender, now, before);
  if (!defender) {
    return defender.error();
  }
  out.addresses = *usage + *defender;
  return out;
}

TimePoint AddressDeadline(TimePoint at, const config::LifecycleConfig& cfg) {
  return AddPeriod(at, cfg.ip_retention);
}

}  // namespace sftplc::lifecycle
