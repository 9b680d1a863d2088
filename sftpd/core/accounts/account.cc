#include "sftpd/core/accounts/account.h"

namespace sftplc::accounts {

std::string_view StateName(AccountState s) {
  switch (s) {
    case AccountState::kActive:
      return "active";
    case AccountState::kConfirmationPending:
      return "confirmation_pending";
    case AccountState::kClosed:
      return "closed";
  }
  return "active";
}

Result<AccountState> ParseState(std::string_view name) {
  for (AccountState s :
       {AccountState::kActive, AccountState::kConfirmationPending, AccountState::kClosed}) {
    if (StateName(s) == name) {
      return s;
    }
  }
  return Error::InvalidArgument("state must be active, confirmation_pending or closed");
}

std::string_view CloseReasonName(CloseReason r) {
  switch (r) {
    case CloseReason::kRequest:
      return "request";
    case CloseReason::kAdmin:
      return "admin";
    case CloseReason::kInactivity:
      return "inactivity";
  }
  return "admin";
}

Result<CloseReason> ParseCloseReason(std::string_view name) {
  for (CloseReason r : {CloseReason::kRequest, CloseReason::kAdmin, CloseReason::kInactivity}) {
    if (CloseReasonName(r) == name) {
      return r;
    }
  }
  return Error::InvalidArgument("reason must be request, admin or inactivity");
}

}  // namespace sftplc::accounts
