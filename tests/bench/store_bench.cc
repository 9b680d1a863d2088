// Account lookup by username at scale (issue figures: 1M accounts on SQLite and PostgreSQL).
//
// Environment:
//   SFTPLC_BENCH_ACCOUNTS   how many accounts to load (default 1000000)
//   SFTPLC_BENCH_SQLITE_URL "sqlite:/path/file.db" to create (default: none, not measured)
//   SFTPLC_BENCH_PG_URL     postgresql:// URL of an empty database (default: none)
// The rows are loaded with one INSERT ... SELECT per backend (setup, not measured); the
// benchmark then calls AccountStore::FindByUsername for random existing usernames.

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "sftpd/core/accounts/account_store.h"
#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/log.h"
#include "sftpd/core/db/sql.h"

namespace sftplc {
namespace {

long long AccountCount() {
  const char* v = std::getenv("SFTPLC_BENCH_ACCOUNTS");
  return v != nullptr ? std::atoll(v) : 1000000;
}

struct Loaded {
  std::unique_ptr<db::Database> db;
  std::unique_ptr<accounts::AccountStore> store;
};

// Opens, migrates, and fills the database once per backend.
Loaded* Load(const std::string& url) {
  config::DatabaseConfig cfg;
  cfg.url = url;
  cfg.pool_size = 2;
  auto db = db::Database::Open(cfg, GetLogger("store"));
  if (!db) {
    std::fprintf(stderr, "open: %s\n", db.error().message().c_str());
    std::exit(1);
  }
  if (auto st = (*db)->Migrate(); !st) {
    std::fprintf(stderr, "migrate: %s\n", st.error().message().c_str());
    std::exit(1);
  }
  long long n = AccountCount();
  bool sqlite = (*db)->backend() == db::Backend::kSqlite;
  auto loaded = (*db)->Write<long long>([&](soci::session& s) -> Result<long long> {
    long long have = 0;
    s << "SELECT COUNT(*) FROM accounts", soci::into(have);
    if (have >= n) {
      return have;
    }
    if (sqlite) {
      s << "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < :n) "
           "INSERT INTO accounts (id, username, full_name, email, phone, state, created_at, "
           "updated_at, last_activity_at) SELECT printf('%032x', x), 'user' || x, 'Bench User', "
           "'user' || x || '@example.com', '+441513577700', 'active', 1700000000, 1700000000, "
           "1700000000 + (x % 86400) FROM c",
          soci::use(n);
    } else {
      s << "INSERT INTO accounts (id, username, full_name, email, phone, state, created_at, "
           "updated_at, last_activity_at) SELECT lpad(to_hex(x), 32, '0'), 'user' || x, "
           "'Bench User', 'user' || x || '@example.com', '+441513577700', 'active', 1700000000, "
           "1700000000, 1700000000 + (x % 86400) FROM generate_series(1, :n) AS x",
          soci::use(n);
      s << "ANALYZE accounts";
    }
    return n;
  });
  if (!loaded) {
    std::fprintf(stderr, "load: %s\n", loaded.error().message().c_str());
    std::exit(1);
  }
  auto* out = new Loaded{std::move(*db), nullptr};
  out->store = std::make_unique<accounts::AccountStore>(*out->db, SystemClock::Instance());
  return out;
}

void BM_FindByUsername(benchmark::State& state, const char* env) {
  const char* url = std::getenv(env);
  if (url == nullptr || *url == '\0') {
    state.SkipWithError((std::string(env) + " is not set").c_str());
    return;
  }
  static std::map<std::string, Loaded*> cache;
  Loaded*& l = cache[url];
  if (l == nullptr) {
    l = Load(url);
  }
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<long long> pick(1, AccountCount());
  for (auto _ : state) {
    std::string name = "user" + std::to_string(pick(rng));
    auto a = l->store->FindByUsername(name);
    if (!a) {
      state.SkipWithError(a.error().message().c_str());
      return;
    }
    benchmark::DoNotOptimize(a->id);
  }
  state.counters["accounts"] = static_cast<double>(AccountCount());
}

BENCHMARK_CAPTURE(BM_FindByUsername, sqlite, "SFTPLC_BENCH_SQLITE_URL")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_FindByUsername, postgresql, "SFTPLC_BENCH_PG_URL")
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace sftplc

BENCHMARK_MAIN();
