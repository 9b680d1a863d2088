#include "sftpd/core/accounts/account_store.h"

#include <gtest/gtest.h>

#include "sftpd/core/accounts/public_key.h"
#include "sftpd/core/db/sql.h"
#include "tests/core/accounts/test_keys.h"
#include "tests/core/db/test_database.h"
#include "tests/testing/fake_clock.h"

namespace sftplc::accounts {
namespace {

using ::sftplc::testing::FakeClock;
using ::sftplc::testing::T;
using ::sftplc::testing::TestDatabase;

const Actor kAdmin{"admin:root"};
constexpr const char* kPhc = "$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2g";

NewAccount Alice() {
  return {
      "alice", "Alice Example", "Example Ltd", "alice@example.com", "+44 151 357 7700", kPhc, false,
      ""};
}

class AccountStoreTest : public ::testing::TestWithParam<db::Backend> {
 protected:
  void SetUp() override {
    SFTPLC_CREATE_TEST_DATABASE(tdb_, "accounts_test");
    db_ = tdb_->OpenMigrated();
    ASSERT_TRUE(db_);
    store_ = std::make_unique<AccountStore>(*db_, clock_);
  }

  Account MustCreate(const NewAccount& n) {
    auto a = store_->Create(n, kAdmin);
    EXPECT_TRUE(a) << a.error().ToString();
    return a.value_or(Account{});
  }

  // Every row of every table, as text: "nothing changed" compares two snapshots.
  std::string Snapshot() {
    auto r = db_->Read<std::string>([&](soci::session& s) -> Result<std::string> {
      std::string out;
      for (const char* table : {"accounts", "public_keys", "consent_events", "audit_events"}) {
        int n = 0;
        s << std::string("SELECT COUNT(*) FROM ") + table, soci::into(n);
        out += std::string(table) + "=" + std::to_string(n) + ";";
      }
      std::string u, f, c, e, p;
      long long upd = 0;
      soci::statement st = (s.prepare << "SELECT username, full_name, company, email, phone, "
                                         "updated_at FROM accounts ORDER BY id",
                            soci::into(u), soci::into(f), soci::into(c), soci::into(e),
                            soci::into(p), soci::into(upd));
      st.execute(false);
      while (st.fetch()) {
        out += u + "|" + f + "|" + c + "|" + e + "|" + p + "|" + std::to_string(upd) + ";";
      }
      return out;
    });
    EXPECT_TRUE(r);
    return r.value_or("");
  }

  FakeClock clock_{"2026-11-25T10:00:00Z"};
  std::unique_ptr<TestDatabase> tdb_;
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<AccountStore> store_;
};

// Create stores every field (phone normalised), a random id, active state, and an audit row;
// Get, FindByUsername and Resolve (by username and by id) return the same account.
TEST_P(AccountStoreTest, CreateAndRead) {
  Account a = MustCreate(Alice());
  EXPECT_EQ(a.id.str().size(), 32u);
  EXPECT_EQ(a.state, AccountState::kActive);
  EXPECT_EQ(a.phone, "+441513577700");
  EXPECT_EQ(a.created_at, T("2026-11-25T10:00:00Z"));
  EXPECT_EQ(a.last_activity_at, a.created_at);

  auto got = store_->Get(a.id);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->username, "alice");
  EXPECT_EQ(got->full_name, "Alice Example");
  EXPECT_EQ(got->company, "Example Ltd");
  EXPECT_EQ(got->email, "alice@example.com");
  EXPECT_EQ(got->phone, "+441513577700");
  EXPECT_EQ(got->password_hash, kPhc);
  EXPECT_EQ(got->created_at, a.created_at);
  EXPECT_FALSE(got->last_login_at);
  EXPECT_FALSE(got->closed_at);
  EXPECT_FALSE(got->marketing_consent);
  EXPECT_EQ(store_->FindByUsername("alice")->id, a.id);
  EXPECT_EQ(store_->Resolve("alice")->id, a.id);
  EXPECT_EQ(store_->Resolve(a.id.str())->id, a.id);

  auto audit = store_->ListAudit(a.id, 10);
  ASSERT_TRUE(audit);
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0].action, "account.create");
  EXPECT_EQ((*audit)[0].actor, "admin:root");
  EXPECT_EQ((*audit)[0].account_id, a.id.str());
  EXPECT_EQ((*audit)[0].detail.find("alice"), std::string::npos);
}

// Unknown accounts are kNotFound by id, username and either form of Resolve.
TEST_P(AccountStoreTest, NotFound) {
  MustCreate(Alice());
  EXPECT_EQ(store_->Get(AccountId::New()).error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->FindByUsername("bob").error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->Resolve("bob").error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->Resolve(AccountId::New().str()).error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->Resolve("'; DROP TABLE accounts; --").error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(store_->Resolve("alice"));
}

// A username made of 32 hex digits still resolves by name.
TEST_P(AccountStoreTest, ResolveHexUsername) {
  NewAccount n = Alice();
  n.username = "0123456789abcdef0123456789abcdef";
  Account a = MustCreate(n);
  EXPECT_EQ(store_->Resolve(n.username)->id, a.id);
}

// A second account with the same username is kAlreadyExists and changes nothing.
TEST_P(AccountStoreTest, DuplicateUsername) {
  MustCreate(Alice());
  std::string before = Snapshot();
  NewAccount dup = Alice();
  dup.email = "other@example.com";
  auto r = store_->Create(dup, kAdmin);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_NE(r.error().message().find("username"), std::string::npos);
  EXPECT_EQ(Snapshot(), before);
}

// Bad input in any field of create or update is kInvalidArgument and changes nothing.
TEST_P(AccountStoreTest, BadInputChangesNothing) {
  Account a = MustCreate(Alice());
  std::string before = Snapshot();
  std::string too_long(201, 'x');
  const std::string bad_utf8 =
      "Al\xff"
      "ce";
  const std::string sql = "x'); DROP TABLE accounts; --";
  struct Case {
    std::string field;
    std::string value;
  };
  std::vector<Case> cases = {{"username", ""},
                             {"username", "Al"},
                             {"username", std::string(33, 'a')},
                             {"username", sql},
                             {"username", bad_utf8},
                             {"full_name", ""},
                             {"full_name", too_long},
                             {"full_name", bad_utf8},
                             {"full_name", "a\x01z"},
                             {"company", too_long},
                             {"company", bad_utf8},
                             {"email", ""},
                             {"email", "no-at"},
                             {"email", sql},
                             {"email", bad_utf8 + "@x.org"},
                             {"email", std::string(250, 'a') + "@x.org"},
                             {"phone", ""},
                             {"phone", "0151 357 7700"},
                             {"phone", "+44 ABC"},
                             {"phone", sql},
                             {"phone", "+123"},
                             {"phone", std::string(70, '1')},
                             {"phone", bad_utf8}};
  for (const Case& c : cases) {
    NewAccount n = Alice();
    n.username = "carol";
    AccountUpdate u;
    if (c.field == "username") {
      n.username = c.value;
    } else if (c.field == "full_name") {
      n.full_name = c.value;
      u.full_name = c.value;
    } else if (c.field == "company") {
      n.company = c.value;
      u.company = c.value;
    } else if (c.field == "email") {
      n.email = c.value;
      u.email = c.value;
    } else {
      n.phone = c.value;
      u.phone = c.value;
    }
    auto r = store_->Create(n, kAdmin);
    ASSERT_FALSE(r) << c.field << " create";
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << c.field;
    if (c.field != "username") {
      auto up = store_->Update(a.id, u, kAdmin);
      ASSERT_FALSE(up) << c.field << " update";
      EXPECT_EQ(up.error().code(), ErrorCode::kInvalidArgument) << c.field;
    }
  }
  NewAccount consent = Alice();
  consent.username = "carol";
  consent.marketing_consent = true;
  consent.consent_source = "";
  EXPECT_FALSE(store_->Create(consent, kAdmin));
  EXPECT_FALSE(store_->GrantConsent(a.id, "", kAdmin));
  EXPECT_FALSE(store_->GrantConsent(a.id, bad_utf8, kAdmin));
  EXPECT_FALSE(store_->SetPasswordHash(a.id, "not-a-phc", kAdmin));
  EXPECT_FALSE(store_->AddKey(a.id, "ssh-ed25519 " + sql, kAdmin));
  EXPECT_FALSE(store_->RemoveKey(a.id, sql, kAdmin));
  EXPECT_EQ(Snapshot(), before);
}

// SQL metacharacters in valid fields are stored as plain values.
TEST_P(AccountStoreTest, MetacharactersAreData) {
  NewAccount n = Alice();
  n.full_name = "Robert'); DROP TABLE accounts; --";
  n.company = "\"Quotes\" & ; -- %_ \\";
  n.email = "o'brien@example.com";
  Account a = MustCreate(n);
  auto got = store_->Get(a.id);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->full_name, n.full_name);
  EXPECT_EQ(got->company, n.company);
  EXPECT_EQ(got->email, n.email);
}

// List orders by username and filters by state.
TEST_P(AccountStoreTest, ListAndFilter) {
  for (const char* u : {"carol", "alice", "bob"}) {
    NewAccount n = Alice();
    n.username = u;
    MustCreate(n);
  }
  ASSERT_TRUE(store_->Close(store_->FindByUsername("bob")->id, CloseReason::kRequest, kAdmin));
  auto all = store_->List(std::nullopt);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].username, "alice");
  EXPECT_EQ((*all)[1].username, "bob");
  EXPECT_EQ((*all)[2].username, "carol");
  auto closed = store_->List(AccountState::kClosed);
  ASSERT_TRUE(closed);
  ASSERT_EQ(closed->size(), 1u);
  EXPECT_EQ((*closed)[0].username, "bob");
  EXPECT_EQ(store_->List(AccountState::kConfirmationPending)->size(), 0u);
}

// Update changes only the given fields, bumps updated_at, and audits the field names only.
TEST_P(AccountStoreTest, UpdateSomeFields) {
  Account a = MustCreate(Alice());
  clock_.Advance(Seconds(60));
  AccountUpdate u;
  u.email = "new@example.org";
  u.phone = "0044 20 7946 0000";
  auto r = store_->Update(a.id, u, kAdmin);
  ASSERT_TRUE(r) << r.error().ToString();
  auto got = store_->Get(a.id);
  EXPECT_EQ(got->email, "new@example.org");
  EXPECT_EQ(got->phone, "+442079460000");
  EXPECT_EQ(got->full_name, "Alice Example");
  EXPECT_EQ(got->updated_at, T("2026-11-25T10:01:00Z"));
  auto audit = store_->ListAudit(a.id, 1);
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0].action, "account.update");
  EXPECT_EQ((*audit)[0].detail, "fields=email,phone");
  EXPECT_EQ(store_->Update(a.id, AccountUpdate{}, kAdmin).error().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->Update(AccountId::New(), u, kAdmin).error().code(), ErrorCode::kNotFound);
}

// Passwords: a new hash is stored and audited without the hash.
TEST_P(AccountStoreTest, SetPasswordHash) {
  NewAccount n = Alice();
  n.password_hash = "";
  Account a = MustCreate(n);
  std::string phc = "$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3aGFzaA";
  ASSERT_TRUE(store_->SetPasswordHash(a.id, phc, kAdmin));
  EXPECT_EQ(store_->Get(a.id)->password_hash, phc);
  auto audit = store_->ListAudit(a.id, 1);
  EXPECT_EQ((*audit)[0].action, "account.set_password");
  EXPECT_EQ((*audit)[0].detail.find("argon2"), std::string::npos);
}

// Keys: add (fingerprint as ssh-keygen), list, duplicate refused, remove, remove again 404.
TEST_P(AccountStoreTest, Keys) {
  Account a = MustCreate(Alice());
  auto k = store_->AddKey(a.id, ::sftplc::testing::kEd25519Key, kAdmin);
  ASSERT_TRUE(k) << k.error().ToString();
  EXPECT_EQ(k->fingerprint, ::sftplc::testing::kEd25519Fingerprint);
  EXPECT_GT(k->id, 0);
  ASSERT_TRUE(store_->AddKey(a.id, ::sftplc::testing::kRsaKey, kAdmin));
  auto dup = store_->AddKey(a.id, ::sftplc::testing::kEd25519Key, kAdmin);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code(), ErrorCode::kAlreadyExists);
  auto keys = store_->ListKeys(a.id);
  ASSERT_TRUE(keys);
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].key_type, "ssh-ed25519");
  EXPECT_EQ((*keys)[0].comment, "alice@laptop");
  EXPECT_EQ((*keys)[1].fingerprint, ::sftplc::testing::kRsaFingerprint);
  ASSERT_TRUE(store_->RemoveKey(a.id, ::sftplc::testing::kEd25519Fingerprint, kAdmin));
  EXPECT_EQ(store_->RemoveKey(a.id, ::sftplc::testing::kEd25519Fingerprint, kAdmin).error().code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(store_->ListKeys(a.id)->size(), 1u);
  EXPECT_EQ(store_->AddKey(AccountId::New(), ::sftplc::testing::kEcdsaKey, kAdmin).error().code(),
            ErrorCode::kNotFound);
  auto audit = store_->ListAudit(a.id, 10);
  EXPECT_EQ((*audit)[0].action, "key.remove");
  EXPECT_NE((*audit)[0].detail.find(::sftplc::testing::kEd25519Fingerprint), std::string::npos);
}

// Close and reopen move the state, stamp the times, and refuse the wrong starting state.
TEST_P(AccountStoreTest, CloseAndReopen) {
  Account a = MustCreate(Alice());
  clock_.Advance(Seconds(3600));
  auto c = store_->Close(a.id, CloseReason::kRequest, kAdmin);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->state, AccountState::kClosed);
  EXPECT_EQ(c->closed_at, T("2026-11-25T11:00:00Z"));
  EXPECT_EQ(c->closed_reason, CloseReason::kRequest);
  EXPECT_EQ(store_->Get(a.id)->closed_reason, CloseReason::kRequest);
  EXPECT_EQ(store_->Close(a.id, CloseReason::kAdmin, kAdmin).error().code(),
            ErrorCode::kAlreadyExists);
  clock_.Advance(Seconds(3600));
  auto r = store_->Reopen(a.id, kAdmin);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, AccountState::kActive);
  EXPECT_FALSE(store_->Get(a.id)->closed_at);
  EXPECT_FALSE(store_->Get(a.id)->closed_reason);
  EXPECT_EQ(store_->Get(a.id)->last_activity_at, T("2026-11-25T12:00:00Z"));
  EXPECT_EQ(store_->Reopen(a.id, kAdmin).error().code(), ErrorCode::kAlreadyExists);
  auto audit = store_->ListAudit(a.id, 10);
  EXPECT_EQ((*audit)[0].action, "account.reopen");
  EXPECT_EQ((*audit)[1].action, "account.close");
  EXPECT_EQ((*audit)[1].detail, "reason=request from=active");
}

// The consent ledger records grants and withdrawals; repeats are kAlreadyExists; consent
// given at creation is the first ledger entry.
TEST_P(AccountStoreTest, ConsentLedger) {
  NewAccount n = Alice();
  n.marketing_consent = true;
  n.consent_source = "registration form";
  Account a = MustCreate(n);
  EXPECT_TRUE(a.marketing_consent);
  EXPECT_EQ(store_->GrantConsent(a.id, "again", kAdmin).error().code(), ErrorCode::kAlreadyExists);
  clock_.Advance(Seconds(86400));
  ASSERT_TRUE(store_->WithdrawConsent(a.id, "email 2026-11-26", kAdmin));
  auto got = store_->Get(a.id);
  EXPECT_FALSE(got->marketing_consent);
  EXPECT_EQ(got->consent_withdrawn_at, T("2026-11-26T10:00:00Z"));
  EXPECT_EQ(store_->WithdrawConsent(a.id, "again", kAdmin).error().code(),
            ErrorCode::kAlreadyExists);
  ASSERT_TRUE(store_->GrantConsent(a.id, "phone call", kAdmin));
  EXPECT_FALSE(store_->Get(a.id)->consent_withdrawn_at);
  auto ledger = store_->ListConsent(a.id);
  ASSERT_TRUE(ledger);
  ASSERT_EQ(ledger->size(), 3u);
  EXPECT_TRUE((*ledger)[0].granted);
  EXPECT_EQ((*ledger)[0].source, "registration form");
  EXPECT_FALSE((*ledger)[1].granted);
  EXPECT_EQ((*ledger)[1].at, T("2026-11-26T10:00:00Z"));
  EXPECT_EQ((*ledger)[1].actor, "admin:root");
  EXPECT_TRUE((*ledger)[2].granted);
  EXPECT_EQ(store_->GrantConsent(AccountId::New(), "x", kAdmin).error().code(),
            ErrorCode::kNotFound);
}

// A login stamps last_login_at and last_activity_at and confirms a pending account.
TEST_P(AccountStoreTest, RecordLoginAndActivity) {
  Account a = MustCreate(Alice());
  ASSERT_TRUE(db_->Write<bool>([&](soci::session& s) -> Result<bool> {
    std::string id = a.id.str();
    s << "UPDATE accounts SET state = 'confirmation_pending', notice_queued_at = 5 "
         "WHERE id = :id",
        soci::use(id);
    return true;
  }));
  clock_.Advance(Seconds(100));
  auto r = store_->RecordLogin(a.id);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->state, AccountState::kActive);
  auto got = store_->Get(a.id);
  EXPECT_EQ(got->state, AccountState::kActive);
  EXPECT_EQ(got->last_login_at, T("2026-11-25T10:01:40Z"));
  EXPECT_EQ(got->last_activity_at, T("2026-11-25T10:01:40Z"));
  EXPECT_FALSE(got->notice_queued_at);
  EXPECT_EQ(store_->ListAudit(a.id, 1)->at(0).action, "account.confirm");

  ASSERT_TRUE(store_->RecordActivity(a.id, T("2026-11-25T11:00:00Z")));
  EXPECT_EQ(store_->Get(a.id)->last_activity_at, T("2026-11-25T11:00:00Z"));
  ASSERT_TRUE(store_->RecordActivity(a.id, T("2026-11-25T10:30:00Z")));  // older: ignored
  EXPECT_EQ(store_->Get(a.id)->last_activity_at, T("2026-11-25T11:00:00Z"));
  EXPECT_EQ(store_->RecordActivity(AccountId::New(), T("2026-11-25T11:00:00Z")).error().code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(store_->RecordLogin(AccountId::New()).error().code(), ErrorCode::kNotFound);
}

// The audit trail across accounts is newest first and honours the limit.
TEST_P(AccountStoreTest, AuditAcrossAccounts) {
  Account a = MustCreate(Alice());
  NewAccount b = Alice();
  b.username = "bob";
  Account bob = MustCreate(b);
  ASSERT_TRUE(store_->Close(a.id, CloseReason::kAdmin, kAdmin));
  auto all = store_->ListAudit(std::nullopt, 2);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].action, "account.close");
  EXPECT_EQ((*all)[1].account_id, bob.id.str());
  EXPECT_EQ(store_->ListAudit(std::nullopt, 100)->size(), 3u);
}

// RecordAudit writes one row for an action done outside the store (sftpctl files), with its
// actor and detail; an unknown account is kNotFound and writes nothing.
TEST_P(AccountStoreTest, RecordAudit) {
  Account a = MustCreate(Alice());
  ASSERT_TRUE(store_->RecordAudit(a.id, "files.put", "bytes=5 files=1", kAdmin));
  auto last = store_->ListAudit(a.id, 1);
  ASSERT_TRUE(last);
  ASSERT_EQ(last->size(), 1u);
  EXPECT_EQ(last->at(0).action, "files.put");
  EXPECT_EQ(last->at(0).actor, "admin:root");
  EXPECT_EQ(last->at(0).detail, "bytes=5 files=1");
  const size_t before = store_->ListAudit(std::nullopt, 100)->size();
  auto missing = store_->RecordAudit(AccountId::New(), "files.rm", "files=1", kAdmin);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->ListAudit(std::nullopt, 100)->size(), before);
}

INSTANTIATE_TEST_SUITE_P(Backends, AccountStoreTest,
                         ::testing::Values(db::Backend::kSqlite, db::Backend::kPostgresql),
                         ::sftplc::testing::BackendName);

}  // namespace
}  // namespace sftplc::accounts
