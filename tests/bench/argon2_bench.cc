// Argon2id cost on this machine: milliseconds per hash at candidate parameters.
//   Malloc    libargon2's own allocator (what argon2id_hash_encoded does): glibc mmaps and
//             unmaps large blocks, so most calls fault their pages in again.
//   Cold      fresh memory every call, 4 KiB pages: every page faulted in (first touch).
//   ColdHuge  fresh memory every call, transparent huge pages requested.
//   Warm      the reused, pre-faulted area the server uses (Argon2Engine), huge pages (true)
//             or not (false).
// Look at the CPU column: it is the cost to the calling thread (page faults included), while
// wall time also counts waiting for a core on a loaded machine. p=2 runs its second lane on a
// helper thread whose CPU time the CPU column does not see. The figures behind the defaults in
// docs/security.md.
//
//   scripts/bench argon2   (or: build/bench/tests/bench/argon2_bench --benchmark_repetitions=3
//                                --benchmark_report_aggregates_only=true)

#include <benchmark/benchmark.h>

#include <string>

#include "sftpd/core/auth/argon2_engine.h"
#include "sftpd/core/auth/password_hasher.h"

namespace sftplc::auth {
namespace {

Argon2Input Input(const benchmark::State& state) {
  Argon2Input in;
  in.t_cost = static_cast<uint32_t>(state.range(0));
  in.m_cost_kib = static_cast<uint32_t>(state.range(1));
  in.parallelism = static_cast<uint32_t>(state.range(2));
  in.password = "correct horse battery staple";
  in.salt = "0123456789abcdef";
  return in;
}

void Label(benchmark::State& state) {
  state.SetLabel(
      fmt::format("t={} m={}MiB p={}", state.range(0), state.range(1) / 1024, state.range(2)));
}

void BM_Argon2Malloc(benchmark::State& state) {
  Argon2Input in = Input(state);
  for (auto _ : state) {
    auto tag = Argon2Engine::ComputeUnpooled(in);
    if (!tag) {
      state.SkipWithError(tag.error().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(tag->data());
  }
  Label(state);
}

// Fresh memory per call: an engine that keeps no idle area maps, faults in and unmaps each time.
template <bool kHugePages>
void BM_Argon2Cold(benchmark::State& state) {
  Argon2Input in = Input(state);
  Argon2Engine engine(0, kHugePages);
  for (auto _ : state) {
    auto tag = engine.Compute(in);
    if (!tag) {
      state.SkipWithError(tag.error().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(tag->data());
  }
  Label(state);
}

template <bool kHugePages>
void BM_Argon2Warm(benchmark::State& state) {
  Argon2Input in = Input(state);
  Argon2Engine engine(1, kHugePages);
  (void)engine.Compute(in);  // maps and pre-faults the area outside the timed loop
  for (auto _ : state) {
    auto tag = engine.Compute(in);
    if (!tag) {
      state.SkipWithError(tag.error().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(tag->data());
  }
  Label(state);
}

// What a login costs at the shipped defaults: PasswordHasher::Verify, warm.
void BM_VerifyDefaults(benchmark::State& state) {
  config::Argon2Config defaults;
  PasswordHasher hasher(defaults);
  Secret pw("correct horse battery staple");
  std::string phc = hasher.Hash(pw).value();
  for (auto _ : state) {
    benchmark::DoNotOptimize(hasher.Verify(phc, pw).value_or(false));
  }
  state.SetLabel(fmt::format("t={} m={}MiB p={}", defaults.t_cost, defaults.m_cost_kib / 1024,
                             defaults.parallelism));
}

// {t_cost, m_cost_kib, parallelism}: OWASP's minimum (19 MiB, t=2), its 46 MiB t=1 option,
// RFC 9106's second recommendation at p=1 (64 MiB, t=3), and neighbours.
void Candidates(benchmark::internal::Benchmark* b) {
  b->Args({2, 19456, 1});
  b->Args({1, 47104, 1});
  b->Args({1, 65536, 1});
  b->Args({2, 65536, 1});
  b->Args({3, 65536, 1});
  b->Args({2, 131072, 1});
  b->Unit(benchmark::kMillisecond)->MinTime(0.5);
}

BENCHMARK(BM_Argon2Malloc)->Apply(Candidates);
BENCHMARK_TEMPLATE(BM_Argon2Cold, false)->Apply(Candidates);
BENCHMARK_TEMPLATE(BM_Argon2Cold, true)->Apply(Candidates);
BENCHMARK_TEMPLATE(BM_Argon2Warm, true)->Apply(Candidates);
BENCHMARK_TEMPLATE(BM_Argon2Warm, false)->Apply(Candidates);
BENCHMARK(BM_VerifyDefaults)->Unit(benchmark::kMillisecond)->MinTime(0.5);

}  // namespace
}  // namespace sftplc::auth

BENCHMARK_MAIN();
