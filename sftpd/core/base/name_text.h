#pragma once

// Names a client chose (file and folder names) are bytes: any byte but NUL and "/", not
// necessarily UTF-8, possibly with newlines, escape sequences or bidirectional controls. Every
// place that prints one (access export, `files list`, `retention report`) goes through these
// functions, so a name can neither break JSON output nor forge a line in a letter or a terminal.
// Formats: docs/sftpctl.md "File names in output". Pure; thread-safe.

#include <string>
#include <string_view>

namespace sftplc {

// True when `bytes` is well-formed UTF-8 (no overlong forms, surrogates or code points above
// U+10FFFF).
bool IsValidUtf8(std::string_view bytes);

// `bytes` as valid UTF-8: each byte that is not part of a well-formed sequence becomes U+FFFD.
// Equal to `bytes` exactly when IsValidUtf8(bytes).
std::string Utf8Lossy(std::string_view bytes);

// The exact, reversible text form, one line of printable characters:
//   "\" -> "\\", newline -> "\n", carriage return -> "\r", tab -> "\t";
//   other C0 controls and DEL -> "\xHH" (the byte), an invalid UTF-8 byte -> "\xHH" (the byte);
//   C1 controls, U+2028/U+2029 (line and paragraph separators) and the bidirectional controls
//   (U+200E/F, U+202A..U+202E, U+2066..U+2069) -> "\uXXXX" (the code point, UTF-8 encoded);
//   every other character is kept as it is.
// Decoding these escapes gives back `bytes`.
std::string EscapeName(std::string_view bytes);

// Puts name `bytes` into JSON object `obj` under `key`: the name as valid UTF-8 (Utf8Lossy),
// plus, only when that differs from the bytes, `<key>_escaped` holding EscapeName(bytes), which
// is exact. JSON escapes control characters itself, so a valid UTF-8 name needs nothing more.
template <class Json>
void PutName(Json& obj, const std::string& key, std::string_view bytes) {
  std::string lossy = Utf8Lossy(bytes);
  bool exact = lossy.size() == bytes.size() && lossy == bytes;
  obj[key] = std::move(lossy);
  if (!exact) {
    obj[key + "_escaped"] = EscapeName(bytes);
  }
}

}  // namespace sftplc
