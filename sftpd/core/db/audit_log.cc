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

}  // namespace sftplc::db
