#pragma once

// Private to the SFTP layer: the state of one Processor and its request handlers
// (processor.cc: framing and dispatch; handlers.cc: one method per request type).

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/log.h"
#include "sftpd/core/files/account_root.h"
#include "sftpd/server/sftp/handle_table.h"
#include "sftpd/server/sftp/processor.h"
#include "sftpd/server/sftp/wire.h"

namespace sftplc::sftp {

class Processor::Impl {
 public:
  Impl(std::unique_ptr<files::AccountRoot> root, Limits limits, Logger log, std::string tag,
       const Clock& clock, TransferStats& stats, RequestObserver* observer, DataSender* sender);
  // Handles still open here close with the table: the observer is told.
  ~Impl();

  Status OnData(const uint8_t* data, std::size_t len, std::string& out);
  bool HasPendingRequests() const;
  Result<std::size_t> Consume(const uint8_t* data, std::size_t len, std::string& out);
  bool TakeActivity();
  void CloseAll();

  // A request handler: parses the rest of the packet from `r` (the request id is read), checks
  // it was exactly consumed, acts, and appends one reply to `out`.
  using Fn = void (Impl::*)(uint32_t id, Reader& r, std::string& out);
  // One row of the dispatch table (like OpenSSH sftp-server.c handlers[]).
  struct Handler {
    const char* name;
    uint8_t type;
    Fn fn;
    bool writes;  // refused by RequestPermitted() in a read-only session
  };
  struct ExtHandler {
    std::string_view name;
    Fn fn;
    bool writes;
  };

 private:
  Status CheckLength(uint32_t len);
  // Handles the complete packets at the start of `data` until `out` reaches `out_limit`; the
  // count of bytes handled (OnData's step 2 and Consume).
  Result<std::size_t> HandleWhole(const uint8_t* data, std::size_t len, std::string& out,
                                  std::size_t out_limit);
  Status HandlePacket(const uint8_t* p, std::size_t len, std::string& out);
  void Dispatch(uint8_t type, uint32_t id, Reader& r, std::string& out);
  // Dispatch, then tells the observer what the request was and how it was answered.
  void DispatchObserved(uint8_t type, uint32_t id, Reader& r, std::string& out);
  // The one gate every request passes before its handler.
  bool RequestPermitted(bool writes) const;
  void Compact();

  // Replies.
  void SendStatus(std::string& out, uint32_t id, uint32_t code);
  void SendError(std::string& out, uint32_t id, const Error& e, const char* op);
  // The reply to a request that changes the tree: `s`'s error as a status, or SSH_FX_OK and the
  // session marked active. Returns whether `s` succeeded.
  bool SendDone(std::string& out, uint32_t id, const Status& s, const char* op);
  void SendHandle(std::string& out, uint32_t id, const char* handle);
  void SendAttrs(std::string& out, uint32_t id, const struct stat& st);
  void SendName1(std::string& out, uint32_t id, std::string_view name);
  // False (and a BAD_MESSAGE reply) unless every field was present; bytes after the last field
  // are discarded (OpenSSH's sftp-server does the same).
  bool Parsed(const Reader& r, uint32_t id, std::string& out);
  // The open handle named by `h` (of the wanted kind), or nullptr after a FAILURE reply.
  OpenHandle* FileHandle(std::string_view h, uint32_t id, std::string& out);
  OpenHandle* AnyHandle(std::string_view h, uint32_t id, std::string& out);
  int CloseHandle(OpenHandle* h);
  void SendStatvfs(std::string& out, uint32_t id, const struct statvfs& sv);
  // The DATA reply's header for `n` bytes that follow it.
  void PutDataHeader(std::string& out, uint32_t id, std::size_t n);
  // READ through sender_: false if the file cannot be taken so (copy it instead).
  bool ReadSent(OpenHandle* h, uint32_t id, uint64_t offset, uint32_t len, std::string& out);
  // `n` bytes of `h` sent as DATA: the handle's and the session's counts, and activity.
  void CountRead(OpenHandle* h, std::size_t n);

  // Handlers.
  void Open(uint32_t id, Reader& r, std::string& out);
  void Close(uint32_t id, Reader& r, std::string& out);
  void Read(uint32_t id, Reader& r, std::string& out);
  void Write(uint32_t id, Reader& r, std::string& out);
  void Lstat(uint32_t id, Reader& r, std::string& out);
  void Fstat(uint32_t id, Reader& r, std::string& out);
  void Setstat(uint32_t id, Reader& r, std::string& out);
  void Fsetstat(uint32_t id, Reader& r, std::string& out);
  void Opendir(uint32_t id, Reader& r, std::string& out);
  void Readdir(uint32_t id, Reader& r, std::string& out);
  void Remove(uint32_t id, Reader& r, std::string& out);
  void Mkdir(uint32_t id, Reader& r, std::string& out);
  void Rmdir(uint32_t id, Reader& r, std::string& out);
  void Realpath(uint32_t id, Reader& r, std::string& out);
  void Stat(uint32_t id, Reader& r, std::string& out);
  void Rename(uint32_t id, Reader& r, std::string& out);
  void Readlink(uint32_t id, Reader& r, std::string& out);
  void Symlink(uint32_t id, Reader& r, std::string& out);
  void Extended(uint32_t id, Reader& r, std::string& out);
  void ExtPosixRename(uint32_t id, Reader& r, std::string& out);
  void ExtStatvfs(uint32_t id, Reader& r, std::string& out);
  void ExtFstatvfs(uint32_t id, Reader& r, std::string& out);
  void ExtHardlink(uint32_t id, Reader& r, std::string& out);
  void ExtFsync(uint32_t id, Reader& r, std::string& out);
  void ExtLimits(uint32_t id, Reader& r, std::string& out);

  friend std::string_view RequestTypeName(uint8_t type);
  static const Handler kHandlers[];
  static const ExtHandler kExtHandlers[];

  std::unique_ptr<files::AccountRoot> root_;
  Limits limits_;
  Logger log_;
  std::string tag_;
  const Clock& clock_;
  TransferStats& stats_;
  RequestObserver* observer_;  // may be null
  DataSender* sender_;         // may be null
  HandleTable handles_;
  std::vector<uint8_t> in_;           // a partial packet, or packets held back by backpressure
  std::size_t in_off_ = 0;            // start of unhandled bytes in in_
  std::unique_ptr<char[]> read_buf_;  // kMaxReadLength, uninitialised, made at the first READ
  bool init_done_ = false;
  bool dead_ = false;    // a frame error happened, or sender_ failed: every later call fails
  uint32_t status_ = 0;  // the code of the last STATUS reply (SendStatus), for the observer
  bool activity_ = false;
};

}  // namespace sftplc::sftp
