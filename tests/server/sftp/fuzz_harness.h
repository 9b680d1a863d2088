#pragma once

// Runs one arbitrary byte stream through a fresh sftp::Processor over a fresh account root and
// checks what must hold for any input: the process survives, replies are whole packets, one call
// never buffers much more than Limits.max_output, a failed session stays failed, and nothing
// outside the account root changes. Shared by the libFuzzer target and the corpus replay test.
//
// Input layout: byte 0 = mode (bit 0: prepend a valid INIT; bits 1-2: how the rest is split:
// whole, every byte, or chunks of byte 1 + 1 bytes), then the channel bytes.

#include <cstddef>
#include <cstdint>
#include <string>

namespace sftplc::sftp::testing {

class FuzzHarness {
 public:
  // `storage` is an existing empty folder: it gets a canary file and the account roots.
  explicit FuzzHarness(std::string storage);
  // Returns "" when every invariant held, else what broke.
  std::string Run(const uint8_t* data, std::size_t size);

 private:
  std::string storage_;
};

}  // namespace sftplc::sftp::testing
