#include "sftpd/server/session.h"

#include <fcntl.h>
#include <libssh/callbacks.h>
#include <libssh/server.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <optional>

#include "sftpd/core/base/secret.h"
#include "sftpd/server/read_ahead.h"

namespace sftplc::server {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;
using SteadyTime = SteadyClock::time_point;

// How often the pump wakes up when nothing arrives (to check idle time).
constexpr int kTickMs = 1000;
// Reads between two window top-ups ask for this much (less than the window left: no adjust).
constexpr uint32_t kSteadyReadSize = 256 * 1024;
// The window is topped up to kChannelReadSize once this much of it has been read.
constexpr uint32_t kWindowTopUp = kChannelReadSize / 2;
// How long a clean close waits for the client to close its side.
constexpr milliseconds kCloseWait{3000};
// Client bytes buffered for a worker that does not read them yet; past this the transport stops
// reading the channel until the worker catches up. The data socket's kernel buffer holds the
// backlog: what waits here is process memory, once per session.
constexpr std::size_t kMaxPending = 512 * 1024;
// Reply pacing (RepliesAhead) ends for a connection whose client does not adjust its window
// within kAdjustWait (it adjusts only once more is out), or answers kLongWaitsInRow waits in a
// row later than kLongAdjustWait: a path longer than its TCP round trip shows (behind a proxy
// that ends TCP), where each adjust comes a round trip late. A client on the same host under
// load answers within a few milliseconds, now and then later, never that many times in a row.
constexpr milliseconds kAdjustWait{200};
constexpr milliseconds kLongAdjustWait{10};
constexpr int kLongWaitsInRow = 16;
// Paced replies go in pieces of at least this much (the OpenSSH client's largest packet).
constexpr uint32_t kPacedPiece = 32 * 1024;
// One pass moves at most this much of the worker's replies to the client.
constexpr std::size_t kMaxReplyBatch = 1024 * 1024;
constexpr std::size_t kReadChunk = 256 * 1024;
constexpr std::size_t kReplyBufferSize = kMaxReplyBatch + kReadChunk;
// How far ahead of the bytes relayed the transport announces its bound (Relayed).
constexpr uint64_t kRelayCredit = 4 * 1024 * 1024;
// Client bytes gather in the channel read buffer and are handed to the worker once this much has
// come, or before the pump waits.
constexpr std::size_t kFlushBatch = 256 * 1024;
// While libssh already holds channel data, the pump reads it without asking the kernel about
// the other sockets first, for at most this many reads in a row (the worker's replies and the
// monitor's messages wait that long at most).
constexpr int kReadsPerPoll = 16;

class Session {
 public:
  Session(const ipc::Hello& hello, ssh_session session, int control_fd, Logger log)
      : hello_(hello),
        session_(session),
        control_(control_fd),
        log_(std::move(log)),
        tag_(fmt::format("[c{}]", hello.connection)) {}

  ~Session() {
    if (event_ != nullptr) {
      ssh_event_free(event_);
    }
    if (data_ >= 0) {
      close(data_);
    }
  }

  ipc::ByeReason Run();

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
  // Sends a login attempt to the monitor and waits for its answer (at most until the login
  // deadline). Anything but an answer ends the connection (rejected).
  ipc::AuthOutcome Ask(const ipc::Message& attempt);
  int Decided(ipc::AuthOutcome outcome);
  // Waits for the monitor's next message, at most until `deadline`. nullopt: nothing came,
  // the monitor is gone or broke the protocol (end_ set), or a Stop came (end_ set).
  std::optional<ipc::Received> AwaitMonitor(SteadyTime deadline);
  // Reads what the monitor sent while serving (a Stop). False: end now (end_ set).
  bool CheckMonitor();

  bool Handshake();
  bool Authenticate();
  void Pump();
  // The relay to the worker: hand client bytes over (Relayed told first; what the data socket
  // does not take at once waits in pending_), write what waits, read the worker's replies into
  // `replies` (kReplyBufferSize bytes; `*len` set to what came). False: the worker is gone
  // (end_ set).
  bool Relay(const uint8_t* data, std::size_t len);
  bool Flush();
  // Writes what the data socket takes of `data` without waiting: the count, or -1 if the
  // worker is gone (end_ set).
  ssize_t Offer(const char* data, std::size_t len);
  bool MoveReplies(char* replies, std::size_t* len);
  // Writes replies to the client, paced (RepliesAhead): at most ahead_ bytes the client has
  // not given back yet. False: the connection ends (end_ set).
  bool Send(const char* data, std::size_t len);
  // How many reply bytes may go now; waits up to kAdjustWait for the client's window adjust
  // while none may, and stops pacing a client that answers too late. nullopt: the connection
  // ends (end_ set).
  std::optional<std::size_t> ReplyRoom();
  // The smoothed round-trip time of the client's TCP connection (0: not known).
  uint32_t ClientRttUs() const;
  void Close(bool clean);
  bool Closed() const {
    int st = ssh_get_status(session_);
    return (st & (SSH_CLOSED | SSH_CLOSED_ERROR)) != 0;
  }

  const ipc::Hello& hello_;
  ssh_session session_;
  int control_;
  Logger log_;
  std::string tag_;
  std::string client_version_;

  ssh_server_callbacks_struct server_cb_{};
  ssh_channel_callbacks_struct channel_cb_{};
  ssh_event event_ = nullptr;

  int failures_ = 0;
  bool banned_ = false;
  bool authenticated_ = false;
  ssh_channel channel_ = nullptr;
  bool sftp_ = false;
  bool window_exceeded_ = false;
  SteadyTime login_deadline_{};  // connect + login_grace_time
  std::optional<ipc::ByeReason> end_;

  int data_ = -1;  // the worker's data socket (non-blocking)
  std::string pending_;
  // Reply pacing (RepliesAhead): the largest window the client has granted, and whether its
  // replies are paced (until it fails to adjust in time).
  uint32_t window_peak_ = 0;
  bool pace_ = true;
  uint32_t ahead_ = 0;       // how far replies run ahead: RepliesAhead, set when serving starts
  int long_waits_ = 0;       // waits for an adjust longer than kLongAdjustWait, in a row
  uint64_t relayed_in_ = 0;  // client bytes handed to the relay
  uint64_t announced_ = 0;   // the bound told to the monitor (Relayed)
};

// ---------------------------------------------------------------------------------------------
// Trampolines.

int Session::OnPassword(ssh_session, const char* user, const char* password, void* ud) noexcept {
  auto* self = static_cast<Session*>(ud);
  try {
    return self->Password(user, password);
  } catch (const std::exception& e) {
    SPDLOG_LOGGER_ERROR(self->log_, "{} password check failed: {}", self->tag_, e.what());
  } catch (...) {
    SPDLOG_LOGGER_ERROR(self->log_, "{} password check failed", self->tag_);
  }
  return SSH_AUTH_DENIED;
}

int Session::OnPublicKey(ssh_session, const char* user, ssh_key_struct* key, char state,
                         void* ud) noexcept {
  auto* self = static_cast<Session*>(ud);
  try {
    return self->PublicKey(user, key, state);
  } catch (const std::exception& e) {
    SPDLOG_LOGGER_ERROR(self->log_, "{} key check failed: {}", self->tag_, e.what());
  } catch (...) {
    SPDLOG_LOGGER_ERROR(self->log_, "{} key check failed", self->tag_);
  }
  return SSH_AUTH_DENIED;
}

ssh_channel Session::OnChannelOpen(ssh_session, void* ud) noexcept {
  auto* self = static_cast<Session*>(ud);
  try {
    return self->ChannelOpen();
  } catch (...) {
    SPDLOG_LOGGER_ERROR(self->log_, "{} channel open failed", self->tag_);
  }
  return nullptr;
}

int Session::OnSubsystem(ssh_session, ssh_channel channel, const char* name, void* ud) noexcept {
  auto* self = static_cast<Session*>(ud);
  try {
    return self->Subsystem(channel, name);
  } catch (...) {
    SPDLOG_LOGGER_ERROR(self->log_, "{} subsystem request failed", self->tag_);
  }
  return SSH_ERROR;
}

// Refusals: a non-zero return makes libssh answer SSH_MSG_CHANNEL_FAILURE.
int Session::OnPty(ssh_session, ssh_channel, const char*, int, int, int, int, void* ud) noexcept {
  auto* self = static_cast<Session*>(ud);
  SPDLOG_LOGGER_INFO(self->log_, "{} pty request refused", self->tag_);
  return -1;
}

int Session::OnShell(ssh_session, ssh_channel, void* ud) noexcept {
  auto* self = static_cast<Session*>(ud);
  SPDLOG_LOGGER_INFO(self->log_, "{} shell request refused", self->tag_);
  return -1;
}

int Session::OnExec(ssh_session, ssh_channel, const char*, void* ud) noexcept {
  auto* self = static_cast<Session*>(ud);
  SPDLOG_LOGGER_INFO(self->log_, "{} exec request refused", self->tag_);
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
    SPDLOG_LOGGER_WARN(log_, "{} client sent past its window, ending session unread={}", tag_,
                       unread);
    // Ends every libssh call of this session at its next read (a write waiting for window
    // included) without closing the fd under libssh.
    shutdown(ssh_get_fd(session_), SHUT_RDWR);
  }
  return window_exceeded_ ? static_cast<int>(unread) : 0;
}

// ---------------------------------------------------------------------------------------------
// Authentication: every attempt is decided by the monitor.

std::optional<ipc::Received> Session::AwaitMonitor(SteadyTime deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now()).count();
    if (left <= 0) {
      end_ = ipc::ByeReason::kLoginTimeout;
      return std::nullopt;
    }
    pollfd p{control_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(std::min<long long>(left, kTickMs))) < 0 && errno != EINTR) {
      end_ = ipc::ByeReason::kError;
      return std::nullopt;
    }
    if (p.revents == 0) {
      continue;
    }
    auto got = ipc::Receive(control_, /*block=*/false);
    if (!got) {
      SPDLOG_LOGGER_WARN(log_, "{} monitor gone: {}", tag_, got.error());
      end_ = ipc::ByeReason::kError;
      return std::nullopt;
    }
    if (!got->has_value()) {
      continue;
    }
    if (const auto* stop = std::get_if<ipc::Stop>(&(*got)->message)) {
      (void)stop;
      if ((*got)->fd >= 0) {
        close((*got)->fd);
      }
      end_ = ipc::ByeReason::kStopped;
      return std::nullopt;
    }
    return std::move(**got);
  }
}

ipc::AuthOutcome Session::Ask(const ipc::Message& attempt) {
  if (Status st = ipc::Send(control_, attempt); !st) {
    end_ = ipc::ByeReason::kError;
    return ipc::AuthOutcome::kRejected;
  }
  auto got = AwaitMonitor(login_deadline_);
  if (!got) {
    return ipc::AuthOutcome::kRejected;
  }
  const auto* answer = std::get_if<ipc::AuthAnswer>(&got->message);
  if (answer == nullptr || got->fd >= 0) {
    if (got->fd >= 0) {
      close(got->fd);
    }
    SPDLOG_LOGGER_WARN(log_, "{} monitor sent something else than a login answer", tag_);
    end_ = ipc::ByeReason::kError;
    return ipc::AuthOutcome::kRejected;
  }
  return answer->outcome;
}

int Session::Decided(ipc::AuthOutcome outcome) {
  if (outcome == ipc::AuthOutcome::kAccepted) {
    authenticated_ = true;
    return SSH_AUTH_SUCCESS;
  }
  ++failures_;
  banned_ = banned_ || outcome == ipc::AuthOutcome::kBanned;
  return SSH_AUTH_DENIED;
}

// Strings over their bound never reach the monitor: the attempt goes with every string empty,
// and fails there like any other (the same timing, the same count).
bool Fits(std::string_view s, std::size_t max) { return s.size() <= max; }

int Session::Password(const char* user, const char* password) {
  if (authenticated_ || banned_ || end_ || failures_ >= static_cast<int>(hello_.max_auth_tries)) {
    return SSH_AUTH_DENIED;
  }
  ipc::Password attempt;
  std::string_view u = user != nullptr ? user : "";
  std::string_view pw = password != nullptr ? password : "";
  if (Fits(u, ipc::kMaxUser) && Fits(pw, ipc::kMaxPassword) &&
      Fits(client_version_, ipc::kMaxClientVersion)) {
    attempt.user = u;
    attempt.password = pw;
    attempt.client_version = client_version_;
  }
  ipc::Message m = std::move(attempt);
  ipc::AuthOutcome outcome = Ask(m);
  std::string& sent = std::get<ipc::Password>(m).password;
  SecureZero(sent.data(), sent.size());
  return Decided(outcome);
}

int Session::PublicKey(const char* user, ssh_key key, char state) {
  if (authenticated_ || banned_ || end_ || failures_ >= static_cast<int>(hello_.max_auth_tries) ||
      key == nullptr) {
    return SSH_AUTH_DENIED;
  }
  if (state == SSH_PUBLICKEY_STATE_WRONG) {
    ++failures_;
    return SSH_AUTH_DENIED;
  }
  const char* type = ssh_key_type_to_char(ssh_key_type(key));
  char* b64 = nullptr;
  if (ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK || b64 == nullptr) {
    ++failures_;
    return SSH_AUTH_DENIED;
  }
  ipc::PublicKey attempt;
  std::string_view u = user != nullptr ? user : "";
  std::string_view t = type != nullptr ? type : "";
  std::string_view blob = b64;
  if (Fits(u, ipc::kMaxUser) && Fits(t, ipc::kMaxKeyType) && Fits(blob, ipc::kMaxKeyBase64) &&
      Fits(client_version_, ipc::kMaxClientVersion)) {
    attempt.user = u;
    attempt.key_type = t;
    attempt.key_base64 = blob;
    attempt.client_version = client_version_;
  }
  ssh_string_free_char(b64);
  // Verified: libssh has checked the client's signature (docs/security.md, residual risks). Not
  // verified: the probe ("would this key do?", answered with SSH_MSG_USERAUTH_PK_OK).
  attempt.verified = state == SSH_PUBLICKEY_STATE_VALID;
  bool probe = !attempt.verified;
  ipc::AuthOutcome outcome = Ask(attempt);
  if (probe && outcome == ipc::AuthOutcome::kAccepted) {
    return SSH_AUTH_SUCCESS;  // PK_OK; the login comes with the signature
  }
  return Decided(outcome);
}

// ---------------------------------------------------------------------------------------------
// Channel.

ssh_channel Session::ChannelOpen() {
  if (!authenticated_ || channel_ != nullptr) {
    SPDLOG_LOGGER_INFO(log_, "{} session channel refused", tag_);
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
    SPDLOG_LOGGER_INFO(log_, "{} subsystem refused", tag_);
    return SSH_ERROR;
  }
  if (Status st = ipc::Send(control_, ipc::OpenSftp{}); !st) {
    end_ = ipc::ByeReason::kError;
    return SSH_ERROR;
  }
  auto got = AwaitMonitor(login_deadline_);
  if (!got) {
    return SSH_ERROR;
  }
  const auto* answer = std::get_if<ipc::SftpAnswer>(&got->message);
  if (answer == nullptr || answer->opened != (got->fd >= 0)) {
    if (got->fd >= 0) {
      close(got->fd);
    }
    SPDLOG_LOGGER_WARN(log_, "{} monitor sent something else than an sftp answer", tag_);
    end_ = ipc::ByeReason::kError;
    return SSH_ERROR;
  }
  if (!answer->opened) {
    // The monitor said why in its log (no account folder, the worker did not start).
    end_ = ipc::ByeReason::kError;
    return SSH_ERROR;
  }
  data_ = got->fd;
  if (fcntl(data_, F_SETFL, O_NONBLOCK) != 0) {
    end_ = ipc::ByeReason::kError;
    return SSH_ERROR;
  }
  sftp_ = true;
  return SSH_OK;
}

// ---------------------------------------------------------------------------------------------
// Phases.

bool Session::Handshake() {
  // Bounds every blocking libssh call (key exchange, a write to a client that stopped reading).
  login_deadline_ = SteadyClock::now() + milliseconds(hello_.login_grace_ms);
  long timeout = std::max<long>(1, static_cast<long>(hello_.login_grace_ms / 1000));
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
    SPDLOG_LOGGER_INFO(log_, "{} key exchange failed error={}", tag_,
                       LogSafe(ssh_get_error(session_)));
    end_ = Closed() ? ipc::ByeReason::kClosed : ipc::ByeReason::kError;
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
    end_ = ipc::ByeReason::kError;
    return false;
  }
  // One grace time from connect to the sftp subsystem: the key exchange used part of it.
  while (!sftp_) {
    if (end_) {
      return false;
    }
    if (banned_ || failures_ >= static_cast<int>(hello_.max_auth_tries)) {
      SPDLOG_LOGGER_INFO(log_, "{} too many authentication failures", tag_);
      end_ = ipc::ByeReason::kAuthFailed;
      return false;
    }
    SteadyTime now = SteadyClock::now();
    if (now >= login_deadline_) {
      SPDLOG_LOGGER_INFO(log_, "{} login grace time over", tag_);
      end_ = ipc::ByeReason::kLoginTimeout;
      return false;
    }
    auto left = std::chrono::duration_cast<milliseconds>(login_deadline_ - now).count();
    int wait = static_cast<int>(std::min<long long>(left, kTickMs));
    if (ssh_event_dopoll(event_, std::max(wait, 1)) == SSH_ERROR || Closed()) {
      end_ = end_.value_or(ipc::ByeReason::kClosed);
      return false;
    }
    // A Stop (shutdown) before the login.
    if (!sftp_ && !CheckMonitor()) {
      return false;
    }
  }
  // The pump reads the channel directly; take the session off the event loop.
  ssh_event_remove_session(event_, session_);
  return true;
}

bool Session::CheckMonitor() {
  for (;;) {
    auto got = ipc::Receive(control_, /*block=*/false);
    if (!got) {
      end_ = got.error().IsNotFound() ? ipc::ByeReason::kStopped : ipc::ByeReason::kError;
      return false;
    }
    if (!got->has_value()) {
      return true;
    }
    if ((*got)->fd >= 0) {
      close((*got)->fd);
    }
    // The monitor sends nothing unasked but a Stop.
    end_ = std::holds_alternative<ipc::Stop>((*got)->message) ? ipc::ByeReason::kStopped
                                                              : ipc::ByeReason::kError;
    return false;
  }
}

bool Session::Send(const char* data, std::size_t len) {
  std::size_t off = 0;
  while (off < len) {
    std::size_t piece = len - off;
    if (pace_) {
      std::optional<std::size_t> room = ReplyRoom();
      if (!room) {
        return false;
      }
      piece = std::min(piece, *room);
    }
    int w = ssh_channel_write(channel_, data + off, static_cast<uint32_t>(piece));
    if (w != static_cast<int>(piece)) {
      if (window_exceeded_) {
        end_ = ipc::ByeReason::kWindowExceeded;
        return false;
      }
      SPDLOG_LOGGER_INFO(log_, "{} write to client failed", tag_);
      end_ = Closed() ? ipc::ByeReason::kClosed : ipc::ByeReason::kError;
      return false;
    }
    off += piece;
  }
  return true;
}

std::optional<std::size_t> Session::ReplyRoom() {
  const SteadyTime start = SteadyClock::now();
  bool added = false;
  std::optional<std::size_t> room;
  for (;;) {
    uint32_t window = ssh_channel_window_size(channel_);
    window_peak_ = std::max(window_peak_, window);
    uint32_t out = window_peak_ - window;  // sent, not yet given back by the client
    SteadyTime now = SteadyClock::now();
    if (out + kPacedPiece <= ahead_) {
      room = ahead_ - out;
      if (added) {  // waited for this adjust: on a long path, each comes a round trip late
        long_waits_ = now - start > kLongAdjustWait ? long_waits_ + 1 : 0;
        if (long_waits_ >= kLongWaitsInRow) {
          SPDLOG_LOGGER_DEBUG(log_, "{} window adjusts come late: replies no longer paced", tag_);
          pace_ = false;
        }
      }
      break;
    }
    if (now - start >= kAdjustWait) {
      // A client that adjusts its window only once more than ahead_ is out would never
      // answer: replies go as far as its window allows from now on.
      SPDLOG_LOGGER_DEBUG(log_, "{} no window adjust within {} ms: replies no longer paced", tag_,
                          kAdjustWait.count());
      pace_ = false;
      room = std::numeric_limits<std::size_t>::max();
      break;
    }
    if (!added && ssh_event_add_session(event_, session_) != SSH_OK) {
      end_ = ipc::ByeReason::kError;
      break;
    }
    added = true;
    auto wait = std::chrono::duration_cast<milliseconds>(start + kAdjustWait - now).count();
    if (ssh_event_dopoll(event_, static_cast<int>(std::max<long>(wait, 1))) == SSH_ERROR ||
        Closed()) {
      end_ = Closed() ? ipc::ByeReason::kClosed : ipc::ByeReason::kError;
      break;
    }
  }
  if (added) {
    ssh_event_remove_session(event_, session_);
  }
  return room;
}

uint32_t Session::ClientRttUs() const {
  tcp_info info{};
  socklen_t size = sizeof(info);
  if (getsockopt(ssh_get_fd(session_), IPPROTO_TCP, TCP_INFO, &info, &size) != 0) {
    return 0;  // not TCP (a test's socket pair): no network between
  }
  return info.tcpi_rtt;
}

bool Session::Relay(const uint8_t* data, std::size_t len) {
  // The monitor hears of the bytes before the worker can: its bound of what the worker may
  // claim is never behind. Announced ahead, kRelayCredit at a time: one message per 4 MiB, not
  // one (and a wake-up of the monitor) per channel read.
  relayed_in_ += len;
  if (relayed_in_ > announced_) {
    announced_ = relayed_in_ + kRelayCredit;
    if (Status st = ipc::Send(control_, ipc::Relayed{announced_}); !st) {
      end_ = ipc::ByeReason::kStopped;
      return false;
    }
  }
  const char* bytes = reinterpret_cast<const char*>(data);
  if (!pending_.empty()) {  // behind what waits already
    pending_.append(bytes, len);
    return Flush();
  }
  ssize_t sent = Offer(bytes, len);
  if (sent < 0) {
    return false;
  }
  pending_.append(bytes + sent, len - static_cast<std::size_t>(sent));
  return true;
}

bool Session::Flush() {
  ssize_t sent = Offer(pending_.data(), pending_.size());
  if (sent < 0) {
    return false;
  }
  pending_.erase(0, static_cast<std::size_t>(sent));
  return true;
}

ssize_t Session::Offer(const char* data, std::size_t len) {
  std::size_t off = 0;
  while (off < len) {
    ssize_t n = send(data_, data + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        break;
      }
      end_ = ipc::ByeReason::kWorkerGone;
      return -1;
    }
    off += static_cast<std::size_t>(n);
  }
  return static_cast<ssize_t>(off);
}

bool Session::MoveReplies(char* replies, std::size_t* len) {
  std::size_t moved = 0;
  while (moved < kMaxReplyBatch) {
    ssize_t n = recv(data_, replies + moved, kReadChunk, MSG_DONTWAIT);
    if (n > 0) {
      moved += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;
    }
    *len = moved;
    end_ = ipc::ByeReason::kWorkerGone;  // the worker closed its socket or failed
    return false;
  }
  *len = moved;
  return true;
}

void Session::Pump() {
  // In libssh 0.10 a read asking for N bytes grows the channel window to N, so the room after
  // the bytes gathered (less than kFlushBatch) must really be N bytes. Both buffers are
  // allocated uninitialised: only the pages data lands in get touched, and nothing is zeroed
  // before a read overwrites it. Client bytes go from `buf` to the data socket; only what the
  // socket does not take is copied (pending_).
  std::unique_ptr<uint8_t[]> buf(new uint8_t[kFlushBatch + kChannelReadSize]);
  std::size_t gathered = 0;  // client bytes at the start of buf, not handed over yet
  std::unique_ptr<char[]> replies(new char[kReplyBufferSize]);
  ahead_ = RepliesAhead(ClientRttUs());
  // Bounds a reply blocked by a client that grants no window; reads have their own timeout.
  long timeout = std::max<long>(1, static_cast<long>(hello_.write_timeout_s));
  ssh_options_set(session_, SSH_OPTIONS_TIMEOUT, &timeout);
  const auto idle_timeout = std::chrono::seconds(hello_.idle_timeout_s);
  SteadyTime last_request = SteadyClock::now();
  uint32_t consumed = kWindowTopUp;  // bytes read since the window was last topped up
  int reads_since_poll = 0;
  for (;;) {
    // Wait for the client, the worker and the monitor together, then read the channel without
    // waiting. Channel data libssh already holds is not seen by poll: while there is some (or
    // client bytes in the read-ahead), it is read first, and the other sockets are asked about
    // every kReadsPerPoll reads.
    const bool wants_input = pending_.size() < kMaxPending;
    int held = wants_input ? ssh_channel_poll(channel_, 0) : 0;
    // Client bytes already read from the kernel (read_ahead.h) count as held.
    if (held == 0 && wants_input && SocketReadAhead::Buffered(ssh_get_fd(session_)) > 0) {
      held = 1;
    }
    if (held != 0 && reads_since_poll < kReadsPerPoll) {
      ++reads_since_poll;
    } else {
      reads_since_poll = 0;
      if (held == 0 && (gathered != 0 || !pending_.empty())) {  // the worker's before waiting
        if (!Relay(buf.get(), gathered)) {
          return;
        }
        gathered = 0;
      }
    }
    pollfd p[3] = {{wants_input ? ssh_get_fd(session_) : -1, POLLIN, 0},
                   {data_, static_cast<short>(POLLIN | (pending_.empty() ? 0 : POLLOUT)), 0},
                   {control_, POLLIN, 0}};
    int ready = reads_since_poll != 0 ? 0 : poll(p, 3, held != 0 ? 0 : kTickMs);
    if (ready < 0 && errno != EINTR) {
      end_ = ipc::ByeReason::kError;
      return;
    }
    if (ready > 0 && p[2].revents != 0 && !CheckMonitor()) {
      return;
    }
    if (ready > 0 && p[1].revents != 0) {
      if (!Flush()) {
        return;
      }
      std::size_t len = 0;
      bool alive = MoveReplies(replies.get(), &len);
      if (!Send(replies.get(), len) || !alive) {
        return;
      }
    }
    if (!wants_input) {
      continue;
    }
    // Ask for the full window only once half of it has been used: each such read sends one
    // WINDOW_ADJUST, so the client gets a 4 MiB credit per adjust instead of one per packet.
    // The other reads ask for less than what is buffered plus the window left, which libssh
    // serves without growing it.
    bool top_up = consumed >= kWindowTopUp;
    uint32_t count = top_up ? kChannelReadSize : kSteadyReadSize;
    int n = ssh_channel_read_timeout(channel_, buf.get() + gathered, count, 0, 0);
    SteadyTime now = SteadyClock::now();
    if (n == SSH_ERROR || window_exceeded_) {
      end_ = window_exceeded_ ? ipc::ByeReason::kWindowExceeded
             : Closed()       ? ipc::ByeReason::kClosed
                              : ipc::ByeReason::kError;
      return;
    }
    if (top_up) {
      consumed = 0;
    }
    consumed += static_cast<uint32_t>(n);
    if (n == 0) {
      if (ssh_channel_is_eof(channel_) || ssh_channel_is_closed(channel_) || Closed()) {
        end_ = ipc::ByeReason::kClosed;
        return;
      }
      if (now - last_request >= idle_timeout) {
        SPDLOG_LOGGER_INFO(log_, "{} idle timeout", tag_);
        end_ = ipc::ByeReason::kIdleTimeout;
        return;
      }
    } else {
      last_request = now;
      gathered += static_cast<std::size_t>(n);
      if (gathered >= kFlushBatch) {
        if (!Relay(buf.get(), gathered)) {
          return;
        }
        gathered = 0;
      }
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
        SteadyTime until = SteadyClock::now() + kCloseWait;
        while (!Closed() && SteadyClock::now() < until) {
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

ipc::ByeReason Session::Run() {
  if (!Handshake()) {
    ssh_disconnect(session_);
    return end_.value_or(ipc::ByeReason::kError);
  }
  bool ok = Authenticate();
  if (ok) {
    Pump();
  }
  if (data_ >= 0) {
    // EOF on the data socket: the worker closes its handles, reports its last usage and exits.
    pending_.clear();
    shutdown(data_, SHUT_WR);
  }
  ipc::ByeReason reason = end_.value_or(ipc::ByeReason::kError);
  Close(ok && (reason == ipc::ByeReason::kClosed || reason == ipc::ByeReason::kIdleTimeout ||
               reason == ipc::ByeReason::kStopped));
  return reason;
}

}  // namespace

uint32_t RepliesAhead(uint32_t rtt_us) {
  uint64_t in_flight = uint64_t{rtt_us} * kPacedLinkBytesPerUs;
  return static_cast<uint32_t>(
      std::clamp<uint64_t>(in_flight, kMinRepliesAhead, std::numeric_limits<uint32_t>::max()));
}

ipc::ByeReason RunTransport(const ipc::Hello& hello, ssh_session session, int control_fd,
                            const Logger& log) noexcept {
  try {
    Session s(hello, session, control_fd, log);
    return s.Run();
  } catch (const std::exception& e) {
    SPDLOG_LOGGER_ERROR(log, "[c{}] transport failed: {}", hello.connection, e.what());
  } catch (...) {
    SPDLOG_LOGGER_ERROR(log, "[c{}] transport failed", hello.connection);
  }
  ssh_disconnect(session);
  return ipc::ByeReason::kError;
}

}  // namespace sftplc::server
