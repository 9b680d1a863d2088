#pragma once

// PrometheusMetrics: sftpd's Metrics kept in a prometheus-cpp registry and served in the
// Prometheus text format at http://ADDRESS:PORT/metrics ([metrics] listen; every metric is
// described in docs/monitoring.md).
//
// Cost: event counters are prometheus-cpp children created up front (one atomic update per
// event, no lookup by label on the hot path: an SFTP request costs one table index and one or
// two atomic adds). Values owned elsewhere are read when Prometheus scrapes: live ones (sessions,
// Argon2 slots, database errors) every scrape, database ones (bans, notices, overdue retention
// items) at most once per metrics.database_refresh, so a fast scraper cannot load the database.
//
// The endpoint is prometheus-cpp's Exposer (civetweb): one listening socket and a master thread
// plus kServerThreads worker threads in the sftpd process, plain HTTP, no authentication: bind
// it to loopback (the documented default) or a private address.
//
// Thread-safe.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/result.h"
#include "sftpd/core/config/config.h"
#include "sftpd/core/lifecycle/runner.h"
#include "sftpd/server/metrics.h"

namespace prometheus {
class Exposer;
}

namespace sftplc::auth {
class Defender;
}
namespace sftplc::db {
class Database;
}

namespace sftplc::server {

// The gauges read from the database.
struct DatabaseGauges {
  int64_t bans_active = 0;        // source addresses banned now (Defender::ListBans)
  int64_t notices_pending = 0;    // notices waiting for delivery
  int64_t notices_sending = 0;    // notices claimed by a sweep, being sent
  int64_t notices_failed = 0;     // notices given up on (`sftpctl notices retry`)
  int64_t retention_overdue = 0;  // what `sftpctl retention report` lists as overdue
  int64_t retention_waiting = 0;  // ... as waiting (held by undelivered mail)
};

// Reads DatabaseGauges at `now`: the retention numbers come from lifecycle's
// BuildRetentionReport (the same computation as `sftpctl retention report`), the bans from the
// Defender. The database's error when it cannot be read.
Result<DatabaseGauges> ReadDatabaseGauges(db::Database& db, const config::Config& cfg,
                                          auth::Defender& defender, TimePoint now);

// Where the values read at scrape time come from. Each may be empty (then its metric stays 0).
struct MetricsSources {
  std::function<int()> sessions_active;
  std::function<auth::AuthenticatorStats()> authenticator;
  std::function<uint64_t()> database_errors;
  std::function<Result<DatabaseGauges>()> database;
};

class PrometheusMetrics final : public Metrics {
 public:
  static constexpr int kServerThreads = 2;

  // `refresh` bounds how often `sources.database` runs. REQUIRES: clock outlives this.
  PrometheusMetrics(const Clock& clock, Seconds refresh);
  ~PrometheusMetrics() override;
  PrometheusMetrics(const PrometheusMetrics&) = delete;
  PrometheusMetrics& operator=(const PrometheusMetrics&) = delete;

  // Sets the scrape-time sources (once the components they read exist). REQUIRES: what they
  // capture outlives this object, or Stop() is called first.
  void SetSources(MetricsSources sources);

  // Limits from the configuration (at start and after a reload): server.max_sessions,
  // server.max_concurrent_verifies, and lifecycle.interval (0 when the sweep is off).
  void SetLimits(int max_sessions, int max_concurrent_verifies, Seconds sweep_interval);

  // A lifecycle sweep ended (SweepLoop's callback).
  void SweepFinished(const Result<lifecycle::SweepReport>& report,
                     std::chrono::steady_clock::duration took);

  // Starts serving /metrics on `address`. Returns "ADDRESS:PORT" with the port bound (port 0
  // picks a free one). kUnavailable when the address cannot be bound.
  Result<std::string> Serve(const config::ListenAddress& address);
  // Stops serving (waits for a scrape in progress). Idempotent; the destructor calls it.
  void Stop();

  // The text a scrape returns now (reads the sources as a scrape does). For tests.
  std::string ScrapeText();

  // Metrics.
  void OnRequest(const sftp::RequestOutcome& outcome) noexcept override;
  void OnHandlesClosed(int count) noexcept override;
  void ConnectionRefused(std::string_view reason) noexcept override;
  void SessionEnded(std::string_view reason, bool logged_in) noexcept override;
  void LoginDecided(auth::AuthMethod method, auth::AuthOutcome outcome) noexcept override;

 private:
  class Families;
  class Collector;

  const Clock& clock_;
  std::unique_ptr<Families> f_;
  std::shared_ptr<Collector> collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace sftplc::server
