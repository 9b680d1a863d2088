#pragma once

// The retention phase of the sweep: what the privacy notice says is kept for a limited time is
// deleted by the owner of each table once that time is over. Copies of notices
// (lifecycle.mail_copy_retention after sending: NoticeQueue) and IP addresses
// (lifecycle.ip_retention after recording: UsageStore for sessions and failed logins, Defender
// for its failures, bans and ban.remove audit details). Rules: docs/privacy-mapping.md.
// Thread-safe: each call uses its own pooled sessions.

#include <cstdint>

#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/result.h"
#include "sftpd/core/config/config.h"
#include "sftpd/core/db/database.h"

namespace sftplc::lifecycle {

struct RetentionCounts {
  int64_t notice_copies = 0;  // outbox rows deleted
  int64_t addresses = 0;      // rows whose address was dropped (cleared, deleted or replaced)
};

// Applies both rules at `now`, whatever the state of the accounts concerned. kUnavailable when
// the database cannot be written (a later sweep finishes the job).
Result<RetentionCounts> ApplyRetention(db::Database& db, const config::Config& cfg, TimePoint now);

// When an address recorded at `at` must be gone: at + ip_retention. Pure.
TimePoint AddressDeadline(TimePoint at, const config::LifecycleConfig& cfg);

}  // namespace sftplc::lifecycle
