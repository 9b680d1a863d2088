#pragma once

// An account's storage root (<storage.root>/<account id>) as the lifecycle sees it: removed for
// a purge, listed for an access export. Neither follows symbolic links: a link inside a root is
// removed (or listed) as a link, never its target. Thread-safe (no shared state).

#include <cstdint>
#include <string>
#include <vector>

#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/ids.h"
#include "sftpd/core/base/result.h"

namespace sftplc::lifecycle {

struct RemovedCounts {
  int64_t files = 0;  // non-directories removed (files, links, others)
  int64_t bytes = 0;  // their sizes (links: the link itself)
};

// Removes <storage_root>/<id> recursively with openat/unlinkat and O_NOFOLLOW. A missing root
// is success with zero counts. kUnavailable (with errno text) when something cannot be removed;
// what could be removed is gone and a retry finishes the job.
Result<RemovedCounts> RemoveAccountRoot(const std::string& storage_root, const AccountId& id);

struct FileEntry {
  std::string path;  // relative to the account root, "/"-separated
  int64_t size = 0;
  TimePoint modified{};
  bool is_dir = false;
  bool is_symlink = false;
};

// Lists <storage_root>/<id> without following links (empty when it does not exist), sorted by
// path. kUnavailable, naming the folder as the client sees it ("/", "/outgoing"), when the root
// or any folder below it cannot be read: the list is complete or there is none.
Result<std::vector<FileEntry>> ListAccountFiles(const std::string& storage_root,
                                                const AccountId& id);

// True when <storage_root>/<id> exists (as anything).
bool AccountRootExists(const std::string& storage_root, const AccountId& id);

}  // namespace sftplc::lifecycle
