#include "sftpd/core/lifecycle/failure_log.h"

#include <algorithm>

#include "sftpd/core/db/sql.h"

namespace sftplc::lifecycle {

Seconds RetryBackoff(const config::LifecycleConfig& cfg, int attempts) {
  Seconds d = cfg.retry_base;
  for (int i = 1; i < attempts && d < cfg.retry_max; ++i) {
    d *= 2;
  }
  return std::min(d, cfg.retry_max);
}

std::optional<SweepFailure> FailureLog::Get(soci::session& s, const AccountId& id,
                                            const std::string& action) {
  std::string sid = id.str(), act = action;
  SweepFailure f;
  long long first = 0, last = 0, retry = 0;
  s << "SELECT failures, first_failed_at, last_failed_at, retry_after, last_error FROM "
       "sweep_failures WHERE account_id = :id AND action = :a",
      soci::into(f.failures), soci::into(first), soci::into(last), soci::into(retry),
      soci::into(f.last_error), soci::use(sid), soci::use(act);
  if (!s.got_data()) {
    return std::nullopt;
  }
  f.account_id = id;
  f.action = action;
  f.first_failed_at = FromUnix(first);
  f.last_failed_at = FromUnix(last);
  f.retry_after = FromUnix(retry);
  return f;
}

SweepFailure FailureLog::Record(soci::session& s, const config::LifecycleConfig& cfg,
                                const AccountId& id, const std::string& action, TimePoint now,
                                const std::string& error) {
  std::optional<SweepFailure> old = Get(s, id, action);
  SweepFailure f;
  f.account_id = id;
  f.action = action;
  f.failures = old ? old->failures + 1 : 1;
  f.first_failed_at = old ? old->first_failed_at : now;
  f.last_failed_at = now;
  f.retry_after = now + RetryBackoff(cfg, f.failures);
  f.last_error = error;
  std::string sid = id.str(), act = action, err = error;
  long long first = ToUnix(f.first_failed_at), last = ToUnix(now), retry = ToUnix(f.retry_after);
  int n = f.failures;
  if (old) {
    s << "UPDATE sweep_failures SET failures = :n, last_failed_at = :l, retry_after = :r, "
         "last_error = :e WHERE account_id = :id AND action = :a",
        soci::use(n), soci::use(last), soci::use(retry), soci::use(err), soci::use(sid),
        soci::use(act);
  } else {
    s << "INSERT INTO sweep_failures (account_id, action, failures, first_failed_at, "
         "last_failed_at, retry_after, last_error) VALUES (:id, :a, :n, :f, :l, :r, :e)",
        soci::use(sid), soci::use(act), soci::use(n), soci::use(first), soci::use(last),
        soci::use(retry), soci::use(err);
  }
  return f;
}

void FailureLog::Clear(soci::session& s, const AccountId& id, const std::string& action) {
  std::string sid = id.str(), act = action;
  s << "DELETE FROM sweep_failures WHERE account_id = :id AND action = :a", soci::use(sid),
      soci::use(act);
}

void FailureLog::Scan(soci::session& s, const std::function<void(const SweepFailure&)>& fn) {
  std::string id, action, err;
  int failures = 0;
  long long first = 0, last = 0, retry = 0;
  soci::statement st =
      db::OneShot(s,
                  "SELECT account_id, action, failures, first_failed_at, last_failed_at, "
                  "retry_after, last_error FROM sweep_failures ORDER BY first_failed_at",
                  soci::into(id), soci::into(action), soci::into(failures), soci::into(first),
                  soci::into(last), soci::into(retry), soci::into(err));
  st.execute();
  while (st.fetch()) {
    auto aid = AccountId::Parse(id);
    if (!aid) {
      continue;
    }
    fn(SweepFailure{*aid, action, failures, FromUnix(first), FromUnix(last), FromUnix(retry), err});
  }
}

}  // namespace sftplc::lifecycle
