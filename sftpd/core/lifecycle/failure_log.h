#pragma once

// FailureLog: the one owner of `sweep_failures` (0006_sweep_failures.sql): what the sweep could
// not do for one account, how often, why, and when it tries again (exponential backoff between
// lifecycle.retry_base and lifecycle.retry_max). One failing account never stops the sweep for
// the others; it is retried after its backoff and shown by `sftpctl retention report` until it
// succeeds. Runs inside the caller's db::Database::Write transaction on the session it is
// handed. No personal data: the error text names an operation, never a client path.

#include <functional>
#include <optional>
#include <string>

#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/ids.h"
#include "sftpd/core/config/config.h"

namespace soci {
class session;
}  // namespace soci

namespace sftplc::lifecycle {

struct SweepFailure {
  AccountId account_id;
  std::string action;  // "account", "purge", "trash"
  int failures = 0;
  TimePoint first_failed_at{};
  TimePoint last_failed_at{};
  TimePoint retry_after{};
  std::string last_error;
};

class FailureLog {
 public:
  // Records one more failure of `action` for `id` at `now`; returns the row as it now stands
  // (retry_after = now + backoff for its failure count).
  static SweepFailure Record(soci::session& s, const config::LifecycleConfig& cfg,
                             const AccountId& id, const std::string& action, TimePoint now,
                             const std::string& error);
  // The action succeeded (or its account is gone): forgets its failures.
  static void Clear(soci::session& s, const AccountId& id, const std::string& action);
  static std::optional<SweepFailure> Get(soci::session& s, const AccountId& id,
                                         const std::string& action);
  // Calls `fn` for every failure, oldest first.
  static void Scan(soci::session& s, const std::function<void(const SweepFailure&)>& fn);
};

// The wait after `attempts` failures: retry_base doubled per failure, at most retry_max.
Seconds RetryBackoff(const config::LifecycleConfig& cfg, int attempts);

}  // namespace sftplc::lifecycle
