#include "sftpd/server/prometheus_metrics.h"

#include <libssh/libssh.h>
#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <array>
#include <mutex>
#include <optional>
#include <vector>

#include "sftpd/core/auth/defender.h"
#include "sftpd/core/db/database.h"
#include "sftpd/core/lifecycle/retention.h"
#include "sftpd/server/sftp/protocol.h"

#ifndef SFTPLC_VERSION
#define SFTPLC_VERSION "unknown"
#endif

namespace sftplc::server {
namespace {

using prometheus::Counter;
using prometheus::Gauge;

// SFTP status label values, by code; codes above kFxOpUnsupported (and the two a server never
// sends) count as "other".
constexpr std::string_view kStatusNames[] = {
    "ok",          "eof",   "no_such_file", "permission_denied", "failure",
    "bad_message", "other", "other",        "op_unsupported"};
constexpr std::size_t kOtherStatus = 6;
constexpr std::size_t kStatusSlots = 9;

// Session end reasons that get their own label value; anything else is "other".
constexpr std::string_view kEndReasons[] = {"closed",         "idle_timeout",  "shutdown", "error",
                                            "protocol_error", "login_timeout", "other"};
constexpr std::size_t kReasonCount = std::size(kEndReasons);
// Why a connection was refused at accept (Metrics::ConnectionRefused); unknown words count as the
// first.
constexpr std::string_view kRefusals[] = {"max_sessions", "max_sessions_per_ip", "max_startups",
                                          "per_source_max_startups", "banned"};
constexpr std::size_t kRefusalCount = std::size(kRefusals);

double ToSeconds(TimePoint t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// Raises a counter whose total is kept elsewhere to that total.
void CatchUp(Counter& c, uint64_t total) {
  double delta = static_cast<double>(total) - c.Value();
  if (delta > 0) {
    c.Increment(delta);
  }
}

}  // namespace

// Every family and pre-created child, in one registry.
class PrometheusMetrics::Families {
 public:
  explicit Families(const Clock& clock) : registry(std::make_shared<prometheus::Registry>()) {
    auto& r = *registry;
    auto counter = [&](const char* name, const char* help) -> prometheus::Family<Counter>& {
      return prometheus::BuildCounter().Name(name).Help(help).Register(r);
    };
    auto gauge = [&](const char* name, const char* help) -> prometheus::Family<Gauge>& {
      return prometheus::BuildGauge().Name(name).Help(help).Register(r);
    };

    prometheus::BuildGauge()
        .Name("sftpd_build_info")
        .Help("Always 1; the labels name the sftpd version and the libssh it runs with.")
        .Register(r)
        .Add({{"version", SFTPLC_VERSION}, {"libssh", ssh_version(0)}})
        .Set(1);

    auto& sessions = counter("sftpd_sessions_total",
                             "Connections ended, by end reason and whether a login succeeded.");
    for (std::size_t i = 0; i < kReasonCount; ++i) {
      for (int in = 0; in < 2; ++in) {
        ended[i][in] = &sessions.Add(
            {{"reason", std::string(kEndReasons[i])}, {"logged_in", in ? "true" : "false"}});
      }
    }
    auto& refused_family = counter(
        "sftpd_connections_refused_total",
        "Connections refused at accept, before any cryptography, by the limit that refused them.");
    for (std::size_t i = 0; i < kRefusalCount; ++i) {
      refused[i] = &refused_family.Add({{"limit", std::string(kRefusals[i])}});
    }
    sessions_active = &gauge("sftpd_sessions_active", "Connections being served now.").Add({});
    sessions_max = &gauge("sftpd_sessions_max", "server.max_sessions.").Add({});

    auto& logins = counter("sftpd_logins_total", "Login attempts decided, by method and result.");
    const char* methods[] = {"password", "publickey"};
    const char* results[] = {"success", "failure", "banned"};
    for (int m = 0; m < 2; ++m) {
      for (int o = 0; o < 3; ++o) {
        login[m][o] = &logins.Add({{"method", methods[m]}, {"result", results[o]}});
      }
    }
    auto& failures =
        counter("sftpd_auth_failures_total", "Failed logins scored by the defender, by kind.");
    failures_wrong = &failures.Add({{"kind", "wrong_credentials"}});
    failures_unknown = &failures.Add({{"kind", "unknown_user"}});
    bans_active = &gauge("sftpd_bans_active", "Source addresses banned now.").Add({});
    argon2_waiting = &gauge("sftpd_argon2_verifications_waiting",
                            "Password checks waiting for an Argon2 slot now.")
                          .Add({});
    argon2_active =
        &gauge("sftpd_argon2_verifications_active", "Argon2 verifications running now.").Add({});
    argon2_max =
        &gauge("sftpd_argon2_verifications_max", "server.max_concurrent_verifies.").Add({});

    auto& requests = counter("sftpd_sftp_requests_total",
                             "SFTP requests answered, by request type and reply status.");
    auto add_row = [&](std::string_view type) {
      auto& row = request_rows.emplace_back();
      for (std::size_t s = 0; s < kStatusSlots; ++s) {
        if (s == 7) {  // the second "other" slot shares the first one's child
          row[s] = row[kOtherStatus];
          continue;
        }
        row[s] =
            &requests.Add({{"type", std::string(type)}, {"status", std::string(kStatusNames[s])}});
      }
      return &row;
    };
    request_rows.reserve(32);
    RequestRow* unsupported = add_row("unsupported");
    for (int t = 0; t < 256; ++t) {
      std::string_view name = sftp::RequestTypeName(static_cast<uint8_t>(t));
      by_type[t] = name.empty() ? unsupported : add_row(name);
    }
    auto& bytes = counter("sftpd_transfer_bytes_total",
                          "File data transferred over SFTP: in = uploaded, out = downloaded.");
    bytes_in = &bytes.Add({{"direction", "in"}});
    bytes_out = &bytes.Add({{"direction", "out"}});
    handles_open =
        &gauge("sftpd_sftp_handles_open", "Open SFTP file and directory handles.").Add({});

    auto& sweeps = counter("sftpd_lifecycle_sweeps_total", "Lifecycle sweeps run, by result.");
    sweeps_ok = &sweeps.Add({{"result", "success"}});
    sweeps_failed = &sweeps.Add({{"result", "failure"}});
    sweep_duration =
        &gauge("sftpd_lifecycle_sweep_duration_seconds", "How long the last lifecycle sweep took.")
             .Add({});
    sweep_last_success =
        &gauge("sftpd_lifecycle_sweep_last_success_timestamp_seconds",
               "When the last lifecycle sweep succeeded (sftpd's start time until one has).")
             .Add({});
    sweep_last_success->Set(ToSeconds(clock.Now()));
    sweep_interval = &gauge("sftpd_lifecycle_sweep_interval_seconds",
                            "lifecycle.interval (0 when the sweep is disabled).")
                          .Add({});
    auto& transitions = counter("sftpd_lifecycle_transitions_total",
                                "Lifecycle actions carried out by the sweep, by kind.");
    t_notice_queued = &transitions.Add({{"kind", "notice_queued"}});
    t_reactivated = &transitions.Add({{"kind", "reactivated"}});
    t_closed = &transitions.Add({{"kind", "closed"}});
    t_purged = &transitions.Add({{"kind", "purged"}});
    t_contact_deleted = &transitions.Add({{"kind", "contact_deleted"}});
    auto& deliveries = counter("sftpd_notice_deliveries_total",
                               "Notice delivery attempts settled by the sweep, by result.");
    d_sent = &deliveries.Add({{"result", "sent"}});
    d_deferred = &deliveries.Add({{"result", "deferred"}});
    d_failed = &deliveries.Add({{"result", "failed"}});
    d_cancelled = &deliveries.Add({{"result", "cancelled"}});
    sweep_errors = &counter("sftpd_lifecycle_errors_total",
                            "Accounts or notices a sweep skipped because of an error.")
                        .Add({});
    auto& notices = gauge("sftpd_notices", "Notices not delivered, by state.");
    n_pending = &notices.Add({{"state", "pending"}});
    n_sending = &notices.Add({{"state", "sending"}});
    n_failed = &notices.Add({{"state", "failed"}});
    overdue = &gauge("sftpd_retention_overdue_items",
                     "Records past their retention deadline (as `sftpctl retention report`).")
                   .Add({});
    waiting = &gauge("sftpd_retention_waiting_items",
                     "Records whose deadline waits for a notice to be delivered.")
                   .Add({});
    db_gauges_at = &gauge("sftpd_database_gauges_timestamp_seconds",
                          "When the gauges read from the database were last read.")
                        .Add({});
    db_errors = &counter("sftpd_database_errors_total",
                         "Database calls that failed (the database, not the request).")
                     .Add({});
  }

  using RequestRow = std::array<Counter*, kStatusSlots>;

  std::shared_ptr<prometheus::Registry> registry;
  std::array<std::array<Counter*, 2>, kReasonCount> ended{};
  std::array<Counter*, kRefusalCount> refused{};
  Gauge* sessions_active;
  Gauge* sessions_max;
  std::array<std::array<Counter*, 3>, 2> login{};
  Counter* failures_wrong;
  Counter* failures_unknown;
  Gauge* bans_active;
  Gauge* argon2_waiting;
  Gauge* argon2_active;
  Gauge* argon2_max;
  std::vector<RequestRow> request_rows;  // reserved up front: never reallocated
  std::array<RequestRow*, 256> by_type{};
  Counter* bytes_in;
  Counter* bytes_out;
  Gauge* handles_open;
  Counter* sweeps_ok;
  Counter* sweeps_failed;
  Gauge* sweep_duration;
  Gauge* sweep_last_success;
  Gauge* sweep_interval;
  Counter* t_notice_queued;
  Counter* t_reactivated;
  Counter* t_closed;
  Counter* t_purged;
  Counter* t_contact_deleted;
  Counter* d_sent;
  Counter* d_deferred;
  Counter* d_failed;
  Counter* d_cancelled;
  Counter* sweep_errors;
  Gauge* n_pending;
  Gauge* n_sending;
  Gauge* n_failed;
  Gauge* overdue;
  Gauge* waiting;
  Gauge* db_gauges_at;
  Counter* db_errors;
};

// What the Exposer serves: reads the scrape-time sources into the registry, then collects it.
class PrometheusMetrics::Collector final : public prometheus::Collectable {
 public:
  Collector(Families& f, const Clock& clock, Seconds refresh)
      : f_(f), clock_(clock), refresh_(refresh) {}

  void SetSources(MetricsSources s) {
    std::lock_guard lock(mu_);
    sources_ = std::move(s);
    next_database_.reset();
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::lock_guard lock(mu_);
    if (sources_.sessions_active) {
      f_.sessions_active->Set(sources_.sessions_active());
    }
    if (sources_.authenticator) {
      auth::AuthenticatorStats a = sources_.authenticator();
      f_.argon2_waiting->Set(a.verifies_waiting);
      f_.argon2_active->Set(a.verifies_active);
      CatchUp(*f_.failures_wrong, a.failures_wrong_credentials);
      CatchUp(*f_.failures_unknown, a.failures_unknown_user);
    }
    if (sources_.database) {
      auto now = clock_.SteadyNow();
      if (!next_database_ || now >= *next_database_) {
        // Whether it works or not, the database is not asked again before `refresh_`.
        next_database_ = now + refresh_;
        auto g = sources_.database();
        if (g) {
          f_.bans_active->Set(static_cast<double>(g->bans_active));
          f_.n_pending->Set(static_cast<double>(g->notices_pending));
          f_.n_sending->Set(static_cast<double>(g->notices_sending));
          f_.n_failed->Set(static_cast<double>(g->notices_failed));
          f_.overdue->Set(static_cast<double>(g->retention_overdue));
          f_.waiting->Set(static_cast<double>(g->retention_waiting));
          f_.db_gauges_at->Set(ToSeconds(clock_.Now()));
        }
      }
    }
    // Read last: the database source above may itself have failed.
    if (sources_.database_errors) {
      CatchUp(*f_.db_errors, sources_.database_errors());
    }
    return f_.registry->Collect();
  }

 private:
  Families& f_;
  const Clock& clock_;
  const Seconds refresh_;
  mutable std::mutex mu_;
  MetricsSources sources_;                                                      // guarded by mu_
  mutable std::optional<std::chrono::steady_clock::time_point> next_database_;  // guarded by mu_
};

Result<DatabaseGauges> ReadDatabaseGauges(db::Database& db, const config::Config& cfg,
                                          auth::Defender& defender, TimePoint now) {
  auto report = lifecycle::BuildRetentionReport(db, cfg, now);
  if (!report) {
    return report.error();
  }
  auto bans = defender.ListBans();
  if (!bans) {
    return bans.error();
  }
  DatabaseGauges g;
  g.bans_active = static_cast<int64_t>(bans->size());
  g.retention_overdue = report->overdue;
  g.retention_waiting = report->waiting;
  for (const lifecycle::RetentionEntry& e : report->entries) {
    if (e.record != "notice") {
      continue;
    }
    if (e.state == "pending") {
      g.notices_pending++;
    } else if (e.state == "sending") {
      g.notices_sending++;
    } else if (e.state == "failed") {
      g.notices_failed++;
    }
  }
  return g;
}

PrometheusMetrics::PrometheusMetrics(const Clock& clock, Seconds refresh)
    : clock_(clock),
      f_(std::make_unique<Families>(clock)),
      collector_(std::make_shared<Collector>(*f_, clock, refresh)) {}

PrometheusMetrics::~PrometheusMetrics() { Stop(); }

void PrometheusMetrics::SetSources(MetricsSources sources) {
  collector_->SetSources(std::move(sources));
}

void PrometheusMetrics::SetLimits(int max_sessions, int max_concurrent_verifies,
                                  Seconds sweep_interval) {
  f_->sessions_max->Set(max_sessions);
  f_->argon2_max->Set(max_concurrent_verifies);
  f_->sweep_interval->Set(static_cast<double>(sweep_interval.count()));
}

void PrometheusMetrics::SweepFinished(const Result<lifecycle::SweepReport>& report,
                                      std::chrono::steady_clock::duration took) {
  f_->sweep_duration->Set(std::chrono::duration<double>(took).count());
  if (!report) {
    f_->sweeps_failed->Increment();
    return;
  }
  const lifecycle::SweepReport& r = *report;
  f_->sweeps_ok->Increment();
  f_->sweep_last_success->Set(ToSeconds(clock_.Now()));
  f_->t_notice_queued->Increment(static_cast<double>(r.notices_queued));
  f_->t_reactivated->Increment(static_cast<double>(r.reactivated));
  f_->t_closed->Increment(static_cast<double>(r.closed));
  f_->t_purged->Increment(static_cast<double>(r.purged));
  f_->t_contact_deleted->Increment(static_cast<double>(r.contacts_deleted));
  f_->d_sent->Increment(static_cast<double>(r.notices_sent));
  f_->d_deferred->Increment(static_cast<double>(r.notices_deferred));
  f_->d_failed->Increment(static_cast<double>(r.notices_failed));
  f_->d_cancelled->Increment(static_cast<double>(r.notices_cancelled));
  f_->sweep_errors->Increment(static_cast<double>(r.errors));
}

Result<std::string> PrometheusMetrics::Serve(const config::ListenAddress& address) {
  std::string where = fmt::format("{}:{}", address.host, address.port);
  try {
    // civetweb options: one listening address, a fixed pool of worker threads, and a bound on
    // how long one slow client may hold a worker.
    exposer_ = std::make_unique<prometheus::Exposer>(
        std::vector<std::string>{"listening_ports", where, "num_threads",
                                 std::to_string(kServerThreads), "request_timeout_ms", "10000"});
  } catch (const std::exception& e) {
    return Error::Unavailable(
        fmt::format("cannot serve metrics on {}: {} (is the port in use?)", where, e.what()));
  }
  exposer_->RegisterCollectable(collector_);
  std::vector<int> ports = exposer_->GetListeningPorts();
  int port = ports.empty() ? address.port : ports.front();
  return fmt::format("{}:{}", address.host, port);
}

void PrometheusMetrics::Stop() { exposer_.reset(); }

std::string PrometheusMetrics::ScrapeText() {
  return prometheus::TextSerializer().Serialize(collector_->Collect());
}

void PrometheusMetrics::OnRequest(const sftp::RequestOutcome& o) noexcept {
  std::size_t s = o.status < kStatusSlots ? o.status : kOtherStatus;
  (*f_->by_type[o.type])[s]->Increment(o.count);
  if (o.bytes_in != 0) {
    f_->bytes_in->Increment(static_cast<double>(o.bytes_in));
  }
  if (o.bytes_out != 0) {
    f_->bytes_out->Increment(static_cast<double>(o.bytes_out));
  }
  if (o.handles_delta != 0) {
    f_->handles_open->Increment(o.handles_delta);
  }
}

void PrometheusMetrics::OnHandlesClosed(int count) noexcept { f_->handles_open->Decrement(count); }

void PrometheusMetrics::ConnectionRefused(std::string_view reason) noexcept {
  std::size_t i = kRefusalCount;
  while (--i > 0 && kRefusals[i] != reason) {
  }
  f_->refused[i]->Increment();
}

void PrometheusMetrics::SessionEnded(std::string_view reason, bool logged_in) noexcept {
  std::size_t i = 0;
  while (i + 1 < kReasonCount && kEndReasons[i] != reason) {
    ++i;
  }
  f_->ended[i][logged_in ? 1 : 0]->Increment();
}

void PrometheusMetrics::LoginDecided(auth::AuthMethod method, auth::AuthOutcome outcome) noexcept {
  int m = method == auth::AuthMethod::kPublicKey ? 1 : 0;
  int o = outcome == auth::AuthOutcome::kAccepted ? 0
          : outcome == auth::AuthOutcome::kBanned ? 2
                                                  : 1;
  f_->login[m][o]->Increment();
}

}  // namespace sftplc::server
