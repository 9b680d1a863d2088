#pragma once

// Fakes for the transport's seams: a LoginGate with one account ("alice" unless named,
// kPassword, or a key fingerprint set by the test; "banned" is banned) and a SessionRecorder that
// keeps the records in memory and lets a test wait (bounded) for logins and ends.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "sftpd/server/login_gate.h"
#include "sftpd/server/session_recorder.h"

namespace sftplc::server {

inline constexpr const char* kPassword = "correct horse battery staple";

class FakeGate final : public LoginGate {
 public:
  explicit FakeGate(AccountId id, std::string username = "alice")
      : id_(id), username_(std::move(username)) {}
  auth::AuthDecision CheckPassword(const auth::AuthRequest& r, const Secret& pw) override {
    std::lock_guard lock(mu_);
    ++password_checks;
    last_version = r.client_version;
    if (r.username == "banned") {
      return {auth::AuthOutcome::kBanned, std::nullopt};
    }
    if (r.username == username_ && pw.view() == kPassword) {
      return Accept();
    }
    return {};
  }
  auth::AuthDecision CheckPublicKey(const auth::AuthRequest& r, const OfferedKey& key,
                                    bool verified) override {
    std::lock_guard lock(mu_);
    if (verified) {
      ++verified_key_checks;
    } else {
      ++key_probes;
    }
    if (r.username == username_ && key.fingerprint == allowed_fingerprint) {
      return Accept();
    }
    return {};
  }
  // Sources listed in known_banned are banned "from memory" (asked at accept); SourceBanned
  // (asked on the session's thread) answers from the same list and counts the calls.
  bool SourceKnownBanned(const std::string& ip) override {
    std::lock_guard lock(mu_);
    return known_banned.count(ip) != 0;
  }
  bool SourceBanned(const std::string& ip) override {
    ++ban_lookups;
    return SourceKnownBanned(ip);
  }
  auth::AuthDecision Accept() {
    accounts::Account a;
    a.id = id_;
    return {auth::AuthOutcome::kAccepted, a};
  }

  std::mutex mu_;
  AccountId id_;
  std::string username_;
  std::string allowed_fingerprint;
  // Counted by the session threads, read by the test thread (atomic: no lock on the read side).
  std::atomic<int> password_checks{0};
  std::atomic<int> key_probes{0};
  std::atomic<int> verified_key_checks{0};
  std::atomic<int> ban_lookups{0};
  std::set<std::string> known_banned;  // guarded by mu_
  std::string last_version;
};

struct Record {
  LoginInfo login;
  usage::Counters counters;
  std::string reason;
  bool ended = false;
  bool activity = false;
};

class FakeRecorder final : public SessionRecorder {
 public:
  Result<int64_t> Begin(const LoginInfo& login) override {
    std::lock_guard lock(mu_);
    records_.push_back(Record{login, {}, "", false, false});
    cv_.notify_all();
    return static_cast<int64_t>(records_.size());
  }
  Status StillAuthorized(const AccountId&, const LoginCredential&) override {
    std::lock_guard lock(mu_);
    if (revoked_.empty()) {
      return {};
    }
    return Error::PermissionDenied(revoked_);
  }
  // From now on every running session's login is revoked for `why` (empty: it stands again).
  void Revoke(const std::string& why) {
    std::lock_guard lock(mu_);
    revoked_ = why;
  }
  Status Progress(int64_t id, const AccountId&, const usage::Counters& c, bool activity,
                  TimePoint) override {
    std::lock_guard lock(mu_);
    records_[id - 1].counters = c;
    records_[id - 1].activity |= activity;
    return {};
  }
  Status End(int64_t id, const AccountId&, const usage::Counters& c, bool activity,
             std::string_view reason, TimePoint) override {
    std::lock_guard lock(mu_);
    Record& r = records_[id - 1];
    r.counters = c;
    r.activity |= activity;
    r.reason = reason;
    r.ended = true;
    cv_.notify_all();
    return {};
  }
  // Waits (bounded) until `n` sessions have ended; returns the records.
  std::vector<Record> WaitEnded(std::size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(60), [&] {
      std::size_t ended = 0;
      for (const Record& r : records_) {
        ended += r.ended ? 1 : 0;
      }
      return ended >= n;
    });
    return records_;
  }
  // Waits (bounded) until `n` sessions have logged in.
  std::size_t WaitBegun(std::size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(60), [&] { return records_.size() >= n; });
    return records_.size();
  }
  std::vector<Record> Snapshot() {
    std::lock_guard lock(mu_);
    return records_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Record> records_;
  std::string revoked_;
};

}  // namespace sftplc::server
