#pragma once

// AuditLog: the one owner of `audit_events` (who did what to which account, when; no personal
// values in the detail). Every module appends through it inside its own write transaction, so
// the audit row commits or rolls back with the change it records; accounts::AccountStore::ListAudit
// reads it through List. Stateless; thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sftpd/core/base/clock.h"

namespace soci {
class session;
}  // namespace soci

namespace sftplc::db {

struct AuditEvent {
  int64_t id = 0;
  TimePoint at{};
  std::string actor;
  std::string action;      // "account.create", "account.update", "key.add", ...
  std::string account_id;  // may be empty for actions on no account
  std::string detail;      // no personal values: field names, fingerprints, states
};

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
  // The newest `limit` rows (newest first) about account `account_id`, or about any account when
  // it is nullopt. May throw soci::soci_error (Read turns it into an Error).
  static std::vector<AuditEvent> List(soci::session& s,
                                      const std::optional<std::string>& account_id, int limit);
  // The time of the oldest `action` row whose detail is not `replacement` yet, if any.
  static std::optional<TimePoint> OldestUnredacted(soci::session& s, std::string_view action,
                                                   std::string_view replacement);
};

}  // namespace sftplc::db
