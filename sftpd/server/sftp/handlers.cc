// The request handlers of the SFTP layer: each parses its fields, checks the packet was exactly
// consumed, acts through files::AccountRoot, and appends one reply.

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "sftpd/server/sftp/attrs.h"
#include "sftpd/server/sftp/processor_impl.h"
#include "sftpd/server/sftp/protocol.h"
#include "sftpd/server/sftp/status.h"

namespace sftplc::sftp {
namespace {

constexpr uint32_t kReaddirBatch = 100;             // entries per NAME reply, as OpenSSH
constexpr std::size_t kDataHeader = 4 + 1 + 4 + 4;  // length, type, id, string length

}  // namespace

// --- replies ---

void Processor::Impl::SendStatus(std::string& out, uint32_t id, uint32_t code) {
  status_ = code;
  std::size_t at = BeginPacket(out, kFxpStatus);
  PutU32(out, id);
  PutU32(out, code);
  PutString(out, StatusMessage(code));
  PutString(out, "");  // language tag
  EndPacket(out, at);
}

void Processor::Impl::SendError(std::string& out, uint32_t id, const Error& e,
                                [[maybe_unused]] const char* op) {
  uint32_t code = StatusFor(e);
  SPDLOG_LOGGER_DEBUG(log_, "{} sftp {} failed status={} error={}", tag_, op, code, e.message());
  SendStatus(out, id, code);
}

bool Processor::Impl::SendDone(std::string& out, uint32_t id, const Status& s, const char* op) {
  if (!s) {
    SendError(out, id, s.error(), op);
    return false;
  }
  activity_ = true;
  SendStatus(out, id, kFxOk);
  return true;
}

void Processor::Impl::SendHandle(std::string& out, uint32_t id, const char* handle) {
  std::size_t at = BeginPacket(out, kFxpHandle);
  PutU32(out, id);
  PutString(out, std::string_view(handle, kHandleLength));
  EndPacket(out, at);
}

void Processor::Impl::SendAttrs(std::string& out, uint32_t id, const struct stat& st) {
  std::size_t at = BeginPacket(out, kFxpAttrs);
  PutU32(out, id);
  PutAttrs(out, st);
  EndPacket(out, at);
}

void Processor::Impl::SendName1(std::string& out, uint32_t id, std::string_view name) {
  std::size_t at = BeginPacket(out, kFxpName);
  PutU32(out, id);
  PutU32(out, 1);
  PutString(out, name);
  PutString(out, name);
  PutEmptyAttrs(out);
  EndPacket(out, at);
}

void Processor::Impl::SendStatvfs(std::string& out, uint32_t id, const struct statvfs& sv) {
  uint64_t flag = ((sv.f_flag & ST_RDONLY) ? kStatvfsRdonly : 0) |
                  ((sv.f_flag & ST_NOSUID) ? kStatvfsNosuid : 0);
  std::size_t at = BeginPacket(out, kFxpExtendedReply);
  PutU32(out, id);
  PutU64(out, sv.f_bsize);
  PutU64(out, sv.f_frsize);
  PutU64(out, sv.f_blocks);
  PutU64(out, sv.f_bfree);
  PutU64(out, sv.f_bavail);
  PutU64(out, sv.f_files);
  PutU64(out, sv.f_ffree);
  PutU64(out, sv.f_favail);
  PutU64(out, sv.f_fsid);
  PutU64(out, flag);
  PutU64(out, sv.f_namemax);
  EndPacket(out, at);
}

bool Processor::Impl::Parsed(const Reader& r, uint32_t id, std::string& out) {
  if (r.ok()) {
    return true;  // trailing bytes, if any, are discarded as OpenSSH's sftp-server does
  }
  SPDLOG_LOGGER_DEBUG(log_, "{} sftp malformed request id={}", tag_, id);
  SendStatus(out, id, kFxBadMessage);
  return false;
}

OpenHandle* Processor::Impl::AnyHandle(std::string_view h, uint32_t id, std::string& out) {
  OpenHandle* e = handles_.Find(h);
  if (e == nullptr) {
    SPDLOG_LOGGER_DEBUG(log_, "{} sftp invalid handle id={}", tag_, id);
    SendStatus(out, id, kFxFailure);
  }
  return e;
}

OpenHandle* Processor::Impl::FileHandle(std::string_view h, uint32_t id, std::string& out) {
  OpenHandle* e = handles_.Find(h);
  if (e == nullptr || e->is_dir) {
    SPDLOG_LOGGER_DEBUG(log_, "{} sftp invalid file handle id={}", tag_, id);
    SendStatus(out, id, kFxFailure);
    return nullptr;
  }
  return e;
}

int Processor::Impl::CloseHandle(OpenHandle* h) {
  if (!h->is_dir) {
    if (h->writable) {
      ++stats_.files_uploaded;
    } else if (h->read_any) {
      ++stats_.files_downloaded;
    }
    SPDLOG_LOGGER_DEBUG(log_, "{} sftp close bytes_read={} bytes_written={}", tag_, h->bytes_read,
                        h->bytes_written);
  }
  return handles_.Close(h);
}

// --- files ---

void Processor::Impl::Open(uint32_t id, Reader& r, std::string& out) {
  std::string_view path = r.String();
  uint32_t pflags = r.U32();
  Attrs a = ReadAttrs(r);
  if (!Parsed(r, id, out)) {
    return;
  }
  const bool rd = pflags & kOpenRead;
  const bool wr = pflags & kOpenWrite;
  int flags = (rd && wr) ? O_RDWR : wr ? O_WRONLY : O_RDONLY;
  if (pflags & kOpenAppend) {
    flags |= O_APPEND;
  }
  if (pflags & kOpenCreat) {
    flags |= O_CREAT;
  }
  if (pflags & kOpenTrunc) {
    flags |= O_TRUNC;
  }
  if (pflags & kOpenExcl) {
    flags |= O_EXCL;
  }
  const bool writes = (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC | O_APPEND));
  SPDLOG_LOGGER_DEBUG(log_, "{} sftp open flags={:#x} path={}", tag_, pflags, LogSafe(path));
  if (!RequestPermitted(writes)) {
    SendStatus(out, id, kFxPermissionDenied);
    return;
  }
  if (handles_.full()) {
    SPDLOG_LOGGER_DEBUG(log_, "{} sftp open refused: handle limit {}", tag_, limits_.max_handles);
    SendStatus(out, id, kFxFailure);
    return;
  }
  mode_t mode = (a.flags & kAttrPermissions) ? (a.permissions & 0777) : 0666;
  auto fd = root_->OpenFile(path, flags, mode);
  if (!fd) {
    SendError(out, id, fd.error(), "open");
    return;
  }
  if (flags & (O_CREAT | O_TRUNC)) {
    activity_ = true;
  }
  char handle[kHandleLength];
  handles_.AddFile(std::move(*fd), (flags & O_ACCMODE) != O_WRONLY, (flags & O_ACCMODE) != O_RDONLY,
                   handle);
  SendHandle(out, id, handle);
}

void Processor::Impl::Close(uint32_t id, Reader& r, std::string& out) {
  std::string_view hs = r.String();
  if (!Parsed(r, id, out)) {
    return;
  }
  OpenHandle* h = AnyHandle(hs, id, out);
  if (h == nullptr) {
    return;
  }
  int err = CloseHandle(h);
  SendStatus(out, id, ErrnoToStatus(err));
}

void Processor::Impl::Read(uint32_t id, Reader& r, std::string& out) {
  std::string_view hs = r.String();
  uint64_t offset = r.U64();
  uint32_t len = r.U32();
  if (!Parsed(r, id, out)) {
    return;
  }
  OpenHandle* h = FileHandle(hs, id, out);
  if (h == nullptr) {
    return;
  }
  if (!h->readable) {
    SendStatus(out, id, kFxPermissionDenied);
    return;
  }
  if (offset > static_cast<uint64_t>(INT64_MAX)) {
    SendStatus(out, id, kFxBadMessage);
    return;
  }
  len = std::min<uint32_t>(len, kMaxReadLength);
  h->read_any = true;
  if (sender_ != nullptr && ReadSent(h, id, offset, len, out)) {
    return;
  }
  // pread into a buffer that is never zeroed, then copy what came: a read past the end (every
  // download's last requests) or of a small file costs what it returns, not `len`.
  if (!read_buf_) {
    read_buf_.reset(new char[kMaxReadLength]);
  }
  ssize_t n;
  do {
    n = pread(h->fd.get(), read_buf_.get(), len, static_cast<off_t>(offset));
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    SendStatus(out, id, n == 0 ? kFxEof : ErrnoToStatus(errno));
    return;
  }
  PutDataHeader(out, id, static_cast<std::size_t>(n));
  out.append(read_buf_.get(), static_cast<std::size_t>(n));
  CountRead(h, static_cast<std::size_t>(n));
}

bool Processor::Impl::ReadSent(OpenHandle* h, uint32_t id, uint64_t offset, uint32_t len,
                               std::string& out) {
  const int64_t n = sender_->Stage(h->fd.get(), offset, len);
  if (n == -EINVAL) {
    return false;
  }
  if (n <= 0) {
    SendStatus(out, id, n == 0 ? kFxEof : ErrnoToStatus(static_cast<int>(-n)));
    return true;
  }
  PutDataHeader(out, id, static_cast<std::size_t>(n));
  if (!sender_->Send(out)) {
    dead_ = true;
    return true;
  }
  CountRead(h, static_cast<std::size_t>(n));
  return true;
}

void Processor::Impl::CountRead(OpenHandle* h, std::size_t n) {
  h->bytes_read += n;
  stats_.bytes_out += n;
  activity_ = true;
}

void Processor::Impl::PutDataHeader(std::string& out, uint32_t id, std::size_t n) {
  const std::size_t at = out.size();
  out.resize(at + kDataHeader);
  StoreU32(out.data() + at, static_cast<uint32_t>(1 + 4 + 4 + n));
  out[at + 4] = static_cast<char>(kFxpData);
  StoreU32(out.data() + at + 5, id);
  StoreU32(out.data() + at + 9, static_cast<uint32_t>(n));
}

void Processor::Impl::Write(uint32_t id, Reader& r, std::string& out) {
  std::string_view hs = r.String();
  uint64_t offset = r.U64();
  std::string_view data = r.String();
  if (!Parsed(r, id, out)) {
    return;
  }
  OpenHandle* h = FileHandle(hs, id, out);
  if (h == nullptr) {
    return;
  }
  if (!h->writable) {
    SendStatus(out, id, kFxPermissionDenied);
    return;
  }
  if (offset > static_cast<uint64_t>(INT64_MAX) - data.size()) {
    SendStatus(out, id, kFxBadMessage);
    return;
  }
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = pwrite(h->fd.get(), data.data() + done, data.size() - done,
                       static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      int err = errno;
      stats_.bytes_in += done;
      h->bytes_written += done;
      SPDLOG_LOGGER_DEBUG(log_, "{} sftp write failed errno={}", tag_, err);
      SendStatus(out, id, ErrnoToStatus(err));
      return;
    }
    done += static_cast<std::size_t>(n);
  }
  h->bytes_written += done;
  stats_.bytes_in += done;
  activity_ = true;
  SendStatus(out, id, kFxOk);
}

void Processor::Impl::Fstat(uint32_t id, Reader& r, std::string& out) {
  std::string_view hs = r.String();
  if (!Parsed(r, id, out)) {
    return;
  }
  OpenHandle* h = AnyHandle(hs, id, out);
  if (h == nullptr) {
    return;
  }
  auto st = files::AccountRoot::Fstat(h->is_dir ? h->dir->fd() : h->fd.get());
  if (!st) {
    SendError(out, id, st.error(), "fstat");
    return;
  }
  SendAttrs(out, id, *st);
}

void Processor::Impl::Fsetstat(uint32_t id, Reader& r, std::string& out) {
  std::string_view hs = r.String();
  Attrs a = ReadAttrs(r);
  if (!Parsed(r, id, out)) {
    return;
  }
  OpenHandle* h = AnyHandle(hs, id, out);
  if (h == nullptr) {
    return;
  }
  int fd = h->is_dir ? h->dir->fd() : h->fd.get();
  if (a.flags & kAttrUidGid) {
    auto st = files::AccountRoot::Fstat(fd);
    if (!st || st->st_uid != a.uid || st->st_gid != a.gid) {
      SendStatus(out, id, kFxPermissionDenied);  // owners never change
      return;
    }
  }
  Status s = root_->FSetStat(fd, ToSetAttrs(a));
  if (!s) {
    SendError(out, id, s.error(), "fsetstat");
    return;
  }
  SendStatus(out, id, kFxOk);
}

// --- paths ---

void Processor::Impl::Stat(uint32_t id, Reader& r, std::string& out) {
  std::string_view path = r.String();
  if (!Parsed(r, id, out)) {
    return;
  }
  SPDLOG_LOGGER_DEBUG(log_, "{} sftp stat path={}", tag_, LogSafe(path));
  auto st = root_->Stat(path);
  if (!st) {
    SendError(out, id, st.error(), "stat");
    return;
  }
  SendAttrs(out, id, *st);
}

void Processor::Impl::Lstat(uint32_t id, Reader& r, std::string& out) {
  std::string_view path = r.String();
  if (!Parsed(r, id, out)) {
    return;
  }
  SPDLOG_LOGGER_DEBUG(log_, "{} sftp lstat path={}", tag_, LogSafe(path));
  auto st = root_->Lstat(path);
  if (!st) {
    SendError(out, id, st.error(), "lstat");
    return;
  }
  SendAttrs(out, id, *st);
}

void Processor::Impl::Setstat(uint32_t id, Reader& r, std::string& out) {
  std::string_view path = r.String();
  Attrs a = ReadAttrs(r);
  if (!Parsed(r, id, out)) {
    return;
  }
  SPDLOG_LOGGER_DEBUG(log_, "{} sftp setstat flags={:#x} path={}", tag_, a.flags, LogSafe(path));
  if (a.flags & kAttrUidGid) {
    auto st = root_->Stat(path);
    if (!st) {
      SendError(out, id, st.error(), "setstat");
      return;
    }
    if (st->st_uid != a.uid || st->st_gid != a.gid) {
      SendStatus(out, id, kFxPermissionDenied);  // owners never change
      return;
    }
  }
  Status s = root_->SetStat(path, ToSetAttrs(a));
  if (!s) {
    SendError(out, id, s.error(), "setstat");
    return;
  }
  SendStatus(out, id, kFxOk);
}

void Processor::Impl::Opendir(uint32_t id, Reader& r, std::string& out) {
  std::string_view path = r.String();
  if (!Parsed(r, id, out)) {
    return;
  }
  SPDLOG_LOGGER_DEBUG(log_, "{} sftp opendir path={}", tag_, LogSafe(path));
  if (handles_.full()) {
    SendStatus(out, id, kFxFailure);
    return;
  }
  auto dir = root_->OpenDir(path);
  if (!dir) {
    SendError(out, id, dir.error(), "opendir");
    return;
  }
  char handle[kHandleLength];
  handles_.AddDir(std::move(*dir), handle);
  SendHandle(out, id, handle);
}

void Processor::Impl::Readdir(uint32_t id, Reader& r, std::string& out) {
  std::string_view hs = r.String();
  if (!Parsed(r, id, out)) {
    return;
  }
  OpenHandle* h = handles_.Find(hs);
  if (h == nullptr || !h->is_dir) {
    SendStatus(out, id, kFxFailure);
    return;
  }
  const TimePoint now = clock_.Now();
  const std::size_t at = BeginPacket(out, kFxpName);
  PutU32(out, id);
  const std::size_t count_at = out.size();
  PutU32(out, 0);
  uint32_t count = 0;
  while (count < kReaddirBatch) {
    auto e = h->dir->Next();
    if (!e) {
      if (count == 0) {
        out.resize(at);
        SendError(out, id, e.error(), "readdir");
        return;
      }
      break;
    }
    if (!e->has_value()) {
      break;
    }
    const files::DirEntry& d = **e;
    PutString(out, d.name);
    PutLongName(out, d.name, d.st, now);
    PutAttrs(out, d.st);
    ++count;
  }
  if (count == 0) {
    out.resize(at);
    SendStatus(out, id, kFxEof);
    return;
  }
  StoreU32(out.data() + count_at, count);
  EndPacket(out, at);
}

void Processor::Impl::Remove(uint32_t id, Reader& r, std::string& out) {
  std::string_view path = r.String();
  if (!Parsed(r, id, out)) {
    return;
  }
  SPDLOG_LOGGER_DEBUG(log_, "{} sftp remove path={}", tag_, LogSafe(path));
  if (SendDone(out, id, root_->Unlink(path), "remove")) {
    ++stats_.files_removed;
  }
}

void Processor::Impl::Mkdir(uint32_t id, Reader& r, std::string& out) {
  std::string_view path = r.String();
  Attrs a = ReadAttrs(r);
  if (!Parsed(r, id, out)) {
    return;
  }
  SPDLOG_LOGGER_DEBUG(log_, "{} sftp mkdir path={}", tag_, LogSafe(path));
  mode_t mode = (a.flags & kAttrPermissions) ? (a.permissions & 0777) : 0777;
  SendDone(out, id, root_->Mkdir(path, mode), "mkdir");
}

void Processor::Impl::Rmdir(uint32_t id, Reader& r, std::string& out) {
  std::string_view path = r.String();
  if (!Parsed(r, id, out)) {
    return;
  }
  SPDLOG_LOGGER_DEBUG(log_, "{} sftp rmdir path={}", tag_, LogSafe(path));
  SendDone(out, id, root_->Rmdir(path), "rmdir");
}

void Processor::Impl::Realpath(uint32_t id, Reader& r, std::string& out) {
  std::string_view path = r.String();
  if (!Parsed(r, id, out)) {
    return;
  }
  SPDLOG_LOGGER_DEBUG(log_, "{} sftp realpath path={}", tag_, LogSafe(path));
  auto real = root_->RealPath(path);
  if (!real) {
    SendError(out, id, real.error(), "realpath");
    return;
  }
  SendName1(out, id, *real);
}

void Processor::Impl::Rename(uint32_t id, Reader& r, std::string& out) {
  std::string_view from = r.String();
  std::string_view to = r.String();
  if (!Parsed(r, id, out)) {
    return;
  }
  SPDLOG_LOGGER_DEBUG(log_, "{} sftp rename from={} to={}", tag_, LogSafe(from), LogSafe(to));
  SendDone(out, id, root_->Rename(from, to, files::RenameMode::kNoReplace), "rename");
}

void Processor::Impl::Readlink(uint32_t id, Reader& r, std::string& out) {
  std::string_view path = r.String();
  if (!Parsed(r, id, out)) {
    return;
  }
  SPDLOG_LOGGER_DEBUG(log_, "{} sftp readlink path={}", tag_, LogSafe(path));
  auto target = root_->Readlink(path);
  if (!target) {
    SendError(out, id, target.error(), "readlink");
    return;
  }
  SendName1(out, id, *target);
}

void Processor::Impl::Symlink(uint32_t id, Reader& r, std::string& out) {
  // OpenSSH's client sends (target, linkpath), the reverse of the draft; OpenSSH's server and
  // every client written against it read them in this order.
  std::string_view target = r.String();
  std::string_view linkpath = r.String();
  if (!Parsed(r, id, out)) {
    return;
  }
  SPDLOG_LOGGER_DEBUG(log_, "{} sftp symlink link={} target={}", tag_, LogSafe(linkpath),
                      LogSafe(target));
  SendDone(out, id, root_->Symlink(target, linkpath), "symlink");
}

// --- extensions ---

void Processor::Impl::ExtPosixRename(uint32_t id, Reader& r, std::string& out) {
  std::string_view from = r.String();
  std::string_view to = r.String();
  if (!Parsed(r, id, out)) {
    return;
  }
  SPDLOG_LOGGER_DEBUG(log_, "{} sftp posix-rename from={} to={}", tag_, LogSafe(from), LogSafe(to));
  SendDone(out, id, root_->Rename(from, to, files::RenameMode::kReplace), "posix-rename");
}

void Processor::Impl::ExtStatvfs(uint32_t id, Reader& r, std::string& out) {
  std::string_view path = r.String();
  if (!Parsed(r, id, out)) {
    return;
  }
  auto sv = root_->StatVfs(path);
  if (!sv) {
    SendError(out, id, sv.error(), "statvfs");
    return;
  }
  SendStatvfs(out, id, *sv);
}

void Processor::Impl::ExtFstatvfs(uint32_t id, Reader& r, std::string& out) {
  std::string_view hs = r.String();
  if (!Parsed(r, id, out)) {
    return;
  }
  OpenHandle* h = AnyHandle(hs, id, out);
  if (h == nullptr) {
    return;
  }
  auto sv = files::AccountRoot::FStatVfs(h->is_dir ? h->dir->fd() : h->fd.get());
  if (!sv) {
    SendError(out, id, sv.error(), "fstatvfs");
    return;
  }
  SendStatvfs(out, id, *sv);
}

void Processor::Impl::ExtHardlink(uint32_t id, Reader& r, std::string& out) {
  std::string_view existing = r.String();
  std::string_view newpath = r.String();
  if (!Parsed(r, id, out)) {
    return;
  }
  SPDLOG_LOGGER_DEBUG(log_, "{} sftp hardlink existing={} new={}", tag_, LogSafe(existing),
                      LogSafe(newpath));
  SendDone(out, id, root_->Hardlink(existing, newpath), "hardlink");
}

void Processor::Impl::ExtFsync(uint32_t id, Reader& r, std::string& out) {
  std::string_view hs = r.String();
  if (!Parsed(r, id, out)) {
    return;
  }
  OpenHandle* h = FileHandle(hs, id, out);
  if (h == nullptr) {
    return;
  }
  SendStatus(out, id, fsync(h->fd.get()) == 0 ? kFxOk : ErrnoToStatus(errno));
}

void Processor::Impl::ExtLimits(uint32_t id, Reader& r, std::string& out) {
  if (!Parsed(r, id, out)) {
    return;
  }
  std::size_t at = BeginPacket(out, kFxpExtendedReply);
  PutU32(out, id);
  PutU64(out, kMaxPacket);
  PutU64(out, kMaxReadLength);
  PutU64(out, kMaxReadLength);  // max-write-length
  PutU64(out, static_cast<uint64_t>(std::max(limits_.max_handles, 1)));
  EndPacket(out, at);
}

}  // namespace sftplc::sftp
