#include "sftpd/core/lifecycle/account_rows.h"

#include "sftpd/core/accounts/account_row.h"
#include "sftpd/core/db/sql.h"
#include "sftpd/core/lifecycle/policy.h"

namespace sftplc::lifecycle {

using accounts::Account;
using accounts::AccountRow;
using accounts::AccountState;
using accounts::CloseReason;

std::string StateText(AccountState st) { return std::string(accounts::StateName(st)); }

std::string CloseReasonText(CloseReason r) { return std::string(accounts::CloseReasonName(r)); }

namespace {

// kAccountSelect + `tail` with `row` receiving the columns and `params` bound in order,
// prepared for one execution (one round trip on PostgreSQL, see db::OneShot).
soci::statement SelectAccounts(soci::session& s, AccountRow& row, const std::string& tail,
                               std::vector<long long>& params) {
  soci::statement st(s);
  row.BindInto(st);
  for (long long& p : params) {
    st.exchange(soci::use(p));
  }
  st.alloc();
  st.prepare(std::string(accounts::kAccountSelect) + tail, soci::details::st_one_time_query);
  st.define_and_bind();
  return st;
}

}  // namespace

std::optional<Account> LoadAccount(soci::session& s, db::Backend backend, const AccountId& id,
                                   bool lock) {
  std::string sid = id.str();
  std::string sql = std::string(accounts::kAccountSelect) + "WHERE id = :id";
  if (lock && backend == db::Backend::kPostgresql) {
    sql += " FOR UPDATE";
  }
  AccountRow row;
  soci::statement st(s);
  row.BindInto(st);
  st.exchange(soci::use(sid));
  st.alloc();
  st.prepare(sql, soci::details::st_one_time_query);
  st.define_and_bind();
  if (!st.execute(true)) {
    return std::nullopt;
  }
  auto a = row.ToAccount();
  if (!a) {
    return std::nullopt;
  }
  return std::move(*a);
}

std::vector<Account> LoadAccountsWhere(soci::session& s, const std::string& tail,
                                       const std::vector<long long>& params) {
  AccountRow row;
  std::vector<long long> values = params;
  soci::statement st = SelectAccounts(s, row, tail, values);
  std::vector<Account> out;
  st.execute();
  while (st.fetch()) {
    if (auto a = row.ToAccount()) {
      out.push_back(std::move(*a));
    }
  }
  return out;
}

void ScanAccounts(soci::session& s, const std::function<void(const Account&)>& fn) {
  AccountRow row;
  std::vector<long long> none;
  soci::statement st = SelectAccounts(s, row, "ORDER BY id", none);
  st.execute();
  while (st.fetch()) {
    if (auto a = row.ToAccount()) {
      fn(*a);
    }
  }
}

void SaveLifecycleFields(soci::session& s, const Account& a) {
  AccountRow r = AccountRow::From(a);
  s << "UPDATE accounts SET state = :st, updated_at = :u, notice_queued_at = :nq, "
       "notice_delivered_at = :nd, closed_at = :ca, closed_reason = :cr, "
       "last_activity_at = :la, last_communication_at = :lc, next_action = :na, "
       "next_action_due = :due WHERE id = :id",
      soci::use(r.state), soci::use(r.updated_at),
      soci::use(r.notice_queued_at.v, r.notice_queued_at.ind),
      soci::use(r.notice_delivered_at.v, r.notice_delivered_at.ind),
      soci::use(r.closed_at.v, r.closed_at.ind), soci::use(r.closed_reason, r.closed_reason_ind),
      soci::use(r.last_activity_at.v, r.last_activity_at.ind),
      soci::use(r.last_communication_at.v, r.last_communication_at.ind), soci::use(r.next_action),
      soci::use(r.next_action_due.v, r.next_action_due.ind), soci::use(r.id);
}

void ScheduleNext(Account& a, const config::LifecycleConfig& cfg) {
  NextAction next = NextAccountAction(a, cfg);
  a.next_action = std::string(ActionName(next.action));
  a.next_action_due = next.action == Action::kNone || !next.due ? FromUnix(kNeverDue) : *next.due;
}

void SetNextActionDue(soci::session& s, const AccountId& id, TimePoint due) {
  long long t = ToUnix(due);
  std::string sid = id.str();
  s << "UPDATE accounts SET next_action_due = :t WHERE id = :id", soci::use(t), soci::use(sid);
}

}  // namespace sftplc::lifecycle
