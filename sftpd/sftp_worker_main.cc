// sftpd-sftp: the SFTP worker of one session. sftpd spawns it after a login (fork+exec, a clean
// environment, no descriptor but these) and talks to it over two sockets:
//   fd 3  the data socket: the SFTP channel's bytes, both ways, relayed by the transport
//         (sftpd-session), which the monitor hands the other end
//   fd 4  the control socket (sftpd/server/ipc/ipc.h): Start with the account root's
//         descriptor in, then Ready, Usage, Requests (tallies for the metrics) and End out
// It confines itself (sftpd/server/confine/confine.h) before it reads any client byte, then
// serves the SFTP protocol until the session closes the data socket. It never opens the
// database or any file outside the account root. Not meant to be run by hand.

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "sftpd/core/base/log.h"
#include "sftpd/core/files/account_root.h"
#include "sftpd/server/confine/confine.h"
#include "sftpd/server/ipc/ipc.h"
#include "sftpd/server/sftp/sftp_protocol.h"
#include "sftpd/server/sftp/splice_sender.h"

namespace sftplc {
namespace {

constexpr int kDataFd = 3;
constexpr int kControlFd = 4;
// The one buffer client bytes are read into and handled from (Processor::Consume): room for the
// largest packet, so a partial packet moved to its start always leaves room to read the rest.
// Every page a read reaches stays resident for the session's life.
constexpr std::size_t kBufferSize = sftp::kMaxPacket + 4;
// Usage goes to the session at most this often while data flows, and always at the end.
constexpr long kReportIntervalNs = 1000L * 1000 * 1000;

long NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L * 1000 * 1000 + ts.tv_nsec;
}

// Why the worker ends when its data socket failed with `err`: kClosed when the transport has
// closed its end (the client left while replies were coming), kError otherwise.
ipc::EndReason DataSocketEnd(int err) {
  return err == EPIPE || err == ECONNRESET ? ipc::EndReason::kClosed : ipc::EndReason::kError;
}

// The requests answered since the last report, summed per type and status: one Requests
// message each. At most 256 types times the few statuses the Processor answers.
class RequestTally final : public sftp::RequestObserver {
 public:
  void OnRequest(const sftp::RequestOutcome& o) noexcept override {
    Cell& c = cells_[{o.type, o.status}];
    c.count += o.count;
    c.bytes_in += o.bytes_in;
    c.bytes_out += o.bytes_out;
    c.handles_delta += o.handles_delta;
  }
  // The session's monitor closes what was reported open when the worker ends.
  void OnHandlesClosed(int) noexcept override {}

  bool empty() const { return cells_.empty(); }
  // Sends every cell (a count past 2^32 - 1 in several messages) and forgets it. False if the
  // control socket failed (what was not sent is kept for the next report).
  bool SendTo(int sock) {
    while (!cells_.empty()) {
      auto it = cells_.begin();
      Cell& c = it->second;
      ipc::Requests q;
      q.outcome.type = it->first.first;
      q.outcome.status = it->first.second;
      q.outcome.count =
          static_cast<uint32_t>(std::min<uint64_t>(c.count, std::numeric_limits<uint32_t>::max()));
      q.outcome.bytes_in = c.bytes_in;
      q.outcome.bytes_out = c.bytes_out;
      q.outcome.handles_delta = static_cast<int>(c.handles_delta);
      if (!ipc::Send(sock, q)) {
        return false;
      }
      c.count -= q.outcome.count;
      c = Cell{c.count, 0, 0, 0};
      if (c.count == 0) {
        cells_.erase(it);
      }
    }
    return true;
  }

 private:
  struct Cell {
    uint64_t count = 0;
    uint64_t bytes_in = 0;
    uint64_t bytes_out = 0;
    int64_t handles_delta = 0;
  };
  std::map<std::pair<uint8_t, uint32_t>, Cell> cells_;
};

class Worker {
 public:
  Worker(Logger log) : log_(std::move(log)) {}
  int Run();

 private:
  bool Confine(const files::AccountRoot& root, int max_handles);
  ipc::EndReason Serve(sftp::SftpProtocol& protocol, sftp::SpliceSender& sender);
  void Report(sftp::SftpProtocol& protocol, bool final_report);

  Logger log_;
  std::string tag_ = "[c?]";
  usage::Counters reported_;
  long last_report_ns_ = 0;
  int landlock_abi_ = 0;
  RequestTally tally_;
};

bool Worker::Confine(const files::AccountRoot& root, int max_handles) {
  auto abi = confine::ConfineSelf(confine::Profile::kWorker, root.fd(), max_handles);
  if (!abi) {
    SPDLOG_LOGGER_ERROR(log_, "{} sftp worker cannot confine itself: {}", tag_, abi.error());
    return false;
  }
  landlock_abi_ = *abi;
  return true;
}

void Worker::Report(sftp::SftpProtocol& protocol, bool final_report) {
  long now = NowNs();
  usage::Counters c = protocol.counters();
  if (!final_report &&
      ((c == reported_ && tally_.empty()) || now - last_report_ns_ < kReportIntervalNs)) {
    return;
  }
  if (!tally_.SendTo(kControlFd)) {
    return;
  }
  ipc::Usage u;
  u.counters = c;
  u.activity = protocol.TakeActivity();
  if (ipc::Send(kControlFd, u)) {
    reported_ = c;
    last_report_ns_ = now;
  }
}

ipc::EndReason Worker::Serve(sftp::SftpProtocol& protocol, sftp::SpliceSender& sender) {
  std::unique_ptr<uint8_t[]> buf(new uint8_t[kBufferSize]);
  std::size_t held = 0;  // bytes at the start of buf not handled yet (a partial packet)
  std::string out;
  for (;;) {
    ssize_t n = read(kDataFd, buf.get() + held, kBufferSize - held);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      // A transport that exits with replies of ours unread resets the socket: a close too.
      return n == 0 || errno == ECONNRESET ? ipc::EndReason::kClosed : ipc::EndReason::kError;
    }
    held += static_cast<std::size_t>(n);
    // Handle what is complete, send the replies, and go on with the packets held back by the
    // replies' bound until only a partial packet is left.
    std::size_t start = 0;
    for (;;) {
      out.clear();
      Result<std::size_t> used = protocol.Consume(buf.get() + start, held - start, out);
      if (sender.error() != 0 || !sender.Write(out)) {
        return DataSocketEnd(sender.error());
      }
      if (!used) {
        return ipc::EndReason::kProtocolError;  // the processor logged it
      }
      if (*used == 0) {
        break;
      }
      start += *used;
    }
    std::memmove(buf.get(), buf.get() + start, held - start);
    held -= start;
    Report(protocol, false);
  }
}

int Worker::Run() {
  auto got = ipc::Receive(kControlFd, /*block=*/true);
  if (!got || !got->has_value() || !std::holds_alternative<ipc::Start>((*got)->message) ||
      (*got)->fd < 0) {
    SPDLOG_LOGGER_ERROR(log_, "sftp worker: no valid Start message");
    if (got && got->has_value() && (*got)->fd >= 0) {
      close((*got)->fd);
    }
    return 1;
  }
  const ipc::Start start = std::get<ipc::Start>((*got)->message);
  tag_ = fmt::format("[c{}]", start.connection);
  auto root = files::AccountRoot::Adopt(files::UniqueFd((*got)->fd));
  if (!root) {
    SPDLOG_LOGGER_ERROR(log_, "{} sftp worker: {}", tag_, root.error());
    return 1;
  }
  const int max_handles = static_cast<int>(start.max_handles);
  sftp::SpliceSender sender(kDataFd);  // its pipe is made now: the confined worker cannot
  if (Status st = sender.pipe_status(); !st) {
    // Served all the same: READ data is copied, as before splicing (docs/operations.md).
    SPDLOG_LOGGER_INFO(log_, "{} sftp worker copies READ data: {}", tag_, st.error());
  }
  if (!Confine(**root, max_handles)) {
    (void)ipc::Send(kControlFd, ipc::End{ipc::EndReason::kError});
    return 1;
  }
  // Confined: from here on, client bytes.
  if (!ipc::Send(kControlFd, ipc::Ready{static_cast<uint32_t>(landlock_abi_)})) {
    return 1;
  }
  sftp::Limits limits;
  limits.max_handles = max_handles;
  limits.read_only = start.read_only;
  sftp::SftpProtocol protocol(std::move(*root), limits, log_, tag_, &tally_, &sender);
  ipc::EndReason reason = Serve(protocol, sender);
  protocol.CloseAll();
  Report(protocol, true);
  (void)ipc::Send(kControlFd, ipc::End{reason});
  return reason == ipc::EndReason::kError ? 1 : 0;
}

}  // namespace
}  // namespace sftplc

int main(int argc, char** argv) {
  tzset();  // read /etc/localtime now: once confined the worker can open nothing outside its root
  // A session that is gone makes writes fail with EPIPE instead of killing the worker.
  signal(SIGPIPE, SIG_IGN);
  if (argc != 2 || !sftplc::SetLogLevel(argv[1])) {
    std::fprintf(stderr,
                 "sftpd-sftp: the SFTP worker of sftpd, started by sftpd only\n"
                 "usage: sftpd-sftp LOG_LEVEL (with its sockets on descriptors 3 and 4)\n");
    return 2;
  }
  sftplc::Worker worker(sftplc::GetLogger("sftp"));
  int rc = worker.Run();
  sftplc::Logger log = sftplc::GetLogger("sftp");
  log->flush();
  // _exit: no destructors of static objects, nothing left to flush.
  _exit(rc);
}
