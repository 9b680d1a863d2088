#pragma once

// Defender: scores failed logins and bans the source addresses that keep failing.
//
// Per source address: every failed login or refused key probe adds score_failure, the same for
// an unknown name and a wrong password (so the ban comes at the same attempt); when the sum within
// `observation` reaches `threshold`, the address is banned for ban_time, and each further ban of
// the same address is ban_growth_percent longer, up to max_ban_time. A ban is remembered (for the
// growth) until it has been over for max_ban_time. IPv6 addresses are scored and banned per /64
// (one host usually owns the whole prefix); IPv4-mapped IPv6 addresses count as the IPv4 address.
//
// Per login name: failures are also counted per attempted name, in memory only and under a
// keyed hash (the name itself is never stored or logged), the same way for existing and unknown
// names so the count tells nothing about which names exist. A name whose count within
// `observation` reaches `threshold` is "under attack": the Authenticator then pads its failed
// attempts to a longer floor. It never blocks the name: bans are per address only, so an
// attacker cannot lock an owner out of the account from another address.
//
// The address scores and bans live in the database (tables auth_failures and auth_bans), so
// every sftpd node on a shared PostgreSQL database and sftpctl see the same bans; a short-lived
// in-memory cache spares a query per attempt from a banned address. A ban check that cannot
// read the database fails closed: BannedUntil returns the error and the Authenticator refuses
// the login. A failure that cannot be scored is logged and dropped (the login it belongs to was
// refused anyway). Thread-safe.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/log.h"
#include "sftpd/core/base/result.h"
#include "sftpd/core/config/config.h"

namespace sftplc::db {
class Database;
}

namespace sftplc::auth {

struct Ban {
  std::string ip;  // "192.0.2.7" or "2001:db8:1:2::/64"
  TimePoint banned_until{};
  int ban_count = 0;  // 1 for the first ban, 2 for the next, ...
  TimePoint first_banned_at{};
  TimePoint last_banned_at{};
};

class Defender {
 public:
  // REQUIRES: db and clock outlive the defender; migrations have run.
  Defender(const config::DefenderConfig& cfg, db::Database& db, const Clock& clock, Logger log);

  // The end of the ban on `ip`, or nullopt when it is not banned (or the defender is disabled,
  // or `ip` is no address). kUnavailable (or the database's error) when the bans cannot be
  // read: the caller must then treat the address as unchecked and refuse it (fail closed).
  Result<std::optional<TimePoint>> BannedUntil(std::string_view ip);

  // The end of a ban on `ip` this process already holds in memory (made here, or read from the
  // database by BannedUntil within the cache time), or nullopt. Never reads the database: a map
  // lookup under the defender's lock, which is never held across I/O, so it cannot block on the
  // database. For dropping a banned source at accept; a ban made by another node or by sftpctl
  // is seen here once a BannedUntil call has read it.
  std::optional<TimePoint> KnownBan(std::string_view ip);

  // Records a failed login from `ip` naming `username` (used only as a keyed hash, in memory).
  // Returns the ban when this failure caused one.
  std::optional<Ban> RecordFailure(std::string_view ip, std::string_view username);

  // True when failures naming `username` (from any address) reached the threshold within the
  // observation window.
  bool NameUnderAttack(std::string_view username);

  // Bans in force now (include_expired: also the remembered, expired ones), ordered by address.
  // kUnavailable when the database cannot be read. For `sftpctl ban list`.
  Result<std::vector<Ban>> ListBans(bool include_expired = false);

  // Lifts the ban on `ip` (an address or an IPv6 /64 as ListBans shows it) and forgets its
  // history and recent failures; writes an audit_events row ("ban.remove", detail "ip=...")
  // naming `actor` ("admin:<os user>") in the same transaction. kNotFound when no ban is in
  // force for it; kInvalidArgument for text that is no address or an empty actor. For
  // `sftpctl ban remove`.
  Status RemoveBan(std::string_view ip, std::string_view actor);

  // IP retention (lifecycle.ip_retention, run by the sweep): deletes the failures older than
  // the observation window or recorded before `before`, the bans forgotten (over for
  // max_ban_time) or over and last made before `before` (a ban in force is kept to its end),
  // and replaces the address in the details of the audit rows this class writes (ban.remove)
  // made before `before` with "ip=(removed)". Returns the rows changed. kUnavailable when the
  // database cannot be written.
  static Result<int64_t> ForgetAddresses(db::Database& db, const config::DefenderConfig& cfg,
                                         TimePoint now, TimePoint before);
  // When the oldest address the rule above would delete at some point was recorded (bans in
  // force at `now` excepted), or nullopt; for the retention report. kUnavailable.
  static Result<std::optional<TimePoint>> OldestAddress(db::Database& db, TimePoint now);

  // The audit detail of a ban.remove row once its address is dropped.
  static constexpr const char* kRemovedAddress = "ip=(removed)";

  // The key an address is scored and banned under: IPv4 as is, IPv4-mapped IPv6 as IPv4, other
  // IPv6 as its /64 ("2001:db8:1:2::/64"). nullopt when `ip` is no address.
  static std::optional<std::string> BanKey(std::string_view ip);

  // The length of ban number `ban_count` (1-based): ban_time grown by ban_growth_percent per
  // repeat, capped at max_ban_time. Pure.
  static Seconds BanDuration(const config::DefenderConfig& cfg, int ban_count);

 private:
  uint64_t NameKey(std::string_view username) const;
  // The cached ban on `key` when it is still in force and fresh at `now`; drops it otherwise.
  // REQUIRES: mu_ held.
  std::optional<TimePoint> CachedBan(const std::string& key, TimePoint now);
  int PruneAndSum(std::deque<std::pair<TimePoint, int>>& events, TimePoint now) const;

  config::DefenderConfig cfg_;
  db::Database& db_;
  const Clock& clock_;
  Logger log_;
  std::string name_key_secret_;  // random per process: the name hashes mean nothing elsewhere

  std::mutex mu_;
  // Failures per name hash: (time, score), oldest first. Guarded by mu_.
  std::unordered_map<uint64_t, std::deque<std::pair<TimePoint, int>>> names_;
  // Bans seen recently: key -> (until, when the database was last asked). Guarded by mu_.
  std::map<std::string, std::pair<TimePoint, TimePoint>> ban_cache_;
};

}  // namespace sftplc::auth
