#include "sftpd/server/session.h"

#include <libssh/callbacks.h>
#include <libssh/server.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>

#include "sftpd/server/host_keys.h"
#include "sftpd/server/server.h"

namespace sftplc::server {
namespace {

using std::chrono::milliseconds;
using SteadyTime = std::chrono::steady_clock::time_point;

// How often the pump wakes up when nothing arrives (to check idle time and the stop flag).
constexpr int kTickMs = 1000;
// Reads between two window top-ups ask for this much (less than the window left: no adjust).
constexpr uint32_t kSteadyReadSize = 256 * 1024;
// The window is topped up to kChannelReadSize once this much of it has been read.
constexpr uint32_t kWindowTopUp = kChannelReadSize / 2;
// Progress (counters, last_activity_at) is written at most this often per session.
constexpr Seconds kProgressInterval{60};
// How often a running session asks whether its login still stands (account closed or erased,
// key removed, password changed): a revocation ends it within this plus one pump tick.
constexpr milliseconds kRevocationPoll{1000};
// How long a clean close waits for the client to close its side.
constexpr milliseconds kCloseWait{3000};

const char* MethodName(auth::AuthMethod m) {
  return m == auth::AuthMethod::kPublicKey ? "publickey" : "password";
}

class Session {
 public:
  Session(const SessionEnv& env, const SessionLimits& limits, ssh_session session,
          const std::string& remote_ip, uint64_t number)
      : env_(env),
        limits_(limits),
        session_(session),
        ip_(remote_ip),
        tag_(fmt::format("[c{}]", number)) {}

  ~Session() {
    env_.metrics.SessionEnded(end_reason_, authenticated_);
    if (event_ != nullptr) {
      ssh_event_free(event_);
    }
  }

  void Run();

 private:
  // --- libssh trampolines: noexcept, never let an exception into C code. ---
  static int OnPassword(ssh_session, const char* user, const char* password, void* ud) noexcept;
  static int OnPublicKey(ssh_session, const char* user, ssh_key_struct* key, char state,
                         void* ud) noexcept;
  static ssh_channel OnChannelOpen(ssh_session, void* ud) noexcept;
  static int OnSubsystem(ssh_session, ssh_channel, const char* name, void* ud) noexcept;
  static int OnPty(ssh_session, ssh_channel, const char*, int, int, int, int, void* ud) noexcept;
  static int OnShell(ssh_session, ssh_channel, void* ud) noexcept;
  static int OnExec(ssh_session, ssh_channel, const char*, void* ud) noexcept;
  static int OnEnv(ssh_session, ssh_channel, const char*, const char*, void*) noexcept;
  static int OnChannelData(ssh_session, ssh_channel, void* data, uint32_t len, int is_stderr,
                           void* ud) noexcept;

  int ChannelData(uint32_t unread, int is_stderr);
  int Password(const char* user, const char* password);
  int PublicKey(const char* user, ssh_key key, char state);
  ssh_channel ChannelOpen();
  int Subsystem(ssh_channel channel, const char* name);
  int AfterDecision(const auth::AuthDecision& d, auth::AuthMethod method);
  auth::AuthRequest Request(const char* user) const;

  bool Handshake();
  bool Authenticate();
  void Pump();
  bool Feed(const uint8_t* data, std::size_t len, std::string& out);
  bool Send(const std::string& out);
  void Close(bool clean);
  bool Closed() const {
    int st = ssh_get_status(session_);
    return (st & (SSH_CLOSED | SSH_CLOSED_ERROR)) != 0;
  }
  void Progress(bool final_record);

  const SessionEnv& env_;
  SessionLimits limits_;
  ssh_session session_;
  std::string ip_;
  std::string tag_;
  std::string client_version_;

  ssh_server_callbacks_struct server_cb_{};
  ssh_channel_callbacks_struct channel_cb_{};
  ssh_event event_ = nullptr;

  int failures_ = 0;
  bool banned_ = false;
  bool authenticated_ = false;
  std::optional<accounts::Account> account_;
  auth::AuthMethod method_ = auth::AuthMethod::kPassword;
  LoginCredential credential_;
  OfferedKey offered_key_;  // the key of the signature being checked (key logins)
  ssh_channel channel_ = nullptr;
  bool sftp_ = false;
  bool window_exceeded_ = false;
  SteadyTime login_deadline_{};  // connect + login_grace_time

  std::unique_ptr<ChannelProtocol> protocol_;
  int64_t usage_id_ = 0;
  bool usage_open_ = false;
  bool activity_pending_ = false;
  std::string end_reason_ = "closed";
  SteadyTime last_progress_{};
};

// ---------------------------------------------------------------------------------------------
// Trampolines.

int Session::OnPassword(ssh_session, const char* user, const char* password, void* ud) noexcept {
  auto* self = static_cast<Session*>(ud);
  try {
    return self->Password(user, password);
  } catch (const std::exception& e) {
    SPDLOG_LOGGER_ERROR(self->env_.log, "{} password check failed: {}", self->tag_, e.what());
  } catch (...) {
    SPDLOG_LOGGER_ERROR(self->env_.log, "{} password check failed", self->tag_);
  }
  return SSH_AUTH_DENIED;
}

int Session::OnPublicKey(ssh_session, const char* user, ssh_key_struct* key, char state,
                         void* ud) noexcept {
  auto* self = static_cast<Session*>(ud);
  try {
    return self->PublicKey(user, key, state);
  } catch (const std::exception& e) {
    SPDLOG_LOGGER_ERROR(self->env_.log, "{} key check failed: {}", self->tag_, e.what());
  } catch (...) {
    SPDLOG_LOGGER_ERROR(self->env_.log, "{} key check failed", self->tag_);
  }
  return SSH_AUTH_DENIED;
}

ssh_channel Session::OnChannelOpen(ssh_session, void* ud) noexcept {
  auto* self = static_cast<Session*>(ud);
  try {
    return self->ChannelOpen();
  } catch (...) {
    SPDLOG_LOGGER_ERROR(self->env_.log, "{} channel open failed", self->tag_);
  }
  return nullptr;
}

int Session::OnSubsystem(ssh_session, ssh_channel channel, const char* name, void* ud) noexcept {
  auto* self = static_cast<Session*>(ud);
  try {
    return self->Subsystem(channel, name);
  } catch (...) {
    SPDLOG_LOGGER_ERROR(self->env_.log, "{} subsystem request failed", self->tag_);
  }
  return SSH_ERROR;
}

// Refusals: a non-zero return makes libssh answer SSH_MSG_CHANNEL_FAILURE.
int Session::OnPty(ssh_session, ssh_channel, const char*, int, int, int, int, void* ud) noexcept {
  auto* self = static_cast<Session*>(ud);
  SPDLOG_LOGGER_INFO(self->env_.log, "{} pty request refused", self->tag_);
  return -1;
}

int Session::OnShell(ssh_session, ssh_channel, void* ud) noexcept {
  auto* self = static_cast<Session*>(ud);
  SPDLOG_LOGGER_INFO(self->env_.log, "{} shell request refused", self->tag_);
  return -1;
}

int Session::OnExec(ssh_session, ssh_channel, const char*, void* ud) noexcept {
  auto* self = static_cast<Session*>(ud);
  SPDLOG_LOGGER_INFO(self->env_.log, "{} exec request refused", self->tag_);
  return -1;
}

int Session::OnEnv(ssh_session, ssh_channel, const char*, const char*, void*) noexcept {
  return -1;  // environment variables mean nothing to an SFTP server (OpenSSH sends LANG)
}

int Session::OnChannelData(ssh_session, ssh_channel, void*, uint32_t len, int is_stderr,
                           void* ud) noexcept {
  return static_cast<Session*>(ud)->ChannelData(len, is_stderr);
}

// Called by libssh with everything unread on the channel each time data arrives (from any libssh
// call, including a write waiting for window). Returns how many bytes libssh may drop: none while
// the client keeps to its window (the pump reads them), all of them once it did not.
int Session::ChannelData(uint32_t unread, int is_stderr) {
  if (is_stderr != 0) {
    return static_cast<int>(unread);  // a client has no stderr to send: dropped, never held
  }
  if (!window_exceeded_ && unread > kMaxUnreadChannelData) {
    window_exceeded_ = true;
    SPDLOG_LOGGER_WARN(env_.log, "{} client sent past its window, ending session unread={}", tag_,
                       unread);
    // Ends every libssh call of this session at its next read (a write waiting for window
    // included) without closing the fd under libssh.
    shutdown(ssh_get_fd(session_), SHUT_RDWR);
  }
  return window_exceeded_ ? static_cast<int>(unread) : 0;
}

// ---------------------------------------------------------------------------------------------
// Authentication.

auth::AuthRequest Session::Request(const char* user) const {
  auth::AuthRequest r;
  r.username = user != nullptr ? user : "";
  r.remote_ip = ip_;
  r.client_version = client_version_;
  return r;
}

int Session::AfterDecision(const auth::AuthDecision& d, auth::AuthMethod method) {
  if (d.outcome == auth::AuthOutcome::kAccepted && d.account.has_value()) {
    LoginInfo info;
    info.account = d.account->id;
    info.remote_ip = ip_;
    info.client_version = client_version_;
    info.method = method;
    info.at = env_.clock.Now();
    auto id = env_.recorder.Begin(info);
    if (!id) {
      // The usage record is the audit trail of a login: no record, no login.
      SPDLOG_LOGGER_ERROR(env_.log, "{} login refused: cannot record it account={} error={}", tag_,
                          d.account->id.short_str(), id.error());
      ++failures_;
      return SSH_AUTH_DENIED;
    }
    usage_id_ = *id;
    usage_open_ = true;
    authenticated_ = true;
    if (env_.logged_in) {
      env_.logged_in();
    }
    account_ = d.account;
    method_ = method;
    credential_.method = method;
    if (method == auth::AuthMethod::kPassword) {
      credential_.password_hash = d.account->password_hash;
    } else {
      credential_.key_type = offered_key_.type;
      credential_.key_base64 = offered_key_.base64;
    }
    SPDLOG_LOGGER_INFO(env_.log, "{} login ok account={} method={} ip={}", tag_,
                       d.account->id.short_str(), MethodName(method), ip_);
    return SSH_AUTH_SUCCESS;
  }
  ++failures_;
  if (d.outcome == auth::AuthOutcome::kBanned) {
    banned_ = true;
    SPDLOG_LOGGER_INFO(env_.log, "{} login refused: source banned ip={}", tag_, ip_);
  } else {
    SPDLOG_LOGGER_INFO(env_.log, "{} login failed method={} ip={} attempt={}", tag_,
                       MethodName(method), ip_, failures_);
  }
  return SSH_AUTH_DENIED;
}

int Session::Password(const char* user, const char* password) {
  if (authenticated_ || banned_ || failures_ >= limits_.max_auth_tries) {
    return SSH_AUTH_DENIED;
  }
  Secret secret(password != nullptr ? std::string_view(password) : std::string_view());
  auth::AuthDecision d = env_.gate.CheckPassword(Request(user), secret);
  return AfterDecision(d, auth::AuthMethod::kPassword);
}

int Session::PublicKey(const char* user, ssh_key key, char state) {
  if (authenticated_ || banned_ || failures_ >= limits_.max_auth_tries || key == nullptr) {
    return SSH_AUTH_DENIED;
  }
  if (state == SSH_PUBLICKEY_STATE_WRONG) {
    ++failures_;
    return SSH_AUTH_DENIED;
  }
  OfferedKey offered;
  const char* type = ssh_key_type_to_char(ssh_key_type(key));
  offered.type = type != nullptr ? type : "";
  char* b64 = nullptr;
  if (ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK || b64 == nullptr) {
    ++failures_;
    return SSH_AUTH_DENIED;
  }
  offered.base64 = b64;
  ssh_string_free_char(b64);
  offered.fingerprint = KeyFingerprint(key);
  bool verified = state == SSH_PUBLICKEY_STATE_VALID;
  auth::AuthDecision d = env_.gate.CheckPublicKey(Request(user), offered, verified);
  if (!verified) {
    // The probe: "this key would do" (SSH_MSG_USERAUTH_PK_OK) or not. A refused probe counts as
    // an attempt, as in OpenSSH.
    if (d.outcome == auth::AuthOutcome::kAccepted) {
      return SSH_AUTH_SUCCESS;
    }
    ++failures_;
    if (d.outcome == auth::AuthOutcome::kBanned) {
      banned_ = true;
    }
    return SSH_AUTH_DENIED;
  }
  offered_key_ = std::move(offered);
  return AfterDecision(d, auth::AuthMethod::kPublicKey);
}

// ---------------------------------------------------------------------------------------------
// Channel.

ssh_channel Session::ChannelOpen() {
  if (!authenticated_ || channel_ != nullptr) {
    SPDLOG_LOGGER_INFO(env_.log, "{} session channel refused", tag_);
    return nullptr;
  }
  channel_ = ssh_channel_new(session_);
  if (channel_ == nullptr) {
    return nullptr;
  }
  channel_cb_ = {};
  channel_cb_.userdata = this;
  channel_cb_.channel_subsystem_request_function = &Session::OnSubsystem;
  channel_cb_.channel_pty_request_function = &Session::OnPty;
  channel_cb_.channel_shell_request_function = &Session::OnShell;
  channel_cb_.channel_exec_request_function = &Session::OnExec;
  channel_cb_.channel_env_request_function = &Session::OnEnv;
  // The data callback only watches the window: data stays buffered in libssh for
  // ssh_channel_read (the pump).
  channel_cb_.channel_data_function = &Session::OnChannelData;
  // X11 and agent forwarding have no callback, so libssh refuses them.
  ssh_callbacks_init(&channel_cb_);
  ssh_set_channel_callbacks(channel_, &channel_cb_);
  return channel_;
}

int Session::Subsystem(ssh_channel channel, const char* name) {
  if (channel != channel_ || sftp_ || name == nullptr || std::strcmp(name, "sftp") != 0) {
    SPDLOG_LOGGER_INFO(env_.log, "{} subsystem refused", tag_);
    return SSH_ERROR;
  }
  auto protocol = env_.protocol(*account_, tag_);
  if (!protocol) {
    if (protocol.error().IsNotFound()) {
      // The account's folder is gone (erased after the login): a refusal, not a fault.
      SPDLOG_LOGGER_INFO(env_.log, "{} sftp refused: no account folder account={}", tag_,
                         account_->id.short_str());
      end_reason_ = "revoked";
      return SSH_ERROR;
    }
    SPDLOG_LOGGER_ERROR(env_.log, "{} cannot start sftp account={} error={}", tag_,
                        account_->id.short_str(), protocol.error());
    end_reason_ = "error";
    return SSH_ERROR;
  }
  protocol_ = std::move(*protocol);
  sftp_ = true;
  return SSH_OK;
}

// ---------------------------------------------------------------------------------------------
// Phases.

bool Session::Handshake() {
  // Bounds every blocking libssh call (key exchange, a write to a client that stopped reading).
  login_deadline_ = env_.clock.SteadyNow() + limits_.login_grace_time;
  long timeout = std::max<long>(1, limits_.login_grace_time.count());
  ssh_options_set(session_, SSH_OPTIONS_TIMEOUT, &timeout);

  server_cb_ = {};
  server_cb_.userdata = this;
  server_cb_.auth_password_function = &Session::OnPassword;
  server_cb_.auth_pubkey_function = &Session::OnPublicKey;
  server_cb_.channel_open_request_session_function = &Session::OnChannelOpen;
  ssh_callbacks_init(&server_cb_);
  ssh_set_server_callbacks(session_, &server_cb_);

  if (ssh_handle_key_exchange(session_) != SSH_OK) {
    // libssh's message quotes the client's name-lists and banner: escaped, never raw.
    SPDLOG_LOGGER_INFO(env_.log, "{} key exchange failed ip={} error={}", tag_, ip_,
                       LogSafe(ssh_get_error(session_)));
    return false;
  }
  const char* banner = ssh_get_clientbanner(session_);
  client_version_ = banner != nullptr ? banner : "";
  ssh_set_auth_methods(session_, SSH_AUTH_METHOD_PASSWORD | SSH_AUTH_METHOD_PUBLICKEY);
  return true;
}

bool Session::Authenticate() {
  event_ = ssh_event_new();
  if (event_ == nullptr || ssh_event_add_session(event_, session_) != SSH_OK) {
    return false;
  }
  // One grace time from connect to the sftp subsystem: the key exchange used part of it.
  SteadyTime deadline = login_deadline_;
  while (!sftp_) {
    if (env_.stop.load()) {
      end_reason_ = "shutdown";
      return false;
    }
    if (banned_) {
      return false;
    }
    if (failures_ >= limits_.max_auth_tries) {
      SPDLOG_LOGGER_INFO(env_.log, "{} too many authentication failures ip={}", tag_, ip_);
      return false;
    }
    SteadyTime now = env_.clock.SteadyNow();
    if (now >= deadline) {
      SPDLOG_LOGGER_INFO(env_.log, "{} login grace time over ip={}", tag_, ip_);
      end_reason_ = "login_timeout";
      return false;
    }
    auto left = std::chrono::duration_cast<milliseconds>(deadline - now).count();
    int wait = static_cast<int>(std::min<long long>(left, kTickMs));
    if (ssh_event_dopoll(event_, std::max(wait, 1)) == SSH_ERROR || Closed()) {
      end_reason_ = "closed";
      return false;
    }
    if (end_reason_ == "error" || end_reason_ == "revoked") {
      return false;
    }
  }
  // The pump reads the channel directly; take the session off the event loop.
  ssh_event_remove_session(event_, session_);
  return true;
}

void Session::Progress(bool final_record) {
  if (protocol_ != nullptr && protocol_->TakeActivity()) {
    activity_pending_ = true;
  }
  if (!usage_open_) {
    return;
  }
  usage::Counters c = protocol_ != nullptr ? protocol_->counters() : usage::Counters{};
  TimePoint now = env_.clock.Now();
  Status st =
      final_record
          ? env_.recorder.End(usage_id_, account_->id, c, activity_pending_, end_reason_, now)
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

bool Session::Send(const std::string& out) {
  if (out.empty()) {
    return true;
  }
  int w = ssh_channel_write(channel_, out.data(), static_cast<uint32_t>(out.size()));
  if (w != static_cast<int>(out.size())) {
    if (window_exceeded_) {
      end_reason_ = "window_exceeded";
      return false;
    }
    SPDLOG_LOGGER_INFO(env_.log, "{} write to client failed account={}", tag_,
                       account_->id.short_str());
    end_reason_ = "error";
    return false;
  }
  return true;
}

// Hands bytes to the protocol and sends its coalesced replies; then, while the protocol holds
// complete requests it has not handled yet (its reply bound was reached), sends and asks again
// before reading more. Returns false when the session must end (end_reason_ set).
bool Session::Feed(const uint8_t* data, std::size_t len, std::string& out) {
  out.clear();
  Status st = protocol_->OnData(data, len, out);
  for (;;) {
    if (!Send(out)) {
      return false;
    }
    if (!st) {
      end_reason_ = protocol_->FailureReason();
      SPDLOG_LOGGER_WARN(env_.log, "{} {}, ending session account={} error={}", tag_, end_reason_,
                         account_->id.short_str(), st.error());
      return false;
    }
    if (!protocol_->HasPendingRequests()) {
      return true;
    }
    out.clear();
    st = protocol_->OnData(nullptr, 0, out);
  }
}

void Session::Pump() {
  // In libssh 0.10 a read asking for N bytes grows the channel window to N, so the buffer must
  // really be N bytes. It is allocated uninitialised: only the pages data lands in get touched.
  std::unique_ptr<uint8_t[]> buf(new uint8_t[kChannelReadSize]);
  std::string out;
  out.reserve(256 * 1024);
  // Bounds a reply blocked by a client that grants no window; reads have their own timeout.
  long timeout = std::max<long>(1, limits_.write_timeout.count());
  ssh_options_set(session_, SSH_OPTIONS_TIMEOUT, &timeout);
  SteadyTime last_request = env_.clock.SteadyNow();
  last_progress_ = last_request;
  SteadyTime last_revocation_check = last_request;
  uint32_t consumed = kWindowTopUp;  // bytes read since the window was last topped up
  for (;;) {
    if (env_.stop.load()) {
      end_reason_ = "shutdown";
      return;
    }
    if (!protocol_->WantsInput() && !Feed(nullptr, 0, out)) {
      return;
    }
    // Ask for the full window only once half of it has been used: each such read sends one
    // WINDOW_ADJUST, so the client gets a 4 MiB credit per adjust instead of one per packet.
    // The other reads ask for less than what is buffered plus the window left, which libssh
    // serves without growing it.
    bool top_up = consumed >= kWindowTopUp;
    uint32_t count = top_up ? kChannelReadSize : kSteadyReadSize;
    int wait_ms = kTickMs;
    if (protocol_->ReadyFd() >= 0) {
      // Served by another process: wait for the client and the worker together, then read
      // the channel without waiting. Channel data libssh already holds is not seen by poll.
      int held = protocol_->WantsInput() ? ssh_channel_poll(channel_, 0) : 0;
      pollfd p[2] = {{protocol_->WantsInput() ? ssh_get_fd(session_) : -1, POLLIN, 0},
                     {protocol_->ReadyFd(), protocol_->ReadyEvents(), 0}};
      int ready = poll(p, 2, held != 0 ? 0 : kTickMs);
      if (ready > 0 && p[1].revents != 0) {
        out.clear();
        Status st = protocol_->OnReady(out);
        if (!Send(out)) {
          return;
        }
        if (!st) {
          end_reason_ = protocol_->FailureReason();
          SPDLOG_LOGGER_WARN(env_.log, "{} {}, ending session account={} error={}", tag_,
                             end_reason_, account_->id.short_str(), st.error());
          return;
        }
      }
      if (!protocol_->WantsInput()) {
        continue;
      }
      wait_ms = 0;
    }
    int n = ssh_channel_read_timeout(channel_, buf.get(), count, 0, wait_ms);
    SteadyTime now = env_.clock.SteadyNow();
    if (n == SSH_ERROR || window_exceeded_) {
      end_reason_ = window_exceeded_ ? "window_exceeded" : Closed() ? "closed" : "error";
      return;
    }
    if (top_up) {
      consumed = 0;
    }
    consumed += static_cast<uint32_t>(n);
    if (n == 0) {
      if (ssh_channel_is_eof(channel_) || ssh_channel_is_closed(channel_) || Closed()) {
        end_reason_ = "closed";
        return;
      }
      if (now - last_request >= limits_.idle_timeout) {
        SPDLOG_LOGGER_INFO(env_.log, "{} idle timeout account={}", tag_, account_->id.short_str());
        end_reason_ = "idle_timeout";
        return;
      }
    } else {
      last_request = now;
      if (!Feed(buf.get(), static_cast<std::size_t>(n), out)) {
        return;
      }
    }
    if (now - last_revocation_check >= kRevocationPoll) {
      last_revocation_check = now;
      if (Status st = env_.recorder.StillAuthorized(account_->id, credential_); !st) {
        if (st.error().code() == ErrorCode::kPermissionDenied) {
          SPDLOG_LOGGER_INFO(env_.log, "{} login revoked, ending session account={} why={}", tag_,
                             account_->id.short_str(), st.error().message());
          end_reason_ = "revoked";
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
}

void Session::Close(bool clean) {
  if (channel_ != nullptr && !Closed()) {
    if (clean && !ssh_channel_is_closed(channel_)) {
      // exit-status, EOF, close, then wait for the client's close: OpenSSH prints nothing.
      ssh_channel_request_send_exit_status(channel_, 0);
      ssh_channel_send_eof(channel_);
      ssh_channel_close(channel_);
      if (event_ != nullptr && ssh_event_add_session(event_, session_) == SSH_OK) {
        SteadyTime until = env_.clock.SteadyNow() + kCloseWait;
        while (!Closed() && env_.clock.SteadyNow() < until && !env_.stop.load()) {
          if (ssh_event_dopoll(event_, 100) == SSH_ERROR) {
            break;
          }
        }
        ssh_event_remove_session(event_, session_);
      }
    }
  }
  // Free the channel before ssh_disconnect: libssh 0.10's ssh_disconnect frees every channel of
  // the session itself, so freeing it afterwards would be a use after free.
  if (channel_ != nullptr) {
    ssh_channel_free(channel_);
    channel_ = nullptr;
  }
  if (!Closed()) {
    ssh_disconnect(session_);
  }
}

void Session::Run() {
  if (env_.gate.SourceBanned(ip_)) {
    // Before the banner: no key exchange for a banned source. Debug only, so a banned flood
    // cannot fill the log.
    SPDLOG_LOGGER_DEBUG(env_.log, "{} connection dropped: source banned ip={}", tag_, ip_);
    shutdown(ssh_get_fd(session_), SHUT_RDWR);  // ssh_disconnect would send a DISCONNECT
    return;
  }
  if (!Handshake()) {
    ssh_disconnect(session_);
    return;
  }
  bool ok = Authenticate();
  if (ok) {
    Pump();
  }
  if (env_.stop.load() && (end_reason_ == "closed" || end_reason_ == "error")) {
    end_reason_ = "shutdown";  // the server ended it (its socket was shut down)
  }
  if (protocol_ != nullptr) {
    protocol_->CloseAll();
  }
  Progress(true);
  if (account_.has_value()) {
    SPDLOG_LOGGER_INFO(env_.log, "{} session ended account={} reason={}", tag_,
                       account_->id.short_str(), end_reason_);
  }
  Close(ok && end_reason_ != "error" && !window_exceeded_);
}

}  // namespace

void RunSession(const SessionEnv& env, const SessionLimits& limits, ssh_session session,
                const std::string& remote_ip, uint64_t number) noexcept {
  try {
    Session s(env, limits, session, remote_ip, number);
    s.Run();
  } catch (const std::exception& e) {
    SPDLOG_LOGGER_ERROR(env.log, "[c{}] session failed: {}", number, e.what());
    ssh_disconnect(session);
  } catch (...) {
    SPDLOG_LOGGER_ERROR(env.log, "[c{}] session failed", number);
    ssh_disconnect(session);
  }
}

}  // namespace sftplc::server
