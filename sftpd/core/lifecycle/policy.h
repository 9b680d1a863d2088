#pragma once

// The lifecycle rules of docs/DESIGN (the privacy notice's promises) as pure functions of
// (account fields, consent state, LifecycleConfig, now) -> the next action and its due time.
// Nothing here reads a clock, a database or a global: the runner stores the result in
// accounts.next_action / next_action_due so a sweep reads only the rows that are due.
// All functions are thread-safe (pure).

#include <optional>
#include <string>
#include <string_view>

#include "sftpd/core/accounts/account.h"
#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/result.h"
#include "sftpd/core/config/config.h"

namespace sftplc::lifecycle {

// What the sweep does next to an account (or to the marketing contact left after a purge).
enum class Action {
  kNone,                    // nothing scheduled (e.g. waiting for a notice to be delivered)
  kQueueInactivityNotice,   // idle >= inactivity_after: queue the notice, -> confirmation_pending
  kReactivate,              // confirmation_pending with activity after the notice: -> active
  kCloseForInactivity,      // window after the delivered notice is over: -> closed (inactivity)
  kPurge,                   // closed_at + purge_after_closure: delete everything
  kDeleteMarketingContact,  // the contact's retention ended (retention or withdrawal)
};

// The stored names ("", "inactivity_notice", "reactivate", "close_inactivity", "purge",
// "delete_contact").
std::string_view ActionName(Action a);
// Inverse of ActionName; kInvalidArgument for an unknown name.
Result<Action> ParseAction(std::string_view name);

// An action and when it falls due (absent for kNone).
struct NextAction {
  Action action = Action::kNone;
  std::optional<TimePoint> due;

  friend bool operator==(const NextAction&, const NextAction&) = default;
  // True when the action is not kNone and due <= now.
  bool IsDue(TimePoint now) const;
};

// The start of the current idle period: last_activity_at (login or transfer), else created_at.
TimePoint LastActivity(const accounts::Account& a);

// The next action for an account that still exists (active, confirmation_pending, closed):
// - active: kQueueInactivityNotice at LastActivity + inactivity_after;
// - confirmation_pending: kReactivate at the activity time if there was activity after the
//   notice was queued; else, once delivered, kCloseForInactivity at notice_delivered_at +
//   confirmation_window; while undelivered kNone (undelivered mail never closes an account);
// - closed: kPurge at closed_at + purge_after_closure (updated_at if closed_at is missing), or
//   earlier at max(closed_at, consent_withdrawn_at) + withdrawal_purge when consent was
//   withdrawn and that comes first.
NextAction NextAccountAction(const accounts::Account& a, const config::LifecycleConfig& cfg);

// What is kept of a purged account while marketing consent stands.
struct ContactRetention {
  bool consent = false;                           // consent currently stands
  std::optional<TimePoint> consent_withdrawn_at;  // when it was withdrawn (if it was)
  TimePoint last_communication_at{};              // last notice sent, or the purge if none
};

// When the marketing contact must be gone: min(last_communication_at + marketing_retention,
// consent_withdrawn_at + withdrawal_purge); without standing consent (and no withdrawal
// recorded) it is due at last_communication_at, i.e. at once.
TimePoint ContactDeadline(const ContactRetention& c, const config::LifecycleConfig& cfg);

// Whether a purge keeps a marketing contact: consent stands at the time of the purge.
bool KeepsMarketingContact(const accounts::Account& a);

// The full decision for `now`: the next action, and whether it is due.
struct Decision {
  NextAction next;
  bool due_now = false;
};
Decision Decide(const accounts::Account& a, const config::LifecycleConfig& cfg, TimePoint now);

// The latest time until which this account's personal data may be held if nothing changes:
// active: inactivity notice date + confirmation_window + purge_after_closure (a lower bound
// that moves with every login and with late delivery); pending: delivered + window + purge
// (or none while undelivered); closed: the purge date. Used by export and the retention report.
std::optional<TimePoint> AccountRetentionDeadline(const accounts::Account& a,
                                                  const config::LifecycleConfig& cfg);

}  // namespace sftplc::lifecycle
