#pragma once

// Secret: a move-only byte buffer for passwords and keys that zeroes its memory when it is
// destroyed or moved from (like OpenSSH's freezero). It has no formatter, so it cannot be
// logged by accident.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sftplc {

class Secret {
 public:
  Secret() = default;
  // Copies `bytes`; the caller wipes its own copy.
  explicit Secret(std::string_view bytes);
  ~Secret();
  Secret(Secret&& other) noexcept;
  Secret& operator=(Secret&& other) noexcept;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;

  const char* data() const { return buf_.data(); }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // A view for passing to a hash function; it must not outlive the Secret.
  std::string_view view() const { return {buf_.data(), size_}; }
  // Appends one byte (used by readers that fill the secret without an intermediate string).
  void push_back(char c);
  // Zeroes and empties.
  void Wipe();

 private:
  std::vector<char> buf_;  // capacity reserved up front so push_back never reallocates
  std::size_t size_ = 0;
};

// Zeroes a buffer in a way the compiler may not drop.
void SecureZero(void* p, std::size_t n);
// Zeroes a std::string's characters (including its spare capacity) and clears it.
void SecureClear(std::string& s);

}  // namespace sftplc
