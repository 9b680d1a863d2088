#include "sftpd/server/daemon.h"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include <libssh/libssh.h>

#include "sftpd/core/accounts/account_store.h"
#include "sftpd/core/auth/authenticator.h"
#include "sftpd/core/auth/defender.h"
#include "sftpd/core/auth/password_hasher.h"
#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/log.h"
#include "sftpd/core/config/config.h"
#include "sftpd/core/db/database.h"
#include "sftpd/core/lifecycle/configured_runner.h"
#include "sftpd/core/lifecycle/sweep_loop.h"
#include "sftpd/core/usage/usage_store.h"
#include "sftpd/server/auth_gate.h"
#include "sftpd/server/db_session_recorder.h"
#include "sftpd/server/read_ahead.h"
#include "sftpd/server/server.h"
#include "sftpd/server/confine/confine.h"
#include "sftpd/server/worker_protocol.h"

namespace sftplc::server {
namespace {

Status EnsureStorageRoot(const std::string& root) {
  std::error_code ec;
  if (std::filesystem::is_directory(root, ec)) {
    return {};
  }
  std::filesystem::create_directories(root, ec);
  if (ec) {
    return Error::Unavailable("cannot create storage.root " + root + ": " + ec.message());
  }
  ::chmod(root.c_str(), 0700);
  return {};
}

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
  if (geteuid() == 0 && !cfg.server.allow_root) {
    SPDLOG_LOGGER_ERROR(log,
                        "refusing to run as root: run as a service user, or set "
                        "server.allow_root = true");
    return 1;
  }

  // Every session's SFTP worker confines itself; say at every start what the kernel allows.
  const std::string worker = DefaultWorkerBinary();
  if (access(worker.c_str(), X_OK) != 0) {
    SPDLOG_LOGGER_ERROR(log, "cannot run the sftp worker path={}: install sftpd-sftp next to sftpd",
                        worker);
    return 1;
  }
  const int landlock_abi = confine::LandlockAbi();
  if (landlock_abi == 0) {
    if (cfg.server.confinement == "required") {
      SPDLOG_LOGGER_ERROR(log, "refusing to start: this kernel has no Landlock and "
                               "server.confinement = \"required\" (docs/security.md)");
      return 1;
    }
    SPDLOG_LOGGER_WARN(log, "this kernel has no Landlock: sftp workers are confined by seccomp "
                            "and rlimits only, not to their account's folder (docs/security.md)");
  } else {
    SPDLOG_LOGGER_INFO(log, "sftp workers confined: landlock_abi={} seccomp=on no_new_privs=on",
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
  if (auto st = EnsureStorageRoot(cfg.storage.root); !st) {
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
    SPDLOG_LOGGER_WARN(log, "closed usage sessions left open by a previous run count={}",
                       *orphans);
  }
  DbSessionRecorder recorder(accounts, usage);
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
  AuthenticatorGate gate(**authenticator);

  ServerDeps deps;
  deps.gate = &gate;
  deps.recorder = &recorder;
  deps.clock = &clock;
  WorkerOptions worker_options;
  worker_options.binary = worker;
  worker_options.storage_root = cfg.storage.root;
  worker_options.max_handles = cfg.server.max_handles_per_session;
  worker_options.log_level = cfg.log.level;
  worker_options.require_landlock = cfg.server.confinement == "required";
  worker_options.log = log;
  deps.protocol = MakeWorkerProtocolFactory(std::move(worker_options));
  auto server = Server::Create(cfg.server, std::move(deps), log);
  if (!server) {
    SPDLOG_LOGGER_ERROR(log, "{}", server.error());
    return 1;
  }
  for (const HostKey& k : (*server)->host_keys()) {
    SPDLOG_LOGGER_INFO(log, "host key {}type={} fingerprint={} path={}",
                       k.generated ? "generated " : "", k.type, k.fingerprint, k.path);
  }
  if (!SocketReadAhead::InEffect()) {
    SPDLOG_LOGGER_WARN(log, "socket read-ahead not in effect (recv/poll not exported by this "
                            "build): uploads cost more CPU");
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
    sweep = std::make_unique<lifecycle::SweepLoop>(*lifecycle_runner->runner, clock,
                                                   GetLogger("lifecycle"));
    sweep->Start();
    SPDLOG_LOGGER_INFO(log, "lifecycle sweep every {}", cfg.lifecycle.interval.ToString());
  }

  Server& srv = **server;
  std::thread signal_thread([&srv, &log, &signals, config_path] {
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
    pthread_kill(signal_thread.native_handle(), SIGTERM);
  }
  signal_thread.join();
  if (sweep) {
    sweep->Stop();
  }
  server->reset();
  ssh_finalize();
  spdlog::shutdown();
  return run ? 0 : 1;
}

}  // namespace sftplc::server
