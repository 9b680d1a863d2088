// libFuzzer target for sftp::Processor (built by scripts/fuzz with clang). Any broken invariant
// of FuzzHarness aborts, so libFuzzer keeps the input as a crash.

#include <stdlib.h>

#include <cstdio>
#include <string>

#include "sftpd/core/base/log.h"
#include "tests/server/sftp/fuzz_harness.h"

namespace {

sftplc::sftp::testing::FuzzHarness& Harness() {
  static sftplc::sftp::testing::FuzzHarness* h = [] {
    sftplc::SetLogLevel("off");
    char tmpl[] = "/tmp/sftplc-fuzz-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      abort();
    }
    return new sftplc::sftp::testing::FuzzHarness(tmpl);
  }();
  return *h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string why = Harness().Run(data, size);
  if (!why.empty()) {
    std::fprintf(stderr, "invariant broken: %s\n", why.c_str());
    abort();
  }
  return 0;
}
