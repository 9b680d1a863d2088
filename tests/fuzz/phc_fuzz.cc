// libFuzzer target for Argon2 PHC strings (sftpd/core/auth/argon2_phc.cc): a string the parser
// accepts is canonical, so formatting what it parsed gives the same string back (one exception:
// version 0x10 is accepted with "v=16", as the reference implementation writes it, and without a
// "v=" field, as FormatPhc and older implementations write it); the unpadded base64 codec
// round-trips whatever it accepts.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sftpd/core/auth/argon2_phc.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto phc = sftplc::auth::ParsePhc(text);
  if (phc) {
    std::string formatted = sftplc::auth::FormatPhc(*phc);
    std::string explicit_v16 = formatted;
    if (phc->version == sftplc::auth::kArgon2Version10) {
      std::size_t params = explicit_v16.find("$m=");
      explicit_v16.insert(params, "$v=16");
    }
    if (formatted != text && explicit_v16 != text) {
      __builtin_trap();  // accepted but not canonical
    }
  }
  auto bytes = sftplc::auth::Base64DecodeNoPad(text);
  if (bytes && sftplc::auth::Base64EncodeNoPad(*bytes) != text) {
    __builtin_trap();
  }
  return 0;
}
