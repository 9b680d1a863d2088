#include "sftpd/core/base/name_text.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <optional>

namespace sftplc {
namespace {

// The length of the well-formed UTF-8 sequence at the start of `s` and its code point, or 0
// when the first byte does not start one.
size_t DecodeOne(std::string_view s, char32_t& cp) {
  auto b = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  auto cont = [&](size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
  uint8_t c = b(0);
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  if (c >= 0xC2 && c <= 0xDF && cont(1)) {
    cp = (char32_t(c & 0x1F) << 6) | (b(1) & 0x3F);
    return 2;
  }
  if (c >= 0xE0 && c <= 0xEF && cont(1) && cont(2)) {
    // E0 needs A0..BF (no overlong form); ED needs 80..9F (no surrogate).
    if ((c == 0xE0 && b(1) < 0xA0) || (c == 0xED && b(1) > 0x9F)) {
      return 0;
    }
    cp = (char32_t(c & 0x0F) << 12) | (char32_t(b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4 && cont(1) && cont(2) && cont(3)) {
    // F0 needs 90..BF (no overlong form); F4 needs 80..8F (nothing above U+10FFFF).
    if ((c == 0xF0 && b(1) < 0x90) || (c == 0xF4 && b(1) > 0x8F)) {
      return 0;
    }
    cp = (char32_t(c & 0x07) << 18) | (char32_t(b(1) & 0x3F) << 12) | (char32_t(b(2) & 0x3F) << 6) |
         (b(3) & 0x3F);
    return 4;
  }
  return 0;
}

// Characters that move the cursor to a new line, or reorder what a reader sees, when printed.
bool NeedsCodePointEscape(char32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 || cp == 0x200E ||
         cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

// Calls fn(seq, cp) for each piece of `bytes` in order: a well-formed UTF-8 sequence with its
// code point, or a byte that starts none with nullopt.
template <class Fn>
void ForEachSequence(std::string_view bytes, Fn&& fn) {
  while (!bytes.empty()) {
    char32_t cp = 0;
    size_t n = DecodeOne(bytes, cp);
    fn(bytes.substr(0, std::max<size_t>(n, 1)), n == 0 ? std::nullopt : std::optional(cp));
    bytes.remove_prefix(std::max<size_t>(n, 1));
  }
}

}  // namespace

bool IsValidUtf8(std::string_view bytes) {
  bool valid = true;
  ForEachSequence(bytes, [&](std::string_view, std::optional<char32_t> cp) {
    valid = valid && cp.has_value();
  });
  return valid;
}

std::string Utf8Lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  ForEachSequence(bytes, [&](std::string_view seq, std::optional<char32_t> cp) {
    out += cp ? seq : "\xEF\xBF\xBD";  // U+FFFD
  });
  return out;
}

std::string EscapeName(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  ForEachSequence(bytes, [&](std::string_view seq, std::optional<char32_t> cp) {
    if (!cp) {
      out += fmt::format("\\x{:02x}", static_cast<uint8_t>(seq[0]));
    } else if (*cp == '\\') {
      out += "\\\\";
    } else if (*cp == '\n') {
      out += "\\n";
    } else if (*cp == '\r') {
      out += "\\r";
    } else if (*cp == '\t') {
      out += "\\t";
    } else if (*cp < 0x20 || *cp == 0x7F) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned>(*cp));
    } else if (NeedsCodePointEscape(*cp)) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(*cp));
    } else {
      out += seq;
    }
  });
  return out;
}

}  // namespace sftplc
