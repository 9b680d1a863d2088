#pragma once

// Access requests (section 12 of the privacy notice): everything held about one person, by
// category, each with a description, why it is held (purpose and legal basis), who it could be
// disclosed to (no one), and the retention deadline computed for this account; the data itself
// in an intelligible form (JSON, or text for a letter). Layout: docs/sftpctl.md.
// ExportAccount reads only; RecordExport writes the audit row of the request. Thread-safe: each
// call uses its own pooled session.

#include <nlohmann/json.hpp>
#include <string>

#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/ids.h"
#include "sftpd/core/base/result.h"
#include "sftpd/core/config/config.h"
#include "sftpd/core/db/database.h"

namespace sftplc::lifecycle {

// The export of account `id` at `now`: a live account (profile, credentials, consent ledger,
// usage, files, notices, lifecycle), or what remains of a purged one (marketing contact and
// ledger, receipt). kNotFound when nothing at all is held for the id; kUnavailable (naming the
// folder) when a folder of a live account cannot be read, rather than an incomplete export.
Result<nlohmann::ordered_json> ExportAccount(db::Database& db, const config::Config& cfg,
                                             const AccountId& id, TimePoint now);

// Records an access request: an audit_events row "account.export" with the actor, the account
// id, the time and `detail` (REQUIRES: no personal values, e.g. "format=json to=stdout").
// kUnavailable when the database cannot be written.
Status RecordExport(db::Database& db, const AccountId& id, TimePoint now, const std::string& actor,
                    const std::string& detail);

// The same, as plain text for a letter or an email reply.
std::string ExportText(const nlohmann::ordered_json& exported);

}  // namespace sftplc::lifecycle
