#include "sftpd/server/daemon.h"

#include <libssh/libssh.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "sftpd/core/accounts/account_store.h"
#include "sftpd/core/auth/authenticator.h"
#include "sftpd/core/auth/defender.h"
#include "sftpd/core/auth/password_hasher.h"
#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/log.h"
#include "sftpd/core/config/config.h"
#include "sftpd/core/db/database.h"
#include "sftpd/core/files/storage_root.h"
#include "sftpd/core/lifecycle/configured_runner.h"
#include "sftpd/core/lifecycle/sweep_loop.h"
#include "sftpd/core/usage/usage_store.h"
#include "sftpd/server/auth_gate.h"
#include "sftpd/server/confine/confine.h"
#include "sftpd/server/db_session_recorder.h"
#include "sftpd/server/prometheus_metrics.h"
#include "sftpd/server/server.h"
#include "sftpd/server/spawn.h"
#include "sftpd/server/worker_backend.h"

namespace sftplc::server {
namespace {

// Blocks the signals the daemon handles in every thread (the mask is inherited), so only the
// signal thread's sigwait() sees them.
sigset_t HandledSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

// Password logins keep an Argon2 work area (auth.argon2.m_cost_kib, 64 MiB by default) mapped
// and pre-faulted so that a burst of logins does not fault it in again for each one. Once
// logins have been quiet this long, the area goes back to the system: an idle server, or one
// serving key logins only, does not hold it.
constexpr std::chrono::seconds kArgon2KeepWarm{30};
constexpr std::chrono::seconds kArgon2ReapEvery{5};

// Runs PasswordHasher::ReleaseIdleMemoryOlderThan every kArgon2ReapEvery until destroyed.
class IdleMemoryReaper {
 public:
  explicit IdleMemoryReaper(const auth::PasswordHasher& hasher)
      : hasher_(hasher), thread_([this] { Loop(); }) {}
  ~IdleMemoryReaper() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  IdleMemoryReaper(const IdleMemoryReaper&) = delete;
  IdleMemoryReaper& operator=(const IdleMemoryReaper&) = delete;

 private:
  void Loop() {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, kArgon2ReapEvery, [this] { return stop_; })) {
      hasher_.ReleaseIdleMemoryOlderThan(kArgon2KeepWarm, std::chrono::steady_clock::now());
    }
  }

  const auth::PasswordHasher& hasher_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

bool IsLoopback(const std::string& ipv4) { return ipv4.rfind("127.", 0) == 0; }

// Stops serving metrics when destroyed or asked.
class MetricsStopper {
 public:
  explicit MetricsStopper(PrometheusMetrics* m) : m_(m) {}
  ~MetricsStopper() { Stop(); }
  MetricsStopper(const MetricsStopper&) = delete;
  MetricsStopper& operator=(const MetricsStopper&) = delete;
  void Stop() {
    if (m_ != nullptr) {
      m_->Stop();
    }
  }

 private:
  PrometheusMetrics* m_;
};

// lifecycle.interval as the metrics show it: 0 when the sweep is off.
Seconds SweepInterval(const config::Config& cfg) {
  return cfg.lifecycle.enabled ? cfg.lifecycle.interval.MaxSeconds() : Seconds(0);
}

}  // namespace

int CheckConfig(const std::string& config_path) {
  auto cfg = config::LoadConfig(config_path);
  if (!cfg) {
    std::fprintf(stderr, "sftpd: %s\n", cfg.error().ToString().c_str());
    return 1;
  }
  for (const std::string& path : cfg->server.host_keys) {
    if (!std::filesystem::exists(path)) {
      continue;  // generated at first start
    }
    ssh_key key = nullptr;
    if (ssh_pki_import_privkey_file(path.c_str(), nullptr, nullptr, nullptr, &key) != SSH_OK) {
      std::fprintf(stderr, "sftpd: host key %s is not a readable private key\n", path.c_str());
      return 1;
    }
    ssh_key_free(key);
  }
  for (const std::string& w : config::LooseFileModes(*cfg)) {
    std::fprintf(stderr, "sftpd: warning: %s\n", w.c_str());
  }
  std::printf("config ok: %s\n", cfg->path.c_str());
  return 0;
}

int RunDaemon(const std::string& config_path) {
  Logger log = GetLogger("sftpd");
  auto loaded = config::LoadConfig(config_path);
  if (!loaded) {
    SPDLOG_LOGGER_ERROR(log, "cannot load configuration: {}", loaded.error());
    return 1;
  }
  const config::Config& cfg = *loaded;
  SetLogLevel(cfg.log.level);
  for (const std::string& w : config::LooseFileModes(cfg)) {
    SPDLOG_LOGGER_WARN(log, "{}", w);
  }
  if (geteuid() == 0 && !cfg.server.allow_root) {
    SPDLOG_LOGGER_ERROR(log,
                        "refusing to run as root: run as a service user, or set "
                        "server.allow_root = true");
    return 1;
  }

  // Every session holds a socket and up to max_handles_per_session files: take all the
  // descriptors the hard limit allows (systemd's soft default is 1024).
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &nofile) != 0) {
      SPDLOG_LOGGER_WARN(log, "cannot raise the descriptor limit error={}", std::strerror(errno));
    }
  }
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
    SPDLOG_LOGGER_INFO(log, "descriptor limit nofile={}", static_cast<uint64_t>(nofile.rlim_cur));
  }

  // Every connection's transport and SFTP worker confine themselves; say at every start what
  // the kernel allows.
  const std::string worker = HelperBinary("sftpd-sftp");
  const std::string transport = HelperBinary("sftpd-session");
  for (const std::string& helper : {worker, transport}) {
    if (access(helper.c_str(), X_OK) != 0) {
      SPDLOG_LOGGER_ERROR(log, "cannot run {}: {} (sftpd starts it for every connection)", helper,
                          std::strerror(errno));
      return 1;
    }
  }
  const int landlock_abi = confine::LandlockAbi();
  if (landlock_abi == 0) {
    if (cfg.server.confinement == "required") {
      SPDLOG_LOGGER_ERROR(log,
                          "refusing to start: this kernel has no Landlock and "
                          "server.confinement = \"required\" (docs/security.md)");
      return 1;
    }
    SPDLOG_LOGGER_WARN(log,
                       "this kernel has no Landlock: sftp workers are confined by seccomp "
                       "and rlimits only, not to their account's folder, and transports by "
                       "seccomp only (docs/security.md)");
  } else {
    SPDLOG_LOGGER_INFO(log,
                       "transports and sftp workers confined: landlock_abi={} seccomp=on "
                       "no_new_privs=on",
                       landlock_abi);
  }

  sigset_t signals = HandledSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  ssh_init();
  const Clock& clock = SystemClock::Instance();

  auto db = db::Database::Open(cfg.database, GetLogger("store"));
  if (!db) {
    SPDLOG_LOGGER_ERROR(log, "cannot open the database: {}", db.error());
    return 1;
  }
  if (auto st = (*db)->Migrate(); !st) {
    SPDLOG_LOGGER_ERROR(log, "cannot migrate the database: {}", st.error());
    return 1;
  }
  if (auto st = files::StorageRoot(cfg.storage.root).Ensure(); !st) {
    SPDLOG_LOGGER_ERROR(log, "{}", st.error());
    return 1;
  }
  accounts::AccountStore accounts(**db, clock);
  usage::UsageStore usage(**db, clock);
  // Rows a killed predecessor on this host left open.
  auto orphans = usage.CloseOrphans(clock.Now());
  if (!orphans) {
    SPDLOG_LOGGER_ERROR(log, "cannot close orphaned usage sessions: {}", orphans.error());
    return 1;
  }
  if (*orphans > 0) {
    SPDLOG_LOGGER_WARN(log, "closed usage sessions left open by a previous run count={}", *orphans);
  }
  DbSessionRecorder recorder(accounts, usage);
  // Counted whether or not they are served, so serving them costs nothing extra; without
  // [metrics] listen the server counts into NoMetrics() instead.
  std::unique_ptr<PrometheusMetrics> prometheus;
  if (cfg.metrics.listen) {
    prometheus = std::make_unique<PrometheusMetrics>(clock, cfg.metrics.database_refresh);
  }
  Metrics& metrics = prometheus ? *prometheus : NoMetrics();
  auth::PasswordHasher hasher(cfg.auth.argon2);
  auth::Defender defender(cfg.auth.defender, **db, clock, GetLogger("auth"));
  auto authenticator = auth::Authenticator::Create(
      auth::AuthenticatorOptions::FromConfig(cfg), accounts, &usage, defender, hasher, clock,
      auth::RealSleeper::Instance(), GetLogger("auth"));
  if (!authenticator) {
    SPDLOG_LOGGER_ERROR(log, "cannot start the authenticator: {}", authenticator.error());
    return 1;
  }
  // Creating the authenticator hashed once (the dummy hash for unknown names): nothing needs
  // that work area until the first password login.
  hasher.ReleaseIdleMemory();
  IdleMemoryReaper reaper(hasher);
  AuthenticatorGate gate(**authenticator, metrics);

  ServerDeps deps;
  deps.gate = &gate;
  deps.recorder = &recorder;
  deps.clock = &clock;
  deps.metrics = &metrics;
  WorkerOptions worker_options;
  worker_options.binary = worker;
  worker_options.storage_root = cfg.storage.root;
  worker_options.max_handles = cfg.server.max_handles_per_session;
  worker_options.log_level = cfg.log.level;
  worker_options.require_landlock = cfg.server.confinement == "required";
  worker_options.log = log;
  worker_options.requests = &metrics;
  deps.sftp = MakeWorkerBackendFactory(std::move(worker_options));
  deps.transport_binary = transport;
  deps.transport_log_level = cfg.log.level;
  auto server = Server::Create(cfg.server, std::move(deps), log);
  if (!server) {
    SPDLOG_LOGGER_ERROR(log, "{}", server.error());
    return 1;
  }
  for (const HostKey& k : (*server)->host_keys()) {
    SPDLOG_LOGGER_INFO(log, "host key {}type={} fingerprint={} path={}",
                       k.generated ? "generated " : "", k.type, k.fingerprint, k.path);
  }
  Server& srv = **server;
  // The metrics' sources read the server, the authenticator and the database: serving stops
  // before any of them goes, on every way out of this function.
  MetricsStopper stop_metrics(prometheus.get());
  if (prometheus) {
    MetricsSources sources;
    sources.sessions_active = [&srv] { return srv.active_sessions(); };
    sources.authenticator = [&a = **authenticator] { return a.stats(); };
    sources.database_errors = [&d = **db] { return d.error_count(); };
    sources.database = [&d = **db, &cfg, &defender, &clock] {
      return ReadDatabaseGauges(d, cfg, defender, clock.Now());
    };
    prometheus->SetSources(std::move(sources));
    prometheus->SetLimits(cfg.server.max_sessions, cfg.server.max_concurrent_verifies,
                          SweepInterval(cfg));
    auto served = prometheus->Serve(*cfg.metrics.listen);
    if (!served) {
      SPDLOG_LOGGER_ERROR(log, "{}", served.error());
      return 1;
    }
    if (!IsLoopback(cfg.metrics.listen->host)) {
      SPDLOG_LOGGER_WARN(log,
                         "metrics served on a non-loopback address without authentication: "
                         "let only the Prometheus server reach it addr={}",
                         *served);
    }
    std::printf("metrics on %s\n", served->c_str());
    std::fflush(stdout);
    SPDLOG_LOGGER_INFO(log, "metrics on {}", *served);
  }

  auto bound = (*server)->Listen();
  if (!bound) {
    SPDLOG_LOGGER_ERROR(log, "{}", bound.error());
    return 1;
  }
  for (const std::string& addr : *bound) {
    std::printf("listening on %s\n", addr.c_str());
    SPDLOG_LOGGER_INFO(log, "listening on {}", addr);
  }
  std::fflush(stdout);

  // The lifecycle sweep runs in the background every lifecycle.interval (the first one now).
  std::optional<lifecycle::ConfiguredRunner> lifecycle_runner;
  std::unique_ptr<lifecycle::SweepLoop> sweep;
  if (cfg.lifecycle.enabled) {
    auto made = lifecycle::MakeConfiguredRunner(**db, cfg, /*with_mailer=*/true);
    if (!made) {
      SPDLOG_LOGGER_ERROR(log, "cannot start the lifecycle sweep: {}", made.error());
      return 1;
    }
    lifecycle_runner.emplace(std::move(*made));
    lifecycle::SweepLoop::OnSweep on_sweep;
    if (prometheus) {
      on_sweep = [m = prometheus.get()](const Result<lifecycle::SweepReport>& r,
                                        std::chrono::steady_clock::duration took) {
        m->SweepFinished(r, took);
      };
    }
    sweep = std::make_unique<lifecycle::SweepLoop>(*lifecycle_runner->runner, clock,
                                                   GetLogger("lifecycle"), std::move(on_sweep));
    sweep->Start();
    SPDLOG_LOGGER_INFO(log, "lifecycle sweep every {}", cfg.lifecycle.interval.ToString());
  }

  std::thread signal_thread([&srv, &log, &signals, &cfg, config_path, m = prometheus.get()] {
    for (;;) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0) {
        continue;
      }
      if (sig == SIGHUP) {
        auto fresh = config::LoadConfig(config_path);
        if (!fresh) {
          SPDLOG_LOGGER_ERROR(log, "reload refused, keeping the running configuration: {}",
                              fresh.error());
          continue;
        }
        SetLogLevel(fresh->log.level);
        srv.UpdateLimits(fresh->server);
        if (m != nullptr) {
          // Only the session cap changes on a reload; the rest keeps its start value.
          m->SetLimits(fresh->server.max_sessions, cfg.server.max_concurrent_verifies,
                       SweepInterval(cfg));
        }
        SPDLOG_LOGGER_INFO(log,
                           "configuration reloaded (log level and session limits; listen "
                           "addresses, keys, algorithms and database need a restart)");
        continue;
      }
      SPDLOG_LOGGER_INFO(log, "signal received signal={}", sig == SIGTERM ? "TERM" : "INT");
      srv.RequestStop();
      return;
    }
  });
  Status run = srv.Run();
  if (!run) {
    SPDLOG_LOGGER_ERROR(log, "listener failed: {}", run.error());
    // Wakes the signal thread's sigwait() (SIGTERM is blocked in every thread, so it is received
    // there, not delivered): it returns as after a real SIGTERM.
    // NOLINTNEXTLINE(bugprone-bad-signal-to-kill-thread)
    pthread_kill(signal_thread.native_handle(), SIGTERM);
  }
  signal_thread.join();
  if (sweep) {
    sweep->Stop();
  }
  stop_metrics.Stop();
  server->reset();
  ssh_finalize();
  spdlog::shutdown();
  return run ? 0 : 1;
}

}  // namespace sftplc::server
