#include "sftpd/core/lifecycle/policy.h"

#include <gtest/gtest.h>

#include "sftpd/core/base/calendar.h"
#include "tests/testing/fake_clock.h"

namespace sftplc::lifecycle {
namespace {

using accounts::Account;
using accounts::AccountState;
using testing::FakeClock;
using testing::T;

constexpr Period kDay{1, Period::Unit::kDays};

class PolicyTest : public ::testing::Test {
 protected:
  Account NewAccount(const char* created) {
    Account a;
    a.id = AccountId::New();
    a.created_at = T(created);
    a.updated_at = a.created_at;
    a.last_activity_at = a.created_at;
    return a;
  }
  // Queues the notice the way the runner does.
  void QueueNotice(Account& a, TimePoint at) {
    a.state = AccountState::kConfirmationPending;
    a.notice_queued_at = at;
  }
  config::LifecycleConfig cfg_;  // the notice's defaults: 2y, 30d, 30d, 5y, 30d
};

// The inactivity notice falls due exactly two calendar years after the last activity.
TEST_F(PolicyTest, NoticeDueTwoYearsAfterLastActivityDayBeforeDayOfDayAfter) {
  Account a = NewAccount("2026-03-10T12:00:00Z");
  FakeClock clock("2028-03-09T12:00:00Z");
  EXPECT_FALSE(Decide(a, cfg_, clock.Now()).due_now);
  clock.Advance(kDay);
  Decision d = Decide(a, cfg_, clock.Now());
  EXPECT_TRUE(d.due_now);
  EXPECT_EQ(d.next.action, Action::kQueueInactivityNotice);
  EXPECT_EQ(d.next.due, T("2028-03-10T12:00:00Z"));
  clock.Advance(Seconds(-1));
  EXPECT_FALSE(Decide(a, cfg_, clock.Now()).due_now);
  clock.Advance(Seconds(1) + Seconds(86400));
  EXPECT_TRUE(Decide(a, cfg_, clock.Now()).due_now);
}

// Without any recorded activity the idle period starts at creation.
TEST_F(PolicyTest, CreatedAtCountsWhenNoActivity) {
  Account a = NewAccount("2026-05-01");
  a.last_activity_at.reset();
  EXPECT_EQ(NextAccountAction(a, cfg_).due, T("2028-05-01"));
}

// A transfer (activity without login) moves the notice date like a login does.
TEST_F(PolicyTest, TransferActivityPostponesNotice) {
  Account a = NewAccount("2026-05-01");
  a.last_activity_at = T("2027-01-15T08:30:00Z");
  EXPECT_EQ(NextAccountAction(a, cfg_).due, T("2029-01-15T08:30:00Z"));
}

// Leap day + 2 years clamps to Feb 28; a month-end start with a months period clamps too.
TEST_F(PolicyTest, LeapDayAndMonthEndsClamp) {
  Account a = NewAccount("2028-02-29T10:00:00Z");
  EXPECT_EQ(NextAccountAction(a, cfg_).due, T("2030-02-28T10:00:00Z"));
  config::LifecycleConfig monthly = cfg_;
  monthly.inactivity_after = Period{1, Period::Unit::kMonths};
  Account b = NewAccount("2027-01-31");
  EXPECT_EQ(NextAccountAction(b, monthly).due, T("2027-02-28"));
  Account c = NewAccount("2028-01-31");
  EXPECT_EQ(NextAccountAction(c, monthly).due, T("2028-02-29"));
}

// An account is never closed while its notice is undelivered, however long mail is down.
TEST_F(PolicyTest, UndeliveredNoticeNeverCloses) {
  Account a = NewAccount("2026-01-01");
  QueueNotice(a, T("2028-01-01"));
  for (int day = 0; day < 400; ++day) {
    TimePoint now = AddPeriod(T("2028-01-01"), Period{day, Period::Unit::kDays});
    Decision d = Decide(a, cfg_, now);
    EXPECT_EQ(d.next.action, Action::kNone);
    EXPECT_FALSE(d.due_now);
  }
}

// Mail down for 40 days: the window starts at delivery (day 40), so closure is at day 70.
TEST_F(PolicyTest, MailDownFortyDaysWindowStartsAtDelivery) {
  Account a = NewAccount("2026-01-01");
  QueueNotice(a, T("2028-01-01"));
  a.notice_delivered_at = T("2028-02-10");  // 40 days later
  FakeClock clock("2028-03-10T23:59:59Z");  // delivery + 29d 23:59:59
  EXPECT_FALSE(Decide(a, cfg_, clock.Now()).due_now);
  clock.Advance(Seconds(1));
  Decision d = Decide(a, cfg_, clock.Now());
  EXPECT_EQ(d.next.action, Action::kCloseForInactivity);
  EXPECT_EQ(d.next.due, T("2028-03-11"));
  EXPECT_TRUE(d.due_now);
}

// A confirmation window of one month starting on Jan 31 ends on the last day of February.
TEST_F(PolicyTest, MonthWindowFromMonthEnd) {
  config::LifecycleConfig c = cfg_;
  c.confirmation_window = Period{1, Period::Unit::kMonths};
  Account a = NewAccount("2026-01-31");
  QueueNotice(a, T("2028-01-31"));
  a.notice_delivered_at = T("2028-01-31T06:00:00Z");
  EXPECT_EQ(NextAccountAction(a, c).due, T("2028-02-29T06:00:00Z"));
}

// A login or transfer during the window confirms the account instead of closing it.
TEST_F(PolicyTest, ActivityDuringWindowReactivates) {
  Account a = NewAccount("2026-01-01");
  QueueNotice(a, T("2028-01-01"));
  a.notice_delivered_at = T("2028-01-02");
  a.last_activity_at = T("2028-01-20");
  Decision d = Decide(a, cfg_, T("2028-01-20T00:00:01Z"));
  EXPECT_EQ(d.next.action, Action::kReactivate);
  EXPECT_TRUE(d.due_now);
  // Activity before delivery (after queueing) also confirms.
  Account b = NewAccount("2026-01-01");
  QueueNotice(b, T("2028-01-01"));
  b.last_activity_at = T("2028-01-01T05:00:00Z");
  EXPECT_EQ(NextAccountAction(b, cfg_).action, Action::kReactivate);
}

// Once reactivated, the next notice is two years after the confirming activity.
TEST_F(PolicyTest, ReactivatedAccountStartsNewIdlePeriod) {
  Account a = NewAccount("2026-01-01");
  a.last_activity_at = T("2028-01-20");
  a.state = AccountState::kActive;
  a.notice_queued_at = T("2028-01-01");
  a.notice_delivered_at = T("2028-01-02");
  EXPECT_EQ(NextAccountAction(a, cfg_),
            (NextAction{Action::kQueueInactivityNotice, T("2030-01-20")}));
}

// Consent withdrawn during the window does not change the closure date.
TEST_F(PolicyTest, ConsentWithdrawnDuringWindowKeepsClosureDate) {
  Account a = NewAccount("2026-01-01");
  a.marketing_consent = true;
  QueueNotice(a, T("2028-01-01"));
  a.notice_delivered_at = T("2028-01-01");
  TimePoint before = *NextAccountAction(a, cfg_).due;
  a.marketing_consent = false;
  a.consent_withdrawn_at = T("2028-01-15");
  EXPECT_EQ(*NextAccountAction(a, cfg_).due, before);
  EXPECT_FALSE(KeepsMarketingContact(a));
}

// A closed account is purged 30 days after closure: day before, day of, day after.
TEST_F(PolicyTest, PurgeThirtyDaysAfterClosure) {
  Account a = NewAccount("2026-01-01");
  a.state = AccountState::kClosed;
  a.closed_at = T("2026-12-31T09:00:00Z");
  a.closed_reason = accounts::CloseReason::kRequest;
  EXPECT_FALSE(Decide(a, cfg_, T("2027-01-29T09:00:00Z")).due_now);
  Decision d = Decide(a, cfg_, T("2027-01-30T09:00:00Z"));
  EXPECT_TRUE(d.due_now);
  EXPECT_EQ(d.next.action, Action::kPurge);
  EXPECT_TRUE(Decide(a, cfg_, T("2027-01-31T09:00:00Z")).due_now);
}

// Closure with consent keeps a marketing contact at the purge; without consent it does not.
TEST_F(PolicyTest, ClosureWithAndWithoutConsent) {
  Account a = NewAccount("2026-01-01");
  a.state = AccountState::kClosed;
  a.closed_at = T("2026-06-01");
  a.marketing_consent = true;
  EXPECT_TRUE(KeepsMarketingContact(a));
  EXPECT_EQ(NextAccountAction(a, cfg_).action, Action::kPurge);
  a.marketing_consent = false;
  EXPECT_FALSE(KeepsMarketingContact(a));
  EXPECT_EQ(NextAccountAction(a, cfg_).action, Action::kPurge);
}

// A withdrawal while closed brings the purge forward when withdrawal_purge is shorter.
TEST_F(PolicyTest, WithdrawalWhileClosedCanBringPurgeForward) {
  config::LifecycleConfig c = cfg_;
  c.withdrawal_purge = Period{7, Period::Unit::kDays};
  Account a = NewAccount("2026-01-01");
  a.state = AccountState::kClosed;
  a.closed_at = T("2026-06-01");
  a.consent_withdrawn_at = T("2026-06-05");
  EXPECT_EQ(NextAccountAction(a, c).due, T("2026-06-12"));
  a.consent_withdrawn_at = T("2026-03-01");  // before closure: counts from the closure
  EXPECT_EQ(NextAccountAction(a, c).due, T("2026-06-08"));
  EXPECT_EQ(NextAccountAction(a, cfg_).due, T("2026-07-01"));  // 30d both ways
}

// Reopening before the purge brings back the inactivity rule and drops the purge.
TEST_F(PolicyTest, ReopenBeforePurge) {
  Account a = NewAccount("2026-01-01");
  a.state = AccountState::kClosed;
  a.closed_at = T("2026-06-01");
  EXPECT_EQ(NextAccountAction(a, cfg_).action, Action::kPurge);
  a.state = AccountState::kActive;
  a.closed_at.reset();
  a.last_activity_at = T("2026-06-10");
  EXPECT_EQ(NextAccountAction(a, cfg_),
            (NextAction{Action::kQueueInactivityNotice, T("2028-06-10")}));
}

// The marketing contact goes five years after the last communication while consent stands.
TEST_F(PolicyTest, ContactKeptFiveYearsAfterLastCommunication) {
  ContactRetention c{true, std::nullopt, T("2028-02-29")};
  EXPECT_EQ(ContactDeadline(c, cfg_), T("2033-02-28"));
}

// A withdrawal ends the contact within 30 days, or earlier if the five years end first.
TEST_F(PolicyTest, ContactWithdrawalDeadlineIsTheMinimum) {
  ContactRetention c{false, T("2030-01-31"), T("2028-03-01")};
  EXPECT_EQ(ContactDeadline(c, cfg_), T("2030-03-02"));
  ContactRetention late{false, T("2033-02-20"), T("2028-03-01")};
  EXPECT_EQ(ContactDeadline(late, cfg_), T("2033-03-01"));
  ContactRetention none{false, std::nullopt, T("2028-03-01")};
  EXPECT_EQ(ContactDeadline(none, cfg_), T("2028-03-01"));
}

// Action names round-trip; unknown names are refused.
TEST_F(PolicyTest, ActionNamesRoundTrip) {
  for (Action a : {Action::kNone, Action::kQueueInactivityNotice, Action::kReactivate,
                   Action::kCloseForInactivity, Action::kPurge, Action::kDeleteMarketingContact}) {
    EXPECT_EQ(*ParseAction(ActionName(a)), a);
  }
  EXPECT_FALSE(ParseAction("explode"));
}

// The retention deadline reported for each state.
TEST_F(PolicyTest, RetentionDeadlines) {
  Account a = NewAccount("2026-01-01");
  EXPECT_EQ(AccountRetentionDeadline(a, cfg_), T("2028-03-01"));  // +2y +30d +30d
  QueueNotice(a, T("2028-01-01"));
  EXPECT_EQ(AccountRetentionDeadline(a, cfg_), std::nullopt);
  a.notice_delivered_at = T("2028-01-05");
  EXPECT_EQ(AccountRetentionDeadline(a, cfg_), T("2028-03-05"));
  a.state = AccountState::kClosed;
  a.closed_at = T("2028-02-04");
  EXPECT_EQ(AccountRetentionDeadline(a, cfg_), T("2028-03-05"));
}

}  // namespace
}  // namespace sftplc::lifecycle
