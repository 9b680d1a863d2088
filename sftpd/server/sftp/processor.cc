#include "sftpd/server/sftp/processor.h"

#include <algorithm>
#include <cstring>

#include "sftpd/server/sftp/processor_impl.h"
#include "sftpd/server/sftp/protocol.h"
#include "sftpd/server/sftp/status.h"

namespace sftplc::sftp {

// The SFTP surface. `writes` marks what a read-only session may not do; OPEN decides from its
// flags. Anything not listed gets SSH_FX_OP_UNSUPPORTED with its request id.
const Processor::Impl::Handler Processor::Impl::kHandlers[] = {
    {"open", kFxpOpen, &Impl::Open, false},
    {"close", kFxpClose, &Impl::Close, false},
    {"read", kFxpRead, &Impl::Read, false},
    {"write", kFxpWrite, &Impl::Write, true},
    {"lstat", kFxpLstat, &Impl::Lstat, false},
    {"fstat", kFxpFstat, &Impl::Fstat, false},
    {"setstat", kFxpSetstat, &Impl::Setstat, true},
    {"fsetstat", kFxpFsetstat, &Impl::Fsetstat, true},
    {"opendir", kFxpOpendir, &Impl::Opendir, false},
    {"readdir", kFxpReaddir, &Impl::Readdir, false},
    {"remove", kFxpRemove, &Impl::Remove, true},
    {"mkdir", kFxpMkdir, &Impl::Mkdir, true},
    {"rmdir", kFxpRmdir, &Impl::Rmdir, true},
    {"realpath", kFxpRealpath, &Impl::Realpath, false},
    {"stat", kFxpStat, &Impl::Stat, false},
    {"rename", kFxpRename, &Impl::Rename, true},
    {"readlink", kFxpReadlink, &Impl::Readlink, false},
    {"symlink", kFxpSymlink, &Impl::Symlink, true},
    {"extended", kFxpExtended, &Impl::Extended, false},  // each extension is gated below
};

const Processor::Impl::ExtHandler Processor::Impl::kExtHandlers[] = {
    {"posix-rename@openssh.com", &Impl::ExtPosixRename, true},
    {"statvfs@openssh.com", &Impl::ExtStatvfs, false},
    {"fstatvfs@openssh.com", &Impl::ExtFstatvfs, false},
    {"hardlink@openssh.com", &Impl::ExtHardlink, true},
    {"fsync@openssh.com", &Impl::ExtFsync, true},
    {"limits@openssh.com", &Impl::ExtLimits, false},
};

namespace {

// Extensions advertised in VERSION (name, version), all implemented by kExtHandlers.
constexpr std::string_view kAdvertised[][2] = {
    {"posix-rename@openssh.com", "1"}, {"statvfs@openssh.com", "2"}, {"fstatvfs@openssh.com", "2"},
    {"hardlink@openssh.com", "1"},     {"fsync@openssh.com", "1"},   {"limits@openssh.com", "1"},
};

constexpr std::size_t kMinPacket = 5;  // type + request id (or INIT's version)

}  // namespace

Processor::Impl::Impl(std::unique_ptr<files::AccountRoot> root, Limits limits, Logger log,
                      std::string tag, const Clock& clock, TransferStats& stats,
                      RequestObserver* observer, DataSender* sender)
    : root_(std::move(root)),
      limits_(limits),
      log_(log ? std::move(log) : GetLogger("sftp")),
      tag_(std::move(tag)),
      clock_(clock),
      stats_(stats),
      observer_(observer),
      sender_(sender),
      handles_(limits.max_handles) {}

Processor::Impl::~Impl() {
  if (observer_ != nullptr && handles_.open_count() > 0) {
    observer_->OnHandlesClosed(static_cast<int>(handles_.open_count()));
  }
}

Status Processor::Impl::CheckLength(uint32_t len) {
  if (len > kMaxPacket) {
    dead_ = true;
    SPDLOG_LOGGER_WARN(log_, "{} sftp frame refused: length too large len={} max={}", tag_, len,
                       kMaxPacket);
    return Error::InvalidArgument(fmt::format("sftp packet length {} exceeds {}", len, kMaxPacket));
  }
  if (len < kMinPacket) {
    dead_ = true;
    SPDLOG_LOGGER_WARN(log_, "{} sftp frame refused: length too small len={}", tag_, len);
    return Error::InvalidArgument(fmt::format("sftp packet length {} is too small", len));
  }
  return {};
}

void Processor::Impl::Compact() {
  if (in_off_ == 0) {
    return;
  }
  if (in_off_ >= in_.size()) {
    in_.clear();
  } else {
    in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(in_off_));
  }
  in_off_ = 0;
}

Status Processor::Impl::OnData(const uint8_t* data, std::size_t len, std::string& out) {
  if (dead_) {
    return Error::InvalidArgument("sftp session already ended by a frame error");
  }
  const std::size_t out_limit = out.size() + limits_.max_output;
  auto take = [&](std::size_t n) {
    n = std::min(n, len);
    in_.insert(in_.end(), data, data + n);
    data += n;
    len -= n;
  };

  // 1. Buffered bytes first: a partial packet (completed from `data`), or packets held back.
  while (in_.size() > in_off_) {
    std::size_t avail = in_.size() - in_off_;
    if (avail < 4) {
      Compact();
      take(4 - avail);
      avail = in_.size() - in_off_;
      if (avail < 4) {
        return {};
      }
    }
    uint32_t plen = LoadU32(in_.data() + in_off_);
    Status s = CheckLength(plen);
    if (!s) {
      return s;
    }
    if (avail < 4 + std::size_t{plen}) {
      Compact();
      take(4 + std::size_t{plen} - avail);
      if (in_.size() - in_off_ < 4 + std::size_t{plen}) {
        return {};
      }
    }
    if (out.size() >= out_limit) {
      Compact();
      take(len);  // held back until the transport has sent `out`
      return {};
    }
    s = HandlePacket(in_.data() + in_off_ + 4, plen, out);
    if (!s) {
      return s;
    }
    in_off_ += 4 + std::size_t{plen};
  }
  in_.clear();
  in_off_ = 0;

  // 2. Whole packets straight from the caller's buffer (no copy).
  Result<std::size_t> used = HandleWhole(data, len, out, out_limit);
  if (!used) {
    return used.error();
  }
  data += *used;
  len -= *used;
  // 3. Keep the rest: a partial packet, or packets held back by backpressure.
  take(len);
  return {};
}

Result<std::size_t> Processor::Impl::HandleWhole(const uint8_t* data, std::size_t len,
                                                 std::string& out, std::size_t out_limit) {
  std::size_t used = 0;
  while (len - used >= 4) {
    uint32_t plen = LoadU32(data + used);
    Status s = CheckLength(plen);
    if (!s) {
      return s.error();
    }
    if (len - used - 4 < plen || out.size() >= out_limit) {
      break;
    }
    s = HandlePacket(data + used + 4, plen, out);
    if (!s) {
      return s.error();
    }
    used += 4 + std::size_t{plen};
  }
  return used;
}

Result<std::size_t> Processor::Impl::Consume(const uint8_t* data, std::size_t len,
                                             std::string& out) {
  if (dead_) {
    return Error::InvalidArgument("sftp session already ended by a frame error");
  }
  if (in_.size() > in_off_) {
    // A caller uses OnData or Consume, never both: bytes OnData holds would come first.
    dead_ = true;
    return Error::InvalidArgument("sftp bytes handed to Consume while OnData holds some");
  }
  return HandleWhole(data, len, out, out.size() + limits_.max_output);
}

bool Processor::Impl::HasPendingRequests() const {
  if (dead_) {
    return false;
  }
  std::size_t avail = in_.size() - in_off_;
  if (avail < 4) {
    return false;
  }
  uint32_t plen = LoadU32(in_.data() + in_off_);
  return plen > kMaxPacket || avail >= 4 + std::size_t{plen};
}

Status Processor::Impl::HandlePacket(const uint8_t* p, std::size_t len, std::string& out) {
  const uint8_t type = p[0];
  Reader r(p + 1, len - 1);
  ++stats_.requests;
  if (!init_done_) {
    if (type != kFxpInit) {
      dead_ = true;
      SPDLOG_LOGGER_WARN(log_, "{} sftp frame refused: packet before INIT type={}", tag_, type);
      return Error::InvalidArgument("sftp packet before INIT");
    }
    [[maybe_unused]] uint32_t version =
        r.U32();  // extension pairs may follow; v3 servers ignore them
    init_done_ = true;
    SPDLOG_LOGGER_DEBUG(log_, "{} sftp init client_version={}", tag_, version);
    std::size_t at = BeginPacket(out, kFxpVersion);
    PutU32(out, kProtocolVersion);
    for (const auto& ext : kAdvertised) {
      PutString(out, ext[0]);
      PutString(out, ext[1]);
    }
    EndPacket(out, at);
    return {};
  }
  if (type == kFxpInit) {
    dead_ = true;
    SPDLOG_LOGGER_WARN(log_, "{} sftp frame refused: second INIT", tag_);
    return Error::InvalidArgument("sftp: duplicate INIT");
  }
  const uint32_t id = r.U32();
  if (observer_ != nullptr) {
    DispatchObserved(type, id, r, out);
  } else {
    Dispatch(type, id, r, out);
  }
  if (dead_) {
    return Error::Unavailable("sftp replies could not be sent");  // sender_ failed
  }
  return {};
}

void Processor::Impl::DispatchObserved(uint8_t type, uint32_t id, Reader& r, std::string& out) {
  const uint64_t in_before = stats_.bytes_in;
  const uint64_t out_before = stats_.bytes_out;
  const std::size_t handles_before = handles_.open_count();
  // Every request gets exactly one reply: a STATUS (its code, from SendStatus) or another type.
  status_ = kFxOk;
  Dispatch(type, id, r, out);
  RequestOutcome o;
  o.type = type;
  o.status = status_;
  o.bytes_in = stats_.bytes_in - in_before;
  o.bytes_out = stats_.bytes_out - out_before;
  o.handles_delta = static_cast<int>(handles_.open_count()) - static_cast<int>(handles_before);
  observer_->OnRequest(o);
}

void Processor::Impl::Dispatch(uint8_t type, uint32_t id, Reader& r, std::string& out) {
  for (const Handler& h : kHandlers) {
    if (h.type != type) {
      continue;
    }
    if (!RequestPermitted(h.writes)) {
      SPDLOG_LOGGER_DEBUG(log_, "{} sftp request refused op={}", tag_, h.name);
      SendStatus(out, id, kFxPermissionDenied);
      return;
    }
    (this->*h.fn)(id, r, out);
    return;
  }
  SPDLOG_LOGGER_DEBUG(log_, "{} sftp unsupported request type={}", tag_, type);
  SendStatus(out, id, kFxOpUnsupported);
}

void Processor::Impl::Extended(uint32_t id, Reader& r, std::string& out) {
  std::string_view name = r.String();
  if (!r.ok()) {
    SendStatus(out, id, kFxBadMessage);
    return;
  }
  for (const ExtHandler& h : kExtHandlers) {
    if (h.name != name) {
      continue;
    }
    if (!RequestPermitted(h.writes)) {
      SPDLOG_LOGGER_DEBUG(log_, "{} sftp request refused op={}", tag_, h.name);
      SendStatus(out, id, kFxPermissionDenied);
      return;
    }
    (this->*h.fn)(id, r, out);
    return;
  }
  SPDLOG_LOGGER_DEBUG(log_, "{} sftp unsupported extension name_len={}", tag_, name.size());
  SendStatus(out, id, kFxOpUnsupported);
}

bool Processor::Impl::RequestPermitted(bool writes) const { return !(writes && limits_.read_only); }

bool Processor::Impl::TakeActivity() { return std::exchange(activity_, false); }

void Processor::Impl::CloseAll() {
  std::vector<OpenHandle*> open = handles_.OpenEntries();
  for (OpenHandle* h : open) {
    CloseHandle(h);
  }
  if (observer_ != nullptr && !open.empty()) {
    observer_->OnHandlesClosed(static_cast<int>(open.size()));
  }
}

std::string_view RequestTypeName(uint8_t type) {
  for (const Processor::Impl::Handler& h : Processor::Impl::kHandlers) {
    if (h.type == type) {
      return h.name;
    }
  }
  return {};
}

Processor::Processor(std::unique_ptr<files::AccountRoot> root, Limits limits, Logger log,
                     std::string tag, const Clock& clock, RequestObserver* observer,
                     DataSender* sender)
    : impl_(std::make_unique<Impl>(std::move(root), limits, std::move(log), std::move(tag), clock,
                                   stats_, observer, sender)) {}

Processor::~Processor() = default;

Status Processor::OnData(const uint8_t* data, std::size_t len, std::string& out) {
  return impl_->OnData(data, len, out);
}

bool Processor::HasPendingRequests() const { return impl_->HasPendingRequests(); }
Result<std::size_t> Processor::Consume(const uint8_t* data, std::size_t len, std::string& out) {
  return impl_->Consume(data, len, out);
}
bool Processor::TakeActivity() { return impl_->TakeActivity(); }
void Processor::CloseAll() { impl_->CloseAll(); }

}  // namespace sftplc::sftp
