#include "sftpd/core/auth/authenticator.h"

#include <algorithm>
#include <thread>

#include "sftpd/core/accounts/account_store.h"
#include "sftpd/core/auth/defender.h"
#include "sftpd/core/auth/password_hasher.h"
#include "sftpd/core/auth/password_input.h"
#include "sftpd/core/usage/usage_store.h"

namespace sftplc::auth {

bool MayLogIn(const accounts::Account& a) {
  return a.state == accounts::AccountState::kActive ||
         a.state == accounts::AccountState::kConfirmationPending;
}

namespace {

// Holds one verification slot for the scope, counting the callers waiting for one and holding
// one (AuthenticatorStats).
class SlotGuard {
 public:
  SlotGuard(std::counting_semaphore<256>& s, std::atomic<int>& waiting, std::atomic<int>& active)
      : s_(s), active_(active) {
    waiting.fetch_add(1, std::memory_order_relaxed);
    s_.acquire();
    waiting.fetch_sub(1, std::memory_order_relaxed);
    active_.fetch_add(1, std::memory_order_relaxed);
  }
  ~SlotGuard() {
    active_.fetch_sub(1, std::memory_order_relaxed);
    s_.release();
  }
  SlotGuard(const SlotGuard&) = delete;
  SlotGuard& operator=(const SlotGuard&) = delete;

 private:
  std::counting_semaphore<256>& s_;
  std::atomic<int>& active_;
};

}  // namespace

std::string_view AuthMethodName(AuthMethod m) {
  return m == AuthMethod::kPublicKey ? "publickey" : "password";
}

void RealSleeper::SleepFor(std::chrono::nanoseconds d) { std::this_thread::sleep_for(d); }

RealSleeper& RealSleeper::Instance() {
  static RealSleeper sleeper;
  return sleeper;
}

AuthenticatorOptions AuthenticatorOptions::FromConfig(const config::Config& cfg) {
  AuthenticatorOptions o;
  o.failure_floor = cfg.auth.failure_floor;
  o.max_concurrent_verifies = cfg.server.max_concurrent_verifies;
  return o;
}

Result<std::unique_ptr<Authenticator>> Authenticator::Create(
    const AuthenticatorOptions& options, accounts::AccountStore& accounts, usage::UsageStore* usage,
    Defender& defender, const PasswordHasher& hasher, const Clock& clock, Sleeper& sleeper,
    Logger log) {
  if (options.max_concurrent_verifies < 1 || options.max_concurrent_verifies > 256) {
    return Error::InvalidArgument("max_concurrent_verifies must be between 1 and 256");
  }
  // The dummy hash has the configured cost, so verifying against it takes as long as verifying
  // a real password; its password is random and forgotten.
  Secret random = GeneratePassword();
  auto dummy = hasher.Hash(random);
  if (!dummy) {
    return Error::Unavailable(
        fmt::format("cannot compute the dummy password hash: {}", dummy.error().message()));
  }
  return std::unique_ptr<Authenticator>(new Authenticator(options, accounts, usage, defender,
                                                          hasher, clock, sleeper, std::move(log),
                                                          std::move(*dummy)));
}

Authenticator::Authenticator(const AuthenticatorOptions& options, accounts::AccountStore& accounts,
                             usage::UsageStore* usage, Defender& defender,
                             const PasswordHasher& hasher, const Clock& clock, Sleeper& sleeper,
                             Logger log, std::string dummy_hash)
    : options_(options),
      accounts_(accounts),
      usage_(usage),
      defender_(defender),
      hasher_(hasher),
      clock_(clock),
      sleeper_(sleeper),
      log_(std::move(log)),
      dummy_hash_(std::move(dummy_hash)),
      verify_slots_(options.max_concurrent_verifies) {}

AuthenticatorStats Authenticator::stats() const {
  AuthenticatorStats s;
  s.verifies_waiting = verifies_waiting_.load(std::memory_order_relaxed);
  s.verifies_active = verifies_active_.load(std::memory_order_relaxed);
  s.failures_wrong_credentials = failures_wrong_credentials_.load(std::memory_order_relaxed);
  s.failures_unknown_user = failures_unknown_user_.load(std::memory_order_relaxed);
  return s;
}

void Authenticator::PadToFloor(std::chrono::steady_clock::time_point start,
                               std::string_view username) {
  auto floor = std::chrono::duration_cast<std::chrono::nanoseconds>(options_.failure_floor);
  if (defender_.NameUnderAttack(username)) {
    floor *= std::max(1, options_.attacked_name_floor_factor);
  }
  auto elapsed = clock_.SteadyNow() - start;
  if (elapsed < floor) {
    sleeper_.SleepFor(floor - elapsed);
  }
}

AuthDecision Authenticator::Fail(const AuthRequest& request,
                                 const std::optional<accounts::Account>& account,
                                 AuthMethod method) {
  if (account && usage_ != nullptr) {
    usage::FailedLogin f;
    f.account = account->id;
    f.at = clock_.Now();
    f.remote_ip = request.remote_ip;
    f.auth_method = std::string(AuthMethodName(method));
    if (auto st = usage_->RecordFailedLogin(f); !st) {
      SPDLOG_LOGGER_WARN(log_, "failed login not recorded account={} error={}",
                         account->id.short_str(), st.error());
    }
  }
  (account ? failures_wrong_credentials_ : failures_unknown_user_)
      .fetch_add(1, std::memory_order_relaxed);
  auto ban = defender_.RecordFailure(request.remote_ip, request.username);
  AuthDecision d;
  d.outcome = ban ? AuthOutcome::kBanned : AuthOutcome::kRejected;
  return d;
}

bool Authenticator::SourceBanned(std::string_view ip) {
  auto banned = defender_.BannedUntil(ip);
  return banned && banned->has_value();
}

bool Authenticator::SourceKnownBanned(std::string_view ip) {
  return defender_.KnownBan(ip).has_value();
}

std::optional<AuthDecision> Authenticator::CheckBan(const AuthRequest& request, AuthMethod method) {
  auto banned = defender_.BannedUntil(request.remote_ip);
  if (!banned) {
    // Fail closed: a login that cannot be checked against the bans is refused. A ban list that
    // cannot be read must not become a way around the ban.
    SPDLOG_LOGGER_ERROR(log_, "login refused: ban check failed method={} ip={} error={}",
                        AuthMethodName(method), request.remote_ip, banned.error());
    return AuthDecision{AuthOutcome::kRejected, std::nullopt};
  }
  if (*banned) {
    return AuthDecision{AuthOutcome::kBanned, std::nullopt};
  }
  return std::nullopt;
}

AuthDecision Authenticator::CheckPassword(const AuthRequest& request, const Secret& password) {
  auto start = clock_.SteadyNow();
  if (auto refused = CheckBan(request, AuthMethod::kPassword)) {
    // A banned source and a failed ban check are answered like a wrong password, timing
    // included: an answer at once would tell the ban (and so the score) apart.
    PadToFloor(start, request.username);
    return *refused;
  }

  std::optional<accounts::Account> account;
  auto found = accounts_.FindByUsername(request.username);
  if (found) {
    account = std::move(*found);
  } else if (!found.error().IsNotFound()) {
    SPDLOG_LOGGER_ERROR(log_, "password login cannot look up the account error={}", found.error());
  }
  bool usable = account && MayLogIn(*account);
  bool real = usable && !account->password_hash.empty() && password.size() <= kMaxPasswordInput;

  bool match = false;
  {
    SlotGuard slot(verify_slots_, verifies_waiting_, verifies_active_);
    auto verified = hasher_.Verify(
        real ? std::string_view(account->password_hash) : std::string_view(dummy_hash_), password);
    if (!verified) {
      SPDLOG_LOGGER_ERROR(log_, "password cannot be verified account={} error={}",
                          real ? account->id.short_str() : std::string_view("-"), verified.error());
    }
    match = real && verified.value_or(false);
  }

  if (!match) {
    AuthDecision d = Fail(request, account, AuthMethod::kPassword);
    PadToFloor(start, request.username);
    return d;
  }

  if (hasher_.NeedsRehash(account->password_hash)) {
    auto fresh = hasher_.Hash(password);
    if (!fresh) {
      SPDLOG_LOGGER_WARN(log_, "password rehash failed account={} error={}",
                         account->id.short_str(), fresh.error());
    } else if (auto st = accounts_.SetPasswordHash(account->id, *fresh, accounts::Actor{"sftpd"});
               !st) {
      SPDLOG_LOGGER_WARN(log_, "password rehash not stored account={} error={}",
                         account->id.short_str(), st.error());
    } else {
      SPDLOG_LOGGER_INFO(log_, "password rehashed with current parameters account={}",
                         account->id.short_str());
      account->password_hash = std::move(*fresh);
    }
  }
  return AuthDecision{AuthOutcome::kAccepted, std::move(account)};
}

AuthDecision Authenticator::CheckPublicKey(const AuthRequest& request, std::string_view key_type,
                                           std::string_view key_base64, bool signature_verified) {
  auto start = clock_.SteadyNow();
  if (auto refused = CheckBan(request, AuthMethod::kPublicKey)) {
    if (signature_verified) {
      PadToFloor(start, request.username);
    }
    return *refused;
  }
  std::optional<accounts::Account> account;
  auto found = accounts_.FindByUsername(request.username);
  if (found) {
    account = std::move(*found);
  } else if (!found.error().IsNotFound()) {
    SPDLOG_LOGGER_ERROR(log_, "key login cannot look up the account error={}", found.error());
  }
  bool usable = account && MayLogIn(*account);

  bool match = false;
  if (!usable) {
    // The same queries as for a real account, so the probe's timing does not tell names apart.
    (void)accounts_.ListKeys(AccountId::New());
  } else {
    auto keys = accounts_.ListKeys(account->id);
    if (!keys) {
      SPDLOG_LOGGER_ERROR(log_, "key login cannot list keys account={} error={}",
                          account->id.short_str(), keys.error());
    } else {
      match = std::any_of(keys->begin(), keys->end(), [&](const accounts::PublicKey& k) {
        return k.key_type == key_type && k.key_base64 == key_base64;
      });
    }
  }

  if (match) {
    return AuthDecision{AuthOutcome::kAccepted, std::move(account)};
  }
  if (!signature_verified) {
    // A refused probe scores like a failure: otherwise anyone holding a victim's public key
    // could confirm their username with unlimited probes. Not recorded on the account (clients
    // offer every key they hold) and not padded (a probe costs no verification).
    auto ban = defender_.RecordFailure(request.remote_ip, request.username);
    return AuthDecision{ban ? AuthOutcome::kBanned : AuthOutcome::kRejected, std::nullopt};
  }
  AuthDecision d = Fail(request, account, AuthMethod::kPublicKey);
  PadToFloor(start, request.username);
  return d;
}

}  // namespace sftplc::auth
