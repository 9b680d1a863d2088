#pragma once

// The purge receipts an operator keeps outside a database backup, so that a restore of that
// backup can be followed by the same purges again (sftpctl db export-receipts / replay-receipts,
// docs/operations.md "Backup and restore").

#include <vector>

#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/ids.h"
#include "sftpd/core/base/result.h"
#include "sftpd/core/db/database.h"

namespace sftplc::lifecycle {

// The accounts whose purge receipt was written at or after `since` (purged_at), or whose
// marketing contact was deleted at or after `since` (contact_deleted_at), ordered by id.
// Read only; kUnavailable when the database cannot be read. Thread-safe.
Result<std::vector<AccountId>> ReceiptsChangedSince(db::Database& db, TimePoint since);

}  // namespace sftplc::lifecycle
