#pragma once

// MemoryMailer: a Mailer that keeps every accepted message in memory, and can be told to be
// "down" (temporary failure) or to refuse everything (permanent failure). For unit tests and
// the ten-year simulation. Thread-safe.

#include <mutex>
#include <string>
#include <vector>

#include "sftpd/core/notify/mailer.h"

namespace sftplc::notify {

class MemoryMailer final : public Mailer {
 public:
  struct Sent {
    Envelope envelope;
    std::string message;
  };

  Status Send(const Envelope& envelope, const std::string& message) override;

  // While down, Send() fails with kUnavailable.
  void SetDown(bool down);
  // While rejecting, Send() fails with kPermissionDenied (a 5xx).
  void SetRejecting(bool rejecting);
  // The next `n` sends fail temporarily.
  void FailNext(int n);
  // The next `n` sends are accepted (kept in sent()) but report a temporary failure, as when
  // the connection drops after the server took the message and before its reply arrived.
  void LoseNextReplies(int n);
  std::vector<Sent> sent() const;
  size_t sent_count() const;
  int attempts() const;
  void Clear();

 private:
  mutable std::mutex mu_;
  bool down_ = false;
  bool rejecting_ = false;
  int fail_next_ = 0;
  int lose_next_ = 0;
  int attempts_ = 0;
  std::vector<Sent> sent_;
};

}  // namespace sftplc::notify
