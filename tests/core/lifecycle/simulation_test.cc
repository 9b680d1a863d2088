// Ten simulated years: accounts log in, transfer, close, reopen, grant and withdraw consent while
// the mail server has outages; the real runner sweeps once a day on a real database, and the
// invariants of docs/DESIGN are checked after every day.
//
// SFTPLC_SIM_ACCOUNTS (default 1000), SFTPLC_SIM_YEARS (default 10) and SFTPLC_SIM_SEED tune
// it. On PostgreSQL the run is bound by round trips (about 130,000 for the ten years), not by
// the server, so the checks below read with one-shot statements (db::OneShot) and few queries.

#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <unordered_map>

#include "sftpd/core/base/calendar.h"
#include "sftpd/core/base/time_format.h"
#include "sftpd/core/db/sql.h"
#include "sftpd/core/lifecycle/notice_queue.h"
#include "tests/core/lifecycle/lifecycle_fixture.h"
#include "tests/testing/fake_clock.h"
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
  bool consent = false;
  std::optional<TimePoint> last_inactivity_notice;
};

// The columns the checks need, for every account row.
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

  std::unique_ptr<testing::LifecycleEnv> env_;
  config::Config cfg_;
};

// Ten years, day by day, every DESIGN.md invariant after every day.
TEST_P(SimulationTest, TenYearsKeepEveryPromise) {
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
          requests = 0, reopens = 0, withdrawals = 0, logins = 0;
  size_t mail_seen = 0;
  NoticeQueue outbox(*env_->db);

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
        if (u01(rng) < 0.7) {
          env_->Login(sh.id, t);
        } else {
          env_->Transfer(sh.id, t);
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
    // An operator retries failed notices once a week.
    if (day % 7 == 6) {
      ASSERT_TRUE(outbox.RetryFailed({}, day_start + Seconds(3600), "admin:sim"));
    }

    auto report = env_->runner->RunOnce(sweep_at);
    ASSERT_TRUE(report) << report.error().ToString();
    closures_inactivity += report->closed;
    purges += report->purged;
    contacts_deleted += report->contacts_deleted;

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
  }
  // The run did exercise every path.
  EXPECT_GE(accounts.size(), static_cast<size_t>(n_accounts));
  EXPECT_GT(inactivity_notices, 0);
  EXPECT_GT(closures_inactivity, 0);
  EXPECT_GT(purges, 0);
  EXPECT_GT(requests, 0);
  std::printf(
      "simulation: accounts=%zu days=%d logins=%lld notices=%lld closures=%lld "
      "requests=%lld reopens=%lld purges=%lld withdrawals=%lld contacts_deleted=%lld\n",
      accounts.size(), days, static_cast<long long>(logins),
      static_cast<long long>(inactivity_notices), static_cast<long long>(closures_inactivity),
      static_cast<long long>(requests), static_cast<long long>(reopens),
      static_cast<long long>(purges), static_cast<long long>(withdrawals),
      static_cast<long long>(contacts_deleted));
}

INSTANTIATE_TEST_SUITE_P(Backends, SimulationTest,
                         ::testing::Values(db::Backend::kSqlite, db::Backend::kPostgresql),
                         testing::BackendName);

}  // namespace
}  // namespace sftplc::lifecycle
