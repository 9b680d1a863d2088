#pragma once

// Runs one arbitrary byte stream through a fresh sftp::Processor over a fresh account root and
// checks what must hold for any input: the process survives, replies are whole packets, one call
// never buffers much more than Limits.max_output, a failed session stays failed, the observer
// hears of each request with the status its reply carried, and nothing outside the account root
// changes. Shared by the libFuzzer target and the corpus replay test.
//
// Input layout: byte 0 = mode (bit 0: send a valid INIT first; bits 1-2: how the rest is handed
// over: whole, every byte, chunks of byte 1 + 1 bytes to OnData, or reads of (byte 1 + 1) KiB into
// one buffer handed to Consume as the SFTP worker does; bit 3: also open a file and a directory
// first and replace every kFileMarker / kDirMarker in the input with their handles), then the
// channel bytes.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sftplc::sftp::testing {

inline constexpr uint8_t kWithHandles = 0x08;
inline constexpr std::string_view kFileMarker = "@@FILE@@";  // 8 bytes, as a handle
inline constexpr std::string_view kDirMarker = "@@DIRS@@";

class FuzzHarness {
 public:
  // `storage` is an existing empty folder: it gets a canary file and the account roots.
  explicit FuzzHarness(std::string storage);
  // Returns "" when every invariant held, else what broke.
  std::string Run(const uint8_t* data, std::size_t size);
  // The reply types of the last Run (after the prologue), in order.
  const std::vector<uint8_t>& reply_types() const { return reply_types_; }

 private:
  std::string storage_;
  std::vector<uint8_t> reply_types_;
};

}  // namespace sftplc::sftp::testing
