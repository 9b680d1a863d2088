#include "sftpd/server/worker_protocol.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "sftpd/core/files/account_root.h"

namespace sftplc::server {
namespace {

using files::SysError;
using files::UniqueFd;

// Client bytes buffered for a worker that does not read them yet; past this the session stops
// reading the channel (WantsInput) until the worker catches up.
constexpr std::size_t kMaxPending = 4 * 1024 * 1024;
// One OnReady() moves at most this much of the worker's replies to the client.
constexpr std::size_t kMaxReplyBatch = 1024 * 1024;
constexpr std::size_t kReadChunk = 256 * 1024;
// Socket buffers asked for (the kernel caps them at net.core.[rw]mem_max).
constexpr int kSocketBuffer = 1024 * 1024;
// How long a worker may take to confine itself, and to exit once its data socket is closed.
constexpr int kStartTimeoutMs = 10000;
constexpr int kExitTimeoutMs = 5000;
// Control messages handled per call (a worker cannot keep the session busy with them).
constexpr int kMaxControlBatch = 64;

// Moves `fd` to a number above the worker's fixed ones (0-4), close-on-exec.
Result<UniqueFd> Above4(int fd) {
  UniqueFd owned(fd);
  if (fd > 4) {
    return owned;
  }
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 5);
  if (moved < 0) {
    return SysError(errno, "dup socket");
  }
  return UniqueFd(moved);
}

class WorkerProtocol final : public ChannelProtocol {
 public:
  WorkerProtocol(const WorkerOptions& o, Logger log, std::string tag)
      : opts_(o),
        log_(std::move(log)),
        tag_(std::move(tag)),
        guard_(static_cast<uint32_t>(o.max_handles)) {}
  ~WorkerProtocol() override { Reap(/*kill_first=*/true); }

  Status Spawn(uint64_t connection, files::AccountRoot& root);

  Status OnData(const uint8_t* data, std::size_t len, std::string& out) override;
  bool WantsInput() const override { return pending_.size() < kMaxPending; }
  int ReadyFd() const override { return data_.get(); }
  short ReadyEvents() const override {
    return static_cast<short>(POLLIN | (pending_.empty() ? 0 : POLLOUT));
  }
  Status OnReady(std::string& out) override;
  std::string FailureReason() const override { return failure_; }
  usage::Counters counters() const override { return guard_.counters(); }
  bool TakeActivity() override {
    (void)DrainControl();
    return guard_.TakeActivity();
  }
  void CloseAll() override;

 private:
  // Writes what it can of pending_ (never blocks).
  Status Flush();
  // Handles the control messages waiting (never blocks). An Error: the worker broke the IPC.
  Status DrainControl();
  // Checks one control message with the guard; tells the metrics of a request tally.
  Status Accept(const ipc::Message& m);
  // The worker's data socket ended or failed: collect its last messages and its exit status,
  // set failure_, and return the Error that ends the session.
  Error WorkerGone(std::string_view what, int err);
  // Waits (bounded) for the control socket to close, kills the worker if it is still there
  // (or at once with `kill_first`), and reaps it. Idempotent.
  void Reap(bool kill_first);

  WorkerOptions opts_;
  Logger log_;
  std::string tag_;
  pid_t pid_ = -1;
  UniqueFd data_;
  UniqueFd control_;
  std::string pending_;
  uint64_t relayed_in_ = 0;
  ipc::WorkerGuard guard_;
  std::string failure_ = "error";
};

Status WorkerProtocol::Spawn(uint64_t connection, files::AccountRoot& root) {
  int data[2];
  int control[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, data) != 0) {
    return SysError(errno, "worker data socketpair");
  }
  UniqueFd data_ours(data[0]);
  auto data_theirs = Above4(data[1]);
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, control) != 0) {
    return SysError(errno, "worker control socketpair");
  }
  UniqueFd control_ours(control[0]);
  auto control_theirs = Above4(control[1]);
  if (!data_theirs || !control_theirs) {
    return !data_theirs ? data_theirs.error() : control_theirs.error();
  }
  for (int fd : {data_ours.get(), data_theirs->get()}) {
    int size = kSocketBuffer;
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  }

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, data_theirs->get(), 3);
  posix_spawn_file_actions_adddup2(&fa, control_theirs->get(), 4);
  posix_spawn_file_actions_addclosefrom_np(&fa, 5);  // nothing else of the monitor
  // The daemon blocks its signals for sigwait: the worker starts with none blocked and every
  // disposition at its default.
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::string argv0 = "sftpd-sftp";
  std::string level = opts_.log_level;
  char* argv[] = {argv0.data(), level.data(), nullptr};
  char* envp[] = {nullptr};
  pid_t pid = -1;
  int rc = posix_spawn(&pid, opts_.binary.c_str(), &fa, &attr, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return SysError(rc, "spawn sftp worker");
  }
  pid_ = pid;
  data_ = std::move(data_ours);
  control_ = std::move(control_ours);
  data_theirs->reset();
  control_theirs->reset();

  ipc::Start start;
  start.max_handles = static_cast<uint32_t>(opts_.max_handles);
  start.read_only = opts_.read_only;
  start.connection = connection;
  if (Status st = ipc::Send(control_.get(), start, root.fd()); !st) {
    return st;
  }
  // Wait for Ready: the worker confines itself before it is given any client byte.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kStartTimeoutMs);
  while (guard_.state() == ipc::WorkerGuard::State::kStarting) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      return Error::Unavailable("sftp worker did not report itself confined in time");
    }
    pollfd p{control_.get(), POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) < 0 && errno != EINTR) {
      return SysError(errno, "poll sftp worker");
    }
    auto got = ipc::Receive(control_.get(), /*block=*/false);
    if (!got) {
      return Error::Unavailable("sftp worker failed to start: " + got.error().message());
    }
    if (!got->has_value()) {
      continue;
    }
    if ((*got)->fd >= 0) {
      close((*got)->fd);
      return Error::InvalidArgument("sftp worker sent a descriptor");
    }
    if (Status st = Accept((*got)->message); !st) {
      return st;
    }
  }
  if (guard_.state() != ipc::WorkerGuard::State::kServing) {
    return Error::Unavailable("sftp worker ended before serving");
  }
  if (guard_.landlock_abi() == 0 && opts_.require_landlock) {
    return Error::PermissionDenied("sftp worker has no Landlock and confinement is required");
  }
  if (fcntl(data_.get(), F_SETFL, O_NONBLOCK) != 0) {
    return SysError(errno, "worker data socket");
  }
  SPDLOG_LOGGER_DEBUG(log_, "{} sftp worker confined pid={} landlock_abi={}", tag_, pid_,
                      guard_.landlock_abi());
  return {};
}

Status WorkerProtocol::Flush() {
  std::size_t off = 0;
  while (off < pending_.size()) {
    ssize_t n = send(data_.get(), pending_.data() + off, pending_.size() - off,
                     MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        break;
      }
      pending_.erase(0, off);
      return WorkerGone("write to sftp worker", errno);
    }
    off += static_cast<std::size_t>(n);
    relayed_in_ += static_cast<uint64_t>(n);
  }
  pending_.erase(0, off);
  return {};
}

Status WorkerProtocol::DrainControl() {
  for (int i = 0; i < kMaxControlBatch && control_.valid(); ++i) {
    auto got = ipc::Receive(control_.get(), /*block=*/false);
    if (!got) {
      if (got.error().IsNotFound()) {
        return {};  // the worker is exiting; its data socket says the rest
      }
      failure_ = "error";
      SPDLOG_LOGGER_WARN(log_, "{} sftp worker broke the control protocol pid={} error={}", tag_,
                         pid_, got.error());
      Reap(/*kill_first=*/true);
      return got.error();
    }
    if (!got->has_value()) {
      return {};
    }
    Status st = (*got)->fd >= 0 ? Status(Error::InvalidArgument("ipc: descriptor from worker"))
                                : Accept((*got)->message);
    if ((*got)->fd >= 0) {
      close((*got)->fd);
    }
    if (!st) {
      failure_ = "error";
      SPDLOG_LOGGER_WARN(log_, "{} sftp worker broke the control protocol pid={} error={}", tag_,
                         pid_, st.error());
      Reap(/*kill_first=*/true);
      return st;
    }
  }
  return {};
}

Status WorkerProtocol::Accept(const ipc::Message& m) {
  Status st = guard_.Accept(m, relayed_in_);
  if (st && opts_.requests != nullptr) {
    if (const auto* q = std::get_if<ipc::Requests>(&m)) {
      opts_.requests->OnRequest(q->outcome);
    }
  }
  return st;
}

Status WorkerProtocol::OnData(const uint8_t* data, std::size_t len, std::string&) {
  if (!data_.valid()) {
    return Error::Unavailable("sftp worker gone");
  }
  if (len > 0) {
    pending_.append(reinterpret_cast<const char*>(data), len);
  }
  if (Status st = Flush(); !st) {
    return st;
  }
  return DrainControl();
}

Status WorkerProtocol::OnReady(std::string& out) {
  if (!data_.valid()) {
    return Error::Unavailable("sftp worker gone");
  }
  if (Status st = Flush(); !st) {
    return st;
  }
  std::size_t moved = 0;
  while (moved < kMaxReplyBatch) {
    std::size_t at = out.size();
    out.resize(at + kReadChunk);
    ssize_t n = recv(data_.get(), out.data() + at, kReadChunk, MSG_DONTWAIT);
    if (n > 0) {
      out.resize(at + static_cast<std::size_t>(n));
      moved += static_cast<std::size_t>(n);
      continue;
    }
    out.resize(at);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;
    }
    return WorkerGone(n == 0 ? "sftp worker closed its data socket" : "read from sftp worker",
                      n == 0 ? 0 : errno);
  }
  return DrainControl();
}

Error WorkerProtocol::WorkerGone(std::string_view what, int err) {
  Reap(/*kill_first=*/false);
  auto end = guard_.end_reason();
  if (failure_ == "error" && end == ipc::EndReason::kProtocolError) {
    failure_ = "protocol_error";
  }
  return Error::Unavailable(fmt::format("{}: {}", what, err != 0 ? std::strerror(err) : "EOF"));
}

void WorkerProtocol::Reap(bool kill_first) {
  if (pid_ <= 0) {
    return;
  }
  if (kill_first) {
    kill(pid_, SIGKILL);
  } else if (control_.valid()) {
    // The worker closes its control socket when it exits: read its last messages until then.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kExitTimeoutMs);
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) {
        kill(pid_, SIGKILL);
        break;
      }
      // Replies still coming are dropped, so a worker blocked writing them reaches the EOF.
      pollfd p[2] = {{control_.get(), POLLIN, 0}, {data_.valid() ? data_.get() : -1, POLLIN, 0}};
      if (poll(p, 2, static_cast<int>(left)) < 0 && errno != EINTR) {
        kill(pid_, SIGKILL);
        break;
      }
      if (p[1].revents != 0) {
        char scratch[64 * 1024];
        ssize_t n = recv(data_.get(), scratch, sizeof(scratch), MSG_DONTWAIT);
        if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR))) {
          data_.reset();
        }
      }
      auto got = ipc::Receive(control_.get(), /*block=*/false);
      if (!got) {
        if (!got.error().IsNotFound()) {
          kill(pid_, SIGKILL);  // garbage instead of a goodbye
        }
        break;
      }
      if (got->has_value()) {
        if ((*got)->fd >= 0) {
          close((*got)->fd);
        }
        if (Status st = Accept((*got)->message); !st) {
          SPDLOG_LOGGER_WARN(log_, "{} sftp worker broke the control protocol pid={} error={}",
                             tag_, pid_, st.error());
          kill(pid_, SIGKILL);
          break;
        }
      }
    }
  }
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  if (r == pid_ && WIFSIGNALED(status)) {
    if (failure_ == "error" && !kill_first) {
      failure_ = "worker_crashed";
    }
    if (!kill_first) {
      SPDLOG_LOGGER_WARN(log_, "{} sftp worker killed by a signal pid={} signal={}", tag_, pid_,
                         WTERMSIG(status));
    }
  } else if (r == pid_ && WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    SPDLOG_LOGGER_WARN(log_, "{} sftp worker failed pid={} exit_code={}", tag_, pid_,
                       WEXITSTATUS(status));
  }
  pid_ = -1;
  data_.reset();
  control_.reset();
  if (opts_.requests != nullptr && guard_.handles_open() != 0) {
    opts_.requests->OnHandlesClosed(static_cast<int>(guard_.handles_open()));
  }
}

void WorkerProtocol::CloseAll() {
  if (pid_ <= 0) {
    return;
  }
  // EOF on the data socket: the worker closes its handles, reports its last usage and exits.
  pending_.clear();
  shutdown(data_.get(), SHUT_WR);
  Reap(/*kill_first=*/false);
}

}  // namespace

std::string DefaultWorkerBinary() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) {
    return "sftpd-sftp";
  }
  std::string self(buf, static_cast<std::size_t>(n));
  auto slash = self.rfind('/');
  return (slash == std::string::npos ? std::string(".") : self.substr(0, slash)) + "/sftpd-sftp";
}

ProtocolFactory MakeWorkerProtocolFactory(WorkerOptions options) {
  if (!options.log) {
    options.log = GetLogger("sftpd");
  }
  return [opts = std::move(options)](
             const accounts::Account& account,
             const std::string& tag) -> Result<std::unique_ptr<ChannelProtocol>> {
    auto root = files::AccountRoot::OpenExisting(opts.storage_root, account.id);
    if (!root) {
      return std::move(root).error();
    }
    // The tag is "[c<number>]": the worker tags its own lines with the same number.
    uint64_t connection = 0;
    for (char ch : tag) {
      if (ch >= '0' && ch <= '9') {
        connection = connection * 10 + static_cast<uint64_t>(ch - '0');
      }
    }
    auto p = std::make_unique<WorkerProtocol>(opts, opts.log, tag);
    if (Status st = p->Spawn(connection, **root); !st) {
      return st.error();
    }
    return std::unique_ptr<ChannelProtocol>(std::move(p));
  };
}

}  // namespace sftplc::server
