#pragma once

// Authenticator: decides password and public-key logins against the account store, without
// revealing whether an account exists: an unknown, closed or purged account is verified against
// a dummy Argon2id hash of the same cost and gets the same answer as a wrong password, and every
// failed password attempt is padded to one time floor. Argon2 verifications are capped (a
// semaphore) so memory stays at m_cost x max_concurrent_verifies. Failed logins feed the
// Defender (per source IP and per account) and, for existing accounts, the usage store.
// Thread-safe; blocking (call it from a session thread, never from a shared event loop).

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sftpd/core/accounts/account.h"
#include "sftpd/core/base/ids.h"
#include "sftpd/core/base/result.h"
#include "sftpd/core/base/secret.h"

namespace sftplc::auth {

enum class AuthMethod { kPassword, kPublicKey };
std::string_view AuthMethodName(AuthMethod m);  // "password", "publickey"

struct AuthRequest {
  std::string username;   // as the client sent it: never logged
  std::string remote_ip;  // "127.0.0.1"
  std::string client_version;  // "SSH-2.0-OpenSSH_9.2p1 ..." (for the usage record)
};

enum class AuthOutcome {
  kAccepted,  // the account is `account`
  kRejected,  // wrong password/key, unknown/closed account: all the same to the client
  kBanned,    // the source IP is banned: refuse without verifying
};

struct AuthDecision {
  AuthOutcome outcome = AuthOutcome::kRejected;
  std::optional<accounts::Account> account;  // set when accepted
};

}  // namespace sftplc::auth
