#pragma once

// The messages between the monitor (sftpd) and the two processes it starts for a connection
// (docs/architecture.md, "Process model"): the transport (sftpd-session, libssh, one per
// connection) and the SFTP worker (sftpd-sftp, one per "sftp" channel, spawned after the login).
//
// Transport: a SOCK_SEQPACKET socketpair per process, one message per datagram, so a frame is
// never split or merged. A message is one type byte followed by the big-endian fields of that
// type and nothing else: fixed-size integers, and strings as a u32 length and that many bytes,
// each string with its own upper bound. Decode() checks the frame first (at most kMaxMessage,
// the type known, the fixed part present) and then each field: a string longer than its bound
// or than what is left, a boolean other than 0/1, a value out of range, or a byte left over is
// refused. There is one parser (Decode) for every direction.
//
// With the SFTP worker:
//   monitor -> worker   Start  {max_handles u32, read_only u8, connection u64} + the account
//                              root as an O_PATH directory descriptor (SCM_RIGHTS), once
//   worker -> monitor   Ready  {landlock_abi u32}: confined, now serving the data socket
//                       Usage  {bytes_in, bytes_out, files_uploaded, files_downloaded,
//                               files_removed u64, activity u8}: totals so far
//                       Requests {type u8, status u32, count u32, bytes_in u64,
//                               bytes_out u64, handles_delta i32}: `count` more SFTP requests of
//                               `type` answered with `status` since the last report, for the
//                               metrics (sftpd/server/metrics.h)
//                       End    {reason u8}: the worker is about to exit
//
// With the transport:
//   monitor -> transport  Hello  {connection u64, login_grace_ms, idle_timeout_s,
//                                 write_timeout_s, max_auth_tries u32, kex, ciphers, macs,
//                                 hostkey_algorithms str, host_keys str...}: once, first; the
//                                 host keys are the private keys (OpenSSH format) it serves
//                         AuthAnswer {outcome u8}: the answer to Password or PublicKey
//                         SftpAnswer {opened u8} + the worker's data socket when opened
//                         Stop   {reason u8}: end the connection now (shutdown, revoked)
//   transport -> monitor  Password  {user, password, client_version str}
//                         PublicKey {user, key_type, key_base64 str, verified u8,
//                                    client_version str}: verified 0 is the client's probe
//                         OpenSftp  {}: the client asked for the "sftp" subsystem
//                         Relayed   {bytes_in u64}: a bound of the client bytes handed to
//                                   the worker, announced before they are written to the
//                                   data socket (4 MiB ahead: one message per 4 MiB)
//                         Bye       {reason u8}: the transport is about to exit
//
// The monitor treats both processes as hostile. WorkerGuard accepts only what the worker's state
// allows (Ready once and first; Usage and End only after Ready; nothing after End), counters
// that never go down and never claim more uploaded bytes than the transport handed to it, and
// request tallies no larger than the bytes relayed can carry (an SFTP request is at least 9
// bytes), each opening or closing at most one handle per request, and at each Usage (which
// follows the tallies of its report) between none and max_handles handles open. A worker carries
// no account id at all: whatever it reports is booked on the session's own account.
// TransportGuard accepts only what the transport's state allows: login attempts until one
// succeeds and at most max_auth_tries failures, OpenSftp once and only after the login, Relayed
// only while serving and never going down, nothing after Bye. Any refusal ends the connection
// and kills its processes.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "sftpd/core/base/result.h"
#include "sftpd/core/usage/counters.h"
#include "sftpd/server/sftp/request_observer.h"

namespace sftplc::ipc {

// The largest datagram (a Hello with four RSA host keys fits).
inline constexpr std::size_t kMaxMessage = 64 * 1024;
// Bounds of Start.max_handles (the config's server.max_handles_per_session range).
inline constexpr uint32_t kMaxHandles = 65536;
// Bounds of the transport's strings. A client's field over its bound never reaches the monitor:
// the transport sends the attempt with every string empty (a failure like any other).
inline constexpr std::size_t kMaxUser = 1024;
inline constexpr std::size_t kMaxPassword = 1024;      // auth::kMaxPasswordInput
inline constexpr std::size_t kMaxClientVersion = 255;  // RFC 4253 4.2
inline constexpr std::size_t kMaxKeyType = 64;
inline constexpr std::size_t kMaxKeyBase64 = 16 * 1024;
inline constexpr std::size_t kMaxAlgorithms = 1024;
inline constexpr std::size_t kMaxHostKey = 12 * 1024;
inline constexpr std::size_t kMaxHostKeys = 4;

enum class MessageType : uint8_t {
  kStart = 1,
  kReady = 2,
  kUsage = 3,
  kEnd = 4,
  kRequests = 5,
  kHello = 16,
  kAuthAnswer = 17,
  kSftpAnswer = 18,
  kStop = 19,
  kPassword = 24,
  kPublicKey = 25,
  kOpenSftp = 26,
  kRelayed = 27,
  kBye = 28,
};
// The smallest SFTP request (length, type and id: INIT and a few more are no longer).
inline constexpr uint64_t kMinRequestBytes = 9;

// Why a worker ends (End.reason).
enum class EndReason : uint8_t {
  kClosed = 1,         // the monitor closed the data socket (client gone, session ended)
  kProtocolError = 2,  // the client broke the SFTP framing
  kError = 3,          // the worker failed (a write to the data socket, ...)
};

struct Start {
  uint32_t max_handles = 0;  // 1..kMaxHandles
  bool read_only = false;
  uint64_t connection = 0;  // the session's number: log lines are tagged "[c<connection>]"
  friend bool operator==(const Start&, const Start&) = default;
};
struct Ready {
  uint32_t landlock_abi = 0;  // 0: the kernel has no Landlock
  friend bool operator==(const Ready&, const Ready&) = default;
};
struct Usage {
  usage::Counters counters;
  bool activity = false;  // a transfer happened since the previous Usage
  friend bool operator==(const Usage&, const Usage&) = default;
};
struct Requests {
  sftp::RequestOutcome outcome;  // `count` requests of one type and status, summed
  friend bool operator==(const Requests& a, const Requests& b) {
    const sftp::RequestOutcome& x = a.outcome;
    const sftp::RequestOutcome& y = b.outcome;
    return x.type == y.type && x.status == y.status && x.count == y.count &&
           x.bytes_in == y.bytes_in && x.bytes_out == y.bytes_out &&
           x.handles_delta == y.handles_delta;
  }
};
struct End {
  EndReason reason = EndReason::kClosed;
  friend bool operator==(const End&, const End&) = default;
};

struct Hello {
  uint64_t connection = 0;       // log lines are tagged "[c<connection>]"
  uint32_t login_grace_ms = 0;   // 1..kMaxTimeout from connect to the sftp subsystem
  uint32_t idle_timeout_s = 0;   // 1..kMaxTimeout
  uint32_t write_timeout_s = 0;  // 1..kMaxTimeout
  uint32_t max_auth_tries = 0;   // 1..kMaxAuthTries
  std::string kex, ciphers, macs, hostkey_algorithms;  // empty: libssh's defaults
  std::vector<std::string> host_keys;                  // 1..kMaxHostKeys
  friend bool operator==(const Hello&, const Hello&) = default;
};
inline constexpr uint32_t kMaxTimeout = 7 * 24 * 3600 * 1000U;
inline constexpr uint32_t kMaxAuthTries = 100;

enum class AuthOutcome : uint8_t { kAccepted = 1, kRejected = 2, kBanned = 3 };
struct AuthAnswer {
  AuthOutcome outcome = AuthOutcome::kRejected;
  friend bool operator==(const AuthAnswer&, const AuthAnswer&) = default;
};
struct SftpAnswer {
  bool opened = false;  // with the worker's data socket
  friend bool operator==(const SftpAnswer&, const SftpAnswer&) = default;
};
enum class StopReason : uint8_t { kShutdown = 1, kRevoked = 2 };
struct Stop {
  StopReason reason = StopReason::kShutdown;
  friend bool operator==(const Stop&, const Stop&) = default;
};
struct Password {
  std::string user, password, client_version;
  friend bool operator==(const Password&, const Password&) = default;
};
struct PublicKey {
  std::string user, key_type, key_base64;
  bool verified = false;  // false: the probe, before the client signs
  std::string client_version;
  friend bool operator==(const PublicKey&, const PublicKey&) = default;
};
struct OpenSftp {
  friend bool operator==(const OpenSftp&, const OpenSftp&) = default;
};
struct Relayed {
  uint64_t bytes_in = 0;
  friend bool operator==(const Relayed&, const Relayed&) = default;
};
// Why a transport ends (Bye.reason); the monitor records it as the session's end reason unless
// it knows better (the worker crashed, the login was revoked).
enum class ByeReason : uint8_t {
  kClosed = 1,          // the client closed the connection
  kIdleTimeout = 2,     // no request for server.idle_timeout
  kLoginTimeout = 3,    // no sftp subsystem within server.login_grace_time
  kWindowExceeded = 4,  // the client sent past the window it was granted
  kAuthFailed = 5,      // too many failures, or banned
  kError = 6,           // the key exchange, a write, the relay failed
  kWorkerGone = 7,      // the SFTP worker closed its data socket
  kStopped = 8,         // Stop received
};
struct Bye {
  ByeReason reason = ByeReason::kClosed;
  friend bool operator==(const Bye&, const Bye&) = default;
};

using Message = std::variant<Start, Ready, Usage, End, Requests, Hello, AuthAnswer, SftpAnswer,
                             Stop, Password, PublicKey, OpenSftp, Relayed, Bye>;

// The end reason recorded for a Bye reason ("closed", "idle_timeout", ...).
const char* ByeReasonName(ByeReason r);

// The bytes of one datagram.
std::string Encode(const Message& m);
// The one parser. kInvalidArgument for an unknown type, a length that does not match the
// type's fields, a string over its bound, a boolean other than 0/1, a value out of range (see
// each field), an unknown reason or outcome, or a Requests with a count of 0.
Result<Message> Decode(const uint8_t* data, std::size_t len);

// Sends `m` as one datagram, with `pass_fd` attached (SCM_RIGHTS, sendmsg) when >= 0, else with
// send(2) (the confined processes may not call sendmsg). Never raises SIGPIPE. kUnavailable
// (with errno) when the peer is gone.
Status Send(int sock, const Message& m, int pass_fd = -1);

struct Received {
  Message message;
  int fd = -1;  // a descriptor that came with it (the caller owns it), else -1
};
// Receives one datagram (MSG_DONTWAIT unless `block`). nullopt: nothing there (EAGAIN).
// kNotFound: the peer closed its end (or died with messages unread). kInvalidArgument: a truncated
// datagram or control data, more than one descriptor, or Decode() refused it (a descriptor that
// came along is closed).
Result<std::optional<Received>> Receive(int sock, bool block);

// The monitor's side of the conversation with one worker (see the file comment).
class WorkerGuard {
 public:
  enum class State { kStarting, kServing, kEnded };

  // `max_handles`: what the worker was started with (Start.max_handles).
  explicit WorkerGuard(uint32_t max_handles = kMaxHandles) : max_handles_(max_handles) {}

  // Checks `m` against the state and applies it. `relayed_in` is how many client bytes the
  // monitor has written to this worker so far (an upper bound of Usage.bytes_in). An Error
  // means the worker broke the protocol: end the session and kill the worker.
  Status Accept(const Message& m, uint64_t relayed_in);

  State state() const { return state_; }
  uint32_t landlock_abi() const { return landlock_abi_; }
  const usage::Counters& counters() const { return counters_; }
  // True if a Usage since the last call reported activity; resets the flag.
  bool TakeActivity();
  // The reason of the End received, if any.
  std::optional<EndReason> end_reason() const { return end_; }
  // Handles open by the Requests accepted so far (0..max_handles at each Usage; whatever is
  // left when the worker ends is taken off the gauge).
  int64_t handles_open() const { return handles_open_; }

 private:
  State state_ = State::kStarting;
  uint32_t landlock_abi_ = 0;
  usage::Counters counters_;
  bool activity_ = false;
  std::optional<EndReason> end_;
  uint32_t max_handles_;
  uint64_t requests_ = 0;  // requests tallied so far
  uint64_t request_bytes_in_ = 0;
  int64_t handles_open_ = 0;
};

// The monitor's side of the conversation with one transport (see the file comment).
class TransportGuard {
 public:
  enum class State { kAuthenticating, kLoggedIn, kServing, kEnded };

  explicit TransportGuard(uint32_t max_auth_tries) : max_auth_tries_(max_auth_tries) {}

  // Checks a message from the transport against the state. An Error means the transport broke
  // the protocol: end the connection and kill its processes.
  Status Accept(const Message& m);
  // The monitor's answer to the login attempt just accepted: an accepted one (a key probe's
  // excepted, `logs_in` false) logs in; a refused one counts as a failure.
  void Decided(AuthOutcome outcome, bool logs_in);
  // The worker's data socket was handed over: serving.
  void Serving();

  State state() const { return state_; }
  int failures() const { return failures_; }
  uint64_t relayed_in() const { return relayed_in_; }
  std::optional<ByeReason> bye() const { return bye_; }

 private:
  State state_ = State::kAuthenticating;
  uint32_t max_auth_tries_;
  int failures_ = 0;
  bool sftp_asked_ = false;
  uint64_t relayed_in_ = 0;
  std::optional<ByeReason> bye_;
};

}  // namespace sftplc::ipc
