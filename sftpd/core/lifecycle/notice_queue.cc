#include "sftpd/core/lifecycle/notice_queue.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <limits>
#include <set>

#include "sftpd/core/db/audit_log.h"
#include "sftpd/core/db/sql.h"

namespace sftplc::lifecycle {
namespace {

constexpr const char* kColumns =
    "SELECT id, account_id, kind, event_key, state, created_at, next_attempt_at, attempts, "
    "last_error, sent_at, subject FROM outbox";

// Every query of whole rows: kColumns + `where` + `order` + LIMIT, with `account` bound to the
// ":a" of `where` when given.
std::vector<Notice> Fetch(soci::session& s, const std::string& where, const std::string& order,
                          const std::optional<std::string>& account, int limit) {
  std::vector<Notice> out;
  Notice n;
  long long id = 0, created = 0, next = 0, sent = 0;
  std::string aid;
  soci::indicator i_next, i_sent;
  std::string sql = std::string(kColumns) + where + order + " LIMIT :lim";
  std::string acc = account.value_or("");
  auto prepare = [&](auto&&... uses) {
    return db::OneShot(s, sql, soci::into(id), soci::into(aid), soci::into(n.kind),
                       soci::into(n.event_key), soci::into(n.state), soci::into(created),
                       soci::into(next, i_next), soci::into(n.attempts), soci::into(n.last_error),
                       soci::into(sent, i_sent), soci::into(n.subject), uses...);
  };
  soci::statement st =
      account ? prepare(soci::use(acc), soci::use(limit)) : prepare(soci::use(limit));
  st.execute();
  while (st.fetch()) {
    Notice copy = n;
    copy.id = id;
    auto parsed = AccountId::Parse(aid);
    if (parsed) {
      copy.account_id = *parsed;
    }
    copy.created_at = FromUnix(created);
    copy.next_attempt_at = i_next == soci::i_ok ? std::optional(FromUnix(next)) : std::nullopt;
    copy.sent_at = i_sent == soci::i_ok ? std::optional(FromUnix(sent)) : std::nullopt;
    out.push_back(std::move(copy));
  }
  return out;
}

constexpr int kNoLimit = std::numeric_limits<int>::max();

}  // namespace

Result<std::vector<Notice>> NoticeQueue::List(bool failed_only,
                                              const std::optional<AccountId>& account, int limit) {
  return db_.Read<std::vector<Notice>>([&](soci::session& s) -> Result<std::vector<Notice>> {
    std::string where = " WHERE 1 = 1";
    if (failed_only) {
      where += " AND state = 'failed'";
    }
    if (account) {
      where += " AND account_id = :a";
    }
    return Fetch(s, where, " ORDER BY id DESC",
                 account ? std::optional(account->str()) : std::nullopt, limit);
  });
}

std::vector<Notice> NoticeQueue::OfAccount(soci::session& s, const AccountId& id) {
  return Fetch(s, " WHERE account_id = :a", " ORDER BY id", id.str(), kNoLimit);
}

std::vector<Notice> NoticeQueue::Unsettled(soci::session& s) {
  return Fetch(s, " WHERE state IN ('pending', 'sending', 'failed')", " ORDER BY id", std::nullopt,
               kNoLimit);
}

Result<int64_t> NoticeQueue::RetryFailed(const std::vector<int64_t>& ids, TimePoint now,
                                         const std::string& actor) {
  return db_.Write<int64_t>([&](soci::session& s) -> Result<int64_t> {
    long long t = ToUnix(now);
    std::set<int64_t> wanted(ids.begin(), ids.end());
    std::vector<int64_t> unknown;
    for (int64_t id : wanted) {
      long long v = id;
      int n = 0;
      s << "SELECT COUNT(*) FROM outbox WHERE id = :id", soci::use(v), soci::into(n);
      if (n == 0) {
        unknown.push_back(id);
      }
    }
    if (!unknown.empty()) {
      return Error::NotFound(
          fmt::format("no notice with id {}: nothing was queued again", fmt::join(unknown, ", ")));
    }
    struct Row {
      long long id = 0;
      std::string account_id, kind;
    };
    std::vector<Row> rows;
    {
      Row r;
      soci::statement st = (s.prepare << "SELECT id, account_id, kind FROM outbox WHERE "
                                         "state = 'failed' ORDER BY id",
                            soci::into(r.id), soci::into(r.account_id), soci::into(r.kind));
      st.execute();
      while (st.fetch()) {
        if (wanted.empty() || wanted.count(r.id) != 0) {
          rows.push_back(r);
        }
      }
    }
    for (const Row& r : rows) {
      long long v = r.id;
      s << "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = :t "
           "WHERE id = :id AND state = 'failed'",
          soci::use(t), soci::use(v);
      AccountId account = AccountId::Parse(r.account_id).value_or(AccountId());
      db::AuditLog::Append(s, now, actor, "notices.retry", account.str(),
                           fmt::format("notice={} kind={}", r.id, r.kind));
    }
    return static_cast<int64_t>(rows.size());
  });
}

bool NoticeQueue::Queue(soci::session& s, const AccountId& id, notify::NoticeKind kind,
                        const std::string& event_key, TimePoint now, const std::string& detail) {
  std::string sid = id.str(), k(notify::NoticeKindName(kind)), ek = event_key, d = detail;
  long long t = ToUnix(now);
  soci::statement st = db::OneShot(
      s,
      "INSERT INTO outbox (account_id, kind, event_key, state, created_at, "
      "next_attempt_at, attempts, detail) VALUES (:a, :k, :e, 'pending', :c, :n, "
      "0, :d) ON CONFLICT (account_id, event_key) DO NOTHING",
      soci::use(sid), soci::use(k), soci::use(ek), soci::use(t), soci::use(t), soci::use(d));
  st.execute(true);
  return st.get_affected_rows() > 0;
}

int64_t NoticeQueue::CancelUndelivered(soci::session& s, const AccountId& id,
                                       notify::NoticeKind kind) {
  std::string sid = id.str(), k(notify::NoticeKindName(kind));
  soci::statement st =
      db::OneShot(s,
                  "UPDATE outbox SET state = 'cancelled', next_attempt_at = NULL "
                  "WHERE account_id = :a AND kind = :k AND state IN ('pending', 'sending')",
                  soci::use(sid), soci::use(k));
  st.execute(true);
  return st.get_affected_rows();
}

int64_t NoticeQueue::DeleteAll(soci::session& s, const AccountId& id) {
  std::string sid = id.str();
  soci::statement st = db::OneShot(s, "DELETE FROM outbox WHERE account_id = :id", soci::use(sid));
  st.execute(true);
  return st.get_affected_rows();
}

std::vector<ClaimedNotice> NoticeQueue::Due(soci::session& s, db::Backend b, TimePoint now,
                                            int limit) {
  long long t = ToUnix(now);
  std::vector<ClaimedNotice> rows;
  ClaimedNotice r;
  long long id = 0;
  soci::statement st = db::OneShot(
      s,
      fmt::format("SELECT id, account_id, kind, event_key, detail, attempts FROM outbox "
                  "WHERE {} ORDER BY next_attempt_at LIMIT :n{}",
                  kDue, b == db::Backend::kPostgresql ? " FOR UPDATE SKIP LOCKED" : ""),
      soci::into(id), soci::into(r.account_id), soci::into(r.kind), soci::into(r.event_key),
      soci::into(r.detail), soci::into(r.attempts), soci::use(t), soci::use(limit));
  st.execute();
  while (st.fetch()) {
    r.id = id;
    rows.push_back(r);
  }
  return rows;
}

void NoticeQueue::Lease(soci::session& s, int64_t id, TimePoint until) {
  long long l = ToUnix(until), oid = id;
  s << "UPDATE outbox SET state = 'sending', next_attempt_at = :l WHERE id = :id", soci::use(l),
      soci::use(oid);
}

void NoticeQueue::Cancel(soci::session& s, int64_t id, const std::string& reason) {
  long long oid = id;
  std::string e = reason;
  s << "UPDATE outbox SET state = 'cancelled', next_attempt_at = NULL, last_error = :e "
       "WHERE id = :id",
      soci::use(e), soci::use(oid);
}

void NoticeQueue::MarkSent(soci::session& s, int64_t id, TimePoint now, int attempts,
                           const std::string& subject) {
  long long t = ToUnix(now), oid = id;
  std::string subj = subject;
  s << "UPDATE outbox SET state = 'sent', sent_at = :t, next_attempt_at = NULL, "
       "attempts = :a, subject = :s, last_error = '' WHERE id = :id",
      soci::use(t), soci::use(attempts), soci::use(subj), soci::use(oid);
}

void NoticeQueue::MarkFailed(soci::session& s, int64_t id, int attempts, const std::string& error) {
  long long oid = id;
  std::string err = error;
  s << "UPDATE outbox SET state = 'failed', next_attempt_at = NULL, attempts = :a, "
       "last_error = :e WHERE id = :id",
      soci::use(attempts), soci::use(err), soci::use(oid);
}

void NoticeQueue::Defer(soci::session& s, int64_t id, TimePoint next, int attempts,
                        const std::string& error) {
  long long n = ToUnix(next), oid = id;
  std::string err = error;
  s << "UPDATE outbox SET state = 'pending', next_attempt_at = :n, attempts = :a, "
       "last_error = :e WHERE id = :id",
      soci::use(n), soci::use(attempts), soci::use(err), soci::use(oid);
}

std::vector<DueNotice> NoticeQueue::DueBy(soci::session& s, TimePoint until) {
  std::vector<DueNotice> out;
  long long u = ToUnix(until);
  std::string id, kind;
  long long due = 0;
  soci::statement st =
      db::OneShot(s,
                  fmt::format("SELECT account_id, kind, next_attempt_at FROM outbox WHERE {} "
                              "ORDER BY next_attempt_at",
                              kDue),
                  soci::into(id), soci::into(kind), soci::into(due), soci::use(u));
  st.execute();
  while (st.fetch()) {
    if (auto aid = AccountId::Parse(id)) {
      out.push_back({*aid, kind, FromUnix(due)});
    }
  }
  return out;
}

std::optional<TimePoint> NoticeQueue::CopyDeadline(const std::string& state, TimePoint created_at,
                                                   std::optional<TimePoint> sent_at,
                                                   const Period& retention) {
  if (sent_at) {
    return AddPeriod(*sent_at, retention);
  }
  if (state == "failed" || state == "cancelled") {
    return AddPeriod(created_at, retention);
  }
  return std::nullopt;
}

Result<int64_t> NoticeQueue::DeleteExpiredCopies(TimePoint now, const Period& retention,
                                                 int batch) {
  // Candidates by index (0007_retention), with two days of slack for month ends and leap days
  // (SubtractPeriod clamps); each is checked with the exact rule before it is deleted.
  long long before = ToUnix(SubtractPeriod(now, retention)) + 2 * 86400;
  int limit = std::max(1, batch);
  struct Page {
    int64_t deleted = 0;
    long long last_id = 0;
    bool full = false;
  };
  int64_t total = 0;
  long long after = 0;
  while (true) {
    auto page = db_.Write<Page>([&](soci::session& s) -> Result<Page> {
      Page p;
      std::vector<long long> doomed;
      long long id = 0, created = 0, sent = 0;
      std::string state;
      soci::indicator i_sent;
      int seen = 0;
      soci::statement st =
          (s.prepare << "SELECT id, state, created_at, sent_at FROM outbox WHERE id > :after "
                        "AND ((sent_at IS NOT NULL AND sent_at <= :b1) OR (sent_at IS NULL AND "
                        "state IN ('failed', 'cancelled') AND created_at <= :b2)) ORDER BY id "
                        "LIMIT :n",
           soci::into(id), soci::into(state), soci::into(created), soci::into(sent, i_sent),
           soci::use(after), soci::use(before), soci::use(before), soci::use(limit));
      st.execute();
      while (st.fetch()) {
        ++seen;
        p.last_id = id;
        std::optional<TimePoint> sent_at;
        if (i_sent == soci::i_ok) {
          sent_at = FromUnix(sent);
        }
        auto due = CopyDeadline(state, FromUnix(created), sent_at, retention);
        if (due && *due <= now) {
          doomed.push_back(id);
        }
      }
      for (long long d : doomed) {
        s << "DELETE FROM outbox WHERE id = :id", soci::use(d);
      }
      p.deleted = static_cast<int64_t>(doomed.size());
      p.full = seen >= limit;
      return p;
    });
    if (!page) {
      return page.error();
    }
    total += page->deleted;
    if (!page->full) {
      break;
    }
    after = page->last_id;
  }
  return total;
}

Result<std::vector<Notice>> NoticeQueue::CopiesDueBy(TimePoint when, const Period& retention,
                                                     int limit) {
  long long before = ToUnix(SubtractPeriod(when, retention)) + 2 * 86400;
  return db_.Read<std::vector<Notice>>([&](soci::session& s) -> Result<std::vector<Notice>> {
    std::vector<Notice> out;
    Notice n;
    long long id = 0, created = 0, sent = 0;
    std::string aid;
    soci::indicator i_sent;
    soci::statement st =
        (s.prepare << "SELECT id, account_id, kind, state, created_at, sent_at FROM outbox "
                      "WHERE (sent_at IS NOT NULL AND sent_at <= :b1) OR (sent_at IS NULL AND "
                      "state IN ('failed', 'cancelled') AND created_at <= :b2) ORDER BY id",
         soci::into(id), soci::into(aid), soci::into(n.kind), soci::into(n.state),
         soci::into(created), soci::into(sent, i_sent), soci::use(before), soci::use(before));
    st.execute();
    while (st.fetch() && static_cast<int>(out.size()) < limit) {
      Notice copy = n;
      copy.id = id;
      copy.account_id = AccountId::Parse(aid).value_or(AccountId());
      copy.created_at = FromUnix(created);
      copy.sent_at = i_sent == soci::i_ok ? std::optional(FromUnix(sent)) : std::nullopt;
      auto due = CopyDeadline(copy.state, copy.created_at, copy.sent_at, retention);
      if (due && *due <= when) {
        out.push_back(std::move(copy));
      }
    }
    return out;
  });
}

}  // namespace sftplc::lifecycle
