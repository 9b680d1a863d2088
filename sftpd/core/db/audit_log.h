#pragma once

// AuditLog: the one writer of `audit_events` (who did what to which account, when; no personal
// values in the detail). Every module appends through it inside its own write transaction, so
// the audit row commits or rolls back with the change it records. Reading the log is
// accounts::AccountStore::ListAudit. Stateless; thread-safe.

#include <cstdint>
#include <optional>
#include <string_view>

#include "sftpd/core/base/clock.h"

namespace soci {
class session;
}  // namespace soci

namespace sftplc::db {

class AuditLog {
 public:
  // Appends one row on `s`, which must be inside a db::Database::Write transaction.
  // `account_id` is "" for events about no account (e.g. "ban.remove"). REQUIRES: `detail`
  // holds no personal values. May throw soci::soci_error (Write turns it into an Error).
  static void Append(soci::session& s, TimePoint at, std::string_view actor,
                     std::string_view action, std::string_view account_id, std::string_view detail);

  // Retention of a detail that holds personal data (the address of a `ban.remove`): replaces
  // the detail of every `action` row older than `before` with `replacement`. Returns the rows
  // changed. Inside a Write transaction, like Append.
  static int64_t Redact(soci::session& s, std::string_view action, TimePoint before,
                        std::string_view replacement);
  // The time of the oldest `action` row whose detail is not `replacement` yet, if any.
  static std::optional<TimePoint> OldestUnredacted(soci::session& s, std::string_view action,
                                                   std::string_view replacement);
};

}  // namespace sftplc::db
