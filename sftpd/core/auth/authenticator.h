#pragma once

// Authenticator: decides password and public-key logins against the account store, without
// revealing whether an account exists: an unknown, closed or purged account is verified against
// a dummy Argon2id hash of the same cost and gets the same answer as a wrong password, and every
// failed password attempt is padded to one time floor. Argon2 verifications are capped (a
// semaphore) so memory stays at m_cost x max_concurrent_verifies. Failed logins feed the
// Defender (per source IP and per login name) and, for existing accounts, the usage store.
// Thread-safe; blocking (call it from a session thread, never from a shared event loop).
//
// The Authenticator decides; it does not record the login itself: the caller does that when it
// opens the session (AccountStore::RecordLogin sets last_login_at and turns a
// confirmation_pending account back to active), so a login that cannot be recorded is refused
// there.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <semaphore>
#include <string>
#include <string_view>

#include "sftpd/core/accounts/account.h"
#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/ids.h"
#include "sftpd/core/base/log.h"
#include "sftpd/core/base/result.h"
#include "sftpd/core/base/secret.h"
#include "sftpd/core/config/config.h"

namespace sftplc::accounts {
class AccountStore;
}
namespace sftplc::usage {
class UsageStore;
}

namespace sftplc::auth {

class Defender;
class PasswordHasher;

enum class AuthMethod { kPassword, kPublicKey };

// Whether an account in this state may log in (active or confirmation_pending). The one rule,
// used at login and by a running session re-checking its account.
bool MayLogIn(const accounts::Account& a);
std::string_view AuthMethodName(AuthMethod m);  // "password", "publickey"

struct AuthRequest {
  std::string username;        // as the client sent it: never logged
  std::string remote_ip;       // "127.0.0.1"
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

// What the authenticator is doing and has done, for sftpd's metrics. No names, no addresses.
struct AuthenticatorStats {
  int verifies_waiting = 0;                 // password checks waiting for an Argon2 slot now
  int verifies_active = 0;                  // Argon2 verifications running now
  uint64_t failures_wrong_credentials = 0;  // failed logins of accounts that may log in
  uint64_t failures_unknown_user = 0;       // failed logins naming no usable account
};

// Waits; injected so tests can check the failure floor without waiting. Thread-safe.
class Sleeper {
 public:
  virtual ~Sleeper() = default;
  virtual void SleepFor(std::chrono::nanoseconds d) = 0;
};

// std::this_thread::sleep_for.
class RealSleeper final : public Sleeper {
 public:
  void SleepFor(std::chrono::nanoseconds d) override;
  static RealSleeper& Instance();
};

struct AuthenticatorOptions {
  // Every failed password attempt takes at least this long, counted from its start.
  std::chrono::milliseconds failure_floor{1000};
  // ... and this many times as long while the attempted name is under attack (Defender).
  int attacked_name_floor_factor = 4;
  // Argon2 verifications running at once (others wait for a slot).
  int max_concurrent_verifies = 2;

  // auth.failure_floor_ms and server.max_concurrent_verifies.
  static AuthenticatorOptions FromConfig(const config::Config& cfg);
};

class Authenticator {
 public:
  // Computes the dummy hash (one Argon2 hash at the configured cost, of a random password).
  // `usage` may be null (failed logins are then not recorded per account). kUnavailable when the
  // hash cannot be computed.
  // REQUIRES: every reference outlives the authenticator; max_concurrent_verifies in 1..256.
  static Result<std::unique_ptr<Authenticator>> Create(const AuthenticatorOptions& options,
                                                       accounts::AccountStore& accounts,
                                                       usage::UsageStore* usage, Defender& defender,
                                                       const PasswordHasher& hasher,
                                                       const Clock& clock, Sleeper& sleeper,
                                                       Logger log);

  // A password login. kBanned (no verification, padded to the failure floor like any failure)
  // when the source is banned. kRejected, padded likewise, when the ban check itself fails: the
  // login fails closed, and nothing is scored or recorded (the database is what failed).
  // Otherwise one Argon2 verification, always: against the account's hash when the account
  // exists, may log in (`active` or `confirmation_pending`) and has a password; against the
  // dummy hash for everything else (unknown name, closed account, key-only account, overlong
  // password), with the same answer. On success with outdated parameters the password is
  // rehashed and stored. A failure is scored by the Defender (kBanned when it caused a ban),
  // recorded for an existing account, and returned no sooner than the failure floor after the
  // call began.
  AuthDecision CheckPassword(const AuthRequest& request, const Secret& password);

  // A public-key login: `key_type` and `key_base64` (the blob, as in authorized_keys) are
  // compared with the keys of an account that may log in. With `signature_verified` false this
  // only answers the client's probe: a refused probe is scored (kBanned when it caused a ban)
  // but neither recorded on an account nor padded; with true it decides the login, and a failure
  // (or a banned source) is scored, recorded and padded to the failure floor like a wrong
  // password. A failed ban check refuses (kRejected) as for passwords.
  AuthDecision CheckPublicKey(const AuthRequest& request, std::string_view key_type,
                              std::string_view key_base64, bool signature_verified);

  // A snapshot of the counters above. Thread-safe, lock-free.
  AuthenticatorStats stats() const;

  // True when `ip` is banned now (the defender's cached answer); false when it is not or when
  // the bans cannot be read (the login itself then fails closed). For dropping a banned source's
  // connection before the key exchange. Thread-safe.
  bool SourceBanned(std::string_view ip);

  // True when the defender already holds a ban on `ip` in memory (Defender::KnownBan). Never
  // reads the database, never blocks on I/O: for the accept loop. Thread-safe.
  bool SourceKnownBanned(std::string_view ip);

 private:
  Authenticator(const AuthenticatorOptions& options, accounts::AccountStore& accounts,
                usage::UsageStore* usage, Defender& defender, const PasswordHasher& hasher,
                const Clock& clock, Sleeper& sleeper, Logger log, std::string dummy_hash);

  // Asks the Defender about the source address: nullopt when it may try, kBanned when it is
  // banned, kRejected (logged, never with the username) when the bans cannot be read.
  std::optional<AuthDecision> CheckBan(const AuthRequest& request, AuthMethod method);
  // A failure: scores it, records it for an existing account, returns kRejected or kBanned.
  AuthDecision Fail(const AuthRequest& request, const std::optional<accounts::Account>& account,
                    AuthMethod method);
  void PadToFloor(std::chrono::steady_clock::time_point start, std::string_view username);

  AuthenticatorOptions options_;
  accounts::AccountStore& accounts_;
  usage::UsageStore* usage_;
  Defender& defender_;
  const PasswordHasher& hasher_;
  const Clock& clock_;
  Sleeper& sleeper_;
  Logger log_;
  std::string dummy_hash_;
  std::counting_semaphore<256> verify_slots_;
  std::atomic<int> verifies_waiting_{0};
  std::atomic<int> verifies_active_{0};
  std::atomic<uint64_t> failures_wrong_credentials_{0};
  std::atomic<uint64_t> failures_unknown_user_{0};
};

}  // namespace sftplc::auth
