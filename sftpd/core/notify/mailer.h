#pragma once

// Mailer: hands one finished message (message.h) to a mail server. The SMTP implementation uses
// libcurl; tests and simulations use MemoryMailer (tests/testing/memory_mailer.h).
//
// Error convention, which the outbox relies on:
//   kUnavailable        temporary: connection refused, timeout, TLS handshake failure, 4xx
//                       reply -> retried with backoff;
//   kPermissionDenied   permanent: 5xx reply (recipient or message refused), login denied;
//   kInvalidArgument    permanent: malformed address or message.

#include <memory>
#include <string>

#include "sftpd/core/base/log.h"
#include "sftpd/core/base/result.h"
#include "sftpd/core/config/config.h"

namespace sftplc::notify {

struct Envelope {
  std::string from;  // bare address for MAIL FROM
  std::string to;    // bare address for RCPT TO
};

class Mailer {
 public:
  virtual ~Mailer() = default;
  // Sends `message` (CRLF lines, headers included). Returns success once the server accepted
  // it (250 after DATA). Errors: see above. Implementations are thread-safe.
  virtual Status Send(const Envelope& envelope, const std::string& message) = 0;
};

// True for errors worth retrying (kUnavailable).
inline bool IsTemporary(const Error& e) { return e.code() == ErrorCode::kUnavailable; }

// The libcurl SMTP mailer for `cfg`: smtp:// with STARTTLS required (tls = "required"),
// attempted ("try") or off ("none"); smtps:// is TLS from the start. SMTP AUTH credentials
// come from cfg.auth_file ("user:password", one line) when set. Each Send() is one connection
// with cfg.timeout as the connect and total timeout; CURLOPT_NOSIGNAL is set.
// REQUIRES: curl_global_init has run (GlobalInitCurl()) before threads start.
// kInvalidArgument for a bad URL scheme or tls value; kNotFound / kPermissionDenied when the
// auth file cannot be read; kInvalidArgument when it has no ':'.
Result<std::unique_ptr<Mailer>> CreateSmtpMailer(const config::SmtpConfig& cfg, Logger log);

// Calls curl_global_init once per process (safe to call many times, not concurrently with
// other curl use on first call).
void GlobalInitCurl();

}  // namespace sftplc::notify
