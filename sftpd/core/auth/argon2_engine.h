#pragma once

// Argon2Engine: runs libargon2 (argon2_ctx) in work areas that are mapped and pre-faulted once
// and then reused. On this VM a first-touch page fault costs ~22 us per 4 KiB, so a 64 MiB hash
// in fresh memory spends most of its time faulting pages in; a reused area does not
// (docs/security.md has the measured figures). Areas are asked for transparent huge pages,
// which also cuts TLB misses on Argon2's random block reads.
//
// libargon2's allocate_cbk has no user-data pointer, so the area for the current call is handed
// over in a thread-local; the library allocates on the calling thread even when it fills lanes
// on helper threads. libargon2 wipes the area before handing it back.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "sftpd/core/base/result.h"

namespace sftplc::auth {

struct Argon2Input {
  uint32_t version = 0x13;
  uint32_t t_cost = 3;
  uint32_t m_cost_kib = 65536;
  uint32_t parallelism = 1;
  std::string_view password;
  std::string_view salt;
  std::string_view secret;  // optional key (RFC 9106 "K"); empty here except in tests
  std::string_view ad;      // optional associated data ("X")
  std::size_t out_len = 32;
};

class Argon2Engine {
 public:
  // Keeps at most `max_idle` work areas mapped between calls; more concurrent calls map
  // (and unmap) extra areas. `huge_pages` asks the kernel for transparent huge pages
  // (madvise); off only to measure the difference.
  explicit Argon2Engine(std::size_t max_idle, bool huge_pages = true);
  ~Argon2Engine();
  Argon2Engine(const Argon2Engine&) = delete;
  Argon2Engine& operator=(const Argon2Engine&) = delete;

  // Computes the raw Argon2id tag. kInvalidArgument for parameters libargon2 refuses,
  // kUnavailable when no memory can be mapped. Thread-safe: concurrent calls use separate areas.
  Result<std::string> Compute(const Argon2Input& in) const;

  // Same, with libargon2's own allocator (malloc/free: fresh memory every call). For the
  // benchmark's "cold" figures only.
  static Result<std::string> ComputeUnpooled(const Argon2Input& in);

  // Unmaps every idle work area (the next call maps and pre-faults a fresh one). Thread-safe.
  void ReleaseIdle() const;
  // Unmaps the areas that have been idle for at least `age` at `now` (a steady_clock time);
  // returns how many. A server calls this periodically so that memory kept warm for a burst
  // of password logins goes back to the system once the burst is over. Thread-safe.
  std::size_t ReleaseIdleOlderThan(std::chrono::steady_clock::duration age,
                                   std::chrono::steady_clock::time_point now) const;
  // Idle work areas currently mapped. Thread-safe.
  std::size_t idle_areas() const;

 private:
  struct Area {
    uint8_t* data = nullptr;
    std::size_t size = 0;
    std::chrono::steady_clock::time_point idle_since{};  // when it was last handed back
  };
  Result<Area> Acquire(std::size_t bytes) const;
  void Release(Area area) const;
  Result<Area> Map(std::size_t bytes) const;
  static void Unmap(Area area);

  std::size_t max_idle_;
  bool huge_pages_;
  mutable std::mutex mu_;
  mutable std::vector<Area> idle_;  // guarded by mu_
};

}  // namespace sftplc::auth
