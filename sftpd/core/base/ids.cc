#include "sftpd/core/base/ids.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace sftplc {

void RandomBytes(void* out, std::size_t n) {
  auto* p = static_cast<unsigned char*>(out);
  while (n > 0) {
    ssize_t got = getrandom(p, n, 0);
    if (got < 0) {
      if (errno == EINTR) {
        continue;
      }
      std::fputs("fatal: getrandom failed\n", stderr);
      std::abort();
    }
    p += got;
    n -= static_cast<std::size_t>(got);
  }
}

std::string RandomHex(std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string bytes(n, '\0');
  RandomBytes(bytes.data(), n);
  std::string out;
  out.reserve(2 * n);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

AccountId AccountId::New() { return AccountId(RandomHex(16)); }

bool AccountId::LooksLikeId(std::string_view text) {
  if (text.size() != 32) {
    return false;
  }
  for (char c : text) {
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex) {
      return false;
    }
  }
  return true;
}

Result<AccountId> AccountId::Parse(std::string_view text) {
  if (!LooksLikeId(text)) {
    return Error::InvalidArgument("an account id is 32 hexadecimal digits");
  }
  std::string hex(text);
  for (char& c : hex) {
    if (c >= 'A' && c <= 'F') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return AccountId(std::move(hex));
}

}  // namespace sftplc
