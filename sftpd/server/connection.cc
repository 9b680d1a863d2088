#include "sftpd/server/connection.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>

#include "sftpd/core/accounts/public_key.h"
#include "sftpd/core/base/secret.h"
#include "sftpd/server/ipc/ipc.h"
#include "sftpd/server/spawn.h"

namespace sftplc::server {
namespace {

using files::UniqueFd;
using std::chrono::milliseconds;
using SteadyTime = std::chrono::steady_clock::time_point;

// How often the loop wakes up when nothing arrives (stop flag, deadlines, revocation).
constexpr int kTickMs = 250;
// Progress (counters, last_activity_at) is written at most this often per session.
constexpr Seconds kProgressInterval{60};
// How often a running session asks whether its login still stands (account closed or erased,
// key removed, password changed): a revocation ends it within this plus one tick.
constexpr milliseconds kRevocationPoll{1000};
// How long a transport told to stop, or past its login grace time, has before it is killed.
constexpr milliseconds kStopGrace{1000};
// How long the monitor waits for a transport to exit once it said Bye or was killed.
constexpr milliseconds kExitWait{5000};
// Transport messages handled per pass: a transport cannot keep the monitor's thread busy.
constexpr int kMaxBatch = 256;

const char* MethodName(auth::AuthMethod m) {
  return m == auth::AuthMethod::kPublicKey ? "publickey" : "password";
}

ipc::AuthOutcome ToIpc(auth::AuthOutcome o) {
  switch (o) {
    case auth::AuthOutcome::kAccepted:
      return ipc::AuthOutcome::kAccepted;
    case auth::AuthOutcome::kBanned:
      return ipc::AuthOutcome::kBanned;
    default:
      return ipc::AuthOutcome::kRejected;
  }
}

uint32_t Clamp(long long v, uint32_t hi) {
  return static_cast<uint32_t>(std::clamp<long long>(v, 1, hi));
}

class Connection {
 public:
  Connection(const ConnectionEnv& env, const SessionLimits& limits, std::string ip, uint64_t number)
      : env_(env),
        limits_(limits),
        ip_(std::move(ip)),
        number_(number),
        tag_(fmt::format("[c{}]", number)),
        guard_(static_cast<uint32_t>(
            std::clamp(limits.max_auth_tries, 1, static_cast<int>(ipc::kMaxAuthTries)))) {}
  ~Connection() {
    if (backend_ != nullptr) {
      backend_->End(/*kill=*/true, guard_.relayed_in());
    }
    Reap(/*kill_first=*/true);
  }

  void Run(ConnectionFds fds);

 private:
  bool Start(ConnectionFds fds);
  // The loop: until the transport is gone.
  void Serve();
  // Handles what the transport sent (a bounded batch). False: the transport is gone or broke
  // the protocol (it is killed).
  bool FromTransport();
  bool Handle(ipc::Received r);
  ipc::AuthOutcome Login(const auth::AuthDecision& d, auth::AuthMethod method,
                         const std::string& client_version);
  bool OpenSftp();
  // Once per tick: stop flag, deadlines, revocation, progress.
  void Tick();
  // Tells the transport to end (once), and kills it after kStopGrace.
  void StopTransport(ipc::StopReason why, const char* reason);
  void Violation(const Error& e);
  void Progress(bool final_record);
  // Waits (bounded) for the transport to exit, kills it if need be, and reaps it. Idempotent.
  void Reap(bool kill_first);

  const ConnectionEnv& env_;
  SessionLimits limits_;
  std::string ip_;
  uint64_t number_;
  std::string tag_;
  ipc::TransportGuard guard_;

  pid_t pid_ = -1;
  UniqueFd control_;
  bool transport_crashed_ = false;
  SteadyTime login_deadline_{};
  std::optional<SteadyTime> kill_at_;  // the transport is killed then (stopped, overstayed)
  std::string reason_;                 // set by the monitor: "revoked", "shutdown", "error"...

  std::optional<accounts::Account> account_;
  LoginCredential credential_;
  auth::AuthMethod method_ = auth::AuthMethod::kPassword;
  int64_t usage_id_ = 0;
  bool usage_open_ = false;
  bool activity_pending_ = false;
  std::unique_ptr<SftpBackend> backend_;
  SteadyTime last_progress_{};
  SteadyTime last_revocation_check_{};
};

bool Connection::Start(ConnectionFds fds) {
  ipc::Hello hello;
  hello.connection = number_;
  hello.login_grace_ms = Clamp(limits_.login_grace_time.count() * 1000, ipc::kMaxTimeout);
  hello.idle_timeout_s = Clamp(limits_.idle_timeout.count(), ipc::kMaxTimeout);
  hello.write_timeout_s = Clamp(limits_.write_timeout.count(), ipc::kMaxTimeout);
  hello.max_auth_tries = Clamp(limits_.max_auth_tries, ipc::kMaxAuthTries);
  hello.kex = env_.transport.kex;
  hello.ciphers = env_.transport.ciphers;
  hello.macs = env_.transport.macs;
  hello.hostkey_algorithms = env_.transport.hostkey_algorithms;
  hello.host_keys = env_.transport.host_keys;
  Status st = Error::Unavailable("no transport");
  if (fds.spare > 0) {
    pid_ = fds.spare;
    control_ = std::move(fds.control);
    st = ipc::Send(control_.get(), hello, /*pass_fd=*/fds.client.get());
    if (!st) {
      // The spare died after it was taken: reaped, and this connection starts its own.
      Reap(/*kill_first=*/true);
      auto control = HelperSocketPair(SOCK_SEQPACKET);
      if (control) {
        fds.control = std::move(control->first);
        fds.transport_control = std::move(control->second);
      } else {
        st = control.error();
      }
    }
  }
  if (pid_ <= 0 && fds.transport_control.valid()) {
    auto pid = SpawnHelper(env_.transport.binary, {env_.transport.log_level}, /*fd3=*/-1,
                           fds.transport_control.get());
    if (pid) {
      pid_ = *pid;
      fds.transport_control.reset();
      control_ = std::move(fds.control);
      st = ipc::Send(control_.get(), hello, /*pass_fd=*/fds.client.get());
    } else {
      st = pid.error();
    }
  }
  fds.client.reset();  // the transport's now (or closed)
  for (std::string& k : hello.host_keys) {
    SecureZero(k.data(), k.size());
  }
  if (!st) {
    SPDLOG_LOGGER_ERROR(env_.log, "{} cannot start a transport: {}", tag_, st.error());
    reason_ = "error";
    return false;
  }
  // A spare for a later connection, now that this one's transport has what it needs.
  env_.spares.Refill();
  // The transport keeps the grace time itself; past it and a margin, it is killed.
  login_deadline_ = env_.clock.SteadyNow() + limits_.login_grace_time + kStopGrace;
  return true;
}

void Connection::Violation(const Error& e) {
  SPDLOG_LOGGER_WARN(env_.log, "{} transport broke the control protocol pid={} error={}", tag_,
                     pid_, e);
  reason_ = reason_.empty() ? "error" : reason_;
  if (backend_ != nullptr) {
    backend_->End(/*kill=*/true, guard_.relayed_in());
  }
  Reap(/*kill_first=*/true);
}

ipc::AuthOutcome Connection::Login(const auth::AuthDecision& d, auth::AuthMethod method,
                                   const std::string& client_version) {
  if (d.outcome != auth::AuthOutcome::kAccepted || !d.account.has_value()) {
    int attempt = guard_.failures() + 1;
    if (d.outcome == auth::AuthOutcome::kBanned) {
      SPDLOG_LOGGER_INFO(env_.log, "{} login refused: source banned ip={}", tag_, ip_);
    } else {
      SPDLOG_LOGGER_INFO(env_.log, "{} login failed method={} ip={} attempt={}", tag_,
                         MethodName(method), ip_, attempt);
    }
    return ToIpc(d.outcome);
  }
  LoginInfo info;
  info.account = d.account->id;
  info.remote_ip = ip_;
  info.client_version = client_version;
  info.method = method;
  info.at = env_.clock.Now();
  auto id = env_.recorder.Begin(info);
  if (!id) {
    // The usage record is the audit trail of a login: no record, no login.
    SPDLOG_LOGGER_ERROR(env_.log, "{} login refused: cannot record it account={} error={}", tag_,
                        d.account->id.short_str(), id.error());
    return ipc::AuthOutcome::kRejected;
  }
  usage_id_ = *id;
  usage_open_ = true;
  account_ = d.account;
  method_ = method;
  credential_.method = method;
  if (env_.logged_in) {
    env_.logged_in();
  }
  SPDLOG_LOGGER_INFO(env_.log, "{} login ok account={} method={} ip={}", tag_,
                     d.account->id.short_str(), MethodName(method), ip_);
  return ipc::AuthOutcome::kAccepted;
}

bool Connection::OpenSftp() {
  auto backend = env_.sftp(*account_, number_, tag_);
  if (!backend) {
    if (backend.error().IsNotFound()) {
      // The account's folder is gone (erased after the login): a refusal, not a fault.
      SPDLOG_LOGGER_INFO(env_.log, "{} sftp refused: no account folder account={}", tag_,
                         account_->id.short_str());
      reason_ = "revoked";
    } else {
      SPDLOG_LOGGER_ERROR(env_.log, "{} cannot start sftp account={} error={}", tag_,
                          account_->id.short_str(), backend.error());
      reason_ = "error";
    }
    (void)ipc::Send(control_.get(), ipc::SftpAnswer{false});
    return true;  // the transport ends the connection and says Bye
  }
  backend_ = std::move(*backend);
  UniqueFd data = backend_->TakeTransportEnd();
  if (Status st = ipc::Send(control_.get(), ipc::SftpAnswer{true}, data.get()); !st) {
    return false;
  }
  guard_.Serving();
  SteadyTime now = env_.clock.SteadyNow();
  last_progress_ = now;
  last_revocation_check_ = now;
  return true;
}

bool Connection::Handle(ipc::Received r) {
  if (r.fd >= 0) {
    close(r.fd);
    Violation(Error::InvalidArgument("ipc: a descriptor from the transport"));
    return false;
  }
  if (Status st = guard_.Accept(r.message); !st) {
    Violation(st.error());
    return false;
  }
  if (auto* p = std::get_if<ipc::Password>(&r.message)) {
    auth::AuthRequest req{p->user, ip_, p->client_version};
    Secret secret(p->password);
    SecureZero(p->password.data(), p->password.size());
    auth::AuthDecision d = env_.gate.CheckPassword(req, secret);
    if (d.outcome == auth::AuthOutcome::kAccepted && d.account.has_value()) {
      credential_.password_hash = d.account->password_hash;
    }
    ipc::AuthOutcome outcome = Login(d, auth::AuthMethod::kPassword, p->client_version);
    guard_.Decided(outcome, /*logs_in=*/true);
    return static_cast<bool>(ipc::Send(control_.get(), ipc::AuthAnswer{outcome}));
  }
  if (const auto* k = std::get_if<ipc::PublicKey>(&r.message)) {
    auth::AuthRequest req{k->user, ip_, k->client_version};
    OfferedKey key{k->key_type, k->key_base64, ""};
    if (auto blob = accounts::DecodeBase64(k->key_base64)) {
      key.fingerprint = accounts::Sha256Fingerprint(*blob);
    }
    auth::AuthDecision d = env_.gate.CheckPublicKey(req, key, k->verified);
    ipc::AuthOutcome outcome;
    if (!k->verified) {
      // The probe: "this key would do" or not. A refused probe counts as an attempt, as in
      // OpenSSH.
      outcome = ToIpc(d.outcome);
    } else {
      if (d.outcome == auth::AuthOutcome::kAccepted) {
        credential_.key_type = k->key_type;
        credential_.key_base64 = k->key_base64;
      }
      outcome = Login(d, auth::AuthMethod::kPublicKey, k->client_version);
    }
    guard_.Decided(outcome, /*logs_in=*/k->verified);
    return static_cast<bool>(ipc::Send(control_.get(), ipc::AuthAnswer{outcome}));
  }
  if (std::holds_alternative<ipc::OpenSftp>(r.message)) {
    return OpenSftp();
  }
  if (std::holds_alternative<ipc::Bye>(r.message) && !kill_at_) {
    kill_at_ = env_.clock.SteadyNow() + kStopGrace;  // it exits now, or is made to
  }
  return true;  // Relayed (the guard keeps it), Bye (the guard keeps its reason)
}

bool Connection::FromTransport() {
  for (int i = 0; i < kMaxBatch; ++i) {
    auto got = ipc::Receive(control_.get(), /*block=*/false);
    if (!got) {
      if (got.error().IsNotFound()) {
        Reap(/*kill_first=*/false);  // gone: exited after its Bye, or crashed
      } else {
        Violation(got.error());
      }
      return false;
    }
    if (!got->has_value()) {
      return true;
    }
    if (!Handle(std::move(**got))) {
      // A Violation has reaped it; otherwise an answer could not be sent: the transport is
      // gone, or going (it crashed while its request was on the way). Reaped the same way as
      // when its socket closes, so a crash is recorded as one.
      Reap(/*kill_first=*/false);
      return false;
    }
  }
  return true;
}

void Connection::StopTransport(ipc::StopReason why, const char* reason) {
  if (kill_at_) {
    return;
  }
  if (reason_.empty()) {
    reason_ = reason;
  }
  (void)ipc::Send(control_.get(), ipc::Stop{why});
  kill_at_ = env_.clock.SteadyNow() + kStopGrace;
}

void Connection::Tick() {
  SteadyTime now = env_.clock.SteadyNow();
  if (kill_at_ && now >= *kill_at_) {
    Reap(/*kill_first=*/true);
    return;
  }
  if (env_.stop.load()) {
    StopTransport(ipc::StopReason::kShutdown, "shutdown");
  }
  const auto state = guard_.state();
  if (state == ipc::TransportGuard::State::kEnded) {
    return;  // it said Bye; killed at kill_at_ if it does not exit
  }
  if (state != ipc::TransportGuard::State::kServing) {
    if (now >= login_deadline_ && !kill_at_) {
      SPDLOG_LOGGER_INFO(env_.log, "{} transport overstayed the login grace time ip={}", tag_, ip_);
      reason_ = reason_.empty() ? "login_timeout" : reason_;
      Reap(/*kill_first=*/true);
    }
    return;
  }
  if (now - last_revocation_check_ >= kRevocationPoll) {
    last_revocation_check_ = now;
    if (Status st = env_.recorder.StillAuthorized(account_->id, credential_); !st) {
      if (st.error().code() == ErrorCode::kPermissionDenied) {
        SPDLOG_LOGGER_INFO(env_.log, "{} login revoked, ending session account={} why={}", tag_,
                           account_->id.short_str(), st.error().message());
        // No file is touched from here on: the worker first, then the transport.
        backend_->End(/*kill=*/true, guard_.relayed_in());
        reason_ = "revoked";
        StopTransport(ipc::StopReason::kRevoked, "revoked");
        return;
      }
      SPDLOG_LOGGER_WARN(env_.log, "{} cannot check the login account={} error={}", tag_,
                         account_->id.short_str(), st.error());
    }
  }
  if (now - last_progress_ >= kProgressInterval) {
    last_progress_ = now;
    Progress(false);
  }
}

void Connection::Serve() {
  while (pid_ > 0) {
    const int ready_fd = backend_ != nullptr ? backend_->ReadyFd() : -1;
    pollfd p[2] = {{control_.get(), POLLIN, 0}, {ready_fd, POLLIN, 0}};
    int n = poll(p, 2, kTickMs);
    if (n < 0 && errno != EINTR) {
      reason_ = reason_.empty() ? "error" : reason_;
      Reap(/*kill_first=*/true);
      return;
    }
    // The transport first: its Relayed comes before the worker can report those bytes.
    if (n > 0 && p[0].revents != 0 && !FromTransport()) {
      return;
    }
    if (n > 0 && p[1].revents != 0 && backend_ != nullptr) {
      if (Status st = backend_->OnReady(guard_.relayed_in()); !st) {
        reason_ = reason_.empty() ? "error" : reason_;
        StopTransport(ipc::StopReason::kShutdown, "error");
      }
    }
    Tick();
  }
}

void Connection::Progress(bool final_record) {
  if (backend_ != nullptr && backend_->TakeActivity()) {
    activity_pending_ = true;
  }
  if (!usage_open_) {
    return;
  }
  usage::Counters c = backend_ != nullptr ? backend_->counters() : usage::Counters{};
  TimePoint now = env_.clock.Now();
  Status st = final_record
                  ? env_.recorder.End(usage_id_, account_->id, c, activity_pending_, reason_, now)
                  : env_.recorder.Progress(usage_id_, account_->id, c, activity_pending_, now);
  if (!st) {
    SPDLOG_LOGGER_WARN(env_.log, "{} cannot record usage account={} error={}", tag_,
                       account_->id.short_str(), st.error());
    return;
  }
  activity_pending_ = false;
  if (final_record) {
    usage_open_ = false;
  }
}

void Connection::Reap(bool kill_first) {
  if (pid_ <= 0) {
    return;
  }
  // The transport exits right after its Bye (or is killed first): waited for, bounded.
  int status = ReapHelper(pid_, kill_first ? milliseconds(0) : kExitWait);
  if (status != -1 && WIFSIGNALED(status) && !kill_first) {
    transport_crashed_ = true;
    SPDLOG_LOGGER_WARN(env_.log, "{} transport killed by a signal pid={} signal={}", tag_, pid_,
                       WTERMSIG(status));
  }
  pid_ = -1;
  control_.reset();
}

void Connection::Run(ConnectionFds fds) {
  if (env_.gate.SourceBanned(ip_)) {
    // Before the banner: no key exchange for a banned source. Debug only, so a banned flood
    // cannot fill the log.
    SPDLOG_LOGGER_DEBUG(env_.log, "{} connection dropped: source banned ip={}", tag_, ip_);
    env_.metrics.SessionEnded("closed", false);
    return;
  }
  if (Start(std::move(fds))) {
    Serve();
  }
  // The transport is gone, so is its end of the data socket: the worker finishes on its own.
  if (backend_ != nullptr) {
    backend_->End(/*kill=*/false, guard_.relayed_in());
  }
  std::string reason = reason_;
  if (reason.empty() && backend_ != nullptr) {
    reason = backend_->FailureReason();
  }
  if (reason.empty()) {
    if (auto bye = guard_.bye()) {
      reason = ipc::ByeReasonName(*bye);
    } else {
      reason = transport_crashed_ ? "transport_crashed" : "error";
    }
  }
  reason_ = reason;
  Progress(true);
  if (account_.has_value()) {
    SPDLOG_LOGGER_INFO(env_.log, "{} session ended account={} reason={}", tag_,
                       account_->id.short_str(), reason_);
  }
  env_.metrics.SessionEnded(reason_, account_.has_value());
}

}  // namespace

void RunConnection(const ConnectionEnv& env, const SessionLimits& limits, ConnectionFds fds,
                   const std::string& remote_ip, uint64_t number) noexcept {
  try {
    Connection c(env, limits, remote_ip, number);
    c.Run(std::move(fds));
  } catch (const std::exception& e) {
    SPDLOG_LOGGER_ERROR(env.log, "[c{}] connection failed: {}", number, e.what());
  } catch (...) {
    SPDLOG_LOGGER_ERROR(env.log, "[c{}] connection failed", number);
  }
}

}  // namespace sftplc::server
