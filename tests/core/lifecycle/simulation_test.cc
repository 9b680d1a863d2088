// Ten simulated years: accounts log in (from addresses that are recorded), transfer, close,
// reopen, grant and withdraw consent while the mail server has outages and attackers get banned;
// one account in ten is a hostile client that leaves a tree no one else would (modes 0 on its
// folder and below, a deep nest, names that are not UTF-8 or hold newlines, links out). The real
// runner sweeps once a day on a real database, as the non-root service user would (no
// CAP_DAC_OVERRIDE), and the invariants of docs/DESIGN are checked after every day.
//
// SFTPLC_SIM_ACCOUNTS (default 1000), SFTPLC_SIM_YEARS (default 10) and SFTPLC_SIM_SEED tune
// it. On PostgreSQL the run is bound by round trips (about 130,000 for the ten years), not by
// the server, so the checks below read with one-shot statements (db::OneShot) and few queries.

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <unordered_map>

#include "sftpd/core/auth/defender.h"
#include "sftpd/core/base/calendar.h"
#include "sftpd/core/base/log.h"
#include "sftpd/core/base/time_format.h"
#include "sftpd/core/db/sql.h"
#include "sftpd/core/files/storage_root.h"
#include "sftpd/core/lifecycle/export.h"
#include "sftpd/core/lifecycle/notice_queue.h"
#include "sftpd/core/usage/usage_store.h"
#include "tests/core/lifecycle/lifecycle_fixture.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/service_user.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_env.h"

namespace sftplc::lifecycle {
namespace {

using testing::T;

constexpr long long kDaySec = 86400;

int EnvInt(const char* name, int fallback) {
  auto v = testing::Env(name);
  return v && !v->empty() ? std::atoi(v->c_str()) : fallback;
}

// What the test itself knows about an account (the model the database is checked against).
struct Shadow {
  AccountId id;
  std::string email;
  TimePoint created{};
  TimePoint last_activity{};
  double login_rate = 0;  // per day
  bool purged = false;
  int hostile_files = 0;  // > 0: a hostile client's tree, with this many files (links included)
  bool exported_closed = false;
  bool consent = false;
  std::optional<TimePoint> last_inactivity_notice;
};

// The columns the checks need, for every account row.
// A tree a hostile client leaves in `folder` (its account folder, holding one file already), made
// as the owner of the storage: names that are not UTF-8 and hold newlines and escape sequences, a
// symbolic link to `outside` and a hard link to it, a nest `depth` folders deep with modes 0 on
// the way, every folder of mode 0 or 0500 at the end, the account folder included. Returns the
// number of files (links included) the export must list.
int MakeHostileTree(const std::string& folder, int depth, const std::string& outside,
                    mode_t folder_mode) {
  int root = open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  EXPECT_GE(root, 0) << folder;
  int files = 1;  // the fixture's inbox/report.pdf
  testing::TouchAt(root, "\xff\xfe not utf-8", "x", 0000);
  testing::TouchAt(root, "line\nbreak\r\x1b[2J");
  files += 2;
  int odd = testing::MkdirAt(root, "\xc3\x28 folder\n");
  EXPECT_EQ(symlinkat(outside.c_str(), odd, "to-outside"), 0);
  EXPECT_EQ(linkat(AT_FDCWD, outside.c_str(), odd, "hardlink", 0), 0);
  files += 2;
  fchmod(odd, folder_mode);
  close(odd);
  int fd = testing::MkdirAt(root, "deep");
  for (int i = 0; i < depth; ++i) {
    int next = testing::MkdirAt(fd, "\n");
    if (i % 50 == 0) {
      testing::TouchAt(next, "f");
      ++files;
    }
    fchmod(fd, i % 7 == 0 ? 0000 : folder_mode);
    close(fd);
    fd = next;
  }
  fchmod(fd, 0000);
  close(fd);
  fchmod(root, folder_mode);
  close(root);
  return files;
}

struct Row {
  std::string state;
  std::optional<TimePoint> last_activity, queued, delivered, closed;
  std::string reason;
  bool consent = false;
};

class SimulationTest : public ::testing::TestWithParam<db::Backend> {
 protected:
  void SetUp() override {
    // Tens of thousands of small commits: on tmpfs the run measures the engine, not fsync.
    if (!testing::Env("TMPDIR") && access("/dev/shm", W_OK) == 0) {
      setenv("TMPDIR", "/dev/shm", 1);
    }
    env_ = testing::LifecycleEnv::Create(GetParam(), "lifecycle_sim");
    if (!env_) {
      if (GetParam() == db::Backend::kPostgresql && testing::SkipAllowed()) {
        GTEST_SKIP() << "no PostgreSQL test server (SFTPLC_TEST_PG_URL)";
      }
      GTEST_FAIL() << "no test database";
    }
    cfg_ = env_->cfg;
    cfg_.lifecycle.interval = Period{1, Period::Unit::kDays};
    // The defender would remember failures for a year and ended bans for more than a year:
    // lifecycle.ip_retention (90 days) is the rule that has to drop the addresses.
    auto& d = cfg_.auth.defender;
    d.threshold = 3;
    d.observation = Seconds(365 * kDaySec);
    d.ban_time = Seconds(20 * kDaySec);
    d.max_ban_time = Seconds(400 * kDaySec);
    // A file outside every account folder that hostile clients link to (the hard link needs
    // the same file system): the purge removes the links and never follows one.
    outside_ = env_->storage.Sub(".outside");
    testing::WriteFile(outside_, "keep");
    env_->runner = std::make_unique<LifecycleRunner>(
        *env_->db, cfg_, &env_->mailer, notify::TemplateSet::Defaults(), GetLogger("lifecycle"));
  }

  std::map<std::string, Row> LoadRows() {
    auto r = env_->db->Read<std::map<std::string, Row>>(
        [&](soci::session& s) -> Result<std::map<std::string, Row>> {
          std::map<std::string, Row> out;
          std::string id, state, reason;
          long long la = 0, q = 0, d = 0, c = 0;
          int consent = 0;
          soci::indicator ila, iq, id_, ic, ir;
          soci::statement st = db::OneShot(
              s,
              "SELECT id, state, last_activity_at, notice_queued_at, notice_delivered_at, "
              "closed_at, closed_reason, marketing_consent FROM accounts",
              soci::into(id), soci::into(state), soci::into(la, ila), soci::into(q, iq),
              soci::into(d, id_), soci::into(c, ic), soci::into(reason, ir), soci::into(consent));
          st.execute();
          while (st.fetch()) {
            Row row;
            row.state = state;
            auto opt = [](long long v, soci::indicator i) {
              return i == soci::i_ok ? std::optional(FromUnix(v)) : std::nullopt;
            };
            row.last_activity = opt(la, ila);
            row.queued = opt(q, iq);
            row.delivered = opt(d, id_);
            row.closed = opt(c, ic);
            row.reason = ir == soci::i_ok ? reason : "";
            row.consent = consent != 0;
            out[id] = row;
          }
          return out;
        });
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? *r : std::map<std::string, Row>{};
  }

  std::set<std::string> StorageRoots() {
    std::set<std::string> out;
    DIR* d = opendir(cfg_.storage.root.c_str());
    if (d == nullptr) {
      return out;
    }
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') {
        out.insert(e->d_name);
      }
    }
    closedir(d);
    return out;
  }

  // The access export of a hostile client's account, json and text: complete (every file
  // listed), valid UTF-8 JSON, and no file name starting a line of the text.
  void ExpectExport(const Shadow& sh, TimePoint now, int day) {
    auto e = ExportAccount(*env_->db, cfg_, sh.id, now);
    ASSERT_TRUE(e) << "day " << day << ": " << e.error().ToString();
    std::string json;
    ASSERT_NO_THROW(json = e->dump()) << "day " << day;
    size_t listed = 0;
    for (const auto& c : (*e)["categories"]) {
      if (c.value("category", "") == "files") {
        listed = c["data"].size();
      }
    }
    ASSERT_EQ(listed, static_cast<size_t>(sh.hostile_files)) << "day " << day;
    std::string text;
    ASSERT_NO_THROW(text = ExportText(*e)) << "day " << day;
    ASSERT_EQ(text.find("\nbreak"), std::string::npos) << "a file name forged a line";
  }

  // The ten years (TenYearsKeepEveryPromise).
  void Simulate();

  std::unique_ptr<testing::LifecycleEnv> env_;
  config::Config cfg_;
  std::string outside_;
};

// SQL: `column` holds one of the addresses the simulation uses (documentation ranges), anywhere
// in its text (a substring search: LIKE '%...%' on every audit row every day is slow).
std::string HoldsAddress(db::Backend backend, const std::string& column) {
  const char* find = backend == db::Backend::kSqlite ? "instr" : "strpos";
  std::string out = "(";
  for (const char* net : {"192.0.2.", "198.51.100.", "203.0.113.", "2001:db8:"}) {
    out += fmt::format("{}{}({}, '{}') > 0", out.size() > 1 ? " OR " : "", find, column, net);
  }
  return out + ")";
}

// Ten years, day by day, every DESIGN.md invariant after every day. The whole run is made on
// a thread without the capabilities that let root ignore file modes: the sweeps, purges and
// exports see the hostile trees as the non-root service user (the owner of the storage) would.
TEST_P(SimulationTest, TenYearsKeepEveryPromise) {
  testing::OnThreadWithoutDacCapabilities(env_->storage.Sub(".probe"), [&] { Simulate(); });
}

void SimulationTest::Simulate() {
  const int n_accounts = EnvInt("SFTPLC_SIM_ACCOUNTS", 1000);
  const int years = EnvInt("SFTPLC_SIM_YEARS", 10);
  const unsigned seed = static_cast<unsigned>(EnvInt("SFTPLC_SIM_SEED", 20261125));
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u01(0, 1);
  const auto& lc = cfg_.lifecycle;
  const TimePoint start = T("2026-01-01");
  const TimePoint end = AddPeriod(start, Period{years, Period::Unit::kYears});
  const int days = static_cast<int>((ToUnix(end) - ToUnix(start)) / kDaySec);

  std::vector<Shadow> accounts;
  std::unordered_map<std::string, size_t> by_email;
  // Accounts are created during the first year; a fifth never log in again, others at rates
  // from every few days to every few years.
  std::vector<int> create_day(n_accounts);
  for (int i = 0; i < n_accounts; ++i) {
    create_day[i] = static_cast<int>(u01(rng) * 365);
  }
  std::sort(create_day.begin(), create_day.end());
  size_t next_create = 0;

  // SMTP outages: about one a year, 1 to 45 days long.
  std::vector<std::pair<int, int>> outages;
  for (int y = 0; y < years; ++y) {
    int s = y * 365 + static_cast<int>(u01(rng) * 330);
    outages.push_back({s, s + 1 + static_cast<int>(u01(rng) * 45)});
  }
  auto mail_down = [&](int day) {
    for (auto [a, b] : outages) {
      if (day >= a && day < b) {
        return true;
      }
    }
    return false;
  };

  int64_t inactivity_notices = 0, closures_inactivity = 0, purges = 0, contacts_deleted = 0,
          requests = 0, reopens = 0, withdrawals = 0, logins = 0, files_notices = 0,
          copies_deleted = 0, addresses_dropped = 0, bans = 0, bans_lifted = 0, hostile_purged = 0;
  int hostile_live = 0;
  constexpr int kHostileDepth = 300;
  size_t mail_seen = 0;
  NoticeQueue outbox(*env_->db);
  // Where sftpd records addresses: usage sessions and failed logins of accounts, the defender's
  // failures and bans, and the audit row of a ban an operator lifts.
  testing::FakeClock clock(start);
  usage::UsageStore usage(*env_->db, clock);
  auth::Defender defender(cfg_.auth.defender, *env_->db, clock, GetLogger("auth"));
  auto address = [&](const char* net) { return net + std::to_string(1 + rng() % 200); };

  // The rows as the previous day's checks read them: nothing writes between those checks and
  // the next day's events.
  std::map<std::string, Row> rows = LoadRows();
  for (int day = 0; day < days; ++day) {
    const TimePoint day_start = start + Seconds(day * kDaySec);
    const TimePoint sweep_at = day_start + Seconds(kDaySec);
    env_->mailer.SetDown(mail_down(day));

    // New accounts.
    while (next_create < create_day.size() && create_day[next_create] == day) {
      TimePoint t = day_start + Seconds(static_cast<long long>(u01(rng) * (kDaySec - 1)));
      Shadow sh;
      sh.id = env_->AddAccount(t, u01(rng) < 0.4, std::to_string(next_create));
      sh.created = t;
      sh.last_activity = t;
      double p = u01(rng);
      sh.login_rate = p < 0.2   ? 0
                      : p < 0.5 ? 1.0 / (200 + 1500 * u01(rng))
                                : 1.0 / (20 + 200 * u01(rng));
      sh.consent = false;
      if (next_create % 10 == 9) {  // one client in ten is hostile
        sh.hostile_files = MakeHostileTree(env_->storage.Sub(sh.id.str()), kHostileDepth, outside_,
                                           next_create % 20 == 9 ? 0000 : 0500);
        ++hostile_live;
      }
      auto a = env_->Get(sh.id);
      ASSERT_TRUE(a);
      sh.email = a->email;
      sh.consent = a->marketing_consent;
      by_email[sh.email] = accounts.size();
      accounts.push_back(sh);
      ++next_create;
    }

    // The day's events, before the midnight sweep.
    for (auto& sh : accounts) {
      if (sh.purged) {
        continue;
      }
      auto it = rows.find(sh.id.str());
      if (it == rows.end()) {
        continue;  // created today
      }
      const Row& row = it->second;
      TimePoint t = day_start + Seconds(1 + static_cast<long long>(u01(rng) * (kDaySec - 2)));
      if (row.state == "closed") {
        if (u01(rng) < 0.005) {  // the client asks to come back before the purge
          env_->Reopen(sh.id, t);
          sh.last_activity = t;
          ++reopens;
        }
        continue;
      }
      if (sh.login_rate > 0 && u01(rng) < sh.login_rate) {
        clock.Set(t);
        if (u01(rng) < 0.7) {
          env_->Login(sh.id, t);
          if (u01(rng) < 0.1) {  // the session row with its address (a sample: round trips)
            usage::NewSession ns;
            ns.account = sh.id;
            ns.started_at = t;
            ns.remote_ip = address("192.0.2.");
            ns.auth_method = "password";
            auto sid = usage.Open(ns);
            ASSERT_TRUE(sid) << sid.error().ToString();
            ASSERT_TRUE(usage.Close(*sid, {}, "closed", t + Seconds(60)));
          }
          if (u01(rng) < 0.02) {  // a mistyped password first
            ASSERT_TRUE(usage.RecordFailedLogin({sh.id, t, address("198.51.100."), "password"}));
          }
        } else {
          env_->Transfer(sh.id, t);
          if (u01(rng) < 0.2) {  // we put a file for the client: a "files waiting" mail
            ASSERT_TRUE(env_->runner->QueueFilesNotice(sh.id, {"/outgoing/statement.pdf"},
                                                       "sim" + std::to_string(files_notices), t));
            ++files_notices;
          }
        }
        sh.last_activity = t;
        ++logins;
      } else if (u01(rng) < 0.00015) {
        env_->Close(sh.id, t);
        ++requests;
      } else if (u01(rng) < 0.0003) {
        if (row.consent) {
          env_->WithdrawConsent(sh.id, t);
          ++withdrawals;
        } else {
          env_->GrantConsent(sh.id, t);
        }
      }
    }
    // Withdrawals of consent by people whose account is gone.
    if (u01(rng) < 0.05) {
      for (auto& sh : accounts) {
        if (sh.purged && u01(rng) < 0.01) {
          auto c = env_->runner->GetContact(sh.id);
          if (c && *c && (*c)->consent) {
            ASSERT_TRUE(env_->runner->WithdrawContactConsent(sh.id, day_start + Seconds(43200),
                                                             "phone", "admin:sim"));
            ++withdrawals;
          }
        }
      }
    }
    // An attacker guesses passwords until banned, from an address that may come back; an
    // operator lifts every other ban within the hour.
    if (u01(rng) < 0.05) {
      TimePoint t = day_start + Seconds(static_cast<long long>(u01(rng) * (kDaySec - 7200)));
      clock.Set(t);
      std::string ip =
          u01(rng) < 0.8 ? address("203.0.113.") : "2001:db8:" + std::to_string(rng() % 20) + "::1";
      for (int i = 0; i < cfg_.auth.defender.threshold; ++i) {
        bans += defender.RecordFailure(ip, "root").has_value();
      }
      if (u01(rng) < 0.5) {
        clock.Set(t + Seconds(3600));
        bans_lifted += defender.RemoveBan(*auth::Defender::BanKey(ip), "admin:sim").has_value();
      }
    }
    // An operator retries failed notices once a week.
    if (day % 7 == 6) {
      ASSERT_TRUE(outbox.RetryFailed({}, day_start + Seconds(3600), "admin:sim"));
    }

    auto report = env_->runner->RunOnce(sweep_at);
    ASSERT_TRUE(report) << report.error().ToString();
    // 9. nothing a client stores makes an account fail (a failed one would be retried later).
    ASSERT_TRUE(report->failures.empty())
        << "day " << day << ": " << report->failures.front().last_error;
    closures_inactivity += report->closed;
    purges += report->purged;
    contacts_deleted += report->contacts_deleted;
    copies_deleted += report->notice_copies_deleted;
    addresses_dropped += report->addresses_dropped;

    // ---- invariants after the day ----
    const TimePoint now = sweep_at;
    rows = LoadRows();
    // Notices delivered today: 5. at most one per idle period, only to idle accounts.
    auto sent = env_->mailer.sent();
    for (; mail_seen < sent.size(); ++mail_seen) {
      const auto& m = sent[mail_seen];
      auto e = by_email.find(m.envelope.to);
      ASSERT_NE(e, by_email.end());
      Shadow& sh = accounts[e->second];
      if (m.message.find("still needed") == std::string::npos) {
        continue;  // a closure notice
      }
      ++inactivity_notices;
      ASSERT_LE(AddPeriod(sh.last_activity, lc.inactivity_after), now)
          << "day " << day << ": notice to an account with recent activity";
      if (sh.last_inactivity_notice) {
        ASSERT_GT(sh.last_activity, *sh.last_inactivity_notice)
            << "day " << day << ": second notice in one idle period";
      }
      sh.last_inactivity_notice = now;
    }
    std::set<std::string> roots = StorageRoots();
    for (auto& sh : accounts) {
      auto it = rows.find(sh.id.str());
      if (it == rows.end()) {
        // Purged: 3. and 7. nothing left but a receipt (and a contact while consent stands).
        if (!sh.purged) {
          sh.purged = true;
          if (sh.hostile_files > 0) {
            --hostile_live;
            ++hostile_purged;
          }
          ASSERT_EQ(env_->CountFor("public_keys", sh.id), 0);
          ASSERT_EQ(env_->CountFor("outbox", sh.id), 0);
          auto receipt = env_->runner->GetReceipt(sh.id);
          ASSERT_TRUE(receipt && *receipt) << "purged without a receipt";
        }
        ASSERT_EQ(roots.count(sh.id.str()), 0u) << "files of a purged account";
        continue;
      }
      const Row& row = it->second;
      // 7. files exist while the account does.
      ASSERT_EQ(roots.count(sh.id.str()), 1u);
      // The access request of a hostile client is answered: the day its tree was made, and
      // once its account is closed and waits for the purge.
      if (sh.hostile_files > 0 &&
          (sh.created >= day_start || (row.state == "closed" && !sh.exported_closed))) {
        sh.exported_closed = row.state == "closed";
        ExpectExport(sh, now, day);
        ASSERT_FALSE(HasFatalFailure());
      }
      ASSERT_TRUE(row.last_activity);
      if (row.state == "closed") {
        // 2. purged within purge_after_closure (+ one sweep interval).
        ASSERT_LE(now, AddPeriod(*row.closed, lc.purge_after_closure) + Seconds(kDaySec))
            << "day " << day;
        ASSERT_LE(ToUnix(now) - ToUnix(*row.closed), 31 * kDaySec) << "day " << day;
        if (row.reason == "inactivity") {
          // 1. a delivered notice, a full window, no activity after delivery.
          ASSERT_TRUE(row.delivered) << "closed for inactivity without a delivered notice";
          ASSERT_LE(AddPeriod(*row.delivered, lc.confirmation_window), *row.closed);
          ASSERT_LE(sh.last_activity, *row.delivered);
        }
      } else {
        // 6. recent activity means active.
        if (AddPeriod(sh.last_activity, lc.inactivity_after) > now) {
          ASSERT_EQ(row.state, "active")
              << "day " << day << " account " << sh.id.str() << " created "
              << FormatTime(sh.created) << " shadow activity " << FormatTime(sh.last_activity)
              << " db activity " << FormatTime(row.last_activity) << " queued "
              << FormatTime(row.queued) << " delivered " << FormatTime(row.delivered) << " closed "
              << FormatTime(row.closed) << " now " << FormatTime(now);
        }
        if (row.state == "confirmation_pending") {
          ASSERT_LE(*row.last_activity, *row.queued);
        }
      }
    }
    // 3. nothing personal left behind by a purge, and 4. no contact past its deadline: the
    // four counts in one query (one round trip a day, not four).
    auto left = env_->db->Read<std::array<long long, 4>>(
        [&](soci::session& s) -> Result<std::array<long long, 4>> {
          std::array<long long, 4> n{};
          long long t = ToUnix(now);
          s << "SELECT (SELECT COUNT(*) FROM public_keys WHERE account_id NOT IN "
               "(SELECT id FROM accounts)), "
               "(SELECT COUNT(*) FROM outbox WHERE account_id NOT IN (SELECT id FROM accounts)), "
               "(SELECT COUNT(*) FROM consent_events WHERE account_id NOT IN "
               "(SELECT id FROM accounts) AND account_id NOT IN "
               "(SELECT account_id FROM marketing_contacts)), "
               "(SELECT COUNT(*) FROM marketing_contacts WHERE delete_due < :now)",
              soci::into(n[0]), soci::into(n[1]), soci::into(n[2]), soci::into(n[3]), soci::use(t);
          return n;
        });
    ASSERT_TRUE(left) << left.error().ToString();
    ASSERT_EQ((*left)[0], 0) << "day " << day << ": public keys of a purged account";
    ASSERT_EQ((*left)[1], 0) << "day " << day << ": notices of a purged account";
    ASSERT_EQ((*left)[2], 0) << "day " << day << ": consent ledger of a purged account";
    // 4. contacts never outlive min(last communication + 5y, withdrawal + 30d).
    {
      ASSERT_EQ((*left)[3], 0) << "day " << day << ": marketing contact past its deadline";
      auto bad = env_->db->Read<int>([&](soci::session& s) -> Result<int> {
        std::string id;
        int consent = 0;
        long long withdrawn = 0, last_comm = 0, due = 0;
        soci::indicator iw;
        soci::statement st =
            db::OneShot(s,
                        "SELECT account_id, consent, consent_withdrawn_at, "
                        "last_communication_at, delete_due FROM marketing_contacts",
                        soci::into(id), soci::into(consent), soci::into(withdrawn, iw),
                        soci::into(last_comm), soci::into(due));
        st.execute();
        int n = 0;
        while (st.fetch()) {
          TimePoint limit = AddPeriod(FromUnix(last_comm), lc.marketing_retention);
          if (iw == soci::i_ok) {
            limit = std::min(limit, AddPeriod(FromUnix(withdrawn), lc.withdrawal_purge));
          }
          if (FromUnix(due) > limit || (consent == 0 && iw != soci::i_ok)) {
            ++n;
          }
        }
        return n;
      });
      ASSERT_TRUE(bad);
      ASSERT_EQ(*bad, 0) << "day " << day;
    }
    // 3. and 7. for hostile trees too: nothing of a purged folder waits in the trash, and the
    // file the links pointed to is intact, with one link left per hostile account alive.
    auto trash = files::StorageRoot(cfg_.storage.root).ListTrash();
    ASSERT_TRUE(trash) << trash.error().ToString();
    ASSERT_TRUE(trash->empty()) << "day " << day << ": a purged folder left in the trash";
    struct stat outside {};
    ASSERT_EQ(lstat(outside_.c_str(), &outside), 0) << "day " << day;
    ASSERT_EQ(outside.st_size, 4) << "day " << day << ": a link was followed";
    ASSERT_EQ(outside.st_nlink, static_cast<nlink_t>(1 + hostile_live)) << "day " << day;
    // 8. and 10. the oldest copy of a notice and the oldest address of each place that keeps
    // one, against their deadline (the first sweep after it removes them); a ban in force keeps
    // its address to its end. One query, one round trip.
    struct Kept {
      const char* what;
      std::string oldest;  // SQL: the time the oldest one was recorded (or sent)
      const Period& keep;
    };
    const db::Backend backend = env_->db->backend();
    const Kept kept[] = {
        {"copy of a notice sent", "MIN(sent_at) FROM outbox WHERE sent_at IS NOT NULL",
         lc.mail_copy_retention},
        {"copy of a notice given up",
         "MIN(created_at) FROM outbox WHERE sent_at IS NULL AND state IN ('failed', 'cancelled')",
         lc.mail_copy_retention},
        {"address of a usage session",
         "MIN(started_at) FROM usage_sessions WHERE " + HoldsAddress(backend, "remote_ip"),
         lc.ip_retention},
        {"address of a failed login",
         "MIN(at) FROM usage_failed_logins WHERE " + HoldsAddress(backend, "remote_ip"),
         lc.ip_retention},
        {"address of a defender failure",
         "MIN(at) FROM auth_failures WHERE " + HoldsAddress(backend, "ip"), lc.ip_retention},
        {"address of an ended ban",
         "MIN(last_banned_at) FROM auth_bans WHERE banned_until <= :ended AND " +
             HoldsAddress(backend, "ip"),
         lc.ip_retention},
        {"address in an audit detail",
         "MIN(at) FROM audit_events WHERE " + HoldsAddress(backend, "detail"), lc.ip_retention},
    };
    constexpr size_t kKept = std::size(kept);
    auto oldest = env_->db->Read<std::array<std::optional<TimePoint>, kKept>>(
        [&](soci::session& s) -> Result<std::array<std::optional<TimePoint>, kKept>> {
          std::array<long long, kKept> t{};
          std::array<soci::indicator, kKept> ind{};
          std::string sql = "SELECT ";
          soci::statement st(s);
          for (size_t i = 0; i < kKept; ++i) {
            sql += (i > 0 ? ", (SELECT " : "(SELECT ") + kept[i].oldest + ")";
            st.exchange(soci::into(t[i], ind[i]));
          }
          long long ended = ToUnix(now - Seconds(kDaySec));
          st.exchange(soci::use(ended));
          st.alloc();
          st.prepare(sql, soci::details::st_one_time_query);
          st.define_and_bind();
          st.execute(true);
          std::array<std::optional<TimePoint>, kKept> out;
          for (size_t i = 0; i < kKept; ++i) {
            if (ind[i] == soci::i_ok) {
              out[i] = FromUnix(t[i]);
            }
          }
          return out;
        });
    ASSERT_TRUE(oldest) << oldest.error().ToString();
    for (size_t i = 0; i < kKept; ++i) {
      const auto& at = (*oldest)[i];
      ASSERT_TRUE(!at || AddPeriod(*at, kept[i].keep) + Seconds(kDaySec) > now)
          << "day " << day << ": " << kept[i].what << " of " << FormatTime(at) << " kept past "
          << kept[i].keep.ToWords();
    }
  }
  // The run did exercise every path.
  EXPECT_GE(accounts.size(), static_cast<size_t>(n_accounts));
  EXPECT_GT(inactivity_notices, 0);
  EXPECT_GT(closures_inactivity, 0);
  EXPECT_GT(purges, 0);
  EXPECT_GT(requests, 0);
  EXPECT_GT(files_notices, 0);
  EXPECT_GT(copies_deleted, 0);
  EXPECT_GT(addresses_dropped, 0);
  EXPECT_GT(bans, 0);
  EXPECT_GT(bans_lifted, 0);
  EXPECT_GT(hostile_purged, 0);
  std::printf(
      "simulation: accounts=%zu days=%d logins=%lld notices=%lld closures=%lld "
      "requests=%lld reopens=%lld purges=%lld withdrawals=%lld contacts_deleted=%lld "
      "files_notices=%lld copies_deleted=%lld addresses_dropped=%lld bans=%lld "
      "bans_lifted=%lld hostile_purged=%lld\n",
      accounts.size(), days, static_cast<long long>(logins),
      static_cast<long long>(inactivity_notices), static_cast<long long>(closures_inactivity),
      static_cast<long long>(requests), static_cast<long long>(reopens),
      static_cast<long long>(purges), static_cast<long long>(withdrawals),
      static_cast<long long>(contacts_deleted), static_cast<long long>(files_notices),
      static_cast<long long>(copies_deleted), static_cast<long long>(addresses_dropped),
      static_cast<long long>(bans), static_cast<long long>(bans_lifted),
      static_cast<long long>(hostile_purged));
}

INSTANTIATE_TEST_SUITE_P(Backends, SimulationTest,
                         ::testing::Values(db::Backend::kSqlite, db::Backend::kPostgresql),
                         testing::BackendName);

}  // namespace
}  // namespace sftplc::lifecycle
