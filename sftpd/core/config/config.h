#pragma once

// The one TOML configuration file read by sftpd and sftpctl (keys in docs/configuration.md).
// Relative paths in the file are resolved against the file's folder; every path below is
// absolute once loaded.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sftpd/core/base/calendar.h"
#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/result.h"

namespace sftplc::config {

struct ListenAddress {
  std::string host;   // "0.0.0.0", "127.0.0.1", "::1" (written "[::1]:2222" in the file)
  uint16_t port = 0;  // 0 picks a free port (sftpd prints the one it got)
};

// server.max_startups, OpenSSH's MaxStartups "start:rate:full": with `start` or more connections
// not yet logged in, a new one is dropped with probability `rate` %, rising linearly to 100 % at
// `full`. A single number N is "N:100:N" (a hard cap).
struct MaxStartups {
  int start = 10;
  int rate = 30;  // percent, 1-100
  int full = 100;
};

// The most a max_startups number may be.
inline constexpr int kMaxStartupsLimit = 1000000;

// Parses "start:rate:full" or "N" (see MaxStartups). kInvalidArgument, saying what is wrong, for
// anything else: 1 <= start <= full <= kMaxStartupsLimit, 1 <= rate <= 100.
Result<MaxStartups> ParseMaxStartups(std::string_view text);

struct ServerConfig {
  std::vector<ListenAddress> listen{{"0.0.0.0", 2222}};
  std::vector<std::string> host_keys;  // default: <config dir>/var/ssh_host_ed25519_key
  bool allow_root = false;             // run as uid 0 only if true
  Seconds login_grace_time{30};        // connect -> authenticated deadline
  int max_auth_tries = 6;              // per connection
  Seconds idle_timeout{900};           // no SFTP request for this long ends the session
  Seconds write_timeout{30};           // a reply blocked this long (no window) ends it
  int max_sessions = 1000;             // in total
  int max_sessions_per_ip = 100;       // per source: an IPv4 address or an IPv6 /64
  MaxStartups max_startups;            // connections not yet logged in, in total
  int per_source_max_startups = 5;     // connections not yet logged in, per source
  int spare_transports = 2;            // sftpd-session processes started ahead of connections
  int max_handles_per_session = 256;
  int max_concurrent_verifies = 2;  // Argon2 verifications at once (memory = m_cost x this)
  Seconds shutdown_grace{30};       // SIGTERM: time given to running sessions
  int listen_backlog = 1024;
  // Kernel confinement of the per-session SFTP workers: "best_effort" (start with a warning
  // where the kernel has no Landlock) or "required" (refuse to start there).
  std::string confinement = "best_effort";
  // Algorithm lists, comma-separated in libssh's syntax; defaults are modern only.
  std::string kex =
      "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-"
      "sha2-nistp521";
  std::string ciphers =
      "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,"
      "aes192-ctr,aes128-ctr";
  std::string macs =
      "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha2-256,hmac-sha2-512";
  std::string hostkey_algorithms = "ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256";
};

struct StorageConfig {
  std::string root;  // account roots are <root>/<account id>; default <config dir>/var/files
};

struct DatabaseConfig {
  std::string url;            // "sqlite:/abs/path.db" or "postgresql://user@host:5432/db";
                              // default sqlite:<config dir>/var/accounts.db
  std::string password_file;  // PostgreSQL password, read from this file (never argv or URL)
  int pool_size = 8;
  Seconds busy_timeout{10};  // SQLite busy timeout
};

// Accepted Argon2id parameters (the file is refused outside them; the hasher refuses stored hashes
// outside them, so a tampered hash cannot make a verification allocate gigabytes).
inline constexpr uint32_t kArgon2MinTCost = 1;
inline constexpr uint32_t kArgon2MaxTCost = 64;
inline constexpr uint32_t kArgon2MinMCostKib = 8;
inline constexpr uint32_t kArgon2MaxMCostKib = 4u * 1024 * 1024;  // 4 GiB
inline constexpr uint32_t kArgon2MaxParallelism = 16;

struct Argon2Config {
  uint32_t t_cost = 3;
  uint32_t m_cost_kib = 65536;
  uint32_t parallelism = 1;
};

struct DefenderConfig {
  bool enabled = true;
  int score_failure = 1;  // per failed login or refused key probe, whatever the name
  int threshold = 15;     // score within `observation` that bans the source IP
  Seconds observation{600};
  Seconds ban_time{900};         // first ban; each repeat ban is longer
  int ban_growth_percent = 100;  // +100% per repeat
  Seconds max_ban_time{86400};
};

struct AuthConfig {
  Argon2Config argon2;
  std::chrono::milliseconds failure_floor{1000};  // every failed password attempt takes >= this
  DefenderConfig defender;
};

struct SmtpConfig {
  std::string url = "smtp://127.0.0.1:25";  // smtp:// (STARTTLS required unless `tls`), smtps://
  std::string from = "SFTP service <sftp@example.com>";
  std::string tls = "required";  // "required" | "try" | "none" (for smtp:// only)
  std::string auth_file;         // optional "user:password" file for SMTP AUTH
  Seconds timeout{30};
  std::string reply_to;  // optional Reply-To for notices
};

struct LifecycleConfig {
  Period inactivity_after{2, Period::Unit::kYears};
  Period confirmation_window{30, Period::Unit::kDays};
  Period purge_after_closure{30, Period::Unit::kDays};  // 0..31 days with `interval`
  Period marketing_retention{5, Period::Unit::kYears};
  Period withdrawal_purge{30, Period::Unit::kDays};  // 0..31 days with `interval`
  Period interval{1, Period::Unit::kHours};
  bool enabled = true;             // sftpd runs sweeps
  std::string templates_dir;       // empty: built-in templates
  int max_delivery_attempts = 20;  // then the notice is marked failed
  Seconds retry_base{300};         // backoff base, doubles per attempt
  Seconds retry_max{86400};
  // Section 9 of the privacy notice: a copy of each notice sent (its outbox row: subject,
  // detail, state) is kept at most this long after it was sent. At most 2 years.
  Period mail_copy_retention{2, Period::Unit::kYears};
  // IP addresses (usage sessions, failed logins, the defender's failures and bans, audit
  // details): dropped this long after they were recorded (docs/privacy-mapping.md).
  Period ip_retention{90, Period::Unit::kDays};
};

struct LogConfig {
  std::string level = "info";
};

// [metrics]: the Prometheus endpoint of sftpd (docs/monitoring.md). Off unless `listen` is set.
struct MetricsConfig {
  std::optional<ListenAddress> listen;  // IPv4 only (Debian's civetweb has no IPv6)
  // Gauges read from the database (bans, notices, overdue items) are recomputed at most this
  // often, however often Prometheus scrapes.
  Seconds database_refresh{60};
};

struct Config {
  std::string path;  // the file this came from (absolute), or "" for defaults
  std::string dir;   // its folder: the base of relative paths
  ServerConfig server;
  StorageConfig storage;
  DatabaseConfig database;
  AuthConfig auth;
  SmtpConfig smtp;
  LifecycleConfig lifecycle;
  LogConfig log;
  MetricsConfig metrics;
};

// Where the configuration comes from: `flag` if given, else $SFTPLC_CONFIG, else
// /etc/sftp-lifecycle/sftpd.toml.
std::string ResolveConfigPath(const std::optional<std::string>& flag);

// Reads and validates the file. Errors name the key and the file:line: unknown keys, wrong types
// and bad values are all refused (kInvalidArgument; the earliest problem by line, and how many
// more there are). kNotFound when the file does not exist, kPermissionDenied when it cannot be
// read. Thread-safe (no shared state).
Result<Config> LoadConfig(const std::string& path);

// Same, from text (for tests); `virtual_path` is used for messages and relative paths (a relative
// `virtual_path` is taken from the current directory).
Result<Config> ParseConfig(const std::string& text, const std::string& virtual_path);

// The files of `cfg` that hold secrets or the configuration itself (the config file,
// database.password_file, smtp.auth_file) and that a group or other users can read: one line
// per file naming it, its mode and the fix (never its contents). Empty when all are private or
// absent. Reads only the files' modes. Thread-safe.
std::vector<std::string> LooseFileModes(const Config& cfg);

}  // namespace sftplc::config
