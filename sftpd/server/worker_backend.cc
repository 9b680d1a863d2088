#include "sftpd/server/worker_backend.h"

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
#include "sftpd/server/ipc/ipc.h"
#include "sftpd/server/spawn.h"

namespace sftplc::server {
namespace {

using files::SysError;
using files::UniqueFd;

// Socket buffers asked for (the kernel caps them at net.core.[rw]mem_max).
constexpr int kSocketBuffer = 1024 * 1024;
// How long a worker may take to confine itself, and to exit (its last usage report) once its
// data socket is closed. Bounds for a worker that hangs, not for a busy machine: with 200
// uploads on two cores a new worker took up to 7.4 s from the login to confined (median 2.2 s).
constexpr int kStartTimeoutMs = 60000;
constexpr int kExitTimeoutMs = 60000;
// From the end of its control socket (closed at exit) to the worker's exit.
constexpr std::chrono::milliseconds kExitAfterHangUp{5000};
// Control messages handled per call (a worker cannot keep the session busy with them).
constexpr int kMaxControlBatch = 64;

class WorkerBackend final : public SftpBackend {
 public:
  WorkerBackend(const WorkerOptions& o, Logger log, std::string tag)
      : opts_(o),
        log_(std::move(log)),
        tag_(std::move(tag)),
        guard_(static_cast<uint32_t>(o.max_handles)) {}
  ~WorkerBackend() override { Reap(/*kill_first=*/true); }

  Status Spawn(uint64_t connection, files::AccountRoot& root);

  UniqueFd TakeTransportEnd() override { return std::move(transport_end_); }
  int ReadyFd() const override { return control_.get(); }
  Status OnReady(uint64_t relayed_in) override {
    relayed_in_ = relayed_in;
    return DrainControl();
  }
  usage::Counters counters() const override { return guard_.counters(); }
  bool TakeActivity() override { return guard_.TakeActivity(); }
  void End(bool kill, uint64_t relayed_in) override {
    relayed_in_ = relayed_in;
    Reap(kill);
  }
  std::string FailureReason() const override { return failure_; }

 private:
  // Handles the control messages waiting (never blocks). An Error: the worker broke the IPC.
  Status DrainControl();
  // Checks one control message with the guard; tells the metrics of a request tally.
  Status Accept(const ipc::Message& m);
  // Waits (bounded) for the control socket to close, kills the worker if it is still there
  // (or at once with `kill_first`), and reaps it. Idempotent.
  void Reap(bool kill_first);

  WorkerOptions opts_;
  Logger log_;
  std::string tag_;
  pid_t pid_ = -1;
  UniqueFd transport_end_;
  UniqueFd control_;
  uint64_t relayed_in_ = 0;
  ipc::WorkerGuard guard_;
  std::string failure_;
};

Status WorkerBackend::Spawn(uint64_t connection, files::AccountRoot& root) {
  auto data = HelperSocketPair(SOCK_STREAM);
  if (!data) {
    return data.error();
  }
  auto control = HelperSocketPair(SOCK_SEQPACKET);
  if (!control) {
    return control.error();
  }
  for (int fd : {data->first.get(), data->second.get()}) {
    int size = kSocketBuffer;
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  }
  auto pid =
      SpawnHelper(opts_.binary, {opts_.log_level}, data->second.get(), control->second.get());
  if (!pid) {
    return pid.error();
  }
  pid_ = *pid;
  transport_end_ = std::move(data->first);
  control_ = std::move(control->first);

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
  SPDLOG_LOGGER_DEBUG(log_, "{} sftp worker confined pid={} landlock_abi={}", tag_, pid_,
                      guard_.landlock_abi());
  return {};
}

Status WorkerBackend::DrainControl() {
  for (int i = 0; i < kMaxControlBatch && control_.valid(); ++i) {
    auto got = ipc::Receive(control_.get(), /*block=*/false);
    if (!got) {
      if (got.error().IsNotFound()) {
        // The worker has ended (its control socket closes at exit): poll would report the
        // socket readable at once, every time, so it is not watched any more. Its data socket
        // tells the transport; End() reaps it.
        control_.reset();
        return {};
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

Status WorkerBackend::Accept(const ipc::Message& m) {
  Status st = guard_.Accept(m, relayed_in_);
  if (st && opts_.requests != nullptr) {
    if (const auto* q = std::get_if<ipc::Requests>(&m)) {
      opts_.requests->OnRequest(q->outcome);
    }
  }
  return st;
}

void WorkerBackend::Reap(bool kill_first) {
  if (pid_ <= 0) {
    return;
  }
  if (!kill_first && control_.valid()) {
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
      pollfd p{control_.get(), POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) < 0 && errno != EINTR) {
        kill(pid_, SIGKILL);
        break;
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
  // Killed at once with `kill_first`; otherwise gone, or killed above, and one that hung up its
  // control socket but stays is killed.
  const int status = ReapHelper(pid_, kill_first ? std::chrono::milliseconds(0) : kExitAfterHangUp);
  if (status != -1 && WIFSIGNALED(status)) {
    if (failure_.empty() && !kill_first) {
      failure_ = "worker_crashed";
    }
    if (!kill_first) {
      SPDLOG_LOGGER_WARN(log_, "{} sftp worker killed by a signal pid={} signal={}", tag_, pid_,
                         WTERMSIG(status));
    }
  } else if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    SPDLOG_LOGGER_WARN(log_, "{} sftp worker failed pid={} exit_code={}", tag_, pid_,
                       WEXITSTATUS(status));
  }
  pid_ = -1;
  transport_end_.reset();
  control_.reset();
  if (failure_.empty() && guard_.end_reason() == ipc::EndReason::kProtocolError) {
    failure_ = "protocol_error";
  }
  if (opts_.requests != nullptr && guard_.handles_open() != 0) {
    opts_.requests->OnHandlesClosed(static_cast<int>(guard_.handles_open()));
  }
}

}  // namespace

SftpBackendFactory MakeWorkerBackendFactory(WorkerOptions options) {
  if (!options.log) {
    options.log = GetLogger("sftpd");
  }
  return
      [opts = std::move(options)](const accounts::Account& account, uint64_t connection,
                                  const std::string& tag) -> Result<std::unique_ptr<SftpBackend>> {
        auto root = files::AccountRoot::OpenExisting(opts.storage_root, account.id);
        if (!root) {
          return std::move(root).error();
        }
        auto b = std::make_unique<WorkerBackend>(opts, opts.log, tag);
        if (Status st = b->Spawn(connection, **root); !st) {
          return st.error();
        }
        return std::unique_ptr<SftpBackend>(std::move(b));
      };
}

}  // namespace sftplc::server
