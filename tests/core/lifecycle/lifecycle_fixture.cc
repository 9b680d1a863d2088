#include "tests/core/lifecycle/lifecycle_fixture.h"

#include <fmt/format.h>

#include "sftpd/core/base/log.h"
#include "sftpd/core/db/sql.h"
#include "sftpd/core/lifecycle/account_rows.h"

namespace sftplc::testing {

std::unique_ptr<LifecycleEnv> LifecycleEnv::Create(db::Backend backend, const std::string& prefix) {
  SetLogLevel("warn");
  auto env = std::make_unique<LifecycleEnv>();
  env->test_db = TestDatabase::Create(backend, prefix);
  if (!env->test_db) {
    return nullptr;
  }
  env->db = env->test_db->OpenMigrated();
  if (!env->db) {
    return nullptr;
  }
  env->cfg.storage.root = env->storage.path();
  env->cfg.smtp.from = "CX Services secure FTP <sftp@example.com>";
  env->cfg.lifecycle.retry_base = Seconds(3600);
  env->cfg.lifecycle.retry_max = Seconds(86400);
  env->runner = std::make_unique<lifecycle::LifecycleRunner>(
      *env->db, env->cfg, &env->mailer, notify::TemplateSet::Defaults(), GetLogger("lifecycle"));
  return env;
}

AccountId LifecycleEnv::AddAccount(TimePoint created, bool consent, const std::string& tag) {
  AccountId id = AccountId::New();
  auto r = db->Write<int>([&](soci::session& s) -> Result<int> {
    std::string sid = id.str(), user = "user" + id.str().substr(0, 12) + tag,
                name = "Person " + id.str().substr(0, 6) + tag,
                email = "mail" + id.str().substr(0, 10) + "@example.org",
                phone = "+4420790000" + id.str().substr(0, 2);
    std::string company = "Company " + tag;
    long long t = ToUnix(created);
    int c = consent ? 1 : 0;
    s << "INSERT INTO accounts (id, username, full_name, company, email, phone, password_hash, "
         "state, created_at, updated_at, last_activity_at, marketing_consent, next_action) "
         "VALUES (:id, :u, :n, :c, :e, :p, '', 'active', :t, :t2, :t3, :mc, '')",
        soci::use(sid), soci::use(user), soci::use(name), soci::use(company), soci::use(email),
        soci::use(phone), soci::use(t), soci::use(t), soci::use(t), soci::use(c);
    std::string ktype = "ssh-ed25519", kb64 = "AAAAC3NzaC1lZDI1NTE5AAAAI" + id.str(),
                fp = "SHA256:" + id.str();
    s << "INSERT INTO public_keys (account_id, key_type, key_base64, fingerprint, comment, "
         "added_at) VALUES (:id, :kt, :kb, :fp, 'laptop', :t)",
        soci::use(sid), soci::use(ktype), soci::use(kb64), soci::use(fp), soci::use(t);
    if (consent) {
      std::string src = "web form", actor = "admin:test";
      s << "INSERT INTO consent_events (account_id, granted, at, source, actor) VALUES (:id, 1, "
           ":t, :s, :a)",
          soci::use(sid), soci::use(t), soci::use(src), soci::use(actor);
    }
    return 0;
  });
  EXPECT_TRUE(r) << r.error().ToString();
  WriteFile(storage.Sub(id.str() + "/inbox/report.pdf"), "personal file " + id.str());
  return id;
}

void LifecycleEnv::Login(const AccountId& id, TimePoint t) {
  auto r = db->Write<int>([&](soci::session& s) -> Result<int> {
    std::string sid = id.str();
    long long v = ToUnix(t);
    s << "UPDATE accounts SET last_login_at = :t, last_activity_at = :t2, updated_at = :t3, "
         "state = CASE WHEN state = 'confirmation_pending' THEN 'active' ELSE state END "
         "WHERE id = :id",
        soci::use(v), soci::use(v), soci::use(v), soci::use(sid);
    return 0;
  });
  EXPECT_TRUE(r);
}

void LifecycleEnv::Transfer(const AccountId& id, TimePoint t) {
  auto r = db->Write<int>([&](soci::session& s) -> Result<int> {
    std::string sid = id.str();
    long long v = ToUnix(t);
    s << "UPDATE accounts SET last_activity_at = :t WHERE id = :id", soci::use(v), soci::use(sid);
    return 0;
  });
  EXPECT_TRUE(r);
}

void LifecycleEnv::Close(const AccountId& id, TimePoint t) {
  auto r = db->Write<int>([&](soci::session& s) -> Result<int> {
    std::string sid = id.str();
    long long v = ToUnix(t);
    s << "UPDATE accounts SET state = 'closed', closed_at = :t, closed_reason = 'request', "
         "updated_at = :t2 WHERE id = :id",
        soci::use(v), soci::use(v), soci::use(sid);
    return 0;
  });
  EXPECT_TRUE(r);
}

void LifecycleEnv::Reopen(const AccountId& id, TimePoint t) {
  auto r = db->Write<int>([&](soci::session& s) -> Result<int> {
    std::string sid = id.str();
    long long v = ToUnix(t);
    s << "UPDATE accounts SET state = 'active', closed_at = NULL, closed_reason = NULL, "
         "notice_queued_at = NULL, notice_delivered_at = NULL, last_activity_at = :t, "
         "updated_at = :t2 WHERE id = :id",
        soci::use(v), soci::use(v), soci::use(sid);
    return 0;
  });
  EXPECT_TRUE(r);
}

void LifecycleEnv::WithdrawConsent(const AccountId& id, TimePoint t) {
  auto r = db->Write<int>([&](soci::session& s) -> Result<int> {
    std::string sid = id.str(), src = "email", actor = "admin:test";
    long long v = ToUnix(t);
    s << "UPDATE accounts SET marketing_consent = 0, consent_withdrawn_at = :t, updated_at = :t2 "
         "WHERE id = :id",
        soci::use(v), soci::use(v), soci::use(sid);
    s << "INSERT INTO consent_events (account_id, granted, at, source, actor) VALUES (:id, 0, "
         ":t, :s, :a)",
        soci::use(sid), soci::use(v), soci::use(src), soci::use(actor);
    return 0;
  });
  EXPECT_TRUE(r);
}

void LifecycleEnv::GrantConsent(const AccountId& id, TimePoint t) {
  auto r = db->Write<int>([&](soci::session& s) -> Result<int> {
    std::string sid = id.str(), src = "email", actor = "admin:test";
    long long v = ToUnix(t);
    s << "UPDATE accounts SET marketing_consent = 1, consent_withdrawn_at = NULL, "
         "updated_at = :t WHERE id = :id",
        soci::use(v), soci::use(sid);
    s << "INSERT INTO consent_events (account_id, granted, at, source, actor) VALUES (:id, 1, "
         ":t, :s, :a)",
        soci::use(sid), soci::use(v), soci::use(src), soci::use(actor);
    return 0;
  });
  EXPECT_TRUE(r);
}

std::optional<accounts::Account> LifecycleEnv::Get(const AccountId& id) {
  auto r = db->Read<std::optional<accounts::Account>>(
      [&](soci::session& s) -> Result<std::optional<accounts::Account>> {
        return lifecycle::LoadAccount(s, db->backend(), id, false);
      });
  EXPECT_TRUE(r);
  return r ? *r : std::nullopt;
}

long long LifecycleEnv::Count(const std::string& sql) {
  auto r = db->Read<long long>([&](soci::session& s) -> Result<long long> {
    long long n = 0;
    s << sql, soci::into(n);
    return n;
  });
  EXPECT_TRUE(r) << r.error().ToString();
  return r ? *r : -1;
}

long long LifecycleEnv::CountFor(const std::string& table, const AccountId& id) {
  auto r = db->Read<long long>([&](soci::session& s) -> Result<long long> {
    long long n = 0;
    std::string sid = id.str();
    s << fmt::format("SELECT COUNT(*) FROM {} WHERE account_id = :id", table), soci::into(n),
        soci::use(sid);
    return n;
  });
  EXPECT_TRUE(r) << r.error().ToString();
  return r ? *r : -1;
}

lifecycle::SweepReport Sweep(LifecycleEnv& env, TimePoint now) {
  auto r = env.runner->RunOnce(now);
  EXPECT_TRUE(r) << r.error().ToString();
  return r ? *r : lifecycle::SweepReport{};
}

}  // namespace sftplc::testing
