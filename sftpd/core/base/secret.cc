#include "sftpd/core/base/secret.h"

#include <string.h>

#include <algorithm>

namespace sftplc {
namespace {
constexpr std::size_t kMaxSecret = 4096;  // passwords are at most 1024 bytes
}  // namespace

void SecureZero(void* p, std::size_t n) {
  if (p != nullptr && n > 0) {
    explicit_bzero(p, n);
  }
}

void SecureClear(std::string& s) {
  SecureZero(s.data(), s.capacity());
  s.clear();
}

Secret::Secret(std::string_view bytes) {
  buf_.resize(std::max(kMaxSecret, bytes.size()));
  std::copy(bytes.begin(), bytes.end(), buf_.begin());
  size_ = bytes.size();
}

Secret::~Secret() { Wipe(); }

Secret::Secret(Secret&& other) noexcept : buf_(std::move(other.buf_)), size_(other.size_) {
  other.buf_.clear();
  other.size_ = 0;
}

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    Wipe();
    buf_ = std::move(other.buf_);
    size_ = other.size_;
    other.buf_.clear();
    other.size_ = 0;
  }
  return *this;
}

void Secret::push_back(char c) {
  if (buf_.empty()) {
    buf_.resize(kMaxSecret);
  }
  if (size_ == buf_.size()) {
    // Grow by copying into a fresh buffer and wiping the old one, so no copy is left behind.
    std::vector<char> bigger(buf_.size() * 2);
    std::copy(buf_.begin(), buf_.end(), bigger.begin());
    SecureZero(buf_.data(), buf_.size());
    buf_.swap(bigger);
  }
  buf_[size_++] = c;
}

void Secret::Wipe() {
  SecureZero(buf_.data(), buf_.size());
  size_ = 0;
}

}  // namespace sftplc
