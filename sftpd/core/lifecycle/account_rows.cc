#include "sftpd/core/lifecycle/account_rows.h"

namespace sftplc::lifecycle {
namespace {

using accounts::Account;
using accounts::AccountState;
using accounts::CloseReason;

std::optional<TimePoint> Opt(long long v, soci::indicator ind) {
  if (ind != soci::i_ok) {
    return std::nullopt;
  }
  return FromUnix(v);
}

// A nullable timestamp bound for an UPDATE.
struct NullableTime {
  explicit NullableTime(const std::optional<TimePoint>& t)
      : value(t ? ToUnix(*t) : 0), ind(t ? soci::i_ok : soci::i_null) {}
  long long value;
  soci::indicator ind;
};

}  // namespace

std::string StateText(AccountState st) {
  switch (st) {
    case AccountState::kActive: return "active";
    case AccountState::kConfirmationPending: return "confirmation_pending";
    case AccountState::kClosed: return "closed";
  }
  return "active";
}

std::string CloseReasonText(CloseReason r) {
  switch (r) {
    case CloseReason::kRequest: return "request";
    case CloseReason::kAdmin: return "admin";
    case CloseReason::kInactivity: return "inactivity";
  }
  return "request";
}

namespace {

constexpr const char* kSelect =
    "SELECT id, username, full_name, company, email, phone, password_hash, state, created_at, "
    "updated_at, last_login_at, last_activity_at, notice_queued_at, notice_delivered_at, "
    "closed_at, closed_reason, marketing_consent, consent_withdrawn_at, last_communication_at, "
    "next_action, next_action_due FROM accounts";

// The columns of kSelect, bound once to a statement.
struct RowBuffer {
  std::string rid, username, full_name, company, email, phone, password_hash, state, reason,
      next_action;
  long long created = 0, updated = 0, last_login = 0, last_activity = 0, queued = 0,
            delivered = 0, closed = 0, withdrawn = 0, last_comm = 0, due = 0;
  int consent = 0;
  soci::indicator i_login, i_activity, i_queued, i_delivered, i_closed, i_reason, i_withdrawn,
      i_comm, i_due;

  // Binds every column of kSelect, in order (before the statement is prepared).
  void Exchange(soci::statement& st) {
    st.exchange(soci::into(rid));
    st.exchange(soci::into(username));
    st.exchange(soci::into(full_name));
    st.exchange(soci::into(company));
    st.exchange(soci::into(email));
    st.exchange(soci::into(phone));
    st.exchange(soci::into(password_hash));
    st.exchange(soci::into(state));
    st.exchange(soci::into(created));
    st.exchange(soci::into(updated));
    st.exchange(soci::into(last_login, i_login));
    st.exchange(soci::into(last_activity, i_activity));
    st.exchange(soci::into(queued, i_queued));
    st.exchange(soci::into(delivered, i_delivered));
    st.exchange(soci::into(closed, i_closed));
    st.exchange(soci::into(reason, i_reason));
    st.exchange(soci::into(consent));
    st.exchange(soci::into(withdrawn, i_withdrawn));
    st.exchange(soci::into(last_comm, i_comm));
    st.exchange(soci::into(next_action));
    st.exchange(soci::into(due, i_due));
  }

  Account ToAccount(const AccountId& id) const {
    Account a;
    a.id = id;
    a.username = username;
    a.full_name = full_name;
    a.company = company;
    a.email = email;
    a.phone = phone;
    a.password_hash = password_hash;
    a.state = state == "closed"                 ? AccountState::kClosed
              : state == "confirmation_pending" ? AccountState::kConfirmationPending
                                                : AccountState::kActive;
    a.created_at = FromUnix(created);
    a.updated_at = FromUnix(updated);
    a.last_login_at = Opt(last_login, i_login);
    a.last_activity_at = Opt(last_activity, i_activity);
    a.notice_queued_at = Opt(queued, i_queued);
    a.notice_delivered_at = Opt(delivered, i_delivered);
    a.closed_at = Opt(closed, i_closed);
    if (i_reason == soci::i_ok) {
      a.closed_reason = reason == "inactivity" ? CloseReason::kInactivity
                        : reason == "admin"    ? CloseReason::kAdmin
                                               : CloseReason::kRequest;
    }
    a.marketing_consent = consent != 0;
    a.consent_withdrawn_at = Opt(withdrawn, i_withdrawn);
    a.last_communication_at = Opt(last_comm, i_comm);
    a.next_action = next_action;
    a.next_action_due = Opt(due, i_due);
    return a;
  }
};

// kSelect + `tail` with `row` receiving the columns and `params` bound in order, prepared for
// one execution (one round trip on PostgreSQL, see db::OneShot).
soci::statement SelectAccounts(soci::session& s, RowBuffer& row, const std::string& tail,
                               std::vector<long long>& params) {
  soci::statement st(s);
  row.Exchange(st);
  for (long long& p : params) {
    st.exchange(soci::use(p));
  }
  st.alloc();
  st.prepare(std::string(kSelect) + " " + tail, soci::details::st_one_time_query);
  st.define_and_bind();
  return st;
}

}  // namespace

std::optional<Account> LoadAccount(soci::session& s, db::Backend backend, const AccountId& id,
                                   bool lock) {
  std::string sid = id.str();
  std::string sql = std::string(kSelect) + " WHERE id = :id";
  if (lock && backend == db::Backend::kPostgresql) {
    sql += " FOR UPDATE";
  }
  RowBuffer row;
  soci::statement st(s);
  row.Exchange(st);
  st.exchange(soci::use(sid));
  st.alloc();
  st.prepare(sql, soci::details::st_one_time_query);
  st.define_and_bind();
  if (!st.execute(true)) {
    return std::nullopt;
  }
  return row.ToAccount(id);
}

std::vector<Account> LoadAccountsWhere(soci::session& s, const std::string& tail,
                                       const std::vector<long long>& params) {
  RowBuffer row;
  std::vector<long long> values = params;
  soci::statement st = SelectAccounts(s, row, tail, values);
  std::vector<Account> out;
  st.execute();
  while (st.fetch()) {
    auto id = AccountId::Parse(row.rid);
    if (id) {
      out.push_back(row.ToAccount(*id));
    }
  }
  return out;
}

void ScanAccounts(soci::session& s, const std::function<void(const Account&)>& fn) {
  RowBuffer row;
  std::vector<long long> none;
  soci::statement st = SelectAccounts(s, row, "ORDER BY id", none);
  st.execute();
  while (st.fetch()) {
    auto id = AccountId::Parse(row.rid);
    if (id) {
      fn(row.ToAccount(*id));
    }
  }
}

void SaveLifecycleFields(soci::session& s, const Account& a) {
  std::string id = a.id.str();
  std::string state = StateText(a.state);
  std::string reason = a.closed_reason ? CloseReasonText(*a.closed_reason) : "";
  soci::indicator i_reason = a.closed_reason ? soci::i_ok : soci::i_null;
  long long updated = ToUnix(a.updated_at);
  NullableTime queued(a.notice_queued_at), delivered(a.notice_delivered_at), closed(a.closed_at),
      activity(a.last_activity_at), comm(a.last_communication_at), due(a.next_action_due);
  std::string next_action = a.next_action;
  s << "UPDATE accounts SET state = :st, updated_at = :u, notice_queued_at = :nq, "
       "notice_delivered_at = :nd, closed_at = :ca, closed_reason = :cr, "
       "last_activity_at = :la, last_communication_at = :lc, next_action = :na, "
       "next_action_due = :due WHERE id = :id",
      soci::use(state), soci::use(updated), soci::use(queued.value, queued.ind),
      soci::use(delivered.value, delivered.ind), soci::use(closed.value, closed.ind),
      soci::use(reason, i_reason), soci::use(activity.value, activity.ind),
      soci::use(comm.value, comm.ind), soci::use(next_action), soci::use(due.value, due.ind),
      soci::use(id);
}

bool TableExists(soci::session& s, db::Backend backend, const std::string& table) {
  long long n = 0;
  std::string name = table;
  if (backend == db::Backend::kSqlite) {
    s << "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = :n",
        soci::into(n), soci::use(name);
  } else {
    s << "SELECT COUNT(*) FROM information_schema.tables "
         "WHERE table_schema = current_schema() AND table_name = :n",
        soci::into(n), soci::use(name);
  }
  return n > 0;
}

void WriteAudit(soci::session& s, TimePoint at, const std::string& actor, const std::string& action,
                const AccountId& id, const std::string& detail) {
  long long t = ToUnix(at);
  std::string a = actor, act = action, sid = id.str(), d = detail;
  s << "INSERT INTO audit_events (at, actor, action, account_id, detail) "
       "VALUES (:at, :actor, :action, :id, :detail)",
      soci::use(t), soci::use(a), soci::use(act), soci::use(sid), soci::use(d);
}

}  // namespace sftplc::lifecycle
