#include "sftpd/core/lifecycle/contact_store.h"

#include <fmt/format.h>

#include "sftpd/core/accounts/account_store.h"
#include "sftpd/core/accounts/validation.h"
#include "sftpd/core/db/audit_log.h"
#include "sftpd/core/db/sql.h"
#include "sftpd/core/lifecycle/policy.h"

namespace sftplc::lifecycle {
namespace {

constexpr const char* kContactColumns =
    "SELECT account_id, full_name, company, email, phone, consent, consent_withdrawn_at, "
    "last_communication_at, created_at, delete_due FROM marketing_contacts ";

// One row of marketing_contacts, bound once for every read.
struct ContactRow {
  std::string id;
  MarketingContact c;
  int consent = 0;
  long long withdrawn = 0, last_comm = 0, created = 0, due = 0;
  soci::indicator i_withdrawn = soci::i_null;

  void BindInto(soci::statement& st) {
    st.exchange(soci::into(id));
    st.exchange(soci::into(c.full_name));
    st.exchange(soci::into(c.company));
    st.exchange(soci::into(c.email));
    st.exchange(soci::into(c.phone));
    st.exchange(soci::into(consent));
    st.exchange(soci::into(withdrawn, i_withdrawn));
    st.exchange(soci::into(last_comm));
    st.exchange(soci::into(created));
    st.exchange(soci::into(due));
  }
  std::optional<MarketingContact> ToContact() const {
    auto aid = AccountId::Parse(id);
    if (!aid) {
      return std::nullopt;
    }
    MarketingContact out = c;
    out.account_id = *aid;
    out.consent = consent != 0;
    out.consent_withdrawn_at =
        i_withdrawn == soci::i_ok ? std::optional(FromUnix(withdrawn)) : std::nullopt;
    out.last_communication_at = FromUnix(last_comm);
    out.created_at = FromUnix(created);
    out.delete_due = FromUnix(due);
    return out;
  }
};

soci::statement Prepare(soci::session& s, ContactRow& row, const std::string& sql,
                        std::string* param) {
  soci::statement st(s);
  row.BindInto(st);
  if (param != nullptr) {
    st.exchange(soci::use(*param));
  }
  st.alloc();
  st.prepare(sql, soci::details::st_one_time_query);
  st.define_and_bind();
  return st;
}

int64_t Exec(soci::session& s, const std::string& sql, const std::string& id) {
  std::string v = id;
  soci::statement st = db::OneShot(s, sql, soci::use(v));
  st.execute(true);
  return st.get_affected_rows();
}

}  // namespace

std::optional<MarketingContact> ContactStore::Load(soci::session& s, db::Backend b,
                                                   const AccountId& id, bool lock) {
  std::string sid = id.str();
  std::string sql = std::string(kContactColumns) + "WHERE account_id = :id";
  if (lock && b == db::Backend::kPostgresql) {
    sql += " FOR UPDATE";
  }
  ContactRow row;
  soci::statement st = Prepare(s, row, sql, &sid);
  if (!st.execute(true)) {
    return std::nullopt;
  }
  return row.ToContact();
}

void ContactStore::Insert(soci::session& s, const MarketingContact& c) {
  std::string sid = c.account_id.str(), name = c.full_name, company = c.company, email = c.email,
              phone = c.phone;
  int consent = c.consent ? 1 : 0;
  long long withdrawn = c.consent_withdrawn_at ? ToUnix(*c.consent_withdrawn_at) : 0;
  soci::indicator i_withdrawn = c.consent_withdrawn_at ? soci::i_ok : soci::i_null;
  long long last_comm = ToUnix(c.last_communication_at), created = ToUnix(c.created_at),
            due = ToUnix(c.delete_due);
  s << "INSERT INTO marketing_contacts (account_id, full_name, company, email, phone, consent, "
       "consent_withdrawn_at, last_communication_at, created_at, delete_due) VALUES (:id, :n, "
       ":c, :e, :p, :consent, :w, :lc, :ca, :due)",
      soci::use(sid), soci::use(name), soci::use(company), soci::use(email), soci::use(phone),
      soci::use(consent), soci::use(withdrawn, i_withdrawn), soci::use(last_comm),
      soci::use(created), soci::use(due);
}

void ContactStore::Delete(soci::session& s, const AccountId& id, TimePoint now,
                          const std::string& reason) {
  std::string sid = id.str(), rs = reason;
  long long t = ToUnix(now);
  Exec(s, "DELETE FROM marketing_contacts WHERE account_id = :id", sid);
  accounts::AccountStore::DeleteConsent(s, id);
  s << "UPDATE purge_receipts SET contact_deleted_at = :t, contact_deleted_reason = :r "
       "WHERE account_id = :id",
      soci::use(t), soci::use(rs), soci::use(sid);
  db::AuditLog::Append(s, now, "lifecycle", "lifecycle.contact_delete", sid, "reason=" + reason);
}

std::vector<AccountId> ContactStore::Due(soci::session& s, db::Backend b, TimePoint now,
                                         int limit) {
  long long t = ToUnix(now);
  std::string id;
  soci::statement st = db::OneShot(
      s,
      fmt::format("SELECT account_id FROM marketing_contacts WHERE {} ORDER BY delete_due "
                  "LIMIT :n{}",
                  kDue, b == db::Backend::kPostgresql ? " FOR UPDATE SKIP LOCKED" : ""),
      soci::into(id), soci::use(t), soci::use(limit));
  std::vector<AccountId> out;
  st.execute();
  while (st.fetch()) {
    if (auto aid = AccountId::Parse(id)) {
      out.push_back(*aid);
    }
  }
  return out;
}

std::vector<std::pair<AccountId, TimePoint>> ContactStore::DueBy(soci::session& s,
                                                                 TimePoint until) {
  long long u = ToUnix(until), due = 0;
  std::string id;
  soci::statement st =
      db::OneShot(s,
                  fmt::format("SELECT account_id, delete_due FROM marketing_contacts WHERE {} "
                              "ORDER BY delete_due",
                              kDue),
                  soci::into(id), soci::into(due), soci::use(u));
  std::vector<std::pair<AccountId, TimePoint>> out;
  st.execute();
  while (st.fetch()) {
    if (auto aid = AccountId::Parse(id)) {
      out.emplace_back(*aid, FromUnix(due));
    }
  }
  return out;
}

void ContactStore::Scan(soci::session& s, const std::function<void(const MarketingContact&)>& fn) {
  ContactRow row;
  soci::statement st =
      Prepare(s, row, std::string(kContactColumns) + "ORDER BY delete_due", nullptr);
  st.execute();
  while (st.fetch()) {
    if (auto c = row.ToContact()) {
      fn(*c);
    }
  }
}

void ContactStore::InsertReceipt(soci::session& s, const PurgeReceipt& r) {
  std::string sid = r.account_id.str(), rs = r.reason;
  long long purged = ToUnix(r.purged_at);
  long long closed = r.closed_at ? ToUnix(*r.closed_at) : 0;
  soci::indicator i_closed = r.closed_at ? soci::i_ok : soci::i_null;
  long long fd = r.files_deleted, bd = r.bytes_deleted, kd = r.keys_deleted,
            ud = r.usage_rows_deleted, nd = r.notices_deleted, cd = r.consent_events_deleted;
  int kept = r.contact_kept ? 1 : 0;
  s << "INSERT INTO purge_receipts (account_id, purged_at, reason, closed_at, files_deleted, "
       "bytes_deleted, keys_deleted, usage_rows_deleted, notices_deleted, "
       "consent_events_deleted, contact_kept) VALUES (:id, :at, :r, :ca, :fd, :bd, :kd, :ud, "
       ":nd, :cd, :kept)",
      soci::use(sid), soci::use(purged), soci::use(rs), soci::use(closed, i_closed), soci::use(fd),
      soci::use(bd), soci::use(kd), soci::use(ud), soci::use(nd), soci::use(cd), soci::use(kept);
}

void ContactStore::AddRemoved(soci::session& s, const AccountId& id, int64_t files, int64_t bytes) {
  std::string sid = id.str();
  long long f = files, b = bytes;
  s << "UPDATE purge_receipts SET files_deleted = files_deleted + :f, "
       "bytes_deleted = bytes_deleted + :b WHERE account_id = :id",
      soci::use(f), soci::use(b), soci::use(sid);
}

std::optional<PurgeReceipt> ContactStore::LoadReceipt(soci::session& s, const AccountId& id) {
  std::string sid = id.str();
  PurgeReceipt r;
  long long purged = 0, closed = 0, cdel = 0;
  soci::indicator i_closed = soci::i_null, i_cdel = soci::i_null;
  long long fd = 0, bd = 0, kd = 0, ud = 0, nd = 0, cd = 0;
  int kept = 0;
  s << "SELECT purged_at, reason, closed_at, files_deleted, bytes_deleted, keys_deleted, "
       "usage_rows_deleted, notices_deleted, consent_events_deleted, contact_kept, "
       "contact_deleted_at, contact_deleted_reason FROM purge_receipts WHERE "
       "account_id = :id",
      soci::into(purged), soci::into(r.reason), soci::into(closed, i_closed), soci::into(fd),
      soci::into(bd), soci::into(kd), soci::into(ud), soci::into(nd), soci::into(cd),
      soci::into(kept), soci::into(cdel, i_cdel), soci::into(r.contact_deleted_reason),
      soci::use(sid);
  if (!s.got_data()) {
    return std::nullopt;
  }
  r.account_id = id;
  r.purged_at = FromUnix(purged);
  if (i_closed == soci::i_ok) {
    r.closed_at = FromUnix(closed);
  }
  r.files_deleted = fd;
  r.bytes_deleted = bd;
  r.keys_deleted = kd;
  r.usage_rows_deleted = ud;
  r.notices_deleted = nd;
  r.consent_events_deleted = cd;
  r.contact_kept = kept != 0;
  if (i_cdel == soci::i_ok) {
    r.contact_deleted_at = FromUnix(cdel);
  }
  return r;
}

int64_t ContactStore::CountReceipts(soci::session& s) {
  long long n = 0;
  s << "SELECT COUNT(*) FROM purge_receipts", soci::into(n);
  return n;
}

Result<std::optional<PurgeReceipt>> ContactStore::GetReceipt(const AccountId& id) {
  return db_.Read<std::optional<PurgeReceipt>>(
      [&](soci::session& s) -> Result<std::optional<PurgeReceipt>> { return LoadReceipt(s, id); });
}

Result<std::optional<MarketingContact>> ContactStore::GetContact(const AccountId& id) {
  const db::Backend b = db_.backend();
  return db_.Read<std::optional<MarketingContact>>(
      [&](soci::session& s) -> Result<std::optional<MarketingContact>> {
        return Load(s, b, id, false);
      });
}

Result<std::vector<AccountId>> ContactStore::ReceiptsChangedSince(TimePoint since) {
  return db_.Read<std::vector<AccountId>>([&](soci::session& s) -> Result<std::vector<AccountId>> {
    long long t = ToUnix(since);
    std::string id;
    std::vector<AccountId> out;
    soci::statement q = db::OneShot(s,
                                    "SELECT account_id FROM purge_receipts WHERE purged_at >= :t "
                                    "OR contact_deleted_at >= :t2 ORDER BY account_id",
                                    soci::into(id), soci::use(t, "t"), soci::use(t, "t2"));
    q.execute(false);
    while (q.fetch()) {
      auto parsed = AccountId::Parse(id);
      if (!parsed) {
        return Error::Internal("purge_receipts holds a malformed account id");
      }
      out.push_back(*parsed);
    }
    return out;
  });
}

Status ContactStore::WithdrawConsent(const AccountId& id, TimePoint now, const std::string& source,
                                     const std::string& actor) {
  if (auto st = accounts::ValidateConsentSource(source); !st) {
    return st;
  }
  const db::Backend b = db_.backend();
  auto r = db_.Write<int>([&](soci::session& s) -> Result<int> {
    auto c = Load(s, b, id, true);
    if (!c) {
      return Error::NotFound("no marketing contact for this account id");
    }
    if (!c->consent) {
      return Error::AlreadyExists("consent is already withdrawn");
    }
    ContactRetention cr{false, now, c->last_communication_at};
    long long t = ToUnix(now), due = ToUnix(ContactDeadline(cr, cfg_));
    std::string sid = id.str();
    accounts::AccountStore::AppendConsent(s, id, false, now, source, actor);
    s << "UPDATE marketing_contacts SET consent = 0, consent_withdrawn_at = :t, delete_due = :d "
         "WHERE account_id = :id",
        soci::use(t), soci::use(due), soci::use(sid);
    // The same action as a withdrawal on a live account; the detail says which record.
    db::AuditLog::Append(s, now, actor, "consent.withdraw", sid, "record=marketing_contact");
    return 0;
  });
  if (!r) {
    return r.error();
  }
  return {};
}

}  // namespace sftplc::lifecycle
