#include "sftpd/core/lifecycle/runner.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "sftpd/core/base/calendar.h"
#include "sftpd/core/db/sql.h"
#include "sftpd/core/files/storage_root.h"
#include "sftpd/core/lifecycle/account_rows.h"
#include "sftpd/core/lifecycle/notice_queue.h"
#include "sftpd/core/lifecycle/sweep_loop.h"
#include "tests/core/lifecycle/lifecycle_fixture.h"
#include "tests/testing/fake_clock.h"

namespace sftplc::lifecycle {
namespace {

using accounts::AccountState;
using testing::FakeClock;
using testing::T;

constexpr Period kDay{1, Period::Unit::kDays};

class RunnerTest : public ::testing::TestWithParam<db::Backend> {
 protected:
  void SetUp() override {
    env_ = testing::LifecycleEnv::Create(GetParam(), "lifecycle_runner");
    if (!env_) {
      if (GetParam() == db::Backend::kPostgresql && testing::SkipAllowed()) {
        GTEST_SKIP() << "no PostgreSQL test server (SFTPLC_TEST_PG_URL)";
      }
      GTEST_FAIL() << "no test database";
    }
  }
  // Sweeps once a day from the clock's time for `days` days.
  void Days(FakeClock& clock, int days) {
    for (int i = 0; i < days; ++i) {
      clock.Advance(kDay);
      testing::Sweep(*env_, clock.Now());
    }
  }
  std::unique_ptr<testing::LifecycleEnv> env_;
};

// A new account is scheduled by the first sweep: its inactivity notice two years on.
TEST_P(RunnerTest, NewAccountGetsScheduled) {
  AccountId id = env_->AddAccount(T("2026-01-10"), false);
  SweepReport r = testing::Sweep(*env_, T("2026-01-10T01:00:00Z"));
  EXPECT_EQ(r.scheduled, 1);
  auto a = env_->Get(id);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->next_action, "inactivity_notice");
  EXPECT_EQ(a->next_action_due, T("2028-01-10"));
}

// Two idle years: the notice is queued and delivered; the window runs from delivery; silence
// closes the account (closure notice sent), and 30 days later everything is purged.
TEST_P(RunnerTest, IdleAccountNoticedClosedAndPurged) {
  AccountId id = env_->AddAccount(T("2026-01-10"), false);
  FakeClock clock("2028-01-09");
  testing::Sweep(*env_, clock.Now());
  EXPECT_EQ(env_->mailer.sent_count(), 0u);
  clock.Set(T("2028-01-10T00:30:00Z"));
  SweepReport r = testing::Sweep(*env_, clock.Now());
  EXPECT_EQ(r.notices_queued, 1);
  EXPECT_EQ(r.notices_sent, 1);
  auto a = env_->Get(id);
  EXPECT_EQ(a->state, AccountState::kConfirmationPending);
  EXPECT_EQ(a->notice_delivered_at, clock.Now());
  EXPECT_EQ(a->last_communication_at, clock.Now());
  auto sent = env_->mailer.sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_NE(sent[0].message.find("2028-02-09"), std::string::npos);  // the deadline
  EXPECT_EQ(sent[0].envelope.to, a->email);
  // Day 29 after delivery: still pending.
  clock.Set(T("2028-02-08T23:00:00Z"));
  testing::Sweep(*env_, clock.Now());
  EXPECT_EQ(env_->Get(id)->state, AccountState::kConfirmationPending);
  clock.Set(T("2028-02-09T00:30:00Z"));
  r = testing::Sweep(*env_, clock.Now());
  EXPECT_EQ(r.closed, 1);
  a = env_->Get(id);
  EXPECT_EQ(a->state, AccountState::kClosed);
  EXPECT_EQ(a->closed_reason, accounts::CloseReason::kInactivity);
  EXPECT_EQ(env_->mailer.sent_count(), 2u);  // closure notice
  EXPECT_NE(env_->mailer.sent()[1].message.find("2028-03-10"), std::string::npos);
  EXPECT_TRUE(files::StorageRoot(env_->cfg.storage.root).AccountFolderExists(id));
  clock.Set(T("2028-03-10T00:30:00Z"));
  r = testing::Sweep(*env_, clock.Now());
  EXPECT_EQ(r.purged, 1);
  EXPECT_FALSE(env_->Get(id));
  EXPECT_FALSE(files::StorageRoot(env_->cfg.storage.root).AccountFolderExists(id));
  EXPECT_EQ(env_->CountFor("public_keys", id), 0);
  EXPECT_EQ(env_->CountFor("outbox", id), 0);
  EXPECT_EQ(env_->CountFor("consent_events", id), 0);
  EXPECT_EQ(env_->CountFor("marketing_contacts", id), 0);
  auto receipt = env_->runner->GetReceipt(id);
  ASSERT_TRUE(receipt && *receipt);
  EXPECT_EQ((*receipt)->reason, "inactivity");
  EXPECT_EQ((*receipt)->files_deleted, 1);
  EXPECT_EQ((*receipt)->keys_deleted, 1);
  EXPECT_EQ((*receipt)->notices_deleted, 2);
  EXPECT_FALSE((*receipt)->contact_kept);
}

// Mail down for 40 days: the account waits in confirmation_pending (never closed), then the
// window starts at the real delivery.
TEST_P(RunnerTest, MailDownFortyDays) {
  auto cfg = env_->cfg;
  cfg.lifecycle.max_delivery_attempts = 100;  // the defaults give up after ~12 days (see below)
  env_->runner = std::make_unique<LifecycleRunner>(
      *env_->db, cfg, &env_->mailer, notify::TemplateSet::Defaults(), GetLogger("lifecycle"));
  AccountId id = env_->AddAccount(T("2026-01-10"), false);
  env_->mailer.SetDown(true);
  FakeClock clock("2028-01-10T00:30:00Z");
  testing::Sweep(*env_, clock.Now());
  Days(clock, 40);
  auto a = env_->Get(id);
  EXPECT_EQ(a->state, AccountState::kConfirmationPending);
  EXPECT_FALSE(a->notice_delivered_at);
  EXPECT_EQ(env_->mailer.sent_count(), 0u);
  env_->mailer.SetDown(false);
  Days(clock, 1);  // day 41: delivered (the backoff is at most a day)
  a = env_->Get(id);
  ASSERT_TRUE(a->notice_delivered_at);
  TimePoint delivered = *a->notice_delivered_at;
  EXPECT_EQ(delivered, T("2028-02-20T00:30:00Z"));
  Days(clock, 29);
  EXPECT_EQ(env_->Get(id)->state, AccountState::kConfirmationPending);
  Days(clock, 1);
  EXPECT_EQ(env_->Get(id)->state, AccountState::kClosed);
  EXPECT_EQ(env_->Get(id)->closed_at, AddPeriod(delivered, Period{30, Period::Unit::kDays}));
}

// A login during the window confirms the account; a transfer does too.
TEST_P(RunnerTest, ActivityDuringWindowKeepsAccount) {
  AccountId by_login = env_->AddAccount(T("2026-01-10"), false, "l");
  AccountId by_transfer = env_->AddAccount(T("2026-01-10"), false, "t");
  FakeClock clock("2028-01-10T00:30:00Z");
  testing::Sweep(*env_, clock.Now());
  Days(clock, 10);
  env_->Login(by_login, clock.Now());
  env_->Transfer(by_transfer, clock.Now());
  Days(clock, 40);
  for (const auto& id : {by_login, by_transfer}) {
    auto a = env_->Get(id);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->state, AccountState::kActive);
    EXPECT_EQ(a->next_action, "inactivity_notice");
    EXPECT_EQ(a->next_action_due, T("2030-01-20T00:30:00Z"));
  }
  EXPECT_EQ(env_->mailer.sent_count(), 2u);  // one notice each, no closure notice
}

// A notice queued while mail is down is cancelled when the client logs in meanwhile.
TEST_P(RunnerTest, UndeliveredNoticeCancelledByLogin) {
  AccountId id = env_->AddAccount(T("2026-01-10"), false);
  env_->mailer.SetDown(true);
  FakeClock clock("2028-01-10T00:30:00Z");
  testing::Sweep(*env_, clock.Now());
  env_->Login(id, clock.Now() + Seconds(3600));
  env_->mailer.SetDown(false);
  Days(clock, 3);
  EXPECT_EQ(env_->mailer.sent_count(), 0u);
  NoticeQueue outbox(*env_->db);
  auto notices = outbox.List(false, id, 10);
  ASSERT_TRUE(notices);
  ASSERT_EQ(notices->size(), 1u);
  EXPECT_EQ((*notices)[0].state, "cancelled");
}

// A closure requested by the client is purged 30 days later even though the store kept the
// old schedule; a consenting account leaves a marketing contact, deleted after withdrawal.
TEST_P(RunnerTest, ClosureWithConsentKeepsContactUntilWithdrawal) {
  AccountId id = env_->AddAccount(T("2026-01-10"), true);
  testing::Sweep(*env_, T("2026-01-10T01:00:00Z"));
  env_->Close(id, T("2026-05-01T10:00:00Z"));
  testing::Sweep(*env_, T("2026-05-01T11:00:00Z"));
  EXPECT_EQ(env_->Get(id)->next_action_due, T("2026-05-31T10:00:00Z"));
  testing::Sweep(*env_, T("2026-05-31T09:00:00Z"));
  EXPECT_TRUE(env_->Get(id));
  SweepReport r = testing::Sweep(*env_, T("2026-05-31T11:00:00Z"));
  EXPECT_EQ(r.purged, 1);
  EXPECT_FALSE(env_->Get(id));
  EXPECT_FALSE(files::StorageRoot(env_->cfg.storage.root).AccountFolderExists(id));
  auto contact = env_->runner->GetContact(id);
  ASSERT_TRUE(contact && *contact);
  EXPECT_TRUE((*contact)->consent);
  EXPECT_EQ((*contact)->delete_due, T("2031-01-10"));  // created (last contact) + 5y
  EXPECT_EQ(env_->CountFor("consent_events", id), 1);
  ASSERT_TRUE(env_->runner->WithdrawContactConsent(id, T("2027-03-01"), "phone", "admin:test"));
  contact = env_->runner->GetContact(id);
  EXPECT_EQ((*contact)->delete_due, T("2027-03-31"));
  testing::Sweep(*env_, T("2027-03-30"));
  EXPECT_TRUE(*env_->runner->GetContact(id));
  r = testing::Sweep(*env_, T("2027-03-31"));
  EXPECT_EQ(r.contacts_deleted, 1);
  EXPECT_FALSE(*env_->runner->GetContact(id));
  EXPECT_EQ(env_->CountFor("consent_events", id), 0);
  auto receipt = env_->runner->GetReceipt(id);
  EXPECT_EQ((*receipt)->contact_deleted_reason, "withdrawal");
}

// Without withdrawal the contact goes five years after the last communication.
TEST_P(RunnerTest, ContactExpiresFiveYearsAfterLastCommunication) {
  AccountId id = env_->AddAccount(T("2026-01-10"), true);
  FakeClock clock("2028-01-10T00:30:00Z");
  testing::Sweep(*env_, clock.Now());  // notice sent: last communication
  clock.Set(T("2028-02-09T00:30:00Z"));
  testing::Sweep(*env_, clock.Now());  // closed, closure notice sent
  clock.Set(T("2028-03-10T00:30:00Z"));
  testing::Sweep(*env_, clock.Now());  // purged, contact kept
  auto contact = env_->runner->GetContact(id);
  ASSERT_TRUE(contact && *contact);
  EXPECT_EQ((*contact)->last_communication_at, T("2028-02-09T00:30:00Z"));
  EXPECT_EQ((*contact)->delete_due, T("2033-02-09T00:30:00Z"));
  testing::Sweep(*env_, T("2033-02-09T00:29:59Z"));
  EXPECT_TRUE(*env_->runner->GetContact(id));
  testing::Sweep(*env_, T("2033-02-09T00:30:00Z"));
  EXPECT_FALSE(*env_->runner->GetContact(id));
  EXPECT_EQ((*env_->runner->GetReceipt(id))->contact_deleted_reason, "retention");
}

// Consent withdrawn while closed: no contact is kept at the purge.
TEST_P(RunnerTest, ConsentWithdrawnWhileClosedLeavesNoContact) {
  AccountId id = env_->AddAccount(T("2026-01-10"), true);
  env_->Close(id, T("2026-05-01"));
  env_->WithdrawConsent(id, T("2026-05-03"));
  testing::Sweep(*env_, T("2026-05-31"));
  EXPECT_FALSE(env_->Get(id));
  EXPECT_FALSE(*env_->runner->GetContact(id));
  EXPECT_EQ(env_->CountFor("consent_events", id), 0);
}

// Reopen before the purge: nothing is deleted and the idle clock restarts.
TEST_P(RunnerTest, ReopenBeforePurge) {
  AccountId id = env_->AddAccount(T("2026-01-10"), false);
  env_->Close(id, T("2026-05-01"));
  testing::Sweep(*env_, T("2026-05-01T01:00:00Z"));
  env_->Reopen(id, T("2026-05-20"));
  testing::Sweep(*env_, T("2026-05-31"));
  auto a = env_->Get(id);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->state, AccountState::kActive);
  EXPECT_EQ(a->next_action_due, T("2028-05-20"));
  EXPECT_TRUE(files::StorageRoot(env_->cfg.storage.root).AccountFolderExists(id));
}

// Temporary failures back off exponentially; after max attempts the notice is failed, the
// account is not closed, and `notices retry` puts it back.
TEST_P(RunnerTest, BackoffThenFailedThenRetry) {
  env_->runner = std::make_unique<LifecycleRunner>(
      *env_->db,
      [&] {
        auto c = env_->cfg;
        c.lifecycle.max_delivery_attempts = 3;
        return c;
      }(),
      &env_->mailer, notify::TemplateSet::Defaults(), GetLogger("lifecycle"));
  AccountId id = env_->AddAccount(T("2026-01-10"), false);
  env_->mailer.SetDown(true);
  FakeClock clock("2028-01-10T00:00:00Z");
  SweepReport r = testing::Sweep(*env_, clock.Now());
  EXPECT_EQ(r.notices_deferred, 1);
  NoticeQueue outbox(*env_->db);
  auto n = (*outbox.List(false, id, 10))[0];
  EXPECT_EQ(n.attempts, 1);
  EXPECT_EQ(n.next_attempt_at, clock.Now() + Seconds(3600));
  clock.Advance(Seconds(3599));
  r = testing::Sweep(*env_, clock.Now());
  EXPECT_EQ(r.notices_deferred, 0);  // not due yet
  clock.Advance(Seconds(1));
  r = testing::Sweep(*env_, clock.Now());
  EXPECT_EQ(r.notices_deferred, 1);
  n = (*outbox.List(false, id, 10))[0];
  EXPECT_EQ(n.next_attempt_at, clock.Now() + Seconds(7200));
  clock.Advance(Seconds(7200));
  r = testing::Sweep(*env_, clock.Now());
  EXPECT_EQ(r.notices_failed, 1);
  auto failed = outbox.List(true, std::nullopt, 10);
  ASSERT_EQ(failed->size(), 1u);
  EXPECT_NE((*failed)[0].last_error.find("SMTP"), std::string::npos);
  Days(clock, 60);
  EXPECT_EQ(env_->Get(id)->state, AccountState::kConfirmationPending);
  env_->mailer.SetDown(false);
  EXPECT_EQ(*outbox.RetryFailed({}, clock.Now(), "admin:test"), 1);
  testing::Sweep(*env_, clock.Now());
  EXPECT_EQ(env_->mailer.sent_count(), 1u);
  EXPECT_EQ(env_->Get(id)->notice_delivered_at, clock.Now());
}

// A permanent rejection fails at once.
TEST_P(RunnerTest, PermanentRejectionFailsAtOnce) {
  AccountId id = env_->AddAccount(T("2026-01-10"), false);
  env_->mailer.SetRejecting(true);
  SweepReport r = testing::Sweep(*env_, T("2028-01-10"));
  EXPECT_EQ(r.notices_failed, 1);
  EXPECT_EQ(env_->Get(id)->state, AccountState::kConfirmationPending);
}

// An erasure request removes everything at once, marketing contact included.
TEST_P(RunnerTest, EraseNow) {
  AccountId id = env_->AddAccount(T("2026-01-10"), true);
  auto receipt = env_->runner->EraseNow(id, T("2026-02-01"), "admin:test");
  ASSERT_TRUE(receipt) << receipt.error().ToString();
  EXPECT_EQ(receipt->reason, "erasure");
  EXPECT_FALSE(receipt->contact_kept);
  EXPECT_FALSE(env_->Get(id));
  EXPECT_FALSE(files::StorageRoot(env_->cfg.storage.root).AccountFolderExists(id));
  EXPECT_EQ(env_->CountFor("consent_events", id), 0);
  EXPECT_EQ(env_->runner->EraseNow(id, T("2026-02-02"), "admin:test").error().code(),
            ErrorCode::kNotFound);
}

// Erasure of a purged account's marketing contact.
TEST_P(RunnerTest, EraseRemainingContact) {
  AccountId id = env_->AddAccount(T("2026-01-10"), true);
  env_->Close(id, T("2026-05-01"));
  testing::Sweep(*env_, T("2026-05-31"));
  ASSERT_TRUE(*env_->runner->GetContact(id));
  ASSERT_TRUE(env_->runner->EraseNow(id, T("2026-06-02"), "admin:test"));
  EXPECT_FALSE(*env_->runner->GetContact(id));
  EXPECT_EQ((*env_->runner->GetReceipt(id))->contact_deleted_reason, "erasure");
}

// The purge removes a symlink inside the root, never its target outside.
TEST_P(RunnerTest, PurgeDoesNotFollowSymlinks) {
  AccountId id = env_->AddAccount(T("2026-01-10"), false);
  testing::TempDir outside;
  testing::WriteFile(outside.Sub("keep.txt"), "not the client's");
  ASSERT_EQ(
      symlink(outside.path().c_str(), (env_->cfg.storage.root + "/" + id.str() + "/link").c_str()),
      0);
  ASSERT_EQ(mkdir((env_->cfg.storage.root + "/" + id.str() + "/ro").c_str(), 0500), 0);
  ASSERT_TRUE(env_->runner->EraseNow(id, T("2026-02-01"), "admin:test"));
  EXPECT_FALSE(files::StorageRoot(env_->cfg.storage.root).AccountFolderExists(id));
  EXPECT_EQ(testing::ReadFile(outside.Sub("keep.txt")), "not the client's");
}

// An admin confirmation (the client replied) restarts the idle period and cancels nothing sent.
TEST_P(RunnerTest, AdminConfirm) {
  AccountId id = env_->AddAccount(T("2026-01-10"), false);
  testing::Sweep(*env_, T("2028-01-10"));
  auto a = env_->runner->Confirm(id, T("2028-01-15"), "admin:test");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->state, AccountState::kActive);
  EXPECT_EQ(a->next_action_due, T("2030-01-15"));
  testing::Sweep(*env_, T("2028-03-01"));
  EXPECT_EQ(env_->Get(id)->state, AccountState::kActive);
}

// A dry run reports what is due and changes nothing.
TEST_P(RunnerTest, DryRunChangesNothing) {
  AccountId id = env_->AddAccount(T("2026-01-10"), false);
  SweepOptions opts;
  opts.dry_run = true;
  auto r = env_->runner->RunOnce(T("2028-01-10"), opts);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->planned.size(), 1u);
  EXPECT_EQ(r->planned[0].action, "inactivity_notice");
  EXPECT_EQ(env_->Get(id)->state, AccountState::kActive);
  EXPECT_EQ(env_->mailer.attempts(), 0);
  auto plan = env_->runner->Plan(T("2026-01-10"), T("2028-02-01"));
  ASSERT_TRUE(plan);
  ASSERT_EQ(plan->size(), 1u);
  EXPECT_EQ((*plan)[0].due, T("2028-01-10"));
}

// A sweep in batches smaller than the work handles all of it: every idle account gets its
// notice queued and delivered by the one sweep, and a sweep with nothing due changes nothing.
TEST_P(RunnerTest, SmallBatchesFinishInOneSweep) {
  for (int i = 0; i < 23; ++i) {
    env_->AddAccount(T("2026-01-10"), false, std::to_string(i));
  }
  SweepOptions small;
  small.batch_size = 5;
  auto first = env_->runner->RunOnce(T("2026-01-10T01:00:00Z"), small);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->scheduled, 23);
  auto idle = env_->runner->RunOnce(T("2027-06-01"), small);
  ASSERT_TRUE(idle);
  EXPECT_EQ(idle->scheduled + idle->notices_queued + idle->notices_sent, 0);
  auto due = env_->runner->RunOnce(T("2028-01-10T01:00:00Z"), small);
  ASSERT_TRUE(due);
  EXPECT_EQ(due->notices_queued, 23);
  EXPECT_EQ(due->notices_sent, 23);
  EXPECT_EQ(env_->mailer.sent_count(), 23u);
  EXPECT_EQ(env_->Count("SELECT COUNT(*) FROM accounts WHERE state = 'confirmation_pending' AND "
                        "notice_delivered_at IS NOT NULL"),
            23);
}

// Two sweeps at once: every notice is sent exactly once and every account moves once.
TEST_P(RunnerTest, ConcurrentSweepsNeverDoubleSend) {
  std::vector<AccountId> ids;
  for (int i = 0; i < 60; ++i) {
    ids.push_back(env_->AddAccount(T("2026-01-10"), false, std::to_string(i)));
  }
  LifecycleRunner second(*env_->db, env_->cfg, &env_->mailer, notify::TemplateSet::Defaults(),
                         GetLogger("lifecycle"));
  SweepOptions small;
  small.batch_size = 7;
  std::thread t1([&] { ASSERT_TRUE(env_->runner->RunOnce(T("2028-01-10"), small)); });
  std::thread t2([&] { ASSERT_TRUE(second.RunOnce(T("2028-01-10"), small)); });
  t1.join();
  t2.join();
  EXPECT_EQ(env_->mailer.sent_count(), ids.size());
  std::set<std::string> to;
  for (const auto& m : env_->mailer.sent()) {
    to.insert(m.envelope.to);
  }
  EXPECT_EQ(to.size(), ids.size());
  EXPECT_EQ(env_->Count("SELECT COUNT(*) FROM outbox"), static_cast<long long>(ids.size()));
}

// A sweep killed after claiming a notice (state 'sending', lease taken) and before sending it:
// the next sweep after the lease sends it, once; before the lease ends nobody does.
TEST_P(RunnerTest, KilledSweepResumesAfterLease) {
  AccountId id = env_->AddAccount(T("2026-01-10"), false);
  env_->mailer.SetDown(true);
  testing::Sweep(*env_, T("2028-01-10"));  // queued, first attempt failed
  env_->mailer.SetDown(false);
  long long lease = ToUnix(T("2028-01-10T01:10:00Z"));
  auto r = env_->db->Write<int>([&](soci::session& s) -> Result<int> {
    s << "UPDATE outbox SET state = 'sending', next_attempt_at = :l", soci::use(lease);
    return 0;
  });
  ASSERT_TRUE(r);
  testing::Sweep(*env_, T("2028-01-10T01:05:00Z"));
  EXPECT_EQ(env_->mailer.sent_count(), 0u);
  testing::Sweep(*env_, T("2028-01-10T01:10:00Z"));
  testing::Sweep(*env_, T("2028-01-10T02:00:00Z"));
  EXPECT_EQ(env_->mailer.sent_count(), 1u);
  EXPECT_EQ(env_->Get(id)->notice_delivered_at, T("2028-01-10T01:10:00Z"));
}

// The SMTP server took a notice but its reply was lost (or the sweep died between acceptance and
// record): the notice is sent again after the backoff, as the same message (one Message-ID on
// every attempt, so mail systems drop the duplicate), and the window starts at the recorded
// delivery.
TEST_P(RunnerTest, NoticeSentAgainAfterLostReplyKeepsItsMessageId) {
  AccountId id = env_->AddAccount(T("2026-01-10"), false);
  env_->mailer.LoseNextReplies(1);
  testing::Sweep(*env_, T("2028-01-10"));
  ASSERT_EQ(env_->mailer.sent_count(), 1u);
  EXPECT_FALSE(env_->Get(id)->notice_delivered_at.has_value());
  testing::Sweep(*env_, T("2028-01-11"));
  auto sent = env_->mailer.sent();
  ASSERT_EQ(sent.size(), 2u);
  auto message_id = [](const std::string& m) {
    std::size_t at = m.find("\r\nMessage-ID: ");
    return at == std::string::npos ? std::string() : m.substr(at, m.find("\r\n", at + 2) - at);
  };
  EXPECT_NE(message_id(sent[0].message), "");
  EXPECT_EQ(message_id(sent[0].message), message_id(sent[1].message));
  EXPECT_NE(sent[0].message.find("Message-ID: <notice." + id.str() + "."), std::string::npos);
  EXPECT_EQ(env_->Get(id)->notice_delivered_at, T("2028-01-11"));
}

// Files-waiting notices are sent once per key and list the files.
TEST_P(RunnerTest, FilesWaitingNotice) {
  AccountId id = env_->AddAccount(T("2026-01-10"), false);
  ASSERT_TRUE(
      env_->runner->QueueFilesNotice(id, {"inbox/a.pdf", "inbox/b.csv"}, "k1", T("2026-02-01")));
  EXPECT_EQ(env_->runner->QueueFilesNotice(id, {"x"}, "k1", T("2026-02-01")).error().code(),
            ErrorCode::kAlreadyExists);
  testing::Sweep(*env_, T("2026-02-01"));
  ASSERT_EQ(env_->mailer.sent_count(), 1u);
  EXPECT_NE(env_->mailer.sent()[0].message.find("  inbox/b.csv"), std::string::npos);
  EXPECT_EQ(env_->Get(id)->last_communication_at, T("2026-02-01"));
}

// A file name with a newline or an escape sequence is listed escaped on one line of the
// files-waiting mail: it cannot add lines to the message or act on a terminal.
TEST_P(RunnerTest, FilesWaitingNoticeEscapesNames) {
  AccountId id = env_->AddAccount(T("2026-01-10"), false);
  ASSERT_TRUE(
      env_->runner->QueueFilesNotice(id, {"/a\nDear customer\x1b[31m.pdf"}, "k1", T("2026-02-01")));
  testing::Sweep(*env_, T("2026-02-01"));
  ASSERT_EQ(env_->mailer.sent_count(), 1u);
  const std::string m = env_->mailer.sent()[0].message;  // sent() is a copy
  EXPECT_NE(m.find("  /a\\nDear customer\\x1b[31m.pdf"), std::string::npos) << m;
  EXPECT_EQ(m.find('\x1b'), std::string::npos);
}

// The background loop sweeps at once on Start(), and Stop() ends it without waiting for the
// hour-long interval.
TEST_P(RunnerTest, SweepLoopRunsAtStartAndStopsPromptly) {
  AccountId id = env_->AddAccount(T("2026-01-10"), false);
  FakeClock clock("2028-01-11");
  std::mutex mu;
  std::condition_variable cv;
  int sweeps = 0;
  SweepLoop loop(*env_->runner, clock, GetLogger("lifecycle"),
                 [&](const Result<SweepReport>& r, std::chrono::steady_clock::duration) {
                   EXPECT_TRUE(r);
                   std::lock_guard lock(mu);
                   ++sweeps;
                   cv.notify_all();
                 });
  loop.Start();
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return sweeps >= 1; });
  }
  loop.Stop();
  EXPECT_EQ(sweeps, 1);
  EXPECT_EQ(env_->mailer.sent_count(), 1u);
  EXPECT_EQ(env_->Get(id)->state, AccountState::kConfirmationPending);
}

INSTANTIATE_TEST_SUITE_P(Backends, RunnerTest,
                         ::testing::Values(db::Backend::kSqlite, db::Backend::kPostgresql),
                         testing::BackendName);

}  // namespace
}  // namespace sftplc::lifecycle
