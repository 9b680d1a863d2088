#include "sftpd/server/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "sftpd/server/spawn.h"
#include "sftpd/server/ssh_algorithms.h"

namespace sftplc::server {
namespace {

// How long the listeners rest after accept4 ran out of descriptors or memory.
constexpr std::chrono::milliseconds kAcceptBackoff{100};
// At most one warning about it per this interval.
constexpr std::chrono::seconds kAcceptWarningInterval{10};
// At most one line per refusal reason per this interval: a flood must not fill the log.
constexpr std::chrono::seconds kRefusalLogInterval{10};

bool OutOfResources(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

std::string PeerAddress(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(ss).sin_addr, buf, sizeof(buf));
  } else if (ss.ss_family == AF_INET6) {
    const auto& a6 = reinterpret_cast<const sockaddr_in6&>(ss);
    // An IPv4 client on a dual-stack socket: count it under its IPv4 address.
    if (IN6_IS_ADDR_V4MAPPED(&a6.sin6_addr)) {
      inet_ntop(AF_INET, &a6.sin6_addr.s6_addr[12], buf, sizeof(buf));
    } else {
      inet_ntop(AF_INET6, &a6.sin6_addr, buf, sizeof(buf));
    }
  }
  return buf;
}

uint16_t BoundPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return 0;
  }
  if (ss.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6&>(ss).sin6_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in&>(ss).sin_port);
}

// An owned ssh_bind, for checking the configuration (the transports use their own).
struct BindDeleter {
  void operator()(ssh_bind b) const { ssh_bind_free(b); }
};
using Bind = std::unique_ptr<ssh_bind_struct, BindDeleter>;

SessionLimits LimitsFrom(const config::ServerConfig& cfg) {
  SessionLimits l;
  l.login_grace_time = cfg.login_grace_time;
  l.max_auth_tries = cfg.max_auth_tries;
  l.idle_timeout = cfg.idle_timeout;
  l.write_timeout = cfg.write_timeout;
  return l;
}

}  // namespace

Server::Server(const config::ServerConfig& cfg, ServerDeps deps, Logger log)
    : cfg_(cfg),
      deps_(std::move(deps)),
      log_(std::move(log)),
      startups_(deps_.startup_roll ? deps_.startup_roll : RandomPercentRoll()),
      accept_warnings_(kAcceptWarningInterval) {
  UpdateLimits(cfg);
}

Result<std::unique_ptr<Server>> Server::Create(const config::ServerConfig& cfg, ServerDeps deps,
                                               Logger log) {
  if (deps.gate == nullptr || deps.recorder == nullptr || !deps.sftp || deps.clock == nullptr) {
    return Error::InvalidArgument("server dependencies missing");
  }
  if (cfg.listen.empty()) {
    return Error::InvalidArgument("server.listen is empty");
  }
  auto keys = LoadOrCreateHostKeys(cfg.host_keys);
  if (!keys) {
    return keys.error();
  }
  // The algorithm lists are checked here, with libssh, so a bad one stops the start instead of
  // every connection.
  Bind bind(ssh_bind_new());
  if (bind == nullptr) {
    return Error::Internal("ssh_bind_new failed");
  }
  if (const char* refused =
          ApplyAlgorithms(bind.get(), cfg.kex, cfg.ciphers, cfg.macs, cfg.hostkey_algorithms)) {
    return Error::InvalidArgument(
        fmt::format("server.{} is not accepted by libssh: {}", refused, ssh_get_error(bind.get())));
  }
  std::string binary =
      deps.transport_binary.empty() ? HelperBinary("sftpd-session") : deps.transport_binary;
  if (access(binary.c_str(), X_OK) != 0) {
    return Error::InvalidArgument(
        fmt::format("the transport {} cannot be run: {}", binary, std::strerror(errno)));
  }
  std::unique_ptr<Server> s(new Server(cfg, std::move(deps), std::move(log)));
  s->host_keys_ = std::move(*keys);
  TransportSetup& t = s->transport_;
  t.binary = std::move(binary);
  t.log_level = s->deps_.transport_log_level;
  for (const HostKey& k : s->host_keys_) {
    t.host_keys.push_back(k.private_key);
  }
  t.kex = cfg.kex;
  t.ciphers = cfg.ciphers;
  t.macs = cfg.macs;
  t.hostkey_algorithms = cfg.hostkey_algorithms;
  s->spares_ =
      std::make_unique<TransportPool>(t.binary, t.log_level, cfg.spare_transports, s->log_);
  if (pipe2(s->wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Error::Internal(fmt::format("pipe2: {}", std::strerror(errno)));
  }
  return s;
}

Server::~Server() {
  for (int fd : listen_fds_) {
    close(fd);
  }
  for (int fd : wake_pipe_) {
    if (fd >= 0) {
      close(fd);
    }
  }
}

Result<std::vector<std::string>> Server::Listen() {
  std::vector<std::string> bound;
  for (const config::ListenAddress& la : cfg_.listen) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    std::string port = std::to_string(la.port);
    int gai = getaddrinfo(la.host.c_str(), port.c_str(), &hints, &res);
    if (gai != 0 || res == nullptr) {
      return Error::InvalidArgument(
          fmt::format("server.listen: '{}' is not an IP address: {}", la.host, gai_strerror(gai)));
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      freeaddrinfo(res);
      return Error::Unavailable(fmt::format("socket: {}", std::strerror(errno)));
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (res->ai_family == AF_INET6) {
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    int rc = bind(fd, res->ai_addr, res->ai_addrlen);
    bool v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    if (rc != 0 || listen(fd, cfg_.listen_backlog) != 0) {
      std::string why = std::strerror(errno);
      close(fd);
      return Error::Unavailable(fmt::format("cannot listen on {}:{}: {}", la.host, la.port, why));
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    listen_fds_.push_back(fd);
    uint16_t p = BoundPort(fd);
    bound.push_back(v6 ? fmt::format("[{}]:{}", la.host, p) : fmt::format("{}:{}", la.host, p));
  }
  return bound;
}

void Server::RequestStop() {
  char c = 's';
  // Async-signal-safe; a full pipe already holds a wake-up.
  [[maybe_unused]] ssize_t n = write(wake_pipe_[1], &c, 1);
}

void Server::UpdateLimits(const config::ServerConfig& cfg) {
  std::lock_guard lock(mu_);
  limits_ = LimitsFrom(cfg);
  max_sessions_ = cfg.max_sessions;
  max_sessions_per_ip_ = cfg.max_sessions_per_ip;
  max_startups_ = cfg.max_startups;
  per_source_max_startups_ = cfg.per_source_max_startups;
}

int Server::active_sessions() const {
  std::lock_guard lock(mu_);
  return active_;
}

Status Server::Run() {
  std::vector<pollfd> fds;
  fds.push_back({wake_pipe_[0], POLLIN, 0});
  for (int fd : listen_fds_) {
    fds.push_back({fd, POLLIN, 0});
  }
  spares_->Refill();
  bool stop = false;
  while (!stop) {
    // Out of descriptors, accept4 fails while the listener stays readable: poll without the
    // listeners for kAcceptBackoff instead of spinning on it.
    bool paused = accept_paused_;
    for (std::size_t i = 1; i < fds.size(); ++i) {
      fds[i].events = paused ? 0 : POLLIN;
    }
    int n = poll(fds.data(), fds.size(), paused ? static_cast<int>(kAcceptBackoff.count()) : -1);
    accept_paused_ = false;
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Error::Internal(fmt::format("poll: {}", std::strerror(errno)));
    }
    if (fds[0].revents != 0) {
      stop = true;
      break;
    }
    for (std::size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents & POLLIN) {
        Accept(fds[i].fd);
      }
    }
  }
  // Stop accepting at once: new connections are refused by the kernel from here on.
  for (int fd : listen_fds_) {
    close(fd);
  }
  listen_fds_.clear();
  spares_->Close();
  SPDLOG_LOGGER_INFO(log_, "stopping: no new connections sessions={} grace={}s", active_sessions(),
                     cfg_.shutdown_grace.count());
  WaitForSessions();
  SPDLOG_LOGGER_INFO(log_, "stopped");
  return {};
}

void Server::WaitForSessions() {
  std::unique_lock lock(mu_);
  auto deadline = deps_.clock->SteadyNow() + cfg_.shutdown_grace;
  // The grace is measured on the injected clock's steady time; the wait itself is bounded in
  // small steps so a fake clock cannot hang it.
  while (active_ > 0 && deps_.clock->SteadyNow() < deadline) {
    idle_cv_.wait_for(lock, std::chrono::milliseconds(200));
  }
  if (active_ == 0) {
    return;
  }
  SPDLOG_LOGGER_INFO(log_, "grace over: ending sessions={}", active_);
  // Each connection tells its transport to stop, and kills it if it does not within a second.
  force_stop_.store(true);
  while (active_ > 0) {
    idle_cv_.wait_for(lock, std::chrono::seconds(5));
    if (active_ > 0) {
      SPDLOG_LOGGER_WARN(log_, "waiting for sessions to end sessions={}", active_);
    }
  }
}

void Server::Accept(int listen_fd) {
  // Drain the backlog: accept until EAGAIN.
  for (;;) {
    sockaddr_storage peer{};
    socklen_t len = sizeof(peer);
    int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) {
        continue;
      }
      int err = errno;
      if (OutOfResources(err)) {
        PauseAccepting(err);
      } else if (err != EAGAIN && err != EWOULDBLOCK) {
        SPDLOG_LOGGER_WARN(log_, "accept failed error={}", std::strerror(err));
      }
      return;
    }
    std::string ip = PeerAddress(peer);
    // Memory only, no I/O: a banned source costs no thread, no slot and no cryptography. Debug
    // only, so a banned flood cannot fill the log.
    if (deps_.gate->SourceKnownBanned(ip)) {
      SPDLOG_LOGGER_DEBUG(log_, "connection dropped: source banned ip={}", ip);
      deps_.metrics->ConnectionRefused("banned");
      close(fd);
      continue;
    }
    std::string source = SourceKey(ip);
    uint64_t number = 0;
    SessionLimits limits;
    const char* refused = nullptr;
    std::string detail;
    {
      std::lock_guard lock(mu_);
      if (active_ >= max_sessions_) {
        refused = "max_sessions";
        detail = fmt::format("sessions={}", active_);
      } else if (auto it = per_source_.find(source);
                 it != per_source_.end() && it->second >= max_sessions_per_ip_) {
        refused = "max_sessions_per_ip";
        detail = fmt::format("ip={}", ip);
      } else {
        refused = startups_.Admit(source, max_startups_, per_source_max_startups_);
        if (refused == Startups::kFull) {
          detail = fmt::format("unauthenticated={}", startups_.total());
        } else if (refused != nullptr) {
          detail = fmt::format("ip={}", ip);
        } else {
          ++active_;
          ++per_source_[source];
          number = next_number_++;
          slots_[number] = Slot{source, true};
          limits = limits_;
        }
      }
    }
    if (refused != nullptr) {
      Refuse(fd, refused, detail);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ConnectionFds fds;
    fds.client = files::UniqueFd(fd);
    if (auto spare = spares_->Take()) {
      fds.control = std::move(spare->control);
      fds.spare = spare->pid;
      StartConnection(number, std::move(fds), ip, limits);
      continue;
    }
    // The transport's control socketpair is made here: out of descriptors, the listeners rest
    // (one warning per interval) instead of each connection failing with its own line.
    auto control = HelperSocketPair(SOCK_SEQPACKET);
    if (!control) {
      int err = errno;
      if (!OutOfResources(err)) {
        SPDLOG_LOGGER_ERROR(log_, "[c{}] cannot start a transport: {}", number, control.error());
      } else {
        PauseAccepting(err);
      }
      fds.client.reset();
      Release(number);
      continue;
    }
    fds.control = std::move(control->first);
    fds.transport_control = std::move(control->second);
    StartConnection(number, std::move(fds), ip, limits);
  }
}

void Server::StartConnection(uint64_t number, ConnectionFds fds, const std::string& ip,
                             const SessionLimits& limits) {
  pid_t spare = fds.spare;
  try {
    std::thread(&Server::ConnectionThread, this, number, std::move(fds), ip, limits).detach();
  } catch (const std::exception& e) {
    SPDLOG_LOGGER_ERROR(log_, "[c{}] cannot start a connection thread: {}", number, e.what());
    if (spare > 0) {
      KillAndReap(spare);  // its control socket went with `fds`
    }
    Release(number);
  }
}

void Server::Refuse(int fd, const char* reason, const std::string& detail) {
  // Counted before the close: a client that sees the close finds the refusal counted.
  deps_.metrics->ConnectionRefused(reason);
  close(fd);
  auto& throttle = refusal_log_.try_emplace(reason, kRefusalLogInterval).first->second;
  if (uint64_t n = throttle.Count(deps_.clock->SteadyNow()); n > 0) {
    // `refused` counts this reason's refusals since its previous line.
    SPDLOG_LOGGER_WARN(log_, "connection refused: {} reached {} refused={}", reason, detail, n);
  }
}

void Server::LoggedIn(uint64_t number) {
  std::lock_guard lock(mu_);
  auto it = slots_.find(number);
  if (it != slots_.end() && it->second.unauthenticated) {
    it->second.unauthenticated = false;
    startups_.Leave(it->second.source);
  }
}

void Server::Release(uint64_t number) {
  {
    std::lock_guard lock(mu_);
    auto it = slots_.find(number);
    if (it == slots_.end()) {
      return;
    }
    if (it->second.unauthenticated) {
      startups_.Leave(it->second.source);
    }
    if (auto p = per_source_.find(it->second.source); p != per_source_.end() && --p->second <= 0) {
      per_source_.erase(p);
    }
    slots_.erase(it);
    --active_;
    idle_cv_.notify_all();
  }
}

void Server::PauseAccepting(int err) {
  accept_paused_ = true;
  // One line per kAcceptWarningInterval, however long the shortage lasts.
  if (uint64_t failures = accept_warnings_.Count(deps_.clock->SteadyNow()); failures > 0) {
    SPDLOG_LOGGER_WARN(log_, "accept paused: out of resources error={} failures={}",
                       std::strerror(err), failures);
  }
}

void Server::ConnectionThread(uint64_t number, ConnectionFds fds, const std::string& ip,
                              SessionLimits limits) noexcept {
  {
    // Everything the connection holds of the server (the logger's reference among them) is
    // released before its slot: once the last slot is free the server may be destroyed.
    ConnectionEnv env{
        *deps_.gate,    *deps_.recorder,
        deps_.sftp,     *deps_.clock,
        log_,           force_stop_,
        *deps_.metrics, transport_,
        *spares_,       [this, number] { LoggedIn(number); },
    };
    RunConnection(env, limits, std::move(fds), ip, number);
  }
  Release(number);
}

}  // namespace sftplc::server
