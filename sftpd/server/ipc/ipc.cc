#include "sftpd/server/ipc/ipc.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "sftpd/core/files/account_root.h"

namespace sftplc::ipc {
namespace {

void Put(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
}

void PutString(std::string& out, const std::string& s) {
  Put(out, s.size(), 4);
  out.append(s);
}

// Reads the fields of one datagram; every read checks what is left. The first failure sticks.
class Reader {
 public:
  Reader(const uint8_t* p, std::size_t len) : p_(p), left_(len) {}

  uint64_t Int(int bytes) {
    if (!ok_ || left_ < static_cast<std::size_t>(bytes)) {
      return Fail("ipc: message shorter than its fields");
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) {
      v = (v << 8) | *p_++;
    }
    left_ -= static_cast<std::size_t>(bytes);
    return v;
  }
  bool Bool() {
    uint64_t b = Int(1);
    if (b > 1) {
      Fail("ipc: boolean field not 0 or 1");
    }
    return b == 1;
  }
  std::string String(std::size_t max) {
    uint64_t n = Int(4);
    if (!ok_) {
      return {};
    }
    if (n > max || n > left_) {
      Fail("ipc: string longer than its bound or the message");
      return {};
    }
    std::string s(reinterpret_cast<const char*>(p_), static_cast<std::size_t>(n));
    p_ += n;
    left_ -= static_cast<std::size_t>(n);
    return s;
  }
  // A field's value out of its range.
  uint64_t Fail(const char* why) {
    if (ok_) {
      ok_ = false;
      why_ = why;
    }
    return 0;
  }
  // The result: every field read, nothing left over.
  Status Done() {
    if (ok_ && left_ != 0) {
      Fail("ipc: message length does not match its type");
    }
    return ok_ ? Status() : Status(Error::InvalidArgument(why_));
  }

 private:
  const uint8_t* p_;
  std::size_t left_;
  bool ok_ = true;
  const char* why_ = "";
};

struct Encoder {
  std::string out;
  void Type(MessageType t) { out.push_back(static_cast<char>(t)); }
  void operator()(const Start& m) {
    Type(MessageType::kStart);
    Put(out, m.max_handles, 4);
    Put(out, m.read_only ? 1 : 0, 1);
    Put(out, m.connection, 8);
  }
  void operator()(const Ready& m) {
    Type(MessageType::kReady);
    Put(out, m.landlock_abi, 4);
  }
  void operator()(const Usage& m) {
    Type(MessageType::kUsage);
    const usage::Counters& c = m.counters;
    for (uint64_t v :
         {c.bytes_in, c.bytes_out, c.files_uploaded, c.files_downloaded, c.files_removed}) {
      Put(out, v, 8);
    }
    Put(out, m.activity ? 1 : 0, 1);
  }
  void operator()(const End& m) {
    Type(MessageType::kEnd);
    Put(out, static_cast<uint8_t>(m.reason), 1);
  }
  void operator()(const Requests& m) {
    const sftp::RequestOutcome& o = m.outcome;
    Type(MessageType::kRequests);
    Put(out, o.type, 1);
    Put(out, o.status, 4);
    Put(out, o.count, 4);
    Put(out, o.bytes_in, 8);
    Put(out, o.bytes_out, 8);
    Put(out, static_cast<uint32_t>(static_cast<int32_t>(o.handles_delta)), 4);
  }
  void operator()(const Hello& m) {
    Type(MessageType::kHello);
    Put(out, m.connection, 8);
    for (uint32_t v : {m.login_grace_ms, m.idle_timeout_s, m.write_timeout_s, m.max_auth_tries}) {
      Put(out, v, 4);
    }
    for (const std::string* s : {&m.kex, &m.ciphers, &m.macs, &m.hostkey_algorithms}) {
      PutString(out, *s);
    }
    Put(out, m.host_keys.size(), 1);
    for (const std::string& k : m.host_keys) {
      PutString(out, k);
    }
  }
  void operator()(const AuthAnswer& m) {
    Type(MessageType::kAuthAnswer);
    Put(out, static_cast<uint8_t>(m.outcome), 1);
  }
  void operator()(const SftpAnswer& m) {
    Type(MessageType::kSftpAnswer);
    Put(out, m.opened ? 1 : 0, 1);
  }
  void operator()(const Stop& m) {
    Type(MessageType::kStop);
    Put(out, static_cast<uint8_t>(m.reason), 1);
  }
  void operator()(const Password& m) {
    Type(MessageType::kPassword);
    PutString(out, m.user);
    PutString(out, m.password);
    PutString(out, m.client_version);
  }
  void operator()(const PublicKey& m) {
    Type(MessageType::kPublicKey);
    PutString(out, m.user);
    PutString(out, m.key_type);
    PutString(out, m.key_base64);
    Put(out, m.verified ? 1 : 0, 1);
    PutString(out, m.client_version);
  }
  void operator()(const OpenSftp&) { Type(MessageType::kOpenSftp); }
  void operator()(const Relayed& m) {
    Type(MessageType::kRelayed);
    Put(out, m.bytes_in, 8);
  }
  void operator()(const Bye& m) {
    Type(MessageType::kBye);
    Put(out, static_cast<uint8_t>(m.reason), 1);
  }
};

// An enum field: a byte in [lo, hi].
template <typename E>
E EnumField(Reader& r, E lo, E hi, const char* why) {
  auto v = static_cast<uint8_t>(r.Int(1));
  if (v < static_cast<uint8_t>(lo) || v > static_cast<uint8_t>(hi)) {
    r.Fail(why);
    return lo;
  }
  return static_cast<E>(v);
}

uint32_t RangeField(Reader& r, uint32_t lo, uint32_t hi, const char* why) {
  auto v = static_cast<uint32_t>(r.Int(4));
  if (v < lo || v > hi) {
    r.Fail(why);
  }
  return v;
}

Message DecodeFields(MessageType type, Reader& r) {
  switch (type) {
    case MessageType::kStart: {
      Start s;
      s.max_handles = RangeField(r, 1, kMaxHandles, "ipc: max_handles out of range");
      s.read_only = r.Bool();
      s.connection = r.Int(8);
      return s;
    }
    case MessageType::kReady:
      return Ready{static_cast<uint32_t>(r.Int(4))};
    case MessageType::kUsage: {
      Usage u;
      u.counters.bytes_in = r.Int(8);
      u.counters.bytes_out = r.Int(8);
      u.counters.files_uploaded = r.Int(8);
      u.counters.files_downloaded = r.Int(8);
      u.counters.files_removed = r.Int(8);
      u.activity = r.Bool();
      return u;
    }
    case MessageType::kEnd:
      return End{EnumField(r, EndReason::kClosed, EndReason::kError, "ipc: unknown end reason")};
    case MessageType::kRequests: {
      Requests q;
      sftp::RequestOutcome& o = q.outcome;
      o.type = static_cast<uint8_t>(r.Int(1));
      o.status = static_cast<uint32_t>(r.Int(4));
      o.count = RangeField(r, 1, UINT32_MAX, "ipc: a request tally of 0");
      o.bytes_in = r.Int(8);
      o.bytes_out = r.Int(8);
      o.handles_delta = static_cast<int32_t>(static_cast<uint32_t>(r.Int(4)));
      return q;
    }
    case MessageType::kHello: {
      Hello h;
      h.connection = r.Int(8);
      h.login_grace_ms = RangeField(r, 1, kMaxTimeout, "ipc: login grace out of range");
      h.idle_timeout_s = RangeField(r, 1, kMaxTimeout, "ipc: idle timeout out of range");
      h.write_timeout_s = RangeField(r, 1, kMaxTimeout, "ipc: write timeout out of range");
      h.max_auth_tries = RangeField(r, 1, kMaxAuthTries, "ipc: max_auth_tries out of range");
      for (std::string* s : {&h.kex, &h.ciphers, &h.macs, &h.hostkey_algorithms}) {
        *s = r.String(kMaxAlgorithms);
      }
      auto keys = r.Int(1);
      if (keys == 0 || keys > kMaxHostKeys) {
        r.Fail("ipc: host key count out of range");
        keys = 0;
      }
      for (uint64_t i = 0; i < keys; ++i) {
        h.host_keys.push_back(r.String(kMaxHostKey));
      }
      return h;
    }
    case MessageType::kAuthAnswer:
      return AuthAnswer{
          EnumField(r, AuthOutcome::kAccepted, AuthOutcome::kBanned, "ipc: unknown login outcome")};
    case MessageType::kSftpAnswer:
      return SftpAnswer{r.Bool()};
    case MessageType::kStop:
      return Stop{
          EnumField(r, StopReason::kShutdown, StopReason::kRevoked, "ipc: unknown stop reason")};
    case MessageType::kPassword: {
      Password p;
      p.user = r.String(kMaxUser);
      p.password = r.String(kMaxPassword);
      p.client_version = r.String(kMaxClientVersion);
      return p;
    }
    case MessageType::kPublicKey: {
      PublicKey k;
      k.user = r.String(kMaxUser);
      k.key_type = r.String(kMaxKeyType);
      k.key_base64 = r.String(kMaxKeyBase64);
      k.verified = r.Bool();
      k.client_version = r.String(kMaxClientVersion);
      return k;
    }
    case MessageType::kOpenSftp:
      return OpenSftp{};
    case MessageType::kRelayed:
      return Relayed{r.Int(8)};
    case MessageType::kBye:
      return Bye{EnumField(r, ByeReason::kClosed, ByeReason::kStopped, "ipc: unknown bye reason")};
  }
  r.Fail("ipc: unknown message type");
  return End{};
}

bool KnownType(uint8_t t) {
  return (t >= static_cast<uint8_t>(MessageType::kStart) &&
          t <= static_cast<uint8_t>(MessageType::kRequests)) ||
         (t >= static_cast<uint8_t>(MessageType::kHello) &&
          t <= static_cast<uint8_t>(MessageType::kStop)) ||
         (t >= static_cast<uint8_t>(MessageType::kPassword) &&
          t <= static_cast<uint8_t>(MessageType::kBye));
}

}  // namespace

const char* ByeReasonName(ByeReason r) {
  switch (r) {
    case ByeReason::kClosed:
      return "closed";
    case ByeReason::kIdleTimeout:
      return "idle_timeout";
    case ByeReason::kLoginTimeout:
      return "login_timeout";
    case ByeReason::kWindowExceeded:
      return "window_exceeded";
    case ByeReason::kAuthFailed:
      return "auth_failed";
    case ByeReason::kError:
      return "error";
    case ByeReason::kWorkerGone:
      return "closed";
    case ByeReason::kStopped:
      return "shutdown";
  }
  return "error";
}

std::string Encode(const Message& m) {
  Encoder e;
  std::visit(e, m);
  return std::move(e.out);
}

Result<Message> Decode(const uint8_t* data, std::size_t len) {
  // Frame first: a length in range and a known type; then the fields, each bounded.
  if (len == 0 || len > kMaxMessage) {
    return Error::InvalidArgument("ipc: message length out of range");
  }
  if (!KnownType(data[0])) {
    return Error::InvalidArgument("ipc: unknown message type");
  }
  Reader r(data + 1, len - 1);
  Message m = DecodeFields(static_cast<MessageType>(data[0]), r);
  if (Status st = r.Done(); !st) {
    return st.error();
  }
  return m;
}

Status Send(int sock, const Message& m, int pass_fd) {
  std::string bytes = Encode(m);
  if (pass_fd < 0) {
    // send(2), not sendmsg: the confined processes may not call sendmsg. MSG_NOSIGNAL: a peer
    // that is gone is an error, not a SIGPIPE.
    ssize_t n;
    do {
      n = send(sock, bytes.data(), bytes.size(), MSG_NOSIGNAL);
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
  // One more byte than the largest message: a longer one shows as MSG_TRUNC.
  thread_local std::unique_ptr<uint8_t[]> buf(new uint8_t[kMaxMessage + 1]);
  iovec iov{buf.get(), kMaxMessage + 1};
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
    if (errno == ECONNRESET) {
      // The peer died with messages of ours unread: gone, like a close.
      return Error::NotFound("ipc: peer gone");
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
  auto m = Decode(buf.get(), static_cast<std::size_t>(n));
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
  if (!std::holds_alternative<Ready>(m) && !std::holds_alternative<Usage>(m) &&
      !std::holds_alternative<Requests>(m) && !std::holds_alternative<End>(m)) {
    return Error::InvalidArgument("ipc: a message the worker does not send");
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

Status TransportGuard::Accept(const Message& m) {
  if (state_ == State::kEnded) {
    return Error::InvalidArgument("ipc: message after Bye");
  }
  if (const auto* b = std::get_if<Bye>(&m)) {
    bye_ = b->reason;
    state_ = State::kEnded;
    return {};
  }
  if (std::holds_alternative<Password>(m) || std::holds_alternative<PublicKey>(m)) {
    if (state_ != State::kAuthenticating) {
      return Error::InvalidArgument("ipc: a login attempt after the login");
    }
    if (failures_ >= static_cast<int>(max_auth_tries_)) {
      return Error::InvalidArgument("ipc: a login attempt after max_auth_tries failures");
    }
    return {};
  }
  if (std::holds_alternative<OpenSftp>(m)) {
    if (state_ != State::kLoggedIn || sftp_asked_) {
      return Error::InvalidArgument("ipc: sftp asked for before the login or twice");
    }
    sftp_asked_ = true;
    return {};
  }
  if (const auto* r = std::get_if<Relayed>(&m)) {
    if (state_ != State::kServing) {
      return Error::InvalidArgument("ipc: Relayed before sftp is served");
    }
    if (r->bytes_in < relayed_in_) {
      return Error::InvalidArgument("ipc: relayed bytes went down");
    }
    relayed_in_ = r->bytes_in;
    return {};
  }
  return Error::InvalidArgument("ipc: a message the transport does not send");
}

void TransportGuard::Decided(AuthOutcome outcome, bool logs_in) {
  if (outcome != AuthOutcome::kAccepted) {
    ++failures_;
  } else if (logs_in) {
    state_ = State::kLoggedIn;
  }
}

void TransportGuard::Serving() {
  if (state_ == State::kLoggedIn && sftp_asked_) {
    state_ = State::kServing;
  }
}

}  // namespace sftplc::ipc
