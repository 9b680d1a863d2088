#include "sftpd/core/lifecycle/policy.h"

#include <fmt/format.h>

#include <algorithm>

#include "sftpd/core/base/calendar.h"

namespace sftplc::lifecycle {

using accounts::Account;
using accounts::AccountState;

std::string_view ActionName(Action a) {
  switch (a) {
    case Action::kNone:
      return "";
    case Action::kQueueInactivityNotice:
      return "inactivity_notice";
    case Action::kReactivate:
      return "reactivate";
    case Action::kCloseForInactivity:
      return "close_inactivity";
    case Action::kPurge:
      return "purge";
    case Action::kDeleteMarketingContact:
      return "delete_contact";
  }
  return "";
}

Result<Action> ParseAction(std::string_view name) {
  for (Action a : {Action::kNone, Action::kQueueInactivityNotice, Action::kReactivate,
                   Action::kCloseForInactivity, Action::kPurge, Action::kDeleteMarketingContact}) {
    if (ActionName(a) == name) {
      return a;
    }
  }
  return Error::InvalidArgument(fmt::format("unknown lifecycle action '{}'", name));
}

bool NextAction::IsDue(TimePoint now) const {
  return action != Action::kNone && due.has_value() && *due <= now;
}

TimePoint LastActivity(const Account& a) {
  if (a.last_activity_at && *a.last_activity_at > a.created_at) {
    return *a.last_activity_at;
  }
  return a.created_at;
}

NextAction NextAccountAction(const Account& a, const config::LifecycleConfig& cfg) {
  switch (a.state) {
    case AccountState::kActive:
      return {Action::kQueueInactivityNotice, AddPeriod(LastActivity(a), cfg.inactivity_after)};
    case AccountState::kConfirmationPending: {
      // Any activity once the notice was queued confirms the account: a login does that in
      // the store already; a transfer only moves last_activity_at, so the sweep finishes it.
      TimePoint activity = LastActivity(a);
      TimePoint queued = a.notice_queued_at.value_or(activity);
      if (activity > queued || (a.notice_delivered_at && activity > *a.notice_delivered_at)) {
        return {Action::kReactivate, activity};
      }
      if (!a.notice_delivered_at) {
        // Undelivered mail is never a reason to close: wait for the outbox.
        return {Action::kNone, std::nullopt};
      }
      return {Action::kCloseForInactivity,
              AddPeriod(*a.notice_delivered_at, cfg.confirmation_window)};
    }
    case AccountState::kClosed: {
      TimePoint closed = a.closed_at.value_or(a.updated_at);
      TimePoint due = AddPeriod(closed, cfg.purge_after_closure);
      // Consent withdrawn: the data of a closed account goes within withdrawal_purge of the
      // later of closure and withdrawal, if that comes first.
      if (!a.marketing_consent && a.consent_withdrawn_at) {
        due = std::min(due,
                       AddPeriod(std::max(closed, *a.consent_withdrawn_at), cfg.withdrawal_purge));
      }
      return {Action::kPurge, due};
    }
  }
  return {Action::kNone, std::nullopt};
}

TimePoint ContactDeadline(const ContactRetention& c, const config::LifecycleConfig& cfg) {
  if (!c.consent && !c.consent_withdrawn_at) {
    return c.last_communication_at;
  }
  TimePoint deadline = AddPeriod(c.last_communication_at, cfg.marketing_retention);
  if (c.consent_withdrawn_at) {
    deadline = std::min(deadline, AddPeriod(*c.consent_withdrawn_at, cfg.withdrawal_purge));
  }
  return deadline;
}

bool KeepsMarketingContact(const Account& a) { return a.marketing_consent; }

Decision Decide(const Account& a, const config::LifecycleConfig& cfg, TimePoint now) {
  Decision d;
  d.next = NextAccountAction(a, cfg);
  d.due_now = d.next.IsDue(now);
  return d;
}

std::optional<TimePoint> AccountRetentionDeadline(const Account& a,
                                                  const config::LifecycleConfig& cfg) {
  NextAction next = NextAccountAction(a, cfg);
  switch (next.action) {
    case Action::kQueueInactivityNotice:
      // Earliest possible: notice delivered the day it is queued.
      return AddPeriod(AddPeriod(*next.due, cfg.confirmation_window), cfg.purge_after_closure);
    case Action::kCloseForInactivity:
      return AddPeriod(*next.due, cfg.purge_after_closure);
    case Action::kPurge:
      return next.due;
    case Action::kReactivate:
      return AddPeriod(
          AddPeriod(AddPeriod(LastActivity(a), cfg.inactivity_after), cfg.confirmation_window),
          cfg.purge_after_closure);
    case Action::kNone:
    case Action::kDeleteMarketingContact:
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace sftplc::lifecycle
