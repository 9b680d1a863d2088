#pragma once

// files::StorageRoot: the layout of `storage.root`, and the one place that creates, lists and
// removes account folders.
//
//   <storage.root>/                  0700, owned by the service user
//     <account id>/                  0700: one account's folder (its client's "/")
//     .trash/                        0700: folders taken out of every client's reach
//       <account id>.<unix seconds>  an account folder moved here by a purge or an erasure
//
// The trash folder exists only while it holds something. A purge or an erasure first moves the
// account's folder into the trash with one rename (same file system, so it is atomic and costs
// nothing under the database's write lock), then, after the database transaction committed, removes
// the trash entry with the purge walk (RemoveTrashEntry). A crash in between leaves only a trash
// entry, which the next sweep removes. Nothing here follows a symbolic link: links are removed or
// listed as links.
//
// The purge walk removes any tree a client can make, as the non-root service user: folders of
// any mode (000 included, the account folder too: each folder is made 0700 by fchmodat with
// AT_SYMLINK_NOFOLLOW before it is opened), any depth, any number of entries, names of any
// bytes, hardlinks, files held open. It never recurses and never holds a list of names: it
// empties one folder at a time, removing its files and moving each of its subfolders up into
// the trash entry itself (rename-flattening, docs/architecture.md), so it holds at most two
// open folders and one counter however deep or wide the tree.
//
// Errors name the operation, never a client path; codes follow files::SysError. Thread-safe:
// no state but the path.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/ids.h"
#include "sftpd/core/base/result.h"

namespace sftplc::files {

// What a removal took away.
struct RemovedCounts {
  int64_t files = 0;    // non-folders removed (files, links, others)
  int64_t bytes = 0;    // their sizes (links: the link itself)
  int64_t folders = 0;  // folders removed, the account folder included
};

// One entry of <storage.root>/.trash.
struct TrashEntry {
  std::string name;      // "<account id>.<unix seconds>" (with "-N" when one was taken)
  AccountId account_id;  // empty when the name does not start with an account id
  TimePoint trashed_at{};
};

// One entry of an account folder, for an access export or a listing.
struct FileEntry {
  std::string path;  // relative to the account folder, "/"-separated
  int64_t size = 0;
  TimePoint modified{};
  bool is_dir = false;
  bool is_symlink = false;
};

class StorageRoot {
 public:
  explicit StorageRoot(std::string path) : path_(std::move(path)) {}

  const std::string& path() const { return path_; }

  // Creates the storage root (0700, with missing parents) when it does not exist; an existing
  // one is left as it is. kUnavailable (naming storage.root) when it cannot be made or is not a
  // folder.
  Status Ensure() const;

  // Creates the account's folder <root>/<id> (0700), making the root first if needed. As root,
  // gives the folder to the owner of the storage root (the user sftpd runs as). kAlreadyExists
  // when it exists; kUnavailable otherwise.
  Status CreateAccountFolder(const AccountId& id) const;

  // True when <root>/<id> exists (as anything).
  bool AccountFolderExists(const AccountId& id) const;

  // Moves <root>/<id> into the trash with one rename (its mode made 0700 first: a folder
  // cannot be moved to another parent without write permission on it). nullopt when there is
  // no such entry. kPermissionDenied / kUnavailable when it cannot be moved (e.g. immutable).
  Result<std::optional<TrashEntry>> MoveToTrash(const AccountId& id, TimePoint now) const;

  // Puts a trash entry back as <root>/<id> (undoing MoveToTrash when the transaction it was
  // part of did not commit). kAlreadyExists when <root>/<id> exists meanwhile.
  Status RestoreFromTrash(const TrashEntry& entry, const AccountId& id) const;

  // The purge walk: removes the trash entry `name` and everything below it. A missing entry is
  // success with zero counts. On an error what could be removed is gone; calling again
  // finishes the job (kPermissionDenied for an immutable file, kUnavailable otherwise).
  Result<RemovedCounts> RemoveTrashEntry(const std::string& name) const;

  // The entries of the trash, oldest first (empty when there is no trash).
  Result<std::vector<TrashEntry>> ListTrash() const;

  // Lists <root>/<id> without following links (empty when it does not exist), sorted by path,
  // at any depth (no recursion; at most one open folder). A folder without owner rwx (a
  // client's chmod) gets it back before it is read. kUnavailable, naming the folder as
  // the client sees it ("/", "/outgoing"), when a folder cannot be read, or when the tree
  // changed under the listing in a way that could make it wrong: the list is complete or there
  // is none.
  Result<std::vector<FileEntry>> ListAccountFiles(const AccountId& id) const;

  // The names of the storage root's entries, except hidden ones (".trash") and the file
  // system's own lost+found folder. Empty when the root cannot be read.
  std::vector<std::string> EntryNames() const;

 private:
  // Removes the trash folder if it is empty.
  void RemoveEmptyTrash() const;

  std::string path_;
};

}  // namespace sftplc::files
