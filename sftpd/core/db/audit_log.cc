#include "sftpd/core/db/audit_log.h"

#include <string>

#include "sftpd/core/db/sql.h"

namespace sftplc::db {

void AuditLog::Append(soci::session& s, TimePoint at, std::string_view actor,
                      std::string_view action, std::string_view account_id,
                      std::string_view detail) {
  long long t = ToUnix(at);
  std::string who(actor), what(action), id(account_id), det(detail);
  s << "INSERT INTO audit_events (at, actor, action, account_id, detail) "
       "VALUES (:at, :actor, :action, :account_id, :detail)",
      soci::use(t), soci::use(who), soci::use(what), soci::use(id), soci::use(det);
}

std::vector<AuditEvent> AuditLog::List(soci::session& s,
                                       const std::optional<std::string>& account_id, int limit) {
  std::vector<AuditEvent> out;
  long long event_id = 0, at = 0;
  std::string who, action, account, detail;
  std::string filter = account_id.value_or("");
  int lim = limit;
  std::string sql = std::string(
                        "SELECT id, at, actor, action, account_id, detail FROM "
                        "audit_events ") +
                    (account_id ? "WHERE account_id = :a " : "") + "ORDER BY id DESC LIMIT :lim";
  auto prepare = [&](auto&&... uses) {
    return OneShot(s, sql, soci::into(event_id), soci::into(at), soci::into(who),
                   soci::into(action), soci::into(account), soci::into(detail), uses...);
  };
  soci::statement st =
      account_id ? prepare(soci::use(filter), soci::use(lim)) : prepare(soci::use(lim));
  st.execute(false);
  while (st.fetch()) {
    out.push_back({event_id, FromUnix(at), who, action, account, detail});
  }
  return out;
}

int64_t AuditLog::Redact(soci::session& s, std::string_view action, TimePoint before,
                         std::string_view replacement) {
  long long b = ToUnix(before);
  std::string what(action), r(replacement);
  soci::statement st = (s.prepare << "UPDATE audit_events SET detail = :r WHERE action = :a AND "
                                     "at < :b AND detail <> :r2",
                        soci::use(r), soci::use(what), soci::use(b), soci::use(r));
  st.execute(true);
  return static_cast<int64_t>(st.get_affected_rows());
}

std::optional<TimePoint> AuditLog::OldestUnredacted(soci::session& s, std::string_view action,
                                                    std::string_view replacement) {
  std::string what(action), r(replacement);
  long long t = 0;
  soci::indicator ind = soci::i_null;
  s << "SELECT MIN(at) FROM audit_events WHERE action = :a AND detail <> :r", soci::into(t, ind),
      soci::use(what), soci::use(r);
  if (ind != soci::i_ok) {
    return std::nullopt;
  }
  return FromUnix(t);
}

}  // namespace sftplc::db
