#pragma once

// Metrics: the events sftpd counts, told by the code where they happen (server, session, login
// gate, SFTP processor). The production implementation is PrometheusMetrics
// (prometheus_metrics.h, served when [metrics] listen is set); NoMetrics() counts nothing.
//
// Nothing personal ever reaches a metric: the calls take only fixed words (reasons, methods)
// and numbers, never a name, address or path. Implementations are thread-safe, never throw and
// never block (they are called from session threads and inside libssh callbacks).

#include <string_view>

#include "sftpd/core/auth/authenticator.h"
#include "sftpd/server/sftp/request_observer.h"

namespace sftplc::server {

class Metrics : public sftp::RequestObserver {
 public:
  // A connection refused at accept, before any cryptography: `reason` is "max_sessions",
  // "max_sessions_per_ip", "max_startups", "per_source_max_startups" or "banned".
  virtual void ConnectionRefused(std::string_view reason) noexcept = 0;
  // A connection ended. `reason` is the session's end reason as the usage record has it
  // ("closed", "idle_timeout", "shutdown", "error", "protocol_error", "login_timeout");
  // `logged_in` tells whether a login succeeded on it.
  virtual void SessionEnded(std::string_view reason, bool logged_in) noexcept = 0;
  // A login attempt was decided (a password, or a public key with its signature checked).
  virtual void LoginDecided(auth::AuthMethod method, auth::AuthOutcome outcome) noexcept = 0;
};

// The Metrics that count nothing (metrics disabled; tests). Lives for the whole process.
Metrics& NoMetrics();

}  // namespace sftplc::server
