#pragma once

// The SFTP v3 protocol layer (draft-ietf-secsh-filexfer-02 plus the OpenSSH extensions). It does
// not include libssh: the transport feeds it the bytes of the channel and sends what it returns,
// so it is unit-tested and fuzzed on byte buffers.
//
// Frame checks come first: length <= kMaxPacket, nothing before INIT, consumed == declared.
// A frame error ends the session (the transport closes the channel); a bad request inside a good
// frame gets an SSH_FX_* status with its request id.
//
// Not thread-safe: one Processor per SFTP channel, used by the session's thread only.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/log.h"
#include "sftpd/core/base/result.h"
#include "sftpd/core/files/account_root.h"
#include "sftpd/server/sftp/request_observer.h"

namespace sftplc::sftp {

inline constexpr std::size_t kMaxPacket = 256 * 1024 + 1024;  // payload + header slack
inline constexpr std::size_t kMaxReadLength = 255 * 1024;     // advertised in limits@openssh.com

struct Limits {
  int max_handles = 256;
  // Replies buffered by one OnData call before it stops handling further complete packets
  // (they stay buffered; see HasPendingRequests). Bounds a session's memory against a client
  // that pipelines thousands of READs.
  std::size_t max_output = 1024 * 1024;
  // Refuse every request that writes (the `writes` column of the dispatch table, and OPEN for
  // writing) with SSH_FX_PERMISSION_DENIED.
  bool read_only = false;
};

// Counters for the usage record of this session. Updated as requests complete.
struct TransferStats {
  uint64_t bytes_in = 0;          // file data written by the client
  uint64_t bytes_out = 0;         // file data read by the client
  uint64_t files_uploaded = 0;    // files opened for writing and closed
  uint64_t files_downloaded = 0;  // files opened for reading, read, and closed
  uint64_t files_removed = 0;
  uint64_t requests = 0;
};

// How READ data can leave without being copied through the process: the SFTP worker moves the
// file's pages to its data socket through a pipe (splice_sender.h). A Processor without one
// copies the data into `out`.
class DataSender {
 public:
  virtual ~DataSender() = default;
  // Takes up to `len` (<= kMaxReadLength) bytes of `fd` from `offset` for the next Send: the
  // count, 0 at the end of the file, or -errno. -EINVAL: this file cannot be taken so (the
  // Processor copies it instead).
  virtual int64_t Stage(int fd, uint64_t offset, std::size_t len) = 0;
  // Sends `out` (the replies so far, the staged bytes' DATA header last), then the staged
  // bytes, and clears `out`. False if the data socket failed: the session ends.
  virtual bool Send(std::string& out) = 0;
};

class Processor {
 public:
  // `root` is the account's confined root (REQUIRES: not null); `tag` ("[c42]") starts every
  // log line; a null `log` means GetLogger("sftp"). `clock` only
  // dates the READDIR longnames (time of day within six months, else the year). `observer`
  // (may be null; REQUIRES: outlives the Processor) is told about every answered request.
  // `sender` (may be null; REQUIRES: outlives the Processor) sends READ data: each DATA reply
  // then leaves during the call that answers it, with every reply before it, and `out` is
  // cleared.
  Processor(std::unique_ptr<files::AccountRoot> root, Limits limits, Logger log, std::string tag,
            const Clock& clock = SystemClock::Instance(), RequestObserver* observer = nullptr,
            DataSender* sender = nullptr);
  ~Processor();

  // Consumes channel bytes (any split), handles every complete packet, and appends the replies
  // to `out` (coalesced: the transport writes them in one go). Returns an Error when the session
  // must end (malformed frame, oversize length, packet before INIT); `out` may still hold
  // replies to send first.
  //
  // Backpressure: once the replies of this call reach Limits.max_output, complete packets that
  // remain stay buffered and HasPendingRequests() turns true. The transport then sends `out`
  // and calls OnData(nullptr, 0, out) until HasPendingRequests() is false, before it blocks on
  // the channel again (else a client waiting for those replies and the server would wait for
  // each other); draining them before reading more also bounds what stays buffered.
  Status OnData(const uint8_t* data, std::size_t len, std::string& out);

  // True when complete requests are buffered, unhandled (see OnData).
  bool HasPendingRequests() const;

  // For a caller that reads channel bytes into a buffer of its own (the SFTP worker): handles
  // the complete packets at the start of `data`, without copying them, until the replies
  // appended to `out` reach Limits.max_output, and returns how many bytes it handled. The rest
  // (a partial packet, or complete packets held back) stays the caller's: it hands them over
  // again, at the start of `data`, with the bytes that follow. A packet never exceeds
  // kMaxPacket + 4 bytes, so a buffer of that size always has room for more once the complete
  // packets are handled. Frame errors as OnData. A caller uses OnData or Consume, not both.
  Result<std::size_t> Consume(const uint8_t* data, std::size_t len, std::string& out);

  const TransferStats& stats() const { return stats_; }
  // True if a transfer (data read or written, file removed or created) happened since the last
  // call; resets the flag. The transport uses it to write last_activity_at in batches.
  bool TakeActivity();
  // Closes every open handle (end of session).
  void CloseAll();

 private:
  friend std::string_view RequestTypeName(uint8_t type);  // reads Impl's dispatch table
  class Impl;
  std::unique_ptr<Impl> impl_;
  TransferStats stats_;
};

}  // namespace sftplc::sftp
