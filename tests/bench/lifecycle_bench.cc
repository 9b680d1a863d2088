// Lifecycle sweep and access export at scale (issue 4, section 7), through the real runner
// (sftpd/core/lifecycle/runner.cc) and export (export.cc), on SQLite and PostgreSQL:
//   1. a sweep over 1,000,000 accounts with nothing due (goal < 0.1 s: the indexes only), on
//      active accounts only and again after step 2, with 10,000 accounts awaiting confirmation;
//   2. a sweep with 10,000 accounts idle for two years: each gets its inactivity notice queued
//      (state change and outbox row in one transaction), then the same sweep delivers the
//      notices to notify::MemoryMailer, the unit tests' in-memory transport (no SMTP).
//      Goal: >= 10,000 transitions per minute, outbox included;
//   3. `sftpctl account export` (ExportAccount + the JSON it prints) of one account holding
//      10,000 files and 100,000 usage rows.
// Time is a FakeClock moved by hand: the idle accounts fall due without waiting.
//
// Environment:
//   SFTPLC_BENCH_SQLITE_URL  "sqlite:/path/file.db" to create (unset: SQLite not measured)
//   SFTPLC_BENCH_PG_URL      postgresql:// URL of an empty database (unset: not measured)
//   SFTPLC_BENCH_STORAGE     folder for the account roots (required)
//   SFTPLC_BENCH_ACCOUNTS    accounts to load (default 1000000)
//   SFTPLC_BENCH_DUE         of which idle for two years at the second sweep (default 10000)
// Loading is setup, not measured: prepared INSERTs with bulk (vector) binding in one
// transaction, random ids as the store makes them, one precomputed Argon2id PHC string.
// Prints a Markdown table at the end (docs/performance.md keeps it).

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "sftpd/core/base/calendar.h"
#include "sftpd/core/base/log.h"
#include "sftpd/core/base/time_format.h"
#include "sftpd/core/db/sql.h"
#include "sftpd/core/lifecycle/export.h"
#include "sftpd/core/lifecycle/policy.h"
#include "sftpd/core/lifecycle/runner.h"
#include "sftpd/core/notify/templates.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/memory_mailer.h"

namespace sftplc {
namespace {

using Steady = std::chrono::steady_clock;

// Any valid Argon2id PHC string: the bench never verifies a password.
constexpr const char* kPhc =
    "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
constexpr long long kDay = 86400;
constexpr size_t kChunk = 10000;     // rows per bulk statement
constexpr int kExportFiles = 10000;  // 100 folders of 100 files
constexpr int kExportUsageRows = 100000;
constexpr int kIdleSweepRuns = 5;
constexpr int kExportRuns = 3;

long long EnvCount(const char* name, long long fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoll(v) : fallback;
}

double SecondsOf(Steady::duration d) { return std::chrono::duration<double>(d).count(); }

[[noreturn]] void Die(const std::string& what, const Error& e) {
  std::fprintf(stderr, "lifecycle_bench: %s: %s\n", what.c_str(), e.ToString().c_str());
  std::exit(1);
}

template <typename T>
T Check(Result<T> r, const std::string& what) {
  if (!r) {
    Die(what, r.error());
  }
  return std::move(*r);
}

void Check(const Status& st, const std::string& what) {
  if (!st) {
    Die(what, st.error());
  }
}

// What one backend measured.
struct Figures {
  double load_s = 0;
  double idle_sweep_s = 0;  // median
  double idle_sweep_max_s = 0;
  double waiting_sweep_s = 0;  // median, with the due accounts awaiting confirmation
  double due_sweep_s = 0;      // the whole sweep: transitions and deliveries
  double due_accounts_s = 0;   // of which the account phase (state + outbox rows)
  int64_t queued = 0;
  int64_t delivered = 0;
  double export_s = 0;  // median
  size_t export_bytes = 0;
};

// Rows for one table, column by column, written with one statement per chunk: a prepared
// INSERT with bulk (vector) binding on SQLite; on PostgreSQL, where SOCI 4.0 runs a bulk
// binding as one round trip per row, one INSERT ... SELECT FROM unnest() of array parameters.
class BulkRows {
 public:
  BulkRows(std::string table, std::vector<std::string> text_columns,
           std::vector<std::string> int_columns)
      : table_(std::move(table)),
        text_names_(std::move(text_columns)),
        int_names_(std::move(int_columns)),
        text_(text_names_.size()),
        ints_(int_names_.size()) {}

  // One row: the text values, then the integer values, in the constructor's order.
  void Add(std::vector<std::string> texts, std::vector<long long> ints) {
    for (size_t i = 0; i < texts.size(); ++i) {
      text_[i].push_back(std::move(texts[i]));
    }
    for (size_t i = 0; i < ints.size(); ++i) {
      ints_[i].push_back(ints[i]);
    }
  }
  size_t size() const { return text_.empty() ? 0 : text_[0].size(); }

  // Writes the rows held and forgets them.
  void Flush(soci::session& s, db::Backend backend) {
    if (size() == 0) {
      return;
    }
    const bool sqlite = backend == db::Backend::kSqlite;
    std::vector<std::string> names, values;
    for (const auto& n : text_names_) {
      names.push_back(n);
      values.push_back(sqlite ? fmt::format(":{}", n) : fmt::format("CAST(:{} AS text[])", n));
    }
    for (const auto& n : int_names_) {
      names.push_back(n);
      values.push_back(sqlite ? fmt::format(":{}", n) : fmt::format("CAST(:{} AS bigint[])", n));
    }
    soci::statement st(s);
    std::vector<std::string> arrays;
    if (sqlite) {
      for (auto& c : text_) {
        st.exchange(soci::use(c));
      }
      for (auto& c : ints_) {
        st.exchange(soci::use(c));
      }
    } else {
      for (const auto& c : text_) {
        arrays.push_back(PgArray(c));
      }
      for (const auto& c : ints_) {
        arrays.push_back(PgArray(c));
      }
      for (auto& a : arrays) {
        st.exchange(soci::use(a));
      }
    }
    st.alloc();
    if (sqlite) {
      st.prepare(fmt::format("INSERT INTO {} ({}) VALUES ({})", table_, fmt::join(names, ", "),
                             fmt::join(values, ", ")));
    } else {
      st.prepare(fmt::format("INSERT INTO {} ({}) SELECT * FROM unnest({})", table_,
                             fmt::join(names, ", "), fmt::join(values, ", ")));
    }
    st.define_and_bind();
    st.execute(true);
    for (auto& c : text_) {
      c.clear();
    }
    for (auto& c : ints_) {
      c.clear();
    }
  }

 private:
  static std::string PgArray(const std::vector<std::string>& v) {
    std::string out = "{";
    for (const auto& e : v) {
      out += out.size() > 1 ? ",\"" : "\"";
      for (char ch : e) {
        if (ch == '"' || ch == '\\') {
          out += '\\';
        }
        out += ch;
      }
      out += '"';
    }
    return out + "}";
  }
  static std::string PgArray(const std::vector<long long>& v) {
    std::string out = "{";
    for (long long e : v) {
      // Appended piece by piece: GCC 12 reports a false -Wrestrict on `"," + std::string&&`.
      if (out.size() > 1) {
        out += ',';
      }
      out += std::to_string(e);
    }
    return out + "}";
  }

  std::string table_;
  std::vector<std::string> text_names_, int_names_;
  std::vector<std::vector<std::string>> text_;
  std::vector<std::vector<long long>> ints_;
};

// Loads `n` active accounts created three years before `t0`. `due` of them (every n/due-th)
// were last active just over two years before `t2`: their inactivity notice falls due between
// t0 and t2. The others were active within two years of t2. next_action/next_action_due come
// from the policy itself, so the first sweep finds nothing to (re)schedule.
void LoadAccounts(db::Database& db, const config::LifecycleConfig& lc, long long n, long long due,
                  TimePoint t0, TimePoint t2) {
  const TimePoint created = SubtractPeriod(t0, Period{3, Period::Unit::kYears});
  const TimePoint idle_edge = SubtractPeriod(t2, Period{2, Period::Unit::kYears});
  const long long stride = due > 0 ? std::max<long long>(1, n / due) : n + 1;
  std::mt19937_64 rng(20261201);
  std::uniform_int_distribution<long long> idle_gap(kDay, 10 * kDay);
  std::uniform_int_distribution<long long> recent(ToUnix(idle_edge) + kDay, ToUnix(t0));
  auto loaded = db.Write<int>([&](soci::session& s) -> Result<int> {
    BulkRows rows("accounts",
                  {"id", "username", "full_name", "company", "email", "phone", "password_hash",
                   "state", "next_action"},
                  {"created_at", "updated_at", "last_login_at", "last_activity_at",
                   "marketing_consent", "next_action_due"});
    accounts::Account a;
    a.state = accounts::AccountState::kActive;
    a.created_at = created;
    long long idle = 0;
    for (long long i = 0; i < n; ++i) {
      bool is_idle = i % stride == 0 && idle < due;
      TimePoint last =
          is_idle ? idle_edge - std::chrono::seconds(idle_gap(rng)) : FromUnix(recent(rng));
      idle += is_idle ? 1 : 0;
      a.last_activity_at = last;
      lifecycle::NextAction next = lifecycle::NextAccountAction(a, lc);
      rows.Add({AccountId::New().str(), fmt::format("user{}", i), "Bench User", "",
                fmt::format("user{}@example.com", i), "+441513577700", kPhc, "active",
                std::string(lifecycle::ActionName(next.action))},
               {ToUnix(created), ToUnix(last), ToUnix(last), ToUnix(last), 0, ToUnix(*next.due)});
      if (rows.size() == kChunk) {
        rows.Flush(s, db.backend());
      }
    }
    rows.Flush(s, db.backend());
    return 0;
  });
  Check(std::move(loaded), "load accounts");
}

// The export subject: an account (consent given, one key) with kExportUsageRows usage sessions
// and kExportFiles files in its storage root.
AccountId LoadExportSubject(db::Database& db, const config::LifecycleConfig& lc,
                            const std::string& storage_root, TimePoint t0) {
  AccountId id = AccountId::New();
  accounts::Account a;
  a.created_at = t0 - std::chrono::seconds(400 * kDay);
  a.last_activity_at = t0 - std::chrono::seconds(kDay);
  lifecycle::NextAction next = lifecycle::NextAccountAction(a, lc);
  auto loaded = db.Write<int>([&](soci::session& s) -> Result<int> {
    std::string sid = id.str(), hash = kPhc, action(lifecycle::ActionName(next.action));
    long long created = ToUnix(a.created_at), last = ToUnix(*a.last_activity_at),
              due = ToUnix(*next.due);
    s << "INSERT INTO accounts (id, username, full_name, company, email, phone, "
         "password_hash, state, created_at, updated_at, last_login_at, last_activity_at, "
         "marketing_consent, next_action, next_action_due) VALUES (:id, 'export-subject', "
         "'Export Subject', 'Example Ltd', 'subject@example.com', '+441513577701', :h, "
         "'active', :c, :u, :ll, :la, 1, :na, :due)",
        soci::use(sid), soci::use(hash), soci::use(created), soci::use(last), soci::use(last),
        soci::use(last), soci::use(action), soci::use(due);
    s << "INSERT INTO public_keys (account_id, key_type, key_base64, fingerprint, comment, "
         "added_at) VALUES (:id, 'ssh-ed25519', 'AAAAC3NzaC1lZDI1NTE5AAAAIBENCH', "
         "'SHA256:bench', 'laptop', :t)",
        soci::use(sid), soci::use(created);
    s << "INSERT INTO consent_events (account_id, granted, at, source, actor) VALUES "
         "(:id, 1, :t, 'web form', 'admin:bench')",
        soci::use(sid), soci::use(created);
    BulkRows rows(
        "usage_sessions",
        {"account_id", "actor", "node", "remote_ip", "client_version", "auth_method", "end_reason"},
        {"started_at", "ended_at", "bytes_in", "bytes_out", "files_uploaded", "files_downloaded",
         "files_removed"});
    for (int i = 0; i < kExportUsageRows; ++i) {
      long long t = created + i * 300LL;
      rows.Add({sid, "client", "bench", fmt::format("192.0.2.{}", i % 250 + 1),
                "SSH-2.0-OpenSSH_9.2p1", "publickey", "client closed"},
               {t, t + 60, 4096LL + i, 1024LL + i, 1, 1, 0});
      if (rows.size() == kChunk) {
        rows.Flush(s, db.backend());
      }
    }
    rows.Flush(s, db.backend());
    return 0;
  });
  Check(std::move(loaded), "load the export subject");
  std::string root = storage_root + "/" + id.str();
  mkdir(root.c_str(), 0700);
  std::string content(256, 'x');
  for (int d = 0; d < kExportFiles / 100; ++d) {
    std::string dir = fmt::format("{}/folder{:02}", root, d);
    mkdir(dir.c_str(), 0700);
    for (int f = 0; f < 100; ++f) {
      std::string path = fmt::format("{}/report{:03}.pdf", dir, f);
      int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (fd < 0 || write(fd, content.data(), content.size()) < 0) {
        std::fprintf(stderr, "lifecycle_bench: cannot write %s\n", path.c_str());
        std::exit(1);
      }
      close(fd);
    }
  }
  return id;
}

long long Count(db::Database& db, const std::string& sql) {
  auto n = db.Read<long long>([&](soci::session& s) -> Result<long long> {
    long long count = 0;
    s << sql, soci::into(count);
    return count;
  });
  return Check(std::move(n), "count");
}

void Expect(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "lifecycle_bench: unexpected: %s\n", what.c_str());
    std::exit(1);
  }
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

Figures Run(const std::string& name, const std::string& url, const std::string& storage_root,
            long long n, long long due) {
  Figures f;
  config::Config cfg;
  cfg.database.url = url;
  cfg.database.pool_size = 2;
  cfg.storage.root = storage_root;
  cfg.smtp.from = "CX Services secure FTP <sftp@example.com>";
  auto db = Check(db::Database::Open(cfg.database, GetLogger("store")), name + ": open");
  Check(db->Migrate(), name + ": migrate");
  Expect(Count(*db, "SELECT COUNT(*) FROM accounts") == 0, name + ": the database is not empty");

  testing::FakeClock clock("2027-06-01T00:00:00Z");
  const TimePoint t0 = clock.Now();
  const TimePoint t2 = t0 + std::chrono::seconds(14 * kDay);

  auto start = Steady::now();
  LoadAccounts(*db, cfg.lifecycle, n, due, t0, t2);
  AccountId subject = LoadExportSubject(*db, cfg.lifecycle, storage_root, t0);
  if (db->backend() == db::Backend::kPostgresql) {
    // What autovacuum does after a bulk load, done now so the plans do not depend on its timing.
    auto analyzed = db->Write<int>([](soci::session& s) -> Result<int> {
      s << "ANALYZE";
      return 0;
    });
    Check(std::move(analyzed), name + ": analyze");
  }
  f.load_s = SecondsOf(Steady::now() - start);
  Expect(Count(*db, fmt::format("SELECT COUNT(*) FROM accounts WHERE next_action_due <= {}",
                                ToUnix(t0))) == 0,
         name + ": accounts due at the first sweep");
  Expect(Count(*db, fmt::format("SELECT COUNT(*) FROM accounts WHERE next_action_due <= {}",
                                ToUnix(t2))) == due,
         name + ": accounts due at the second sweep");
  std::printf(
      "%s: loaded %lld accounts and the export subject (%d files, %d usage rows) in "
      "%.1f s\n",
      name.c_str(), n, kExportFiles, kExportUsageRows, f.load_s);

  auto templates =
      Check(notify::TemplateSet::Load(cfg.lifecycle.templates_dir), name + ": templates");
  notify::MemoryMailer mailer;
  lifecycle::LifecycleRunner runner(*db, cfg, &mailer, std::move(templates),
                                    GetLogger("lifecycle"));

  // 1. Nothing due.
  std::vector<double> idle;
  for (int i = 0; i < kIdleSweepRuns; ++i) {
    start = Steady::now();
    auto r = Check(runner.RunOnce(clock.Now()), name + ": idle sweep");
    idle.push_back(SecondsOf(Steady::now() - start));
    Expect(r.notices_queued == 0 && r.scheduled == 0, name + ": the idle sweep did something");
  }
  f.idle_sweep_s = Median(idle);
  f.idle_sweep_max_s = *std::max_element(idle.begin(), idle.end());
  std::printf("%s: sweep with nothing due: %.2f ms (median of %d, max %.2f ms)\n", name.c_str(),
              f.idle_sweep_s * 1e3, kIdleSweepRuns, f.idle_sweep_max_s * 1e3);

  // 2. Two weeks later: `due` accounts have been idle for two years.
  clock.Set(t2);
  Steady::time_point accounts_done{};
  lifecycle::SweepOptions opts;
  opts.progress = [&](const lifecycle::SweepProgress& p) {
    if (p.phase != "accounts" && accounts_done == Steady::time_point{}) {
      accounts_done = Steady::now();
    }
  };
  start = Steady::now();
  auto r = Check(runner.RunOnce(clock.Now(), opts), name + ": sweep with accounts due");
  auto end = Steady::now();
  f.due_sweep_s = SecondsOf(end - start);
  f.due_accounts_s = SecondsOf(accounts_done - start);
  f.queued = r.notices_queued;
  f.delivered = r.notices_sent;
  Expect(r.notices_queued == due && r.notices_sent == due && r.errors == 0,
         fmt::format("{}: queued {} sent {} errors {}", name, r.notices_queued, r.notices_sent,
                     r.errors));
  Expect(Count(*db,
               "SELECT COUNT(*) FROM outbox WHERE kind = 'inactivity_notice' AND "
               "state = 'sent'") == due,
         name + ": outbox rows");
  std::printf(
      "%s: sweep with %lld due: %lld notices queued and %lld delivered in %.2f s "
      "(accounts and outbox rows %.2f s, delivery %.2f s): %.0f transitions/min\n",
      name.c_str(), due, static_cast<long long>(f.queued), static_cast<long long>(f.delivered),
      f.due_sweep_s, f.due_accounts_s, f.due_sweep_s - f.due_accounts_s, due / f.due_sweep_s * 60);

  // 1 again, now that `due` accounts wait for their confirmation (the steady state of a real
  // installation, where closed and pending accounts are always there).
  idle.clear();
  for (int i = 0; i < kIdleSweepRuns; ++i) {
    start = Steady::now();
    auto again = Check(runner.RunOnce(clock.Now()), name + ": idle sweep");
    idle.push_back(SecondsOf(Steady::now() - start));
    Expect(again.notices_queued == 0 && again.scheduled == 0 && again.reactivated == 0,
           name + ": the idle sweep did something");
  }
  f.waiting_sweep_s = Median(idle);
  std::printf(
      "%s: sweep with nothing due, %lld accounts awaiting confirmation: %.2f ms "
      "(median of %d)\n",
      name.c_str(), due, f.waiting_sweep_s * 1e3, kIdleSweepRuns);

  // 3. The access export of the subject, as `sftpctl account export` prints it.
  std::vector<double> exports;
  for (int i = 0; i < kExportRuns; ++i) {
    start = Steady::now();
    auto e = Check(lifecycle::ExportAccount(*db, cfg, subject, clock.Now()), name + ": export");
    std::string text = e.dump(2) + "\n";
    exports.push_back(SecondsOf(Steady::now() - start));
    f.export_bytes = text.size();
  }
  f.export_s = Median(exports);
  std::printf("%s: export of %d files and %d usage rows: %.2f s (median of %d, %.1f MB JSON)\n",
              name.c_str(), kExportFiles, kExportUsageRows, f.export_s, kExportRuns,
              f.export_bytes / 1e6);
  return f;
}

}  // namespace
}  // namespace sftplc

int main() {
  using namespace sftplc;
  setvbuf(stdout, nullptr, _IOLBF, 0);
  SetLogLevel("warn");  // one info line per notice queued and sent is not what is measured
  const char* storage = std::getenv("SFTPLC_BENCH_STORAGE");
  if (storage == nullptr || *storage == '\0') {
    std::fprintf(stderr, "lifecycle_bench: set SFTPLC_BENCH_STORAGE to a folder\n");
    return 1;
  }
  const long long n = EnvCount("SFTPLC_BENCH_ACCOUNTS", 1000000);
  const long long due = EnvCount("SFTPLC_BENCH_DUE", 10000);
  std::printf(
      "lifecycle sweep: %lld accounts, %lld idle for two years at the second sweep; "
      "delivery to the in-memory mailer (notify::MemoryMailer, no SMTP)\n",
      n, due);
  std::optional<Figures> sqlite, pg;
  for (auto [env, name, out] : {std::tuple{"SFTPLC_BENCH_SQLITE_URL", "sqlite", &sqlite},
                                std::tuple{"SFTPLC_BENCH_PG_URL", "postgresql", &pg}}) {
    const char* url = std::getenv(env);
    if (url == nullptr || *url == '\0') {
      std::printf("%s: %s is not set, not measured\n", name, env);
      continue;
    }
    std::string root = fmt::format("{}/{}", storage, name);
    mkdir(storage, 0700);
    mkdir(root.c_str(), 0700);
    *out = Run(name, url, root, n, due);
  }

  auto cell = [](const std::optional<Figures>& f, auto value) {
    return f ? value(*f) : std::string("-");
  };
  auto verdict = [&](auto met) {
    std::string v;
    for (auto [name, f] : {std::pair{"SQLite", &sqlite}, std::pair{"PostgreSQL", &pg}}) {
      if (*f && !met(**f)) {
        v += (v.empty() ? "missed: " : ", ") + std::string(name);
      }
    }
    return v.empty() ? std::string("met") : v;
  };
  auto idle = [](const Figures& f) { return fmt::format("{:.2f} ms", f.idle_sweep_s * 1e3); };
  auto rate = [&](const Figures& f) { return fmt::format("{:.0f}/min", due / f.due_sweep_s * 60); };
  auto exp = [](const Figures& f) { return fmt::format("{:.2f} s", f.export_s); };
  std::printf("\n| figure | SQLite | PostgreSQL | goal | |\n|---|---|---|---|---|\n");
  std::printf("| sweep, %lld accounts, nothing due | %s | %s | < 0.1 s | %s |\n", n,
              cell(sqlite, idle).c_str(), cell(pg, idle).c_str(),
              verdict([](const Figures& f) { return f.idle_sweep_s < 0.1; }).c_str());
  auto waiting = [](const Figures& f) { return fmt::format("{:.2f} ms", f.waiting_sweep_s * 1e3); };
  std::printf("| same, %lld of them awaiting confirmation | %s | %s | < 0.1 s | %s |\n", due,
              cell(sqlite, waiting).c_str(), cell(pg, waiting).c_str(),
              verdict([](const Figures& f) { return f.waiting_sweep_s < 0.1; }).c_str());
  std::printf(
      "| sweep, %lld due: notice queued + outbox row + delivered, transitions | %s | %s "
      "| >= 10,000/min | %s |\n",
      due, cell(sqlite, rate).c_str(), cell(pg, rate).c_str(),
      verdict([&](const Figures& f) { return due / f.due_sweep_s * 60 >= 10000; }).c_str());
  std::printf("| export, %d files + %d usage rows | %s | %s | none set | |\n", kExportFiles,
              kExportUsageRows, cell(sqlite, exp).c_str(), cell(pg, exp).c_str());
  return 0;
}
