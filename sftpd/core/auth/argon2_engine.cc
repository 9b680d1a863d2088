#include "sftpd/core/auth/argon2_engine.h"

#include <argon2.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>

namespace sftplc::auth {
namespace {

constexpr std::size_t kHugePage = 2u << 20;
constexpr uint64_t kBlockBytes = 1024;  // ARGON2_BLOCK_SIZE (core.h, not installed)

// The area handed to libargon2 by the allocate callback of the current thread's call.
thread_local uint8_t* t_area = nullptr;
thread_local std::size_t t_area_size = 0;

int AllocateFromArea(uint8_t** memory, std::size_t bytes) {
  if (t_area == nullptr || bytes > t_area_size) {
    return ARGON2_MEMORY_ALLOCATION_ERROR;
  }
  *memory = t_area;
  return ARGON2_OK;
}

// libargon2 has already wiped the blocks when it calls this; the area goes back to the pool
// after argon2_ctx returns.
void KeepArea(uint8_t*, std::size_t) {}

// The bytes libargon2 will ask for: m_cost rounded down to whole segments, at least 2 blocks
// per segment (core.c: validate_inputs / argon2_ctx).
std::size_t WorkBytes(uint32_t m_cost_kib, uint32_t lanes) {
  uint64_t blocks = m_cost_kib;
  uint64_t min_blocks = 2ull * ARGON2_SYNC_POINTS * lanes;
  blocks = std::max(blocks, min_blocks);
  uint64_t segment = blocks / (lanes * ARGON2_SYNC_POINTS);
  blocks = segment * lanes * ARGON2_SYNC_POINTS;
  return static_cast<std::size_t>(blocks * kBlockBytes);
}

Error FromArgon2(int rc) {
  std::string msg = fmt::format("argon2: {}", argon2_error_message(rc));
  if (rc == ARGON2_MEMORY_ALLOCATION_ERROR) {
    return Error::Unavailable(std::move(msg));
  }
  if (rc == ARGON2_THREAD_FAIL) {
    return Error::Unavailable(std::move(msg));
  }
  return Error::InvalidArgument(std::move(msg));
}

argon2_context MakeContext(const Argon2Input& in, std::string& out) {
  out.assign(in.out_len, '\0');
  argon2_context ctx{};
  ctx.out = reinterpret_cast<uint8_t*>(out.data());
  ctx.outlen = static_cast<uint32_t>(out.size());
  // libargon2 writes to pwd/secret only with the CLEAR flags, which are not set.
  ctx.pwd = reinterpret_cast<uint8_t*>(const_cast<char*>(in.password.data()));
  ctx.pwdlen = static_cast<uint32_t>(in.password.size());
  ctx.salt = reinterpret_cast<uint8_t*>(const_cast<char*>(in.salt.data()));
  ctx.saltlen = static_cast<uint32_t>(in.salt.size());
  ctx.secret =
      in.secret.empty() ? nullptr : reinterpret_cast<uint8_t*>(const_cast<char*>(in.secret.data()));
  ctx.secretlen = static_cast<uint32_t>(in.secret.size());
  ctx.ad = in.ad.empty() ? nullptr : reinterpret_cast<uint8_t*>(const_cast<char*>(in.ad.data()));
  ctx.adlen = static_cast<uint32_t>(in.ad.size());
  ctx.t_cost = in.t_cost;
  ctx.m_cost = in.m_cost_kib;
  ctx.lanes = in.parallelism;
  ctx.threads = in.parallelism;
  ctx.version = in.version;
  ctx.flags = ARGON2_DEFAULT_FLAGS;
  return ctx;
}

Status CheckInput(const Argon2Input& in) {
  if (in.password.size() > (1u << 20) || in.salt.size() > 1024 || in.secret.size() > 1024 ||
      in.ad.size() > 1024 || in.out_len < 4 || in.out_len > 1024 || in.parallelism == 0) {
    return Error::InvalidArgument("argon2: input length out of range");
  }
  return {};
}

}  // namespace

Argon2Engine::Argon2Engine(std::size_t max_idle, bool huge_pages)
    : max_idle_(max_idle), huge_pages_(huge_pages) {}

Argon2Engine::~Argon2Engine() { ReleaseIdle(); }

Result<Argon2Engine::Area> Argon2Engine::Map(std::size_t bytes) const {
  // Over-map by one huge page so the area can start on a 2 MiB boundary (THP needs it).
  std::size_t size = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  std::size_t mapped = size + kHugePage;
  void* p = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    return Error::Unavailable(fmt::format("argon2: cannot map {} KiB of work memory", size >> 10));
  }
  auto base = reinterpret_cast<uintptr_t>(p);
  uintptr_t aligned = (base + kHugePage - 1) & ~(uintptr_t{kHugePage} - 1);
  if (aligned > base) {
    munmap(p, aligned - base);
  }
  uintptr_t end = base + mapped;
  if (end > aligned + size) {
    munmap(reinterpret_cast<void*>(aligned + size), end - (aligned + size));
  }
  auto* data = reinterpret_cast<uint8_t*>(aligned);
  if (huge_pages_) {
    madvise(data, size, MADV_HUGEPAGE);  // best effort: THP may be off
  } else {
    madvise(data, size, MADV_NOHUGEPAGE);
  }
  // Fault every page in now, once, instead of inside each hash.
  long page = sysconf(_SC_PAGESIZE);
  for (std::size_t off = 0; off < size; off += static_cast<std::size_t>(page)) {
    reinterpret_cast<volatile uint8_t*>(data)[off] = 0;
  }
  return Area{data, size};
}

void Argon2Engine::Unmap(Area area) {
  if (area.data != nullptr) {
    munmap(area.data, area.size);
  }
}

Result<Argon2Engine::Area> Argon2Engine::Acquire(std::size_t bytes) const {
  {
    std::lock_guard lock(mu_);
    // Best fit: the smallest idle area that is large enough.
    auto best = idle_.end();
    for (auto it = idle_.begin(); it != idle_.end(); ++it) {
      if (it->size >= bytes && (best == idle_.end() || it->size < best->size)) {
        best = it;
      }
    }
    if (best != idle_.end()) {
      Area a = *best;
      idle_.erase(best);
      return a;
    }
  }
  return Map(bytes);
}

void Argon2Engine::Release(Area area) const {
  area.idle_since = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    if (idle_.size() < max_idle_) {
      idle_.push_back(area);
      return;
    }
    // Full: keep the larger areas (they serve any request a smaller one would).
    auto smallest = std::min_element(idle_.begin(), idle_.end(),
                                     [](const Area& a, const Area& b) { return a.size < b.size; });
    if (smallest != idle_.end() && smallest->size < area.size) {
      std::swap(*smallest, area);
    }
  }
  Unmap(area);
}

void Argon2Engine::ReleaseIdle() const {
  std::vector<Area> areas;
  {
    std::lock_guard lock(mu_);
    areas.swap(idle_);
  }
  for (const Area& a : areas) {
    Unmap(a);
  }
}

std::size_t Argon2Engine::ReleaseIdleOlderThan(std::chrono::steady_clock::duration age,
                                               std::chrono::steady_clock::time_point now) const {
  std::vector<Area> old;
  {
    std::lock_guard lock(mu_);
    auto keep = std::partition(idle_.begin(), idle_.end(),
                               [&](const Area& a) { return now - a.idle_since < age; });
    old.assign(keep, idle_.end());
    idle_.erase(keep, idle_.end());
  }
  for (const Area& a : old) {
    Unmap(a);
  }
  return old.size();
}

std::size_t Argon2Engine::idle_areas() const {
  std::lock_guard lock(mu_);
  return idle_.size();
}

Result<std::string> Argon2Engine::Compute(const Argon2Input& in) const {
  if (auto st = CheckInput(in); !st) {
    return st.error();
  }
  auto area = Acquire(WorkBytes(in.m_cost_kib, in.parallelism));
  if (!area) {
    return area.error();
  }
  std::string out;
  argon2_context ctx = MakeContext(in, out);
  ctx.allocate_cbk = AllocateFromArea;
  ctx.free_cbk = KeepArea;
  t_area = area->data;
  t_area_size = area->size;
  int rc = argon2_ctx(&ctx, Argon2_id);
  t_area = nullptr;
  t_area_size = 0;
  Release(*area);
  if (rc != ARGON2_OK) {
    return FromArgon2(rc);
  }
  return out;
}

Result<std::string> Argon2Engine::ComputeUnpooled(const Argon2Input& in) {
  if (auto st = CheckInput(in); !st) {
    return st.error();
  }
  std::string out;
  argon2_context ctx = MakeContext(in, out);
  int rc = argon2_ctx(&ctx, Argon2_id);
  if (rc != ARGON2_OK) {
    return FromArgon2(rc);
  }
  return out;
}

}  // namespace sftplc::auth
