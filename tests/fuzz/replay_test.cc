// Replays a fuzz target's seed corpus (SFTPLC_FUZZ_CORPUS) through its LLVMFuzzerTestOneInput in
// the ordinary test build: every input a campaign found (a crash, once fixed, is added to the
// corpus) is run again by ctest, with or without clang and libFuzzer. A broken invariant aborts.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/testing/temp_dir.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

// The test is named after the target (SFTPLC_FUZZ_TARGET: config_fuzz, ...).
TEST(FuzzCorpusReplay, SFTPLC_FUZZ_TARGET) {
  std::vector<std::filesystem::path> inputs;
  for (const auto& e : std::filesystem::directory_iterator(SFTPLC_FUZZ_CORPUS)) {
    if (e.is_regular_file()) {
      inputs.push_back(e.path());
    }
  }
  std::sort(inputs.begin(), inputs.end());
  ASSERT_FALSE(inputs.empty()) << "no seed in " << SFTPLC_FUZZ_CORPUS;
  for (const auto& path : inputs) {
    SCOPED_TRACE(path.string());
    std::string data = sftplc::testing::ReadFile(path.string());
    EXPECT_EQ(LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()), data.size()),
              0);
  }
}

}  // namespace
