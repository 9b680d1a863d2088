// libFuzzer target for the config loader: any text given to config::ParseConfig yields a Config
// or an error (toml11's exceptions and every bad value stay inside the loader), never a crash,
// a leak or undefined behaviour.

#include <cstddef>
#include <cstdint>
#include <string>

#include "sftpd/core/base/log.h"
#include "sftpd/core/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    sftplc::SetLogLevel("off");
    return true;
  }();
  (void)quiet;
  std::string text(reinterpret_cast<const char*>(data), size);
  // A path that does not exist: relative paths in the text resolve below it, nothing is read.
  auto cfg = sftplc::config::ParseConfig(text, "/nonexistent/sftplc-fuzz/sftpd.toml");
  if (!cfg && cfg.error().message().empty()) {
    __builtin_trap();  // every refusal says why
  }
  return 0;
}
