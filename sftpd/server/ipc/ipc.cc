#include "sftpd/server/ipc/ipc.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sftpd/core/files/account_root.h"

namespace sftplc::ipc {
namespace {

// Datagram sizes: the type byte plus the fields.
constexpr std::size_t kStartSize = 1 + 4 + 1 + 8;
constexpr std::size_t kReadySize = 1 + 4;
constexpr std::size_t kUsageSize = 1 + 5 * 8 + 1;
constexpr std::size_t kEndSize = 1 + 1;
constexpr std::size_t kRequestsSize = 1 + 1 + 4 + 4 + 8 + 8 + 4;
static_assert(kUsageSize <= kMaxMessage && kRequestsSize <= kMaxMessage);

void Put(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
}

uint64_t Get(const uint8_t*& p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) {
    v = (v << 8) | *p++;
  }
  return v;
}

Result<bool> GetBool(const uint8_t*& p) {
  uint8_t b = *p++;
  if (b > 1) {
    return Error::InvalidArgument("ipc: boolean field not 0 or 1");
  }
  return b == 1;
}

struct Encoder {
  std::string out;
  void operator()(const Start& m) {
    out.push_back(static_cast<char>(MessageType::kStart));
    Put(out, m.max_handles, 4);
    Put(out, m.read_only ? 1 : 0, 1);
    Put(out, m.connection, 8);
  }
  void operator()(const Ready& m) {
    out.push_back(static_cast<char>(MessageType::kReady));
    Put(out, m.landlock_abi, 4);
  }
  void operator()(const Usage& m) {
    out.push_back(static_cast<char>(MessageType::kUsage));
    const usage::Counters& c = m.counters;
    for (uint64_t v :
         {c.bytes_in, c.bytes_out, c.files_uploaded, c.files_downloaded, c.files_removed}) {
      Put(out, v, 8);
    }
    Put(out, m.activity ? 1 : 0, 1);
  }
  void operator()(const End& m) {
    out.push_back(static_cast<char>(MessageType::kEnd));
    Put(out, static_cast<uint8_t>(m.reason), 1);
  }
  void operator()(const Requests& m) {
    const sftp::RequestOutcome& o = m.outcome;
    out.push_back(static_cast<char>(MessageType::kRequests));
    Put(out, o.type, 1);
    Put(out, o.status, 4);
    Put(out, o.count, 4);
    Put(out, o.bytes_in, 8);
    Put(out, o.bytes_out, 8);
    Put(out, static_cast<uint32_t>(static_cast<int32_t>(o.handles_delta)), 4);
  }
};

}  // namespace

std::string Encode(const Message& m) {
  Encoder e;
  std::visit(e, m);
  return std::move(e.out);
}

Result<Message> Decode(const uint8_t* data, std::size_t len) {
  // Frame first: a known type and exactly its size.
  if (len == 0 || len > kMaxMessage) {
    return Error::InvalidArgument("ipc: message length out of range");
  }
  std::size_t want = 0;
  switch (static_cast<MessageType>(data[0])) {
    case MessageType::kStart:
      want = kStartSize;
      break;
    case MessageType::kReady:
      want = kReadySize;
      break;
    case MessageType::kUsage:
      want = kUsageSize;
      break;
    case MessageType::kEnd:
      want = kEndSize;
      break;
    case MessageType::kRequests:
      want = kRequestsSize;
      break;
    default:
      return Error::InvalidArgument("ipc: unknown message type");
  }
  if (len != want) {
    return Error::InvalidArgument("ipc: message length does not match its type");
  }
  const uint8_t* p = data + 1;
  switch (static_cast<MessageType>(data[0])) {
    case MessageType::kStart: {
      Start s;
      s.max_handles = static_cast<uint32_t>(Get(p, 4));
      auto ro = GetBool(p);
      if (!ro) {
        return ro.error();
      }
      s.read_only = *ro;
      s.connection = Get(p, 8);
      if (s.max_handles == 0 || s.max_handles > kMaxHandles) {
        return Error::InvalidArgument("ipc: max_handles out of range");
      }
      return Message(s);
    }
    case MessageType::kReady: {
      Ready r;
      r.landlock_abi = static_cast<uint32_t>(Get(p, 4));
      return Message(r);
    }
    case MessageType::kUsage: {
      Usage u;
      u.counters.bytes_in = Get(p, 8);
      u.counters.bytes_out = Get(p, 8);
      u.counters.files_uploaded = Get(p, 8);
      u.counters.files_downloaded = Get(p, 8);
      u.counters.files_removed = Get(p, 8);
      auto act = GetBool(p);
      if (!act) {
        return act.error();
      }
      u.activity = *act;
      return Message(u);
    }
    case MessageType::kEnd: {
      uint8_t r = *p;
      if (r < static_cast<uint8_t>(EndReason::kClosed) ||
          r > static_cast<uint8_t>(EndReason::kError)) {
        return Error::InvalidArgument("ipc: unknown end reason");
      }
      return Message(End{static_cast<EndReason>(r)});
    }
    case MessageType::kRequests: {
      Requests q;
      sftp::RequestOutcome& o = q.outcome;
      o.type = static_cast<uint8_t>(Get(p, 1));
      o.status = static_cast<uint32_t>(Get(p, 4));
      o.count = static_cast<uint32_t>(Get(p, 4));
      o.bytes_in = Get(p, 8);
      o.bytes_out = Get(p, 8);
      o.handles_delta = static_cast<int32_t>(static_cast<uint32_t>(Get(p, 4)));
      if (o.count == 0) {
        return Error::InvalidArgument("ipc: a request tally of 0");
      }
      return Message(q);
    }
  }
  return Error::InvalidArgument("ipc: unknown message type");
}

Status Send(int sock, const Message& m, int pass_fd) {
  std::string bytes = Encode(m);
  if (pass_fd < 0) {
    // write(2): the confined worker may not call sendmsg.
    ssize_t n;
    do {
      n = write(sock, bytes.data(), bytes.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      return files::SysError(errno, "ipc send");
    }
    if (static_cast<std::size_t>(n) != bytes.size()) {
      return Error::Unavailable("ipc send: short datagram");
    }
    return {};
  }
  iovec iov{bytes.data(), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (pass_fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
  }
  ssize_t n;
  do {
    n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    return files::SysError(errno, "ipc send");
  }
  if (static_cast<std::size_t>(n) != bytes.size()) {
    return Error::Unavailable("ipc send: short datagram");
  }
  return {};
}

Result<std::optional<Received>> Receive(int sock, bool block) {
  uint8_t buf[kMaxMessage + 1];
  iovec iov{buf, sizeof(buf)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | (block ? 0 : MSG_DONTWAIT));
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return std::optional<Received>();
    }
    return files::SysError(errno, "ipc receive");
  }
  // Take ownership of whatever descriptors came, before any check can return.
  Received r;
  int extra = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
      continue;
    }
    std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      if (r.fd < 0) {
        r.fd = fd;
      } else {
        close(fd);
        ++extra;
      }
    }
  }
  auto fail = [&](std::string why) -> Result<std::optional<Received>> {
    if (r.fd >= 0) {
      close(r.fd);
    }
    return Error::InvalidArgument(std::move(why));
  };
  if (n == 0) {
    if (r.fd >= 0) {
      close(r.fd);
    }
    return Error::NotFound("ipc: peer closed");
  }
  if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 || extra > 0) {
    return fail("ipc: truncated message or too many descriptors");
  }
  auto m = Decode(buf, static_cast<std::size_t>(n));
  if (!m) {
    return fail(m.error().message());
  }
  r.message = *m;
  return std::optional<Received>(r);
}

Status WorkerGuard::Accept(const Message& m, uint64_t relayed_in) {
  if (state_ == State::kEnded) {
    return Error::InvalidArgument("ipc: message after End");
  }
  if (std::holds_alternative<Start>(m)) {
    return Error::InvalidArgument("ipc: Start from the worker");
  }
  if (const auto* r = std::get_if<Ready>(&m)) {
    if (state_ != State::kStarting) {
      return Error::InvalidArgument("ipc: second Ready");
    }
    landlock_abi_ = r->landlock_abi;
    state_ = State::kServing;
    return {};
  }
  if (state_ != State::kServing) {
    return Error::InvalidArgument("ipc: message before Ready");
  }
  if (const auto* u = std::get_if<Usage>(&m)) {
    const usage::Counters& n = u->counters;
    const usage::Counters& o = counters_;
    if (n.bytes_in < o.bytes_in || n.bytes_out < o.bytes_out ||
        n.files_uploaded < o.files_uploaded || n.files_downloaded < o.files_downloaded ||
        n.files_removed < o.files_removed) {
      return Error::InvalidArgument("ipc: usage counters went down");
    }
    if (n.bytes_in > relayed_in) {
      return Error::InvalidArgument("ipc: usage claims more bytes than the client sent");
    }
    if (handles_open_ < 0 || handles_open_ > static_cast<int64_t>(max_handles_)) {
      return Error::InvalidArgument("ipc: request tallies leave handles out of range");
    }
    counters_ = n;
    activity_ = activity_ || u->activity;
    return {};
  }
  if (const auto* q = std::get_if<Requests>(&m)) {
    const sftp::RequestOutcome& o = q->outcome;
    // No wrap: requests_ stays below 2^64 / 9 and count below 2^32; bytes_in's wrap is caught.
    const uint64_t requests = requests_ + o.count;
    const uint64_t bytes_in = request_bytes_in_ + o.bytes_in;
    if (requests > relayed_in / kMinRequestBytes || bytes_in < request_bytes_in_ ||
        bytes_in > relayed_in) {
      return Error::InvalidArgument("ipc: request tally larger than what the client sent");
    }
    // A request opens or closes at most one handle. The tallies of one report come in any
    // order (a CLOSE's before the OPENDIR's), so the total is checked at the Usage after them.
    if (o.handles_delta > static_cast<int64_t>(o.count) ||
        -static_cast<int64_t>(o.handles_delta) > static_cast<int64_t>(o.count)) {
      return Error::InvalidArgument("ipc: request tally opens or closes too many handles");
    }
    requests_ = requests;
    request_bytes_in_ = bytes_in;
    handles_open_ += o.handles_delta;
    return {};
  }
  end_ = std::get<End>(m).reason;
  state_ = State::kEnded;
  return {};
}

bool WorkerGuard::TakeActivity() { return std::exchange(activity_, false); }

}  // namespace sftplc::ipc
