#include "sftpd/core/usage/usage_store.h"

#include <unistd.h>

#include <limits>
#include <map>

#include "sftpd/core/db/sql.h"

namespace sftplc::usage {
namespace {

constexpr std::size_t kMaxClientVersion = 200;

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) {
    return "localhost";
  }
  return buf;
}

long long Signed(uint64_t v) { return static_cast<long long>(v); }
uint64_t Unsigned(long long v) { return v < 0 ? 0 : static_cast<uint64_t>(v); }

// An integer column as long long. The SOCI type of a column depends on the backend and on the
// declared type (SQLite INTEGER is dt_integer, PostgreSQL BIGINT dt_long_long, SUM() over BIGINT
// is NUMERIC), so read whichever type the column has.
long long Int64(const soci::row& r, std::size_t i) {
  switch (r.get_properties(i).get_data_type()) {
    case soci::dt_long_long:
      return r.get<long long>(i);
    case soci::dt_unsigned_long_long:
      return static_cast<long long>(r.get<unsigned long long>(i));
    case soci::dt_integer:
      return r.get<int>(i);
    case soci::dt_double:
      return static_cast<long long>(r.get<double>(i));
    default:
      return std::stoll(r.get<std::string>(i));
  }
}

// Column list shared by the session queries, in the order ReadSession expects.
constexpr const char* kSessionColumns =
    "id, account_id, actor, node, started_at, ended_at, remote_ip, client_version, auth_method, "
    "bytes_in, bytes_out, files_uploaded, files_downloaded, files_removed, end_reason";

Result<SessionRecord> ReadSession(const soci::row& r) {
  SessionRecord s;
  s.id = Int64(r, 0);
  auto id = AccountId::Parse(r.get<std::string>(1));
  if (!id) {
    return Error::Internal("usage_sessions row with a malformed account id");
  }
  s.account = *id;
  s.actor = r.get<std::string>(2);
  s.node = r.get<std::string>(3);
  s.started_at = FromUnix(Int64(r, 4));
  if (r.get_indicator(5) == soci::i_ok) {
    s.ended_at = FromUnix(Int64(r, 5));
  }
  s.remote_ip = r.get<std::string>(6);
  s.client_version = r.get<std::string>(7);
  s.auth_method = r.get<std::string>(8);
  s.counters.bytes_in = Unsigned(Int64(r, 9));
  s.counters.bytes_out = Unsigned(Int64(r, 10));
  s.counters.files_uploaded = Unsigned(Int64(r, 11));
  s.counters.files_downloaded = Unsigned(Int64(r, 12));
  s.counters.files_removed = Unsigned(Int64(r, 13));
  if (r.get_indicator(14) == soci::i_ok) {
    s.end_reason = r.get<std::string>(14);
  }
  return s;
}

// A limit of 0 or less lists at most this many (sftpctl usage without --limit).
constexpr int kDefaultLimit = 1000000;
constexpr int kNoLimit = std::numeric_limits<int>::max();

// Calls `fn` for each row of `select` (ending "WHERE account_id = :a AND <time> >= :s") for
// `account` from `since`, ordered by `order`, at most `limit` rows; stops at the first error.
template <class Fn>
Status ForEachRow(soci::session& sql, const std::string& select, const AccountId& account,
                  std::optional<TimePoint> since, int limit, const std::string& order, Fn&& fn) {
  std::string id = account.str();
  long long from = since ? ToUnix(*since) : 0;
  int n = limit > 0 ? limit : kDefaultLimit;
  soci::rowset<soci::row> rows = (sql.prepare << select << " ORDER BY " << order << " LIMIT :n",
                                  soci::use(id), soci::use(from), soci::use(n));
  for (const soci::row& r : rows) {
    if (Status st = fn(r); !st) {
      return st;
    }
  }
  return {};
}

// The sessions of `account` started at or after `since`, ordered by `order`, at most `limit`.
Result<std::vector<SessionRecord>> QuerySessions(soci::session& sql, const AccountId& account,
                                                 std::optional<TimePoint> since, int limit,
                                                 const std::string& order) {
  std::vector<SessionRecord> out;
  Status st = ForEachRow(sql,
                         std::string("SELECT ") + kSessionColumns +
                             " FROM usage_sessions WHERE account_id = :a AND started_at >= :s",
                         account, since, limit, order, [&](const soci::row& r) -> Status {
                           auto s = ReadSession(r);
                           if (!s) {
                             return s.error();
                           }
                           out.push_back(std::move(*s));
                           return {};
                         });
  if (!st) {
    return st.error();
  }
  return out;
}

// The failed logins of `account` at or after `since`, ordered by `order`, at most `limit`.
std::vector<FailedLogin> QueryFailedLogins(soci::session& sql, const AccountId& account,
                                           std::optional<TimePoint> since, int limit,
                                           const std::string& order) {
  std::vector<FailedLogin> out;
  // The callback cannot fail, so neither can the walk.
  static_cast<void>(
      ForEachRow(sql,
                 "SELECT at, remote_ip, auth_method FROM usage_failed_logins WHERE account_id = :a "
                 "AND at >= :s",
                 account, since, limit, order, [&](const soci::row& r) -> Status {
                   FailedLogin f;
                   f.account = account;
                   f.at = FromUnix(Int64(r, 0));
                   f.remote_ip = r.get<std::string>(1);
                   f.auth_method = r.get<std::string>(2);
                   out.push_back(std::move(f));
                   return {};
                 }));
  return out;
}

}  // namespace

UsageStore::UsageStore(db::Database& db, const Clock& clock, std::string node)
    : db_(db), clock_(clock), node_(node.empty() ? HostName() : std::move(node)) {}

Result<int64_t> UsageStore::Open(const NewSession& session) {
  if (session.account.empty()) {
    return Error::InvalidArgument("usage session without an account");
  }
  std::string account = session.account.str();
  std::string version = session.client_version.substr(0, kMaxClientVersion);
  long long started = ToUnix(session.started_at);
  bool postgres = db_.backend() == db::Backend::kPostgresql;
  return db_.Write<int64_t>([&](soci::session& sql) -> Result<int64_t> {
    long long id = 0;
    if (postgres) {
      sql << "INSERT INTO usage_sessions (account_id, actor, node, started_at, remote_ip, "
             "client_version, auth_method) VALUES (:a, :actor, :node, :s, :ip, :v, :m) "
             "RETURNING id",
          soci::use(account), soci::use(session.actor), soci::use(node_), soci::use(started),
          soci::use(session.remote_ip), soci::use(version), soci::use(session.auth_method),
          soci::into(id);
    } else {
      sql << "INSERT INTO usage_sessions (account_id, actor, node, started_at, remote_ip, "
             "client_version, auth_method) VALUES (:a, :actor, :node, :s, :ip, :v, :m)",
          soci::use(account), soci::use(session.actor), soci::use(node_), soci::use(started),
          soci::use(session.remote_ip), soci::use(version), soci::use(session.auth_method);
      if (!sql.get_last_insert_id("usage_sessions", id)) {
        return Error::Internal("no id for the new usage session");
      }
    }
    return static_cast<int64_t>(id);
  });
}

Status UsageStore::Update(int64_t id, const Counters& c) {
  long long row = id, bi = Signed(c.bytes_in), bo = Signed(c.bytes_out),
            fu = Signed(c.files_uploaded), fd = Signed(c.files_downloaded),
            fr = Signed(c.files_removed);
  auto r = db_.Write<bool>([&](soci::session& sql) -> Result<bool> {
    soci::statement st =
        (sql.prepare << "UPDATE usage_sessions SET bytes_in = :bi, bytes_out = :bo, "
                        "files_uploaded = :fu, files_downloaded = :fd, files_removed = :fr "
                        "WHERE id = :id AND ended_at IS NULL",
         soci::use(bi), soci::use(bo), soci::use(fu), soci::use(fd), soci::use(fr), soci::use(row));
    st.execute(true);
    if (st.get_affected_rows() == 0) {
      return Error::NotFound("no open usage session with that id");
    }
    return true;
  });
  if (!r) {
    return r.error();
  }
  return {};
}

Status UsageStore::Close(int64_t id, const Counters& c, std::string_view reason, TimePoint at) {
  long long row = id, bi = Signed(c.bytes_in), bo = Signed(c.bytes_out),
            fu = Signed(c.files_uploaded), fd = Signed(c.files_downloaded),
            fr = Signed(c.files_removed), ended = ToUnix(at);
  std::string why(reason);
  auto r = db_.Write<bool>([&](soci::session& sql) -> Result<bool> {
    soci::statement st =
        (sql.prepare << "UPDATE usage_sessions SET bytes_in = :bi, bytes_out = :bo, "
                        "files_uploaded = :fu, files_downloaded = :fd, files_removed = :fr, "
                        "ended_at = :e, end_reason = :r WHERE id = :id AND ended_at IS NULL",
         soci::use(bi), soci::use(bo), soci::use(fu), soci::use(fd), soci::use(fr),
         soci::use(ended), soci::use(why), soci::use(row));
    st.execute(true);
    if (st.get_affected_rows() == 0) {
      return Error::NotFound("no open usage session with that id");
    }
    return true;
  });
  if (!r) {
    return r.error();
  }
  return {};
}

Result<int64_t> UsageStore::CloseOrphans(TimePoint at) {
  long long ended = ToUnix(at);
  std::string why = "crashed";
  return db_.Write<int64_t>([&](soci::session& sql) -> Result<int64_t> {
    soci::statement st = (sql.prepare << "UPDATE usage_sessions SET ended_at = :e, end_reason = :r "
                                         "WHERE node = :n AND ended_at IS NULL",
                          soci::use(ended), soci::use(why), soci::use(node_));
    st.execute(true);
    return static_cast<int64_t>(st.get_affected_rows());
  });
}

Status UsageStore::RecordFailedLogin(const FailedLogin& f) {
  if (f.account.empty()) {
    return Error::InvalidArgument("failed login without an account");
  }
  std::string account = f.account.str();
  long long at = ToUnix(f.at);
  auto r = db_.Write<bool>([&](soci::session& sql) -> Result<bool> {
    sql << "INSERT INTO usage_failed_logins (account_id, at, remote_ip, auth_method) "
           "VALUES (:a, :t, :ip, :m)",
        soci::use(account), soci::use(at), soci::use(f.remote_ip), soci::use(f.auth_method);
    return true;
  });
  if (!r) {
    return r.error();
  }
  return {};
}

Result<std::vector<SessionRecord>> UsageStore::ListSessions(const AccountId& account,
                                                            std::optional<TimePoint> since,
                                                            int limit) {
  return db_.Read<std::vector<SessionRecord>>(
      [&](soci::session& sql) -> Result<std::vector<SessionRecord>> {
        return QuerySessions(sql, account, since, limit, "started_at DESC, id DESC");
      });
}

Result<std::vector<FailedLogin>> UsageStore::ListFailedLogins(const AccountId& account,
                                                              std::optional<TimePoint> since,
                                                              int limit) {
  return db_.Read<std::vector<FailedLogin>>(
      [&](soci::session& sql) -> Result<std::vector<FailedLogin>> {
        return QueryFailedLogins(sql, account, since, limit, "at DESC, id DESC");
      });
}

Result<std::vector<SessionRecord>> UsageStore::AllSessions(soci::session& sql,
                                                           const AccountId& account) {
  return QuerySessions(sql, account, std::nullopt, kNoLimit, "started_at, id");
}

std::vector<FailedLogin> UsageStore::AllFailedLogins(soci::session& sql, const AccountId& account) {
  return QueryFailedLogins(sql, account, std::nullopt, kNoLimit, "at, id");
}

Result<std::vector<AccountUsage>> UsageStore::Report(std::optional<TimePoint> since) {
  long long from = since ? ToUnix(*since) : 0;
  return db_.Read<std::vector<AccountUsage>>(
      [&](soci::session& sql) -> Result<std::vector<AccountUsage>> {
        std::map<std::string, AccountUsage> by_account;
        auto entry = [&](const std::string& id) -> Result<AccountUsage*> {
          auto it = by_account.find(id);
          if (it == by_account.end()) {
            auto parsed = AccountId::Parse(id);
            if (!parsed) {
              return Error::Internal("usage row with a malformed account id");
            }
            AccountUsage u;
            u.account = *parsed;
            it = by_account.emplace(id, std::move(u)).first;
          }
          return &it->second;
        };
        soci::rowset<soci::row> sessions =
            (sql.prepare << "SELECT account_id, COUNT(*), SUM(bytes_in), SUM(bytes_out), "
                            "SUM(files_uploaded), SUM(files_downloaded), SUM(files_removed), "
                            "MAX(started_at) FROM usage_sessions WHERE started_at >= :s "
                            "GROUP BY account_id",
             soci::use(from));
        for (const soci::row& r : sessions) {
          auto u = entry(r.get<std::string>(0));
          if (!u) {
            return u.error();
          }
          (*u)->sessions = Int64(r, 1);
          (*u)->totals.bytes_in = Unsigned(Int64(r, 2));
          (*u)->totals.bytes_out = Unsigned(Int64(r, 3));
          (*u)->totals.files_uploaded = Unsigned(Int64(r, 4));
          (*u)->totals.files_downloaded = Unsigned(Int64(r, 5));
          (*u)->totals.files_removed = Unsigned(Int64(r, 6));
          (*u)->last_session_at = FromUnix(Int64(r, 7));
        }
        soci::rowset<soci::row> failures =
            (sql.prepare << "SELECT account_id, COUNT(*) FROM usage_failed_logins "
                            "WHERE at >= :s GROUP BY account_id",
             soci::use(from));
        for (const soci::row& r : failures) {
          auto u = entry(r.get<std::string>(0));
          if (!u) {
            return u.error();
          }
          (*u)->failed_logins = Int64(r, 1);
        }
        std::vector<AccountUsage> out;
        out.reserve(by_account.size());
        for (auto& [id, u] : by_account) {
          out.push_back(std::move(u));
        }
        return out;
      });
}

int64_t UsageStore::DeleteForAccount(soci::session& sql, const AccountId& account) {
  std::string id = account.str();
  soci::statement a =
      (sql.prepare << "DELETE FROM usage_sessions WHERE account_id = :a", soci::use(id));
  a.execute(true);
  soci::statement b =
      (sql.prepare << "DELETE FROM usage_failed_logins WHERE account_id = :a", soci::use(id));
  b.execute(true);
  return static_cast<int64_t>(a.get_affected_rows() + b.get_affected_rows());
}

Result<int64_t> UsageStore::ForgetAddresses(db::Database& db, TimePoint before) {
  long long b = ToUnix(before);
  return db.Write<int64_t>([&](soci::session& sql) -> Result<int64_t> {
    soci::statement a = (sql.prepare << "UPDATE usage_sessions SET remote_ip = '' WHERE "
                                        "remote_ip <> '' AND started_at < :b",
                         soci::use(b));
    a.execute(true);
    soci::statement f =
        (sql.prepare << "DELETE FROM usage_failed_logins WHERE at < :b", soci::use(b));
    f.execute(true);
    return static_cast<int64_t>(a.get_affected_rows() + f.get_affected_rows());
  });
}

Result<std::optional<TimePoint>> UsageStore::OldestAddress(db::Database& db) {
  return db.Read<std::optional<TimePoint>>(
      [&](soci::session& sql) -> Result<std::optional<TimePoint>> {
        std::optional<TimePoint> oldest;
        long long t = 0;
        soci::indicator ind = soci::i_null;
        sql << "SELECT MIN(started_at) FROM usage_sessions WHERE remote_ip <> ''",
            soci::into(t, ind);
        if (ind == soci::i_ok) {
          oldest = FromUnix(t);
        }
        ind = soci::i_null;
        sql << "SELECT MIN(at) FROM usage_failed_logins", soci::into(t, ind);
        if (ind == soci::i_ok && (!oldest || FromUnix(t) < *oldest)) {
          oldest = FromUnix(t);
        }
        return oldest;
      });
}

}  // namespace sftplc::usage
