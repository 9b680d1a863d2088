// libFuzzer target for Argon2 PHC strings (sftpd/core/auth/argon2_phc.cc): a string the parser
// accepts is canonical, so formatting what it parsed gives the same string back; the unpadded
// base64 codec round-trips whatever it accepts.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sftpd/core/auth/argon2_phc.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto phc = sftplc::auth::ParsePhc(text);
  if (phc && sftplc::auth::FormatPhc(*phc) != text) {
    __builtin_trap();  // accepted but not canonical
  }
  auto bytes = sftplc::auth::Base64DecodeNoPad(text);
  if (bytes && sftplc::auth::Base64EncodeNoPad(*bytes) != text) {
    __builtin_trap();
  }
  return 0;
}
