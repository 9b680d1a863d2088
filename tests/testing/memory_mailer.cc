#include "tests/testing/memory_mailer.h"

namespace sftplc::notify {

Status MemoryMailer::Send(const Envelope& envelope, const std::string& message) {
  std::lock_guard lock(mu_);
  ++attempts_;
  if (rejecting_) {
    return Error::PermissionDenied("SMTP delivery failed: recipient refused (smtp code 550)");
  }
  if (down_) {
    return Error::Unavailable("SMTP delivery failed: mail server down");
  }
  if (fail_next_ > 0) {
    --fail_next_;
    return Error::Unavailable("SMTP delivery failed: try again later (smtp code 451)");
  }
  sent_.push_back({envelope, message});
  if (lose_next_ > 0) {
    --lose_next_;
    return Error::Unavailable("SMTP delivery failed: connection lost before the reply");
  }
  return {};
}

void MemoryMailer::LoseNextReplies(int n) {
  std::lock_guard lock(mu_);
  lose_next_ = n;
}

void MemoryMailer::SetDown(bool down) {
  std::lock_guard lock(mu_);
  down_ = down;
}

void MemoryMailer::SetRejecting(bool rejecting) {
  std::lock_guard lock(mu_);
  rejecting_ = rejecting;
}

void MemoryMailer::FailNext(int n) {
  std::lock_guard lock(mu_);
  fail_next_ = n;
}

std::vector<MemoryMailer::Sent> MemoryMailer::sent() const {
  std::lock_guard lock(mu_);
  return sent_;
}

size_t MemoryMailer::sent_count() const {
  std::lock_guard lock(mu_);
  return sent_.size();
}

int MemoryMailer::attempts() const {
  std::lock_guard lock(mu_);
  return attempts_;
}

void MemoryMailer::Clear() {
  std::lock_guard lock(mu_);
  sent_.clear();
  attempts_ = 0;
}

}  // namespace sftplc::notify
