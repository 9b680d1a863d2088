#pragma once

// Transfer counters of one SFTP session (or a sum of sessions): what the SFTP worker counts and
// reports, and what UsageStore records. A value type of its own, so the programs started per
// connection use it without the database code (sftpd/CMakeLists.txt).

#include <cstdint>

namespace sftplc::usage {

struct Counters {
  uint64_t bytes_in = 0;   // file data written by the client
  uint64_t bytes_out = 0;  // file data read by the client
  uint64_t files_uploaded = 0;
  uint64_t files_downloaded = 0;
  uint64_t files_removed = 0;

  Counters& operator+=(const Counters& o) {
    bytes_in += o.bytes_in;
    bytes_out += o.bytes_out;
    files_uploaded += o.files_uploaded;
    files_downloaded += o.files_downloaded;
    files_removed += o.files_removed;
    return *this;
  }
  friend bool operator==(const Counters&, const Counters&) = default;
};

}  // namespace sftplc::usage
