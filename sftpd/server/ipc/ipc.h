#pragma once

// The messages between a session of the monitor (sftpd) and the SFTP worker (sftpd-sftp) it
// spawns for an authenticated connection (docs/architecture.md, "Process model").
//
// Transport: a SOCK_SEQPACKET socketpair, one message per datagram, so a frame is never split
// or merged. A message is one type byte followed by the fixed, big-endian fields of that type
// and nothing else: Decode() checks the frame first (length exactly the type's size, at most
// kMaxMessage) and then each field's range. There is one parser (Decode) for both directions.
//
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
// The monitor treats the worker as hostile: WorkerGuard accepts only what the worker's state
// allows (Ready once and first; Usage and End only after Ready; nothing after End), counters
// that never go down and never claim more uploaded bytes than the monitor relayed to it, and
// request tallies no larger than the bytes relayed can carry (an SFTP request is at least 9
// bytes), each opening or closing at most one handle per request, and at each Usage (which
// follows the tallies of its report) between none and max_handles handles open. A worker carries
// no account id at all: whatever it reports is booked on the session's own
// account. Any refusal ends the session and the worker.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "sftpd/core/base/result.h"
#include "sftpd/core/usage/usage_store.h"
#include "sftpd/server/sftp/request_observer.h"

namespace sftplc::ipc {

inline constexpr std::size_t kMaxMessage = 64;
// Bounds of Start.max_handles (the config's server.max_handles_per_session range).
inline constexpr uint32_t kMaxHandles = 65536;

enum class MessageType : uint8_t { kStart = 1, kReady = 2, kUsage = 3, kEnd = 4, kRequests = 5 };
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

using Message = std::variant<Start, Ready, Usage, End, Requests>;

// The bytes of one datagram.
std::string Encode(const Message& m);
// The one parser. kInvalidArgument for an unknown type, a length other than the type's, a
// boolean other than 0/1, max_handles out of range, an unknown end reason or a Requests with a
// count of 0.
Result<Message> Decode(const uint8_t* data, std::size_t len);

// Sends `m` as one datagram, with `pass_fd` attached (SCM_RIGHTS, sendmsg) when >= 0, else with
// write(2) (the confined worker may not call sendmsg; a process that sends without a descriptor
// must ignore SIGPIPE). kUnavailable (with errno) when the peer is gone.
Status Send(int sock, const Message& m, int pass_fd = -1);

struct Received {
  Message message;
  int fd = -1;  // a descriptor that came with it (the caller owns it), else -1
};
// Receives one datagram (MSG_DONTWAIT unless `block`). nullopt: nothing there (EAGAIN).
// kNotFound: the peer closed its end. kInvalidArgument: a truncated datagram or control data,
// more than one descriptor, or Decode() refused it (a descriptor that came along is closed).
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

}  // namespace sftplc::ipc
