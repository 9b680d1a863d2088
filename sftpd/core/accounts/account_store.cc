#include "sftpd/core/accounts/account_store.h"

#include <algorithm>

#include "sftpd/core/accounts/account_row.h"
#include "sftpd/core/accounts/public_key.h"
#include "sftpd/core/accounts/validation.h"
#include "sftpd/core/db/audit_log.h"
#include "sftpd/core/db/sql.h"

namespace sftplc::accounts {
namespace {

constexpr const char* kUpdateSql =
    "UPDATE accounts SET username = :username, full_name = :full_name, company = :company, "
    "email = :email, phone = :phone, password_hash = :password_hash, state = :state, "
    "created_at = :created_at, updated_at = :updated_at, last_login_at = :last_login_at, "
    "last_activity_at = :last_activity_at, notice_queued_at = :notice_queued_at, "
    "notice_delivered_at = :notice_delivered_at, closed_at = :closed_at, "
    "closed_reason = :closed_reason, marketing_consent = :marketing_consent, "
    "consent_withdrawn_at = :consent_withdrawn_at, "
    "last_communication_at = :last_communication_at, next_action = :next_action, "
    "next_action_due = :next_action_due WHERE id = :id";

constexpr const char* kInsertSql =
    "INSERT INTO accounts (username, full_name, company, email, phone, password_hash, state, "
    "created_at, updated_at, last_login_at, last_activity_at, notice_queued_at, "
    "notice_delivered_at, closed_at, closed_reason, marketing_consent, consent_withdrawn_at, "
    "last_communication_at, next_action, next_action_due, id) VALUES (:username, :full_name, "
    ":company, :email, :phone, :password_hash, :state, :created_at, :updated_at, "
    ":last_login_at, :last_activity_at, :notice_queued_at, :notice_delivered_at, :closed_at, "
    ":closed_reason, :marketing_consent, :consent_withdrawn_at, :last_communication_at, "
    ":next_action, :next_action_due, :id)";

// Runs a write statement built by `bind` (SOCI's low-level exchange API, so that the long
// column lists are bound in one place). execute(true): SQLite runs nothing without it.
template <typename Bind>
void Execute(soci::session& s, const std::string& sql, Bind bind) {
  soci::statement st(s);
  bind(st);
  st.alloc();
  st.prepare(sql);
  st.define_and_bind();
  st.execute(true);
}

// The one account matching `where` (SQL text with a single :key parameter), or kNotFound.
Result<Account> LoadOne(soci::session& s, const std::string& where, const std::string& key,
                        bool for_update, db::Backend backend) {
  AccountRow row;
  std::string k = key;
  soci::statement st(s);
  row.BindInto(st);
  st.exchange(soci::use(k));
  st.alloc();
  std::string sql = std::string(kAccountSelect) + where;
  if (for_update && backend == db::Backend::kPostgresql) {
    sql += " FOR UPDATE";
  }
  st.prepare(sql);
  st.define_and_bind();
  if (!st.execute(true)) {
    return Error::NotFound("no such account");
  }
  return row.ToAccount();
}

// A change that can bring the account's next lifecycle deadline forward (closure: the purge;
// withdrawal: the contact deletion) clears the schedule, so the next sweep computes it afresh.
// Changes that only push deadlines later (logins, transfers) leave it: the sweep re-evaluates
// an account when its old, earlier due time comes.
void Unschedule(Account& a) {
  a.next_action.clear();
  a.next_action_due.reset();
}

void SaveAccount(soci::session& s, const Account& a) {
  AccountRow row = AccountRow::From(a);
  Execute(s, kUpdateSql, [&](soci::statement& st) { row.BindUpdate(st); });
}

void WriteAudit(soci::session& s, TimePoint at, const Actor& actor, const std::string& action,
                const std::string& account_id, const std::string& detail) {
  db::AuditLog::Append(s, at, actor.name, action, account_id, detail);
}

Status CheckActor(const Actor& actor) {
  if (actor.name.empty() || actor.name.size() > 200) {
    return Error::InvalidArgument("the actor of a change must be named (1-200 bytes)");
  }
  return {};
}

}  // namespace

AccountStore::AccountStore(db::Database& db, const Clock& clock) : db_(db), clock_(clock) {}

Result<Account> AccountStore::Create(const NewAccount& input, const Actor& actor) {
  if (auto st = CheckActor(actor); !st) {
    return st.error();
  }
  auto valid = ValidateNewAccount(input);
  if (!valid) {
    return valid.error();
  }
  TimePoint now = clock_.Now();
  Account a;
  a.id = AccountId::New();
  a.username = valid->username;
  a.full_name = valid->full_name;
  a.company = valid->company;
  a.email = valid->email;
  a.phone = valid->phone;
  a.password_hash = valid->password_hash;
  a.state = AccountState::kActive;
  a.created_at = now;
  a.updated_at = now;
  a.last_activity_at = now;
  a.marketing_consent = valid->marketing_consent;
  auto r = db_.Write<Account>([&](soci::session& s) -> Result<Account> {
    int taken = 0;
    std::string username = a.username;
    s << "SELECT COUNT(*) FROM accounts WHERE username = :u", soci::use(username),
        soci::into(taken);
    if (taken > 0) {
      return Error::AlreadyExists("username is already taken");
    }
    AccountRow row = AccountRow::From(a);
    Execute(s, kInsertSql, [&](soci::statement& st) { row.BindUpdate(st); });
    WriteAudit(s, now, actor, "account.create", a.id.str(), "state=active");
    if (a.marketing_consent) {
      AppendConsent(s, a.id, true, now, valid->consent_source, actor.name);
      WriteAudit(s, now, actor, "consent.grant", a.id.str(), "");
    }
    return a;
  });
  if (!r && r.error().code() == ErrorCode::kAlreadyExists) {
    // A concurrent create won the race past the check above: the UNIQUE index caught it.
    return Error::AlreadyExists("username is already taken");
  }
  return r;
}

Result<Account> AccountStore::Get(const AccountId& id) {
  if (id.empty()) {
    return Error::InvalidArgument("an account id is 32 hexadecimal digits");
  }
  return db_.Read<Account>([&](soci::session& s) {
    return LoadOne(s, "WHERE id = :k", id.str(), false, db_.backend());
  });
}

Result<Account> AccountStore::FindByUsername(std::string_view username) {
  if (auto st = ValidateUsername(username); !st) {
    return Error::NotFound("no account with that username");
  }
  std::string u(username);
  return db_.Read<Account>([&](soci::session& s) -> Result<Account> {
    auto a = LoadOne(s, "WHERE username = :k", u, false, db_.backend());
    if (!a && a.error().IsNotFound()) {
      return Error::NotFound("no account with that username");
    }
    return a;
  });
}

Result<Account> AccountStore::Resolve(std::string_view key) {
  // A 32-hex-digit string is an id first; a username may look like one too, so fall back.
  if (AccountId::LooksLikeId(key)) {
    auto a = Get(*AccountId::Parse(key));
    if (a || !a.error().IsNotFound()) {
      return a;
    }
  }
  auto a = FindByUsername(key);
  if (!a && a.error().IsNotFound()) {
    return Error::NotFound("no account with that username or id");
  }
  return a;
}

Result<std::vector<Account>> AccountStore::List(std::optional<AccountState> state) {
  return db_.Read<std::vector<Account>>([&](soci::session& s) -> Result<std::vector<Account>> {
    std::vector<Account> out;
    AccountRow row;
    std::string state_name = state ? std::string(StateName(*state)) : std::string();
    soci::statement st(s);
    row.BindInto(st);
    std::string sql = kAccountSelect;
    if (state) {
      st.exchange(soci::use(state_name));
      sql += "WHERE state = :state ";
    }
    sql += "ORDER BY username";
    st.alloc();
    st.prepare(sql);
    st.define_and_bind();
    st.execute(false);
    while (st.fetch()) {
      auto a = row.ToAccount();
      if (!a) {
        return a.error();
      }
      out.push_back(std::move(*a));
    }
    return out;
  });
}

Result<Account> AccountStore::Update(const AccountId& id, const AccountUpdate& update,
                                     const Actor& actor) {
  if (auto st = CheckActor(actor); !st) {
    return st.error();
  }
  std::vector<std::string> fields;
  std::optional<std::string> phone;
  if (update.full_name) {
    if (auto st = ValidateFullName(*update.full_name); !st) {
      return st.error();
    }
    fields.push_back("full_name");
  }
  if (update.company) {
    if (auto st = ValidateCompany(*update.company); !st) {
      return st.error();
    }
    fields.push_back("company");
  }
  if (update.email) {
    if (auto st = ValidateEmail(*update.email); !st) {
      return st.error();
    }
    fields.push_back("email");
  }
  if (update.phone) {
    auto p = NormalizePhone(*update.phone);
    if (!p) {
      return p.error();
    }
    phone = *p;
    fields.push_back("phone");
  }
  if (fields.empty()) {
    return Error::InvalidArgument("nothing to update: give at least one field");
  }
  std::string detail = "fields=";
  for (std::size_t i = 0; i < fields.size(); ++i) {
    detail += (i ? "," : "") + fields[i];
  }
  TimePoint now = clock_.Now();
  return db_.Write<Account>([&](soci::session& s) -> Result<Account> {
    auto a = LoadOne(s, "WHERE id = :k", id.str(), true, db_.backend());
    if (!a) {
      return a.error();
    }
    if (update.full_name) {
      a->full_name = *update.full_name;
    }
    if (update.company) {
      a->company = *update.company;
    }
    if (update.email) {
      a->email = *update.email;
    }
    if (phone) {
      a->phone = *phone;
    }
    a->updated_at = now;
    SaveAccount(s, *a);
    WriteAudit(s, now, actor, "account.update", id.str(), detail);
    return a;
  });
}

Status AccountStore::SetPasswordHash(const AccountId& id, const std::string& phc,
                                     const Actor& actor) {
  if (auto st = CheckActor(actor); !st) {
    return st.error();
  }
  if (auto st = ValidatePasswordHash(phc, false); !st) {
    return st;
  }
  TimePoint now = clock_.Now();
  auto r = db_.Write<bool>([&](soci::session& s) -> Result<bool> {
    auto a = LoadOne(s, "WHERE id = :k", id.str(), true, db_.backend());
    if (!a) {
      return a.error();
    }
    a->password_hash = phc;
    a->updated_at = now;
    SaveAccount(s, *a);
    WriteAudit(s, now, actor, "account.set_password", id.str(), "");
    return true;
  });
  if (!r) {
    return r.error();
  }
  return {};
}

Result<PublicKey> AccountStore::AddKey(const AccountId& id, std::string_view authorized_keys_line,
                                       const Actor& actor) {
  if (auto st = CheckActor(actor); !st) {
    return st.error();
  }
  auto parsed = ParseAuthorizedKey(authorized_keys_line);
  if (!parsed) {
    return parsed.error();
  }
  PublicKey key = std::move(*parsed);
  key.account_id = id;
  key.added_at = clock_.Now();
  auto r = db_.Write<PublicKey>([&](soci::session& s) -> Result<PublicKey> {
    auto a = LoadOne(s, "WHERE id = :k", id.str(), true, db_.backend());
    if (!a) {
      return a.error();
    }
    std::string account_id = id.str();
    int present = 0;
    s << "SELECT COUNT(*) FROM public_keys WHERE account_id = :a AND fingerprint = :f",
        soci::use(account_id), soci::use(key.fingerprint), soci::into(present);
    if (present > 0) {
      return Error::AlreadyExists("this key is already on the account");
    }
    long long added = ToUnix(key.added_at);
    long long new_id = 0;
    s << "INSERT INTO public_keys (account_id, key_type, key_base64, fingerprint, comment, "
         "added_at) VALUES (:a, :t, :b, :f, :c, :at) RETURNING id",
        soci::use(account_id), soci::use(key.key_type), soci::use(key.key_base64),
        soci::use(key.fingerprint), soci::use(key.comment), soci::use(added), soci::into(new_id);
    key.id = new_id;
    WriteAudit(s, key.added_at, actor, "key.add", account_id,
               "type=" + key.key_type + " fingerprint=" + key.fingerprint);
    return key;
  });
  if (!r && r.error().code() == ErrorCode::kAlreadyExists) {
    return Error::AlreadyExists("this key is already on the account");
  }
  return r;
}

void AccountStore::DeleteRow(soci::session& s, const AccountId& id) {
  std::string sid = id.str();
  db::OneShot(s, "DELETE FROM accounts WHERE id = :id", soci::use(sid)).execute(true);
}

int64_t AccountStore::DeleteKeys(soci::session& s, const AccountId& id) {
  std::string sid = id.str();
  soci::statement st =
      (s.prepare << "DELETE FROM public_keys WHERE account_id = :a", soci::use(sid));
  st.execute(true);
  return static_cast<int64_t>(st.get_affected_rows());
}

Status AccountStore::RemoveKey(const AccountId& id, std::string_view fingerprint,
                               const Actor& actor) {
  if (auto st = CheckActor(actor); !st) {
    return st.error();
  }
  std::string fp(fingerprint);
  if (fp.rfind("SHA256:", 0) != 0) {
    fp = "SHA256:" + fp;
  }
  if (fp.size() != 7 + 43 || !std::all_of(fp.begin() + 7, fp.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '+' || c == '/';
      })) {
    return Error::InvalidArgument(
        "fingerprint must be SHA256: followed by 43 base64 characters (as ssh-keygen -l prints)");
  }
  TimePoint now = clock_.Now();
  auto r = db_.Write<bool>([&](soci::session& s) -> Result<bool> {
    auto a = LoadOne(s, "WHERE id = :k", id.str(), true, db_.backend());
    if (!a) {
      return a.error();
    }
    std::string account_id = id.str();
    soci::statement st = (s.prepare << "DELETE FROM public_keys WHERE account_id = :a AND "
                                       "fingerprint = :f",
                          soci::use(account_id), soci::use(fp));
    st.execute(true);
    if (st.get_affected_rows() == 0) {
      return Error::NotFound("the account has no key with that fingerprint");
    }
    WriteAudit(s, now, actor, "key.remove", account_id, "fingerprint=" + fp);
    return true;
  });
  if (!r) {
    return r.error();
  }
  return {};
}

Result<std::vector<PublicKey>> AccountStore::ListKeys(const AccountId& id) {
  return db_.Read<std::vector<PublicKey>>([&](soci::session& s) -> Result<std::vector<PublicKey>> {
    auto a = LoadOne(s, "WHERE id = :k", id.str(), false, db_.backend());
    if (!a) {
      return a.error();
    }
    return LoadKeys(s, id);
  });
}

std::vector<PublicKey> AccountStore::LoadKeys(soci::session& s, const AccountId& id) {
  std::vector<PublicKey> out;
  std::string account_id = id.str();
  long long key_id = 0, added = 0;
  std::string type, b64, fp, comment;
  soci::statement st =
      (s.prepare << "SELECT id, key_type, key_base64, fingerprint, comment, added_at "
                    "FROM public_keys WHERE account_id = :a ORDER BY id",
       soci::use(account_id), soci::into(key_id), soci::into(type), soci::into(b64), soci::into(fp),
       soci::into(comment), soci::into(added));
  st.execute(false);
  while (st.fetch()) {
    out.push_back({key_id, id, type, b64, fp, comment, FromUnix(added)});
  }
  return out;
}

Result<Account> AccountStore::Close(const AccountId& id, CloseReason reason, const Actor& actor) {
  if (auto st = CheckActor(actor); !st) {
    return st.error();
  }
  TimePoint now = clock_.Now();
  return db_.Write<Account>([&](soci::session& s) -> Result<Account> {
    auto a = LoadOne(s, "WHERE id = :k", id.str(), true, db_.backend());
    if (!a) {
      return a.error();
    }
    if (a->state == AccountState::kClosed) {
      return Error::AlreadyExists("the account is already closed");
    }
    std::string from(StateName(a->state));
    a->state = AccountState::kClosed;
    a->closed_at = now;
    a->closed_reason = reason;
    a->updated_at = now;
    Unschedule(*a);
    SaveAccount(s, *a);
    WriteAudit(s, now, actor, "account.close", id.str(),
               "reason=" + std::string(CloseReasonName(reason)) + " from=" + from);
    return a;
  });
}

Result<Account> AccountStore::Reopen(const AccountId& id, const Actor& actor) {
  if (auto st = CheckActor(actor); !st) {
    return st.error();
  }
  TimePoint now = clock_.Now();
  return db_.Write<Account>([&](soci::session& s) -> Result<Account> {
    auto a = LoadOne(s, "WHERE id = :k", id.str(), true, db_.backend());
    if (!a) {
      return a.error();
    }
    if (a->state != AccountState::kClosed) {
      return Error::AlreadyExists("the account is not closed");
    }
    a->state = AccountState::kActive;
    a->closed_at.reset();
    a->closed_reason.reset();
    // Reopening is the admin confirming the account on the client's behalf: a new idle period
    // starts now, and any earlier inactivity notice belongs to the old one.
    a->last_activity_at = now;
    a->notice_queued_at.reset();
    a->notice_delivered_at.reset();
    a->updated_at = now;
    Unschedule(*a);
    SaveAccount(s, *a);
    WriteAudit(s, now, actor, "account.reopen", id.str(), "state=active");
    return a;
  });
}

Status AccountStore::GrantConsent(const AccountId& id, std::string_view source,
                                  const Actor& actor) {
  if (auto st = CheckActor(actor); !st) {
    return st.error();
  }
  if (auto st = ValidateConsentSource(source); !st) {
    return st;
  }
  TimePoint now = clock_.Now();
  std::string src(source);
  auto r = db_.Write<bool>([&](soci::session& s) -> Result<bool> {
    auto a = LoadOne(s, "WHERE id = :k", id.str(), true, db_.backend());
    if (!a) {
      return a.error();
    }
    if (a->marketing_consent) {
      return Error::AlreadyExists("marketing consent is already granted");
    }
    a->marketing_consent = true;
    a->consent_withdrawn_at.reset();
    a->updated_at = now;
    SaveAccount(s, *a);
    AppendConsent(s, id, true, now, src, actor.name);
    WriteAudit(s, now, actor, "consent.grant", id.str(), "");
    return true;
  });
  if (!r) {
    return r.error();
  }
  return {};
}

Status AccountStore::WithdrawConsent(const AccountId& id, std::string_view source,
                                     const Actor& actor) {
  if (auto st = CheckActor(actor); !st) {
    return st.error();
  }
  if (auto st = ValidateConsentSource(source); !st) {
    return st;
  }
  TimePoint now = clock_.Now();
  std::string src(source);
  auto r = db_.Write<bool>([&](soci::session& s) -> Result<bool> {
    auto a = LoadOne(s, "WHERE id = :k", id.str(), true, db_.backend());
    if (!a) {
      return a.error();
    }
    if (!a->marketing_consent) {
      return Error::AlreadyExists("marketing consent is not granted");
    }
    a->marketing_consent = false;
    a->consent_withdrawn_at = now;
    a->updated_at = now;
    Unschedule(*a);
    SaveAccount(s, *a);
    AppendConsent(s, id, false, now, src, actor.name);
    WriteAudit(s, now, actor, "consent.withdraw", id.str(), "");
    return true;
  });
  if (!r) {
    return r.error();
  }
  return {};
}

Result<std::vector<ConsentEvent>> AccountStore::ListConsent(const AccountId& id) {
  return db_.Read<std::vector<ConsentEvent>>(
      [&](soci::session& s) -> Result<std::vector<ConsentEvent>> { return LoadConsent(s, id); });
}

void AccountStore::AppendConsent(soci::session& s, const AccountId& id, bool granted, TimePoint at,
                                 const std::string& source, const std::string& actor) {
  std::string account_id = id.str(), src = source, who = actor;
  int g = granted ? 1 : 0;
  long long t = ToUnix(at);
  s << "INSERT INTO consent_events (account_id, granted, at, source, actor) "
       "VALUES (:account_id, :granted, :at, :source, :actor)",
      soci::use(account_id), soci::use(g), soci::use(t), soci::use(src), soci::use(who);
}

std::vector<ConsentEvent> AccountStore::LoadConsent(soci::session& s, const AccountId& id) {
  std::vector<ConsentEvent> out;
  std::string account_id = id.str();
  long long event_id = 0, at = 0;
  int granted = 0;
  std::string source, who;
  soci::statement st = (s.prepare << "SELECT id, granted, at, source, actor FROM consent_events "
                                     "WHERE account_id = :a ORDER BY id",
                        soci::use(account_id), soci::into(event_id), soci::into(granted),
                        soci::into(at), soci::into(source), soci::into(who));
  st.execute(false);
  while (st.fetch()) {
    out.push_back({event_id, id, granted != 0, FromUnix(at), source, who});
  }
  return out;
}

int64_t AccountStore::DeleteConsent(soci::session& s, const AccountId& id) {
  std::string sid = id.str();
  soci::statement st =
      db::OneShot(s, "DELETE FROM consent_events WHERE account_id = :id", soci::use(sid));
  st.execute(true);
  return static_cast<int64_t>(st.get_affected_rows());
}

Result<Account> AccountStore::RecordLogin(const AccountId& id) {
  TimePoint now = clock_.Now();
  return db_.Write<Account>([&](soci::session& s) -> Result<Account> {
    auto a = LoadOne(s, "WHERE id = :k", id.str(), true, db_.backend());
    if (!a) {
      return a.error();
    }
    a->last_login_at = now;
    a->last_activity_at = now;
    if (a->state == AccountState::kConfirmationPending) {
      // The login is the client's confirmation: a new idle period starts.
      a->state = AccountState::kActive;
      a->notice_queued_at.reset();
      a->notice_delivered_at.reset();
      a->updated_at = now;
      WriteAudit(s, now, Actor{"sftpd"}, "account.confirm", id.str(),
                 "from=confirmation_pending via=login");
    }
    SaveAccount(s, *a);
    return a;
  });
}

Status AccountStore::RecordActivity(const AccountId& id, TimePoint at) {
  auto r = db_.Write<bool>([&](soci::session& s) -> Result<bool> {
    std::string account_id = id.str();
    long long t = ToUnix(at);
    // Never moves activity backwards (a late transfer report after a newer login).
    soci::statement st =
        (s.prepare << "UPDATE accounts SET last_activity_at = :t WHERE id = :a AND "
                      "(last_activity_at IS NULL OR last_activity_at < :t2)",
         soci::use(t), soci::use(account_id), soci::use(t));
    st.execute(true);
    if (st.get_affected_rows() == 0) {
      int exists = 0;
      s << "SELECT COUNT(*) FROM accounts WHERE id = :a", soci::use(account_id), soci::into(exists);
      if (exists == 0) {
        return Error::NotFound("no such account");
      }
    }
    return true;
  });
  if (!r) {
    return r.error();
  }
  return {};
}

Status AccountStore::RecordAudit(const AccountId& id, std::string_view action,
                                 std::string_view detail, const Actor& actor) {
  const TimePoint now = clock_.Now();
  auto r = db_.Write<bool>([&](soci::session& s) -> Result<bool> {
    std::string account_id = id.str();
    int exists = 0;
    s << "SELECT COUNT(*) FROM accounts WHERE id = :a", soci::use(account_id), soci::into(exists);
    if (exists == 0) {
      return Error::NotFound("no such account");
    }
    WriteAudit(s, now, actor, std::string(action), account_id, std::string(detail));
    return true;
  });
  if (!r) {
    return r.error();
  }
  return {};
}

Result<std::vector<AuditEvent>> AccountStore::ListAudit(const std::optional<AccountId>& id,
                                                        int limit) {
  if (limit <= 0 || limit > 100000) {
    limit = 1000;
  }
  std::optional<std::string> filter;
  if (id) {
    filter = id->str();
  }
  return db_.Read<std::vector<AuditEvent>>(
      [&](soci::session& s) -> Result<std::vector<AuditEvent>> {
        return db::AuditLog::List(s, filter, limit);
      });
}

}  // namespace sftplc::accounts
