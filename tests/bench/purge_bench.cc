// Purge at scale (issue 9), through the real runner (sftpd/core/lifecycle/sweep.cc, purger.cc)
// and files::StorageRoot, on SQLite and PostgreSQL:
//   1. the purge of one account holding 1,000,000 files (1,000 folders of 1,000 empty files),
//   2. the purge of one account whose folders nest 10,000 deep,
//      each with wall time, the growth of peak RSS during the purge, and a writer that records
//      a login every 5 ms meanwhile (as sftpd does): its longest wait and how many writes were
//      refused (goal: none: no file system work runs under the write lock);
//   3. a sweep with 10,000 closed accounts due for their purge and 100 whose folder is made
//      immutable (chattr +i: the purge cannot move it): all 10,000 are purged, the 100 are
//      reported and retried later.
// Environment:
//   SFTPLC_BENCH_SQLITE_URL  "sqlite:/path/file.db" to create (unset: SQLite not measured)
//   SFTPLC_BENCH_PG_URL      postgresql:// URL of an empty database (unset: not measured)
//   SFTPLC_BENCH_STORAGE     folder for the storage root (required; ext4 for chattr)
// Prints a Markdown table at the end.

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/log.h"
#include "sftpd/core/base/time_format.h"
#include "sftpd/core/db/sql.h"
#include "sftpd/core/lifecycle/runner.h"
#include "sftpd/core/notify/templates.h"

namespace sftplc {
namespace {

using Steady = std::chrono::steady_clock;

constexpr long long kDay = 86400;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "purge_bench: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T Check(Result<T> r, const char* what) {
  if (!r) {
    Die(fmt::format("{}: {}", what, r.error().ToString()));
  }
  return std::move(*r);
}
void Check(const Status& s, const char* what) {
  if (!s) {
    Die(fmt::format("{}: {}", what, s.error().ToString()));
  }
}

// Peak resident set of this process in KiB (VmHWM), and a way to reset it.
long PeakRssKib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      return std::stol(line.substr(6));
    }
  }
  return -1;
}
void ResetPeakRss() { std::ofstream("/proc/self/clear_refs") << "5"; }
long RssKib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stol(line.substr(6));
    }
  }
  return -1;
}

// Inserts closed accounts (closed on request 40 days before `now`, so due for their purge).
std::vector<AccountId> AddClosed(db::Database& db, int n, TimePoint now) {
  std::vector<AccountId> ids;
  auto r = db.Write<int>([&](soci::session& s) -> Result<int> {
    for (int i = 0; i < n; ++i) {
      AccountId id = AccountId::New();
      std::string sid = id.str(), user = "u" + sid.substr(0, 16);
      long long created = ToUnix(now) - 400 * kDay, closed = ToUnix(now) - 40 * kDay,
                due = ToUnix(now) - 9 * kDay;
      s << "INSERT INTO accounts (id, username, full_name, company, email, phone, "
           "password_hash, state, created_at, updated_at, last_login_at, last_activity_at, "
           "closed_at, closed_reason, marketing_consent, next_action, next_action_due) VALUES "
           "(:id, :u, 'Bench User', '', 'bench@example.com', '', '', 'closed', :c, :up, :ll, "
           ":la, :ca, 'request', 0, 'purge', :due)",
          soci::use(sid), soci::use(user), soci::use(created), soci::use(closed),
          soci::use(created), soci::use(created), soci::use(closed), soci::use(due);
      ids.push_back(id);
    }
    return 0;
  });
  Check(std::move(r), "insert closed accounts");
  return ids;
}

// An active account that "logs in" during the purges.
AccountId AddActive(db::Database& db, TimePoint now) {
  AccountId id = AccountId::New();
  auto r = db.Write<int>([&](soci::session& s) -> Result<int> {
    std::string sid = id.str();
    long long t = ToUnix(now);
    s << "INSERT INTO accounts (id, username, full_name, company, email, phone, password_hash, "
         "state, created_at, updated_at, last_login_at, last_activity_at, marketing_consent, "
         "next_action, next_action_due) VALUES (:id, 'writer', 'W', '', 'w@example.com', '', "
         "'', 'active', :c, :u, :l, :a, 0, 'inactivity_notice', 253402300799)",
        soci::use(sid), soci::use(t), soci::use(t), soci::use(t), soci::use(t);
    return 0;
  });
  Check(std::move(r), "insert writer");
  return id;
}

// Records a login of `id` every 5 ms until stopped, as sftpd does (one short write
// transaction); keeps the longest wait and the refusals.
class Writer {
 public:
  Writer(db::Database& db, AccountId id) : db_(db), id_(std::move(id)) {
    thread_ = std::thread([this] { Loop(); });
  }
  void Stop() {
    stop_ = true;
    thread_.join();
  }
  double max_ms() const { return max_ms_; }
  long writes() const { return writes_; }
  long refused() const { return refused_; }

 private:
  void Loop() {
    while (!stop_) {
      auto t0 = Steady::now();
      auto r = db_.Write<int>([&](soci::session& s) -> Result<int> {
        std::string sid = id_.str();
        long long t = ToUnix(SystemClock::Instance().Now());
        s << "UPDATE accounts SET last_login_at = :t, last_activity_at = :t2 WHERE id = :id",
            soci::use(t), soci::use(t), soci::use(sid);
        return 0;
      });
      double ms = std::chrono::duration<double, std::milli>(Steady::now() - t0).count();
      max_ms_ = std::max(max_ms_, ms);
      ++writes_;
      if (!r) {
        ++refused_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  db::Database& db_;
  AccountId id_;
  std::atomic<bool> stop_{false};
  double max_ms_ = 0;
  long writes_ = 0, refused_ = 0;
  std::thread thread_;
};

int OpenDir(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    Die("open " + path);
  }
  return fd;
}

void MakeWide(const std::string& folder, int dirs, int files) {
  mkdir(folder.c_str(), 0700);
  int root = OpenDir(folder);
  for (int i = 0; i < dirs; ++i) {
    std::string d = std::to_string(i);
    mkdirat(root, d.c_str(), 0700);
    int fd = openat(root, d.c_str(), O_RDONLY | O_DIRECTORY);
    for (int j = 0; j < files; ++j) {
      if (mknodat(fd, std::to_string(j).c_str(), S_IFREG | 0600, 0) != 0) {
        Die("mknodat");
      }
    }
    close(fd);
  }
  close(root);
}

void MakeDeep(const std::string& folder, int depth) {
  mkdir(folder.c_str(), 0700);
  int fd = OpenDir(folder);
  for (int i = 0; i < depth; ++i) {
    mkdirat(fd, "d", 0700);
    int next = openat(fd, "d", O_RDONLY | O_DIRECTORY);
    close(fd);
    fd = next;
  }
  close(fd);
}

bool SetImmutable(const std::string& path, bool on) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  int flags = 0;
  bool ok = ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
  flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
  ok = ok && ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
  close(fd);
  return ok;
}

struct Row {
  std::string backend, what, result;
};

void Bench(const std::string& url, const std::string& storage, std::vector<Row>& rows) {
  config::Config cfg;
  cfg.database.url = url;
  cfg.database.pool_size = 4;
  cfg.storage.root = storage;
  auto db = Check(db::Database::Open(cfg.database, GetLogger("store")), "open database");
  Check(db->Migrate(), "migrate");
  const std::string name = db->backend() == db::Backend::kSqlite ? "SQLite" : "PostgreSQL";
  auto templates = Check(notify::TemplateSet::Load(cfg.lifecycle.templates_dir), "templates");
  lifecycle::LifecycleRunner runner(*db, cfg, nullptr, std::move(templates),
                                    GetLogger("lifecycle"));
  TimePoint now = SystemClock::Instance().Now();
  AccountId writer_id = AddActive(*db, now);
  files::StorageRoot root(storage);
  Check(root.Ensure(), "storage root");

  auto purge_one = [&](const char* what, const std::function<void(const std::string&)>& make) {
    AccountId id = AddClosed(*db, 1, now).front();
    make(storage + "/" + id.str());
    ResetPeakRss();
    long base = RssKib();
    Writer writer(*db, writer_id);
    auto t0 = Steady::now();
    auto r = Check(runner.RunOnce(now), "sweep");
    double s = std::chrono::duration<double>(Steady::now() - t0).count();
    writer.Stop();
    long peak = PeakRssKib();
    if (r.purged != 1 || root.AccountFolderExists(id)) {
      Die(fmt::format("{}: not purged", what));
    }
    rows.push_back(
        {name, what,
         fmt::format("{:.1f} s; peak RSS +{} KiB; writer: {} writes, longest {:.1f} ms, "
                     "{} refused",
                     s, peak - base, writer.writes(), writer.max_ms(), writer.refused())});
    std::fprintf(stderr, "%s %s: %s\n", name.c_str(), what, rows.back().result.c_str());
  };
  purge_one("purge of 1,000,000 files", [](const std::string& f) { MakeWide(f, 1000, 1000); });
  purge_one("purge of a tree 10,000 deep", [](const std::string& f) { MakeDeep(f, 10000); });

  // 10,000 due and 100 failing.
  std::vector<AccountId> due = AddClosed(*db, 10000, now);
  std::vector<AccountId> failing = AddClosed(*db, 100, now);
  for (const auto& id : due) {
    std::string f = storage + "/" + id.str();
    mkdir(f.c_str(), 0700);
    close(open((f + "/file").c_str(), O_WRONLY | O_CREAT, 0600));
  }
  for (const auto& id : failing) {
    std::string f = storage + "/" + id.str();
    mkdir(f.c_str(), 0700);
    if (!SetImmutable(f, true)) {
      Die("chattr +i is not supported under SFTPLC_BENCH_STORAGE");
    }
  }
  auto t0 = Steady::now();
  auto r = Check(runner.RunOnce(now), "sweep");
  double s = std::chrono::duration<double>(Steady::now() - t0).count();
  long left = 0;
  for (const auto& id : due) {
    left += root.AccountFolderExists(id) ? 1 : 0;
  }
  for (const auto& id : failing) {
    SetImmutable(storage + "/" + id.str(), false);
  }
  rows.push_back({name, "sweep: 10,000 due + 100 failing",
                  fmt::format("{:.1f} s; purged {} ({} folders left); failures reported {}", s,
                              r.purged, left, r.failures.size())});
  std::fprintf(stderr, "%s sweep: %s\n", name.c_str(), rows.back().result.c_str());
  // The failing ones are purged once their cause is gone and their backoff is over.
  auto later = Check(runner.RunOnce(now + std::chrono::hours(25)), "sweep");
  if (later.purged != 100) {
    Die(fmt::format("the 100 were not purged after the fix: {}", later.purged));
  }
}

}  // namespace
}  // namespace sftplc

int main() {
  using namespace sftplc;
  const char* storage = std::getenv("SFTPLC_BENCH_STORAGE");
  if (storage == nullptr) {
    Die("SFTPLC_BENCH_STORAGE is required");
  }
  std::vector<Row> rows;
  int n = 0;
  for (const char* var : {"SFTPLC_BENCH_SQLITE_URL", "SFTPLC_BENCH_PG_URL"}) {
    const char* url = std::getenv(var);
    if (url == nullptr || *url == '\0') {
      continue;
    }
    Bench(url, std::string(storage) + "/" + std::to_string(n++), rows);
  }
  std::printf("| backend | measure | result |\n|---|---|---|\n");
  for (const auto& r : rows) {
    std::printf("| %s | %s | %s |\n", r.backend.c_str(), r.what.c_str(), r.result.c_str());
  }
  return 0;
}
