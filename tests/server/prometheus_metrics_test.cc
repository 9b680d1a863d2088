// PrometheusMetrics: what each event does to the scrape text, what the label values are (fixed
// words only), the bound on database reads, and the HTTP endpoint.

#include "sftpd/server/prometheus_metrics.h"

#include <gtest/gtest.h>
#include <libssh/libssh.h>

#include <string>

#include "sftpd/server/sftp/protocol.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_env.h"

namespace sftplc::server {
namespace {

using sftplc::testing::FakeClock;

double Sample(const std::string& text, const std::string& series) {
  return ::sftplc::testing::PrometheusSample(text, series);
}

class PrometheusMetricsTest : public ::testing::Test {
 protected:
  FakeClock clock_{"2026-03-01T12:00:00Z"};
  PrometheusMetrics m_{clock_, Seconds(60)};
};

// Every request type and status is there from the start (no series appears later), at 0.
TEST_F(PrometheusMetricsTest, RequestSeriesExistBeforeAnyRequest) {
  std::string text = m_.ScrapeText();
  EXPECT_EQ(Sample(text, R"(sftpd_sftp_requests_total{status="ok",type="write"})"), 0);
  EXPECT_EQ(Sample(text, R"(sftpd_sftp_requests_total{status="eof",type="read"})"), 0);
  EXPECT_EQ(Sample(text, R"(sftpd_sftp_requests_total{status="other",type="unsupported"})"), 0);
  EXPECT_EQ(Sample(text, R"(sftpd_logins_total{method="publickey",result="banned"})"), 0);
  EXPECT_EQ(Sample(text, R"(sftpd_sessions_total{logged_in="false",reason="login_timeout"})"), 0);
}

// A request (or a tally of `count` requests) counts under its type and reply status, with its
// bytes and handle change.
TEST_F(PrometheusMetricsTest, RequestCountsTypeStatusBytesAndHandles) {
  m_.OnRequest({sftp::kFxpOpen, sftp::kFxOk, 0, 0, +1});
  m_.OnRequest({sftp::kFxpWrite, sftp::kFxOk, 32768, 0, 0});
  m_.OnRequest({sftp::kFxpWrite, sftp::kFxOk, 100, 0, 0});
  m_.OnRequest({sftp::kFxpRead, sftp::kFxEof, 0, 0, 0});
  m_.OnRequest({sftp::kFxpRead, sftp::kFxOk, 0, 4096, 0});
  m_.OnRequest({sftp::kFxpRemove, sftp::kFxPermissionDenied, 0, 0, 0});
  // A worker's tally: three more OPENDIRs at once, with the handles they opened.
  m_.OnRequest({sftp::kFxpOpendir, sftp::kFxOk, 0, 0, +3, 3});
  std::string text = m_.ScrapeText();
  EXPECT_EQ(Sample(text, R"(sftpd_sftp_requests_total{status="ok",type="open"})"), 1);
  EXPECT_EQ(Sample(text, R"(sftpd_sftp_requests_total{status="ok",type="write"})"), 2);
  EXPECT_EQ(Sample(text, R"(sftpd_sftp_requests_total{status="eof",type="read"})"), 1);
  EXPECT_EQ(Sample(text, R"(sftpd_sftp_requests_total{status="ok",type="read"})"), 1);
  EXPECT_EQ(Sample(text, R"(sftpd_sftp_requests_total{status="permission_denied",type="remove"})"),
            1);
  EXPECT_EQ(Sample(text, R"(sftpd_transfer_bytes_total{direction="in"})"), 32868);
  EXPECT_EQ(Sample(text, R"(sftpd_transfer_bytes_total{direction="out"})"), 4096);
  EXPECT_EQ(Sample(text, R"(sftpd_sftp_requests_total{status="ok",type="opendir"})"), 3);
  EXPECT_EQ(Sample(text, "sftpd_sftp_handles_open"), 4);
  m_.OnHandlesClosed(4);
  EXPECT_EQ(Sample(m_.ScrapeText(), "sftpd_sftp_handles_open"), 0);
}

// A type the processor does not know, and a status outside SSH_FX_*, land in fixed buckets: a
// client cannot create series.
TEST_F(PrometheusMetricsTest, UnknownTypesAndStatusesUseFixedLabels) {
  m_.OnRequest({250, sftp::kFxOpUnsupported, 0, 0, 0});
  m_.OnRequest({77, sftp::kFxOpUnsupported, 0, 0, 0});
  m_.OnRequest({sftp::kFxpStat, 4242, 0, 0, 0});
  std::string text = m_.ScrapeText();
  EXPECT_EQ(
      Sample(text, R"(sftpd_sftp_requests_total{status="op_unsupported",type="unsupported"})"), 2);
  EXPECT_EQ(Sample(text, R"(sftpd_sftp_requests_total{status="other",type="stat"})"), 1);
  EXPECT_EQ(text.find("type=\"250\""), std::string::npos);
}

// Sessions count by end reason (unknown reasons as "other"), logins by method and result.
TEST_F(PrometheusMetricsTest, SessionsAndLogins) {
  m_.SessionEnded("closed", true);
  m_.SessionEnded("closed", false);
  m_.SessionEnded("idle_timeout", true);
  m_.SessionEnded("a reason from a later version", false);
  m_.ConnectionRefused("max_sessions_per_ip");
  m_.ConnectionRefused("max_startups");
  m_.ConnectionRefused("max_startups");
  m_.ConnectionRefused("per_source_max_startups");
  m_.ConnectionRefused("banned");
  m_.LoginDecided(auth::AuthMethod::kPassword, auth::AuthOutcome::kAccepted);
  m_.LoginDecided(auth::AuthMethod::kPassword, auth::AuthOutcome::kRejected);
  m_.LoginDecided(auth::AuthMethod::kPublicKey, auth::AuthOutcome::kBanned);
  std::string text = m_.ScrapeText();
  EXPECT_EQ(Sample(text, R"(sftpd_sessions_total{logged_in="true",reason="closed"})"), 1);
  EXPECT_EQ(Sample(text, R"(sftpd_sessions_total{logged_in="false",reason="closed"})"), 1);
  EXPECT_EQ(Sample(text, R"(sftpd_sessions_total{logged_in="true",reason="idle_timeout"})"), 1);
  EXPECT_EQ(Sample(text, R"(sftpd_sessions_total{logged_in="false",reason="other"})"), 1);
  EXPECT_EQ(Sample(text, R"(sftpd_connections_refused_total{limit="max_sessions_per_ip"})"), 1);
  EXPECT_EQ(Sample(text, R"(sftpd_connections_refused_total{limit="max_startups"})"), 2);
  EXPECT_EQ(Sample(text, R"(sftpd_connections_refused_total{limit="per_source_max_startups"})"), 1);
  EXPECT_EQ(Sample(text, R"(sftpd_connections_refused_total{limit="banned"})"), 1);
  EXPECT_EQ(Sample(text, R"(sftpd_connections_refused_total{limit="max_sessions"})"), 0);
  EXPECT_EQ(Sample(text, R"(sftpd_logins_total{method="password",result="success"})"), 1);
  EXPECT_EQ(Sample(text, R"(sftpd_logins_total{method="password",result="failure"})"), 1);
  EXPECT_EQ(Sample(text, R"(sftpd_logins_total{method="publickey",result="banned"})"), 1);
  EXPECT_EQ(text.find("a reason from"), std::string::npos);
}

// Live sources are read at every scrape; totals kept elsewhere show as counters.
TEST_F(PrometheusMetricsTest, LiveSourcesAreReadAtScrape) {
  int sessions = 3;
  auth::AuthenticatorStats a;
  a.verifies_waiting = 2;
  a.verifies_active = 1;
  a.failures_wrong_credentials = 5;
  uint64_t db_errors = 7;
  MetricsSources s;
  s.sessions_active = [&] { return sessions; };
  s.authenticator = [&] { return a; };
  s.database_errors = [&] { return db_errors; };
  m_.SetSources(std::move(s));
  m_.SetLimits(10, 2, Seconds(3600));
  std::string text = m_.ScrapeText();
  EXPECT_EQ(Sample(text, "sftpd_sessions_active"), 3);
  EXPECT_EQ(Sample(text, "sftpd_sessions_max"), 10);
  EXPECT_EQ(Sample(text, "sftpd_argon2_verifications_waiting"), 2);
  EXPECT_EQ(Sample(text, "sftpd_argon2_verifications_active"), 1);
  EXPECT_EQ(Sample(text, "sftpd_argon2_verifications_max"), 2);
  EXPECT_EQ(Sample(text, R"(sftpd_auth_failures_total{kind="wrong_credentials"})"), 5);
  EXPECT_EQ(Sample(text, "sftpd_database_errors_total"), 7);
  EXPECT_EQ(Sample(text, "sftpd_lifecycle_sweep_interval_seconds"), 3600);
  sessions = 0;
  a.failures_wrong_credentials = 6;
  db_errors = 9;
  text = m_.ScrapeText();
  EXPECT_EQ(Sample(text, "sftpd_sessions_active"), 0);
  EXPECT_EQ(Sample(text, R"(sftpd_auth_failures_total{kind="wrong_credentials"})"), 6);
  EXPECT_EQ(Sample(text, "sftpd_database_errors_total"), 9);
}

// The database is read at most once per refresh period, however often Prometheus scrapes, and
// a failed read keeps the last values.
TEST_F(PrometheusMetricsTest, DatabaseIsReadAtMostOncePerRefresh) {
  int reads = 0;
  bool fail = false;
  MetricsSources s;
  s.database = [&]() -> Result<DatabaseGauges> {
    ++reads;
    if (fail) {
      return Error::Unavailable("down");
    }
    DatabaseGauges g;
    g.bans_active = 2;
    g.notices_failed = 1;
    g.retention_overdue = reads;
    return g;
  };
  m_.SetSources(std::move(s));
  std::string text = m_.ScrapeText();
  m_.ScrapeText();
  m_.ScrapeText();
  EXPECT_EQ(reads, 1);
  EXPECT_EQ(Sample(text, "sftpd_bans_active"), 2);
  EXPECT_EQ(Sample(text, R"(sftpd_notices{state="failed"})"), 1);
  EXPECT_EQ(Sample(text, "sftpd_retention_overdue_items"), 1);
  // FakeClock::Advance moves the steady clock too.
  clock_.Advance(Seconds(60));
  fail = true;
  text = m_.ScrapeText();
  EXPECT_EQ(reads, 2);
  EXPECT_EQ(Sample(text, "sftpd_retention_overdue_items"), 1);
}

// A successful sweep adds its transitions and sets the last success time; a failed one only
// counts as a failure.
TEST_F(PrometheusMetricsTest, SweepsCountTransitionsAndLastSuccess) {
  double started = Sample(m_.ScrapeText(), "sftpd_lifecycle_sweep_last_success_timestamp_seconds");
  EXPECT_EQ(started, static_cast<double>(ToUnix(clock_.Now())));
  lifecycle::SweepReport r;
  r.notices_queued = 2;
  r.closed = 1;
  r.purged = 1;
  r.notices_failed = 1;
  clock_.Advance(Seconds(100));
  m_.SweepFinished(r, std::chrono::milliseconds(1500));
  clock_.Advance(Seconds(100));
  m_.SweepFinished(Error::Unavailable("database down"), std::chrono::milliseconds(20));
  std::string text = m_.ScrapeText();
  EXPECT_EQ(Sample(text, R"(sftpd_lifecycle_sweeps_total{result="success"})"), 1);
  EXPECT_EQ(Sample(text, R"(sftpd_lifecycle_sweeps_total{result="failure"})"), 1);
  EXPECT_EQ(Sample(text, "sftpd_lifecycle_sweep_last_success_timestamp_seconds"), started + 100);
  EXPECT_EQ(Sample(text, "sftpd_lifecycle_sweep_duration_seconds"), 0.02);
  EXPECT_EQ(Sample(text, R"(sftpd_lifecycle_transitions_total{kind="notice_queued"})"), 2);
  EXPECT_EQ(Sample(text, R"(sftpd_lifecycle_transitions_total{kind="purged"})"), 1);
  EXPECT_EQ(Sample(text, R"(sftpd_notice_deliveries_total{result="failed"})"), 1);
}

// The endpoint serves the scrape text over HTTP on the port it reports, and refuses a port in
// use with a clear error.
TEST_F(PrometheusMetricsTest, ServesOnLoopbackAndRefusesABusyPort) {
  auto addr = m_.Serve({"127.0.0.1", 0});
  ASSERT_TRUE(addr.has_value()) << addr.error().ToString();
  ASSERT_EQ(addr->rfind("127.0.0.1:", 0), 0u) << *addr;
  EXPECT_NE(*addr, "127.0.0.1:0");
  m_.LoginDecided(auth::AuthMethod::kPassword, auth::AuthOutcome::kAccepted);
  auto r = sftplc::testing::RunCommand("curl -sf http://" + *addr + "/metrics");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Sample(r.out, R"(sftpd_logins_total{method="password",result="success"})"), 1);
  EXPECT_EQ(Sample(r.out, "sftpd_build_info{libssh=\"" + std::string(ssh_version(0)) +
                              "\",version=\"" SFTPLC_TEST_VERSION "\"}"),
            1);

  PrometheusMetrics other(clock_, Seconds(60));
  config::ListenAddress busy{"127.0.0.1",
                             static_cast<uint16_t>(std::stoi(addr->substr(addr->rfind(':') + 1)))};
  auto second = other.Serve(busy);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(second.error().message().find("cannot serve metrics on 127.0.0.1:"), std::string::npos);
  m_.Stop();
  EXPECT_NE(sftplc::testing::RunCommand("curl -sf http://" + *addr + "/metrics").exit_code, 0);
}

}  // namespace
}  // namespace sftplc::server
