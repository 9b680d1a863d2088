#include "sftpd/core/lifecycle/receipt_log.h"

#include <string>

#include "sftpd/core/db/sql.h"

namespace sftplc::lifecycle {

Result<std::vector<AccountId>> ReceiptsChangedSince(db::Database& db, TimePoint since) {
  return db.Read<std::vector<AccountId>>([&](soci::session& s) -> Result<std::vector<AccountId>> {
    long long t = ToUnix(since);
    std::string id;
    std::vector<AccountId> out;
    soci::statement q = db::OneShot(s,
                                    "SELECT account_id FROM purge_receipts WHERE purged_at >= :t "
                                    "OR contact_deleted_at >= :t2 ORDER BY account_id",
                                    soci::into(id), soci::use(t, "t"), soci::use(t, "t2"));
    q.execute(false);
    while (q.fetch()) {
      auto parsed = AccountId::Parse(id);
      if (!parsed) {
        return Error::Internal("purge_receipts holds a malformed account id");
      }
      out.push_back(*parsed);
    }
    return out;
  });
}

}  // namespace sftplc::lifecycle
