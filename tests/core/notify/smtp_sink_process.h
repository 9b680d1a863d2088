#pragma once

// The real aiosmtpd sink (tests/testing/smtp_sink.py) started by a test with its own options
// (--fail-first N, --reject-all), stopped when the object dies. Ready once it printed
// "listening on 127.0.0.1:PORT" (read from its stdout: no sleeps).

#include <sys/types.h>

#include <string>
#include <vector>

namespace sftplc::testing {

class SmtpSinkProcess {
 public:
  SmtpSinkProcess(const std::string& maildir, const std::vector<std::string>& extra);
  ~SmtpSinkProcess();
  SmtpSinkProcess(const SmtpSinkProcess&) = delete;
  SmtpSinkProcess& operator=(const SmtpSinkProcess&) = delete;
  // 0 when the sink did not start.
  int port() const { return port_; }
  // The raw messages delivered so far (maildir/new).
  std::vector<std::string> Delivered() const;

 private:
  std::string maildir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// A delivered message as Python's strict email parser reads it (headers decoded, body as text).
struct DecodedMail {
  std::string to;  // the To header, e.g. "Zoë Quartermain <zoe.q@client.example>"
  std::string subject;
  std::string body;
};
// Decodes one raw message (as Delivered() returns it); empty fields when it cannot be parsed.
DecodedMail DecodeMail(const std::string& raw);

}  // namespace sftplc::testing
