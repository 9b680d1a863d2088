#pragma once

// The open handles of one SFTP session: a bounded table of files and directories. A handle is an
// 8-byte opaque string (slot index + a random 32-bit nonce that changes on every open), checked
// on every use, so a forged, stale or closed handle is refused.

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "sftpd/core/files/account_root.h"

namespace sftplc::sftp {

inline constexpr std::size_t kHandleLength = 8;

// One open file or directory.
struct OpenHandle {
  bool in_use = false;
  bool is_dir = false;
  uint32_t nonce = 0;
  files::UniqueFd fd;                     // file handles
  std::unique_ptr<files::Directory> dir;  // directory handles
  bool readable = false;
  bool writable = false;
  bool read_any = false;  // a READ was served on it
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
};

// Not thread-safe (one per session).
class HandleTable {
 public:
  // `capacity` is Limits.max_handles (at least 1).
  explicit HandleTable(int capacity);

  bool full() const { return open_ >= slots_.size(); }
  std::size_t open_count() const { return open_; }

  // Stores a file or directory and writes its handle string into `handle` (kHandleLength bytes).
  // Returns false when the table is full.
  bool AddFile(files::UniqueFd fd, bool readable, bool writable, char handle[kHandleLength]);
  bool AddDir(std::unique_ptr<files::Directory> dir, char handle[kHandleLength]);

  // The entry named by `handle`, or nullptr for anything that is not a currently open handle.
  OpenHandle* Find(std::string_view handle);

  // Closes the entry (its descriptor too) and frees the slot. Returns the errno of close(2)
  // for files (0 when fine).
  int Close(OpenHandle* h);

  // Every open entry, for CloseAll.
  std::vector<OpenHandle*> OpenEntries();

 private:
  std::optional<std::size_t> FreeSlot();
  void WriteHandle(std::size_t index, char handle[kHandleLength]) const;
  uint32_t NextNonce();

  std::vector<OpenHandle> slots_;
  std::size_t open_ = 0;
  uint64_t rng_;
};

}  // namespace sftplc::sftp
