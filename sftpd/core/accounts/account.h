#pragma once

// The account record and its parts. Personal fields (full_name, company, email, phone) never
// reach a log line; code logs `id` instead.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/ids.h"
#include "sftpd/core/base/result.h"

namespace sftplc::accounts {

// The states of docs/DESIGN (the lifecycle). A purged account has no row in `accounts`: what
// remains is a receipt (and, while consent stands, a marketing contact).
enum class AccountState { kActive, kConfirmationPending, kClosed };

std::string_view StateName(AccountState s);  // "active", "confirmation_pending", "closed"
Result<AccountState> ParseState(std::string_view name);

// Why an account was closed.
enum class CloseReason { kRequest, kAdmin, kInactivity };
std::string_view CloseReasonName(CloseReason r);  // "request", "admin", "inactivity"
Result<CloseReason> ParseCloseReason(std::string_view name);

struct Account {
  AccountId id;
  std::string username;
  std::string full_name;
  std::string company;  // may be empty
  std::string email;
  std::string phone;          // E.164
  std::string password_hash;  // PHC string ($argon2id$...), empty when only keys are used
  AccountState state = AccountState::kActive;
  TimePoint created_at{};
  TimePoint updated_at{};
  std::optional<TimePoint> last_login_at;
  std::optional<TimePoint> last_activity_at;  // login or transfer; starts at created_at
  // confirmation_pending
  std::optional<TimePoint> notice_queued_at;
  std::optional<TimePoint> notice_delivered_at;  // the confirmation window starts here
  // closed
  std::optional<TimePoint> closed_at;
  std::optional<CloseReason> closed_reason;
  // marketing consent (the ledger is in consent_events; this is the current basis)
  bool marketing_consent = false;
  std::optional<TimePoint> consent_withdrawn_at;
  std::optional<TimePoint> last_communication_at;
  // what the lifecycle sweep does next, and when (indexed: a sweep reads only what is due)
  std::string next_action;  // "" when nothing is scheduled
  std::optional<TimePoint> next_action_due;
};

// What `sftpctl account create` collects. Validated by ValidateNewAccount().
struct NewAccount {
  std::string username;
  std::string full_name;
  std::string company;
  std::string email;
  std::string phone;  // any common notation; stored normalised to E.164
  std::string password_hash;
  bool marketing_consent = false;
  std::string consent_source;  // required when marketing_consent
};

// A partial update: only the fields that are set change.
struct AccountUpdate {
  std::optional<std::string> full_name;
  std::optional<std::string> company;
  std::optional<std::string> email;
  std::optional<std::string> phone;
};

struct PublicKey {
  int64_t id = 0;
  AccountId account_id;
  std::string key_type;     // "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa", ...
  std::string key_base64;   // the key blob, base64, as in authorized_keys
  std::string fingerprint;  // "SHA256:..." as ssh-keygen -l prints it
  std::string comment;
  TimePoint added_at{};
};

struct ConsentEvent {
  int64_t id = 0;
  AccountId account_id;
  bool granted = false;  // true: granted; false: withdrawn
  TimePoint at{};
  std::string source;  // how the client expressed it: "web form", "email 2026-11-02", ...
  std::string actor;   // "admin:<os user>"
};

// Who did something: "admin:<os user>", "sftpd", "lifecycle".
struct Actor {
  std::string name;
};

}  // namespace sftplc::accounts
