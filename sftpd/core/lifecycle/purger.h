#pragma once

// Purger: the purge of a closed account and the erasure of everything held for one person.
// Each runs in its own write transaction that deletes the account's rows, writes the receipt
// and, as its last step, moves the account's folder into the trash (files::StorageRoot: one
// rename, no file system walk under the write lock). After the commit the trash entry is
// removed by the purge walk and the receipt gets the counts; a failure there (or a crash)
// leaves only trash, which EmptyTrash finishes in the next sweep, with backoff. When the
// transaction does not commit, the folder is moved back. Thread-safe: no state besides its
// references; each call uses its own pooled sessions.

#include <optional>
#include <string>
#include <vector>

#include "sftpd/core/accounts/account.h"
#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/log.h"
#include "sftpd/core/base/result.h"
#include "sftpd/core/config/config.h"
#include "sftpd/core/db/database.h"
#include "sftpd/core/files/storage_root.h"
#include "sftpd/core/lifecycle/contact_store.h"
#include "sftpd/core/lifecycle/failure_log.h"

namespace sftplc::lifecycle {

class Purger {
 public:
  // REQUIRES: db, cfg and storage outlive the purger.
  Purger(db::Database& db, const config::Config& cfg, const files::StorageRoot& storage, Logger log)
      : db_(db), cfg_(cfg), storage_(storage), log_(std::move(log)) {}

  // Purges account `id` if the policy says a purge is due at `now` (re-read under the lock);
  // nullopt when it is not (any more). The receipt counts the files once they are removed.
  // kPermissionDenied/kUnavailable when the folder cannot be moved out of reach or the
  // transaction fails: nothing is changed. A failure to remove the trash afterwards is not an
  // error of the purge (the account is purged); it is recorded for EmptyTrash and logged.
  Result<std::optional<PurgeReceipt>> PurgeIfDue(const AccountId& id, TimePoint now);

  // An erasure request: the purge, now, the marketing contact and consent ledger included.
  // Works on what remains without an account too: a purged account's marketing contact, a
  // storage folder left behind (folder_only when that is all) and trash entries of the id.
  // Writes account.erase in the same transaction. kNotFound when nothing is held;
  // kUnavailable/kPermissionDenied when the folder cannot be moved (then nothing is erased) or
  // when files remain in the trash after the database part was done (the message says so:
  // fix the cause and run the erasure again).
  Result<PurgeReceipt> EraseNow(const AccountId& id, TimePoint now, const std::string& actor);

  // After a database backup is restored: carries out again a purge that a receipt written
  // after the backup records. The same as EraseNow, except that a marketing contact the purge
  // kept (`contact_kept`: the receipt says so and has no contact deletion) is kept again, as
  // the purge did, for as long as the policy keeps it. Audited as account.replay. kNotFound
  // when nothing is held that the receipt says is gone.
  Result<PurgeReceipt> ReplayPurge(const AccountId& id, bool contact_kept, TimePoint now,
                                   const std::string& actor);

  // What EmptyTrash did.
  struct TrashOutcome {
    int64_t removed = 0;               // trash entries removed
    std::vector<SweepFailure> failed;  // entries that could not be removed (recorded)
  };
  // Removes every trash entry whose purge has committed and whose backoff is over: leftovers of
  // a crash between a commit and its walk, and earlier failures.
  TrashOutcome EmptyTrash(TimePoint now);

  // Records a failure of `action` ("account" or "purge") for an account that still exists and
  // moves its next_action_due to the retry time, so that the sweep's claims pass it by until
  // then. Returns the failure as recorded (kUnavailable when even that cannot be written).
  Result<SweepFailure> RecordFailure(const AccountId& id, const std::string& action, TimePoint now,
                                     const std::string& error);

 private:
  // Removes one trash entry, adds the counts to the receipt of its account, and clears or
  // records the entry's failure. Returns the counts or the walk's error.
  Result<files::RemovedCounts> FinishTrash(const files::TrashEntry& e, TimePoint now);
  // EraseNow and ReplayPurge: `keep_contact` keeps (or makes, from a restored account with
  // consent) the marketing contact; `reason` and `audit_action` name the request.
  Result<PurgeReceipt> Erase(const AccountId& id, TimePoint now, const std::string& actor,
                             bool keep_contact, const std::string& reason,
                             const std::string& audit_action);

  db::Database& db_;
  const config::Config& cfg_;
  const files::StorageRoot& storage_;
  Logger log_;
};

}  // namespace sftplc::lifecycle
