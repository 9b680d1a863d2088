#pragma once

// Reading and writing the lifecycle columns of an `accounts` row on a session that is already
// inside a transaction (the runner's claims). Used only by the lifecycle module; the account
// store owns everything else about the row. May throw soci::soci_error: call only inside
// db::Database::Write/Read, which turn it into an Error.

#include <soci/soci.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sftpd/core/accounts/account.h"
#include "sftpd/core/config/config.h"
#include "sftpd/core/db/database.h"

namespace sftplc::lifecycle {

// The stored due time of an action that waits for something else (a notice delivery): far in
// the future so the due index never returns it; NULL means "not scheduled yet" (new or changed
// by the account store), which the sweep schedules.
inline constexpr long long kNeverDue = 253402300799;  // 9999-12-31T23:59:59Z

// Loads the whole row; nullopt when there is none (or it does not parse). `lock` adds FOR UPDATE on
// PostgreSQL (the SQLite write transaction already excludes other writers).
std::optional<accounts::Account> LoadAccount(soci::session& s, db::Backend backend,
                                             const AccountId& id, bool lock);

// The accounts a query selects, whole, in one query: `tail` follows "SELECT <every column> FROM
// accounts" (WHERE, ORDER BY, LIMIT, FOR UPDATE ...) with one placeholder per value of
// `params`, in order. Rows that do not parse (id, state or close reason) are left out.
std::vector<accounts::Account> LoadAccountsWhere(soci::session& s, const std::string& tail,
                                                 const std::vector<long long>& params);

// Calls `fn` for every account, ordered by id, in one query (streamed: no list in memory).
void ScanAccounts(soci::session& s, const std::function<void(const accounts::Account&)>& fn);

// Writes state, updated_at, notice_queued_at, notice_delivered_at, closed_at, closed_reason,
// last_activity_at, last_communication_at, next_action and next_action_due from `a`.
void SaveLifecycleFields(soci::session& s, const accounts::Account& a);

// Stored names of the enums (the same strings as accounts::StateName / CloseReasonName).
std::string StateText(accounts::AccountState st);
std::string CloseReasonText(accounts::CloseReason r);

// Stores the policy's next action on `a` (kNone is stored as "" with kNeverDue).
void ScheduleNext(accounts::Account& a, const config::LifecycleConfig& cfg);

// Moves only next_action_due (a failed action waits for its retry time: sweep_failures).
void SetNextActionDue(soci::session& s, const AccountId& id, TimePoint due);

}  // namespace sftplc::lifecycle
