#pragma once

// The retention report (sftpctl retention report): every record the service holds with the
// date by which it must be gone or acted on, and what is past that date. A deadline counts as
// missed only after one sweep interval (a rule due at D is carried out by the first sweep after
// D). Reads only. Thread-safe: each call uses its own pooled session.

#include <string>
#include <vector>

#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/ids.h"
#include "sftpd/core/base/result.h"
#include "sftpd/core/config/config.h"
#include "sftpd/core/db/database.h"

namespace sftplc::lifecycle {

struct RetentionEntry {
  std::string record;    // "account", "marketing_contact", "files", "notice", "trash",
                         // "notice_copy", "ip_address"
  AccountId account_id;  // empty for a storage entry whose name is no account id
  std::string name;      // "files" records: the entry's name in storage.root (not personal data:
                         // an account id or a folder the system made); "ip_address" records:
                         // where ("usage", "defender"); "" for the others
  std::string state;     // account state, notice state, ...
  std::string rule;      // what happens at the deadline: "inactivity_notice", "purge", ...
  std::optional<TimePoint> deadline;
  std::string status;  // "ok", "waiting" (held by undelivered mail), "failed", "overdue"
  std::string note;    // no personal data
};

struct RetentionReport {
  TimePoint generated_at{};
  std::vector<RetentionEntry> entries;
  int64_t accounts = 0, contacts = 0, receipts = 0;
  int64_t overdue = 0, waiting = 0, failed = 0;
};

// Builds the report at `now` (every account, contact, undelivered or failed notice, every
// account the sweep failed for (sweep_failures) with the reason, trash older than one sweep
// interval, any entry of storage.root that belongs to no account - names starting with "." and
// the folder lost+found that mkfs makes are not listed -, any copy of a notice past
// lifecycle.mail_copy_retention, and per owner the oldest IP address held, against
// lifecycle.ip_retention).
Result<RetentionReport> BuildRetentionReport(db::Database& db, const config::Config& cfg,
                                             TimePoint now);

}  // namespace sftplc::lifecycle
