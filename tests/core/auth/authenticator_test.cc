#include "sftpd/core/auth/authenticator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "sftpd/core/accounts/account_store.h"
#include "sftpd/core/auth/defender.h"
#include "sftpd/core/auth/password_hasher.h"
#include "sftpd/core/db/sql.h"
#include "sftpd/core/usage/usage_store.h"
#include "tests/core/accounts/test_keys.h"
#include "tests/core/db/test_database.h"
#include "tests/testing/fake_clock.h"

namespace sftplc::auth {
namespace {

using ::sftplc::testing::FakeClock;
using ::sftplc::testing::TestDatabase;
using std::chrono::milliseconds;

constexpr const char* kPassword = "correct horse battery";

// Wall time from a FakeClock; the monotonic reading moves by `step` at every read after the
// first, so an attempt appears to take (reads - 1) x step.
class SteppingClock final : public Clock {
 public:
  explicit SteppingClock(const FakeClock& wall) : wall_(wall) {}
  TimePoint Now() const override { return wall_.Now(); }
  std::chrono::steady_clock::time_point SteadyNow() const override {
    std::lock_guard lock(mu_);
    return std::chrono::steady_clock::time_point() + step_ * reads_++;
  }
  void set_step(milliseconds step) {
    std::lock_guard lock(mu_);
    step_ = step;
  }

 private:
  const FakeClock& wall_;
  mutable std::mutex mu_;
  mutable long long reads_ = 0;
  milliseconds step_{0};
};

// Records what it was asked to sleep instead of sleeping.
class RecordingSleeper final : public Sleeper {
 public:
  void SleepFor(std::chrono::nanoseconds d) override {
    std::lock_guard lock(mu_);
    sleeps_.push_back(std::chrono::duration_cast<milliseconds>(d));
  }
  std::vector<milliseconds> Take() {
    std::lock_guard lock(mu_);
    return std::exchange(sleeps_, {});
  }

 private:
  std::mutex mu_;
  std::vector<milliseconds> sleeps_;
};

config::Argon2Config Cheap(uint32_t t = 2) {
  config::Argon2Config c;
  c.t_cost = t;
  c.m_cost_kib = 256;
  c.parallelism = 1;
  return c;
}

class AuthenticatorTest : public ::testing::TestWithParam<db::Backend> {
 protected:
  void SetUp() override {
    SFTPLC_CREATE_TEST_DATABASE(tdb_, "authenticator_test");
    db_ = tdb_->OpenMigrated();
    ASSERT_TRUE(db_);
    accounts_ = std::make_unique<accounts::AccountStore>(*db_, wall_);
    usage_ = std::make_unique<usage::UsageStore>(*db_, wall_, "test-node");
    config::DefenderConfig d;
    d.threshold = 6;
    d.score_failure = 1;
    defender_ = std::make_unique<Defender>(d, *db_, wall_, GetLogger("auth"));
    hasher_ = std::make_unique<PasswordHasher>(Cheap());
    log_ = std::make_shared<spdlog::logger>(
        "auth", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_text_));
    options_.failure_floor = milliseconds(1000);
    options_.max_concurrent_verifies = 2;
    Rebuild();
    alice_ = MakeAccount("alice", kPassword);
  }

  void Rebuild() {
    auto a = Authenticator::Create(options_, *accounts_, usage_.get(), *defender_, *hasher_, clock_,
                                   sleeper_, log_);
    ASSERT_TRUE(a.has_value()) << a.error().ToString();
    auth_ = std::move(*a);
  }

  accounts::Account MakeAccount(const std::string& username, const std::string& password,
                                const PasswordHasher* hasher = nullptr) {
    accounts::NewAccount n{username, "Test Person", "", username + "@example.com", "+441513577700",
                           "",       false,         ""};
    if (!password.empty()) {
      n.password_hash =
          (hasher != nullptr ? hasher : hasher_.get())->Hash(Secret(password)).value();
    }
    auto a = accounts_->Create(n, accounts::Actor{"admin:test"});
    EXPECT_TRUE(a.has_value()) << a.error().ToString();
    return a.value_or(accounts::Account{});
  }

  AuthDecision Password(const std::string& user, const std::string& password,
                        const std::string& ip = "192.0.2.10") {
    AuthRequest r{user, ip, "SSH-2.0-test"};
    return auth_->CheckPassword(r, Secret(password));
  }

  // The usage_failed_logins rows of an account, as "ip method" strings.
  std::vector<std::string> FailedLoginRows(const AccountId& id) {
    auto rows = db_->Read<std::vector<std::string>>(
        [&](soci::session& s) -> Result<std::vector<std::string>> {
          std::vector<std::string> out;
          std::string account = id.str(), ip, method;
          soci::statement st =
              (s.prepare << "SELECT remote_ip, auth_method FROM "
                            "usage_failed_logins WHERE account_id = :a ORDER BY id",
               soci::use(account), soci::into(ip), soci::into(method));
          st.execute(false);
          while (st.fetch()) {
            out.push_back(ip + " " + method);
          }
          return out;
        });
    EXPECT_TRUE(rows.has_value());
    return rows.value_or(std::vector<std::string>{});
  }
  int64_t FailedLoginsOf(const AccountId& id) {
    return static_cast<int64_t>(FailedLoginRows(id).size());
  }

  FakeClock wall_{"2026-11-25T10:00:00Z"};
  SteppingClock clock_{wall_};
  RecordingSleeper sleeper_;
  std::unique_ptr<TestDatabase> tdb_;
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<accounts::AccountStore> accounts_;
  std::unique_ptr<usage::UsageStore> usage_;
  std::unique_ptr<Defender> defender_;
  std::unique_ptr<PasswordHasher> hasher_;
  AuthenticatorOptions options_;
  std::ostringstream log_text_;  // what the authenticator logged
  Logger log_;
  std::unique_ptr<Authenticator> auth_;
  accounts::Account alice_;
};

// The right password is accepted at once (no padding), with the account.
TEST_P(AuthenticatorTest, CorrectPasswordAccepted) {
  AuthDecision d = Password("alice", kPassword);
  EXPECT_EQ(d.outcome, AuthOutcome::kAccepted);
  ASSERT_TRUE(d.account.has_value());
  EXPECT_EQ(d.account->id, alice_.id);
  EXPECT_TRUE(sleeper_.Take().empty());
  EXPECT_EQ(FailedLoginsOf(alice_.id), 0);
}

// A wrong password is rejected, padded to the floor, and recorded for the account (no password).
TEST_P(AuthenticatorTest, WrongPasswordRejectedPaddedAndRecorded) {
  AuthDecision d = Password("alice", "wrong horse battery");
  EXPECT_EQ(d.outcome, AuthOutcome::kRejected);
  EXPECT_FALSE(d.account.has_value());
  EXPECT_THAT(sleeper_.Take(), ::testing::ElementsAre(milliseconds(1000)));
  EXPECT_THAT(FailedLoginRows(alice_.id), ::testing::ElementsAre("192.0.2.10 password"));
}

// Unknown name, closed account and key-only account: the same answer and the same floor as a
// wrong password; nothing recorded for an unknown name.
TEST_P(AuthenticatorTest, UnknownClosedAndKeyOnlyLookLikeWrongPassword) {
  AuthDecision wrong = Password("alice", "wrong horse battery");
  auto wrong_sleeps = sleeper_.Take();

  AuthDecision unknown = Password("nobody", kPassword, "192.0.2.11");
  EXPECT_EQ(unknown.outcome, wrong.outcome);
  EXPECT_FALSE(unknown.account.has_value());
  EXPECT_EQ(sleeper_.Take(), wrong_sleeps);

  accounts::Account bob = MakeAccount("bob", kPassword);
  ASSERT_TRUE(
      accounts_->Close(bob.id, accounts::CloseReason::kRequest, accounts::Actor{"admin:t"}));
  AuthDecision closed = Password("bob", kPassword, "192.0.2.12");  // the right password
  EXPECT_EQ(closed.outcome, wrong.outcome);
  EXPECT_EQ(sleeper_.Take(), wrong_sleeps);
  EXPECT_EQ(FailedLoginsOf(bob.id), 1);  // an existing account: recorded

  accounts::Account carol = MakeAccount("carol", "");
  AuthDecision key_only = Password("carol", "", "192.0.2.13");
  EXPECT_EQ(key_only.outcome, wrong.outcome);
  EXPECT_EQ(sleeper_.Take(), wrong_sleeps);

  AuthDecision overlong = Password("alice", std::string(1025, 'a'), "192.0.2.14");
  EXPECT_EQ(overlong.outcome, wrong.outcome);
  EXPECT_EQ(sleeper_.Take(), wrong_sleeps);
}

// The floor counts from the start of the attempt: time already spent is not slept again, and an
// attempt that took longer than the floor is not padded.
TEST_P(AuthenticatorTest, FloorMeasuredFromStartOfAttempt) {
  options_.failure_floor = milliseconds(1500);
  Rebuild();
  clock_.set_step(milliseconds(400));  // start, then the check: 400 ms spent
  Password("nobody", kPassword);
  EXPECT_THAT(sleeper_.Take(), ::testing::ElementsAre(milliseconds(1100)));
  clock_.set_step(milliseconds(2000));
  Password("nobody", kPassword);
  EXPECT_TRUE(sleeper_.Take().empty());
}

// A confirmation_pending account may log in; a closed one may not.
TEST_P(AuthenticatorTest, PendingAccountMayLogIn) {
  auto st = db_->Write<bool>([&](soci::session& s) -> Result<bool> {
    std::string id = alice_.id.str();
    s << "UPDATE accounts SET state = 'confirmation_pending' WHERE id = :i", soci::use(id);
    return true;
  });
  ASSERT_TRUE(st.has_value());
  AuthDecision d = Password("alice", kPassword);
  EXPECT_EQ(d.outcome, AuthOutcome::kAccepted);
  ASSERT_TRUE(d.account.has_value());
  EXPECT_EQ(d.account->state, accounts::AccountState::kConfirmationPending);
}

// Repeated failures ban the source IP (kBanned, no further verification, padded like any
// failure), while the owner still logs in from another address.
TEST_P(AuthenticatorTest, BanAfterRepeatedFailuresDoesNotLockOwnerElsewhere) {
  const std::string attacker = "198.51.100.66";
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Password("alice", "guess " + std::to_string(i), attacker).outcome,
              AuthOutcome::kRejected);
  }
  EXPECT_EQ(Password("alice", "guess 5", attacker).outcome, AuthOutcome::kBanned);
  sleeper_.Take();
  EXPECT_EQ(Password("alice", kPassword, attacker).outcome, AuthOutcome::kBanned);
  // Padded like a failure of a name under attack (six failures): 4 x the floor.
  EXPECT_THAT(sleeper_.Take(), ::testing::ElementsAre(milliseconds(4000)));
  EXPECT_EQ(FailedLoginsOf(alice_.id), 6);  // the banned attempt is not recorded

  EXPECT_EQ(Password("alice", kPassword, "192.0.2.99").outcome, AuthOutcome::kAccepted);
}

// Unknown names and wrong passwords are indistinguishable through the defender: the ban comes
// at the same attempt, every answer (the ban and the attempts after it included) is padded to
// the same floor, and a banned source's answer looks like any failure's.
TEST_P(AuthenticatorTest, UnknownNamesAndWrongPasswordsBanAtTheSameAttempt) {
  auto run = [&](const std::string& ip, bool unknown) {
    std::vector<std::pair<AuthOutcome, std::vector<milliseconds>>> answers;
    for (int i = 0; i < 8; ++i) {
      AuthDecision d = Password(unknown ? "nobody" : "alice", "guess", ip);
      answers.emplace_back(d.outcome, sleeper_.Take());
    }
    return answers;
  };
  auto unknown = run("198.51.100.67", true);
  auto wrong = run("198.51.100.68", false);
  EXPECT_EQ(unknown, wrong);
  EXPECT_EQ(wrong[4].first, AuthOutcome::kRejected);
  EXPECT_EQ(wrong[5].first, AuthOutcome::kBanned);  // threshold 6, one point each
  EXPECT_EQ(wrong[7].first, AuthOutcome::kBanned);
  for (const auto& a : wrong) {
    EXPECT_EQ(a.second.size(), 1u);  // every answer padded, the banned ones included
  }
}

// Refused key probes count toward the ban (anyone holding a victim's public key could otherwise
// probe names without limit); they are neither recorded on the account nor padded.
TEST_P(AuthenticatorTest, RefusedKeyProbesCountTowardTheBan) {
  std::string blob = "AAAAC3NzaC1lZDI1NTE5AAAAIF+ILUNH7khkGaVJvIomZAbLxzCBzQRJ0BmDJRXSb15A";
  AuthRequest r{"alice", "198.51.100.69", "SSH-2.0-test"};
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(auth_->CheckPublicKey(r, "ssh-ed25519", blob, false).outcome, AuthOutcome::kRejected);
  }
  EXPECT_EQ(auth_->CheckPublicKey(r, "ssh-ed25519", blob, false).outcome, AuthOutcome::kBanned);
  EXPECT_EQ(FailedLoginsOf(alice_.id), 0);
  EXPECT_TRUE(sleeper_.Take().empty());
  EXPECT_EQ(Password("alice", kPassword, "198.51.100.69").outcome, AuthOutcome::kBanned);
}

// A name under attack from many addresses gets a longer floor on failures (any address), but
// its owner's correct password is still accepted without delay.
TEST_P(AuthenticatorTest, NameUnderAttackSlowsFailuresOnly) {
  for (int i = 0; i < 6; ++i) {
    Password("alice", "guess", "203.0.113." + std::to_string(i + 1));
  }
  sleeper_.Take();
  Password("alice", "guess", "203.0.113.50");
  EXPECT_THAT(sleeper_.Take(), ::testing::ElementsAre(milliseconds(4000)));
  // Same for a name that does not exist: nothing tells the two apart.
  for (int i = 0; i < 6; ++i) {
    Password("ghost", "guess", "203.0.113." + std::to_string(i + 100));
  }
  sleeper_.Take();
  Password("ghost", "guess", "203.0.113.200");
  EXPECT_THAT(sleeper_.Take(), ::testing::ElementsAre(milliseconds(4000)));

  EXPECT_EQ(Password("alice", kPassword, "192.0.2.99").outcome, AuthOutcome::kAccepted);
  EXPECT_TRUE(sleeper_.Take().empty());
}

// A ban check that fails on a database error refuses even the right password (fail closed),
// with the answer and padding of a wrong password, for keys too; nothing is scored or recorded,
// and the log line has the error but not the attempted name. Mended, the login works again.
TEST_P(AuthenticatorTest, BanCheckFailureRefusesLogin) {
  ASSERT_TRUE(
      accounts_->AddKey(alice_.id, ::sftplc::testing::kEd25519Key, accounts::Actor{"admin:test"}));
  std::string blob = "AAAAC3NzaC1lZDI1NTE5AAAAIF+ILUNH7khkGaVJvIomZAbLxzCBzQRJ0BmDJRXSb15A";
  AuthDecision wrong = Password("alice", "wrong horse battery");
  auto wrong_sleeps = sleeper_.Take();
  auto rename = [&](const std::string& from, const std::string& to) {
    return db_->Write<bool>([&](soci::session& s) -> Result<bool> {
      s << "ALTER TABLE " + from + " RENAME TO " + to;
      return true;
    });
  };
  ASSERT_TRUE(rename("auth_bans", "auth_bans_away"));

  AuthDecision d = Password("alice", kPassword, "192.0.2.20");
  EXPECT_EQ(d.outcome, AuthOutcome::kRejected);
  EXPECT_EQ(d.outcome, wrong.outcome);
  EXPECT_FALSE(d.account.has_value());
  EXPECT_EQ(sleeper_.Take(), wrong_sleeps);
  AuthRequest r{"alice", "192.0.2.20", "SSH-2.0-test"};
  EXPECT_EQ(auth_->CheckPublicKey(r, "ssh-ed25519", blob, false).outcome, AuthOutcome::kRejected);
  EXPECT_EQ(auth_->CheckPublicKey(r, "ssh-ed25519", blob, true).outcome, AuthOutcome::kRejected);
  EXPECT_EQ(FailedLoginsOf(alice_.id), 1);  // the wrong password only
  std::string log = log_text_.str();
  EXPECT_THAT(log, ::testing::HasSubstr(
                       "login refused: ban check failed method=password ip=192.0.2.20 error="));
  EXPECT_THAT(log, ::testing::HasSubstr("method=publickey ip=192.0.2.20"));
  EXPECT_THAT(log, ::testing::HasSubstr("auth_bans"));
  EXPECT_THAT(log, ::testing::Not(::testing::HasSubstr("alice")));

  ASSERT_TRUE(rename("auth_bans_away", "auth_bans"));
  EXPECT_EQ(Password("alice", kPassword, "192.0.2.20").outcome, AuthOutcome::kAccepted);
  EXPECT_EQ(auth_->CheckPublicKey(r, "ssh-ed25519", blob, true).outcome, AuthOutcome::kAccepted);
}

// A hash with outdated parameters is replaced after a successful login.
TEST_P(AuthenticatorTest, RehashOnOutdatedParameters) {
  PasswordHasher old_params(Cheap(1));
  accounts::Account dave = MakeAccount("dave", kPassword, &old_params);
  ASSERT_TRUE(hasher_->NeedsRehash(dave.password_hash));
  AuthDecision d = Password("dave", kPassword);
  ASSERT_EQ(d.outcome, AuthOutcome::kAccepted);
  auto stored = accounts_->FindByUsername("dave");
  ASSERT_TRUE(stored.has_value());
  EXPECT_NE(stored->password_hash, dave.password_hash);
  EXPECT_FALSE(hasher_->NeedsRehash(stored->password_hash));
  EXPECT_EQ(d.account->password_hash, stored->password_hash);
  EXPECT_EQ(Password("dave", kPassword).outcome, AuthOutcome::kAccepted);
  // A current hash is left alone.
  auto before = accounts_->FindByUsername("alice")->password_hash;
  Password("alice", kPassword);
  EXPECT_EQ(accounts_->FindByUsername("alice")->password_hash, before);
}

// The semaphore caps concurrent verifications: with one slot, eight concurrent attempts never
// needed more than one Argon2 work area.
TEST_P(AuthenticatorTest, ConcurrentVerificationsCapped) {
  options_.max_concurrent_verifies = 1;
  hasher_->ReleaseIdleMemory();
  Rebuild();
  std::vector<std::thread> threads;
  std::vector<AuthOutcome> outcomes(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      outcomes[i] = Password("alice", kPassword, "192.0.2." + std::to_string(i + 1)).outcome;
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  for (auto o : outcomes) {
    EXPECT_EQ(o, AuthOutcome::kAccepted);
  }
  EXPECT_EQ(hasher_->idle_work_areas(), 1u);
}

// Public keys: the account's key is accepted (probe and signed), another key is refused; a
// refused probe is not scored, a refused signed attempt is.
TEST_P(AuthenticatorTest, PublicKeys) {
  ASSERT_TRUE(
      accounts_->AddKey(alice_.id, ::sftplc::testing::kEd25519Key, accounts::Actor{"admin:test"}));
  std::string blob = "AAAAC3NzaC1lZDI1NTE5AAAAIF+ILUNH7khkGaVJvIomZAbLxzCBzQRJ0BmDJRXSb15A";
  AuthRequest r{"alice", "192.0.2.10", "SSH-2.0-test"};
  EXPECT_EQ(auth_->CheckPublicKey(r, "ssh-ed25519", blob, false).outcome, AuthOutcome::kAccepted);
  AuthDecision d = auth_->CheckPublicKey(r, "ssh-ed25519", blob, true);
  EXPECT_EQ(d.outcome, AuthOutcome::kAccepted);
  ASSERT_TRUE(d.account.has_value());
  EXPECT_EQ(d.account->id, alice_.id);

  std::string other = "AAAAC3NzaC1lZDI1NTE5AAAAIB+ILUNH7khkGaVJvIomZAbLxzCBzQRJ0BmDJRXSb15A";
  EXPECT_EQ(auth_->CheckPublicKey(r, "ssh-ed25519", other, false).outcome, AuthOutcome::kRejected);
  EXPECT_EQ(auth_->CheckPublicKey(r, "ssh-rsa", blob, false).outcome, AuthOutcome::kRejected);
  EXPECT_EQ(FailedLoginsOf(alice_.id), 0);  // probes are not failures
  EXPECT_EQ(auth_->CheckPublicKey(r, "ssh-ed25519", other, true).outcome, AuthOutcome::kRejected);
  EXPECT_EQ(FailedLoginsOf(alice_.id), 1);
  // A failed signed key login is padded like a wrong password.
  EXPECT_THAT(sleeper_.Take(), ::testing::ElementsAre(milliseconds(1000)));

  AuthRequest unknown{"nobody", "192.0.2.10", "SSH-2.0-test"};
  EXPECT_EQ(auth_->CheckPublicKey(unknown, "ssh-ed25519", blob, false).outcome,
            AuthOutcome::kRejected);
  ASSERT_TRUE(
      accounts_->Close(alice_.id, accounts::CloseReason::kAdmin, accounts::Actor{"admin:t"}));
  EXPECT_EQ(auth_->CheckPublicKey(r, "ssh-ed25519", blob, true).outcome, AuthOutcome::kRejected);
}

// Create refuses a slot count outside 1..256.
TEST_P(AuthenticatorTest, CreateRefusesBadSlotCount) {
  options_.max_concurrent_verifies = 0;
  auto a = Authenticator::Create(options_, *accounts_, usage_.get(), *defender_, *hasher_, clock_,
                                 sleeper_, GetLogger("auth"));
  ASSERT_FALSE(a.has_value());
  EXPECT_EQ(a.error().code(), ErrorCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Backends, AuthenticatorTest,
                         ::testing::Values(db::Backend::kSqlite, db::Backend::kPostgresql),
                         ::sftplc::testing::BackendName);

}  // namespace
}  // namespace sftplc::auth
