#pragma once

// The `accounts` row as SOCI exchanges it: the one column list and binding that the account
// store and the lifecycle module (sftpd/core/lifecycle/account_rows.cc) both read rows with.
// Internal to the core library.

#include <soci/soci.h>

#include <optional>
#include <string>

#include "sftpd/core/accounts/account.h"
#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/result.h"

namespace sftplc::accounts {

// Every column, in the order AccountRow::BindInto receives them; a WHERE clause may follow.
inline constexpr const char* kAccountSelect =
    "SELECT id, username, full_name, company, email, phone, password_hash, state, created_at, "
    "updated_at, last_login_at, last_activity_at, notice_queued_at, notice_delivered_at, "
    "closed_at, closed_reason, marketing_consent, consent_withdrawn_at, last_communication_at, "
    "next_action, next_action_due FROM accounts ";

// One optional timestamp column, as SOCI exchanges it.
struct OptTime {
  long long v = 0;
  soci::indicator ind = soci::i_null;

  std::optional<TimePoint> get() const {
    return ind == soci::i_ok ? std::optional<TimePoint>(FromUnix(v)) : std::nullopt;
  }
  void set(const std::optional<TimePoint>& t) {
    v = t ? ToUnix(*t) : 0;
    ind = t ? soci::i_ok : soci::i_null;
  }
};

// The accounts row as SOCI exchanges it (into for reads, use for writes).
struct AccountRow {
  std::string id, username, full_name, company, email, phone, password_hash, state;
  long long created_at = 0, updated_at = 0;
  OptTime last_login_at, last_activity_at, notice_queued_at, notice_delivered_at, closed_at;
  std::string closed_reason;
  soci::indicator closed_reason_ind = soci::i_null;
  int marketing_consent = 0;
  OptTime consent_withdrawn_at, last_communication_at;
  std::string next_action;
  OptTime next_action_due;

  void BindInto(soci::statement& st) {
    st.exchange(soci::into(id));
    st.exchange(soci::into(username));
    st.exchange(soci::into(full_name));
    st.exchange(soci::into(company));
    st.exchange(soci::into(email));
    st.exchange(soci::into(phone));
    st.exchange(soci::into(password_hash));
    st.exchange(soci::into(state));
    st.exchange(soci::into(created_at));
    st.exchange(soci::into(updated_at));
    for (OptTime* t :
         {&last_login_at, &last_activity_at, &notice_queued_at, &notice_delivered_at, &closed_at}) {
      st.exchange(soci::into(t->v, t->ind));
    }
    st.exchange(soci::into(closed_reason, closed_reason_ind));
    st.exchange(soci::into(marketing_consent));
    st.exchange(soci::into(consent_withdrawn_at.v, consent_withdrawn_at.ind));
    st.exchange(soci::into(last_communication_at.v, last_communication_at.ind));
    st.exchange(soci::into(next_action));
    st.exchange(soci::into(next_action_due.v, next_action_due.ind));
  }

  // Every column but id, in the order of kUpdateSql, then id.
  void BindUpdate(soci::statement& st) {
    st.exchange(soci::use(username));
    st.exchange(soci::use(full_name));
    st.exchange(soci::use(company));
    st.exchange(soci::use(email));
    st.exchange(soci::use(phone));
    st.exchange(soci::use(password_hash));
    st.exchange(soci::use(state));
    st.exchange(soci::use(created_at));
    st.exchange(soci::use(updated_at));
    for (OptTime* t :
         {&last_login_at, &last_activity_at, &notice_queued_at, &notice_delivered_at, &closed_at}) {
      st.exchange(soci::use(t->v, t->ind));
    }
    st.exchange(soci::use(closed_reason, closed_reason_ind));
    st.exchange(soci::use(marketing_consent));
    st.exchange(soci::use(consent_withdrawn_at.v, consent_withdrawn_at.ind));
    st.exchange(soci::use(last_communication_at.v, last_communication_at.ind));
    st.exchange(soci::use(next_action));
    st.exchange(soci::use(next_action_due.v, next_action_due.ind));
    st.exchange(soci::use(id));
  }

  Result<Account> ToAccount() const {
    Account a;
    auto parsed_id = AccountId::Parse(id);
    auto parsed_state = ParseState(state);
    if (!parsed_id || !parsed_state) {
      return Error::Internal("corrupt accounts row (id or state)");
    }
    a.id = *parsed_id;
    a.username = username;
    a.full_name = full_name;
    a.company = company;
    a.email = email;
    a.phone = phone;
    a.password_hash = password_hash;
    a.state = *parsed_state;
    a.created_at = FromUnix(created_at);
    a.updated_at = FromUnix(updated_at);
    a.last_login_at = last_login_at.get();
    a.last_activity_at = last_activity_at.get();
    a.notice_queued_at = notice_queued_at.get();
    a.notice_delivered_at = notice_delivered_at.get();
    a.closed_at = closed_at.get();
    if (closed_reason_ind == soci::i_ok) {
      auto r = ParseCloseReason(closed_reason);
      if (!r) {
        return Error::Internal("corrupt accounts row (closed_reason)");
      }
      a.closed_reason = *r;
    }
    a.marketing_consent = marketing_consent != 0;
    a.consent_withdrawn_at = consent_withdrawn_at.get();
    a.last_communication_at = last_communication_at.get();
    a.next_action = next_action;
    a.next_action_due = next_action_due.get();
    return a;
  }

  static AccountRow From(const Account& a) {
    AccountRow r;
    r.id = a.id.str();
    r.username = a.username;
    r.full_name = a.full_name;
    r.company = a.company;
    r.email = a.email;
    r.phone = a.phone;
    r.password_hash = a.password_hash;
    r.state = std::string(StateName(a.state));
    r.created_at = ToUnix(a.created_at);
    r.updated_at = ToUnix(a.updated_at);
    r.last_login_at.set(a.last_login_at);
    r.last_activity_at.set(a.last_activity_at);
    r.notice_queued_at.set(a.notice_queued_at);
    r.notice_delivered_at.set(a.notice_delivered_at);
    r.closed_at.set(a.closed_at);
    if (a.closed_reason) {
      r.closed_reason = std::string(CloseReasonName(*a.closed_reason));
      r.closed_reason_ind = soci::i_ok;
    }
    r.marketing_consent = a.marketing_consent ? 1 : 0;
    r.consent_withdrawn_at.set(a.consent_withdrawn_at);
    r.last_communication_at.set(a.last_communication_at);
    r.next_action = a.next_action;
    r.next_action_due.set(a.next_action_due);
    return r;
  }
};

}  // namespace sftplc::accounts
