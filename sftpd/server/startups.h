#pragma once

// Startups: the connections accepted but not logged in yet, and the accept-time decision about a
// new one (OpenSSH's MaxStartups and PerSourceMaxStartups, sshd.c should_drop_connection). A
// connection counts from accept until its login succeeds or it ends. Sources are keyed as the
// defender bans them (auth::Defender::BanKey: an IPv4 address, or an IPv6 /64), so one host
// cannot spread a flood over the addresses of its prefix.

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "sftpd/core/config/config.h"

namespace sftplc::server {

// A source of random whole numbers, uniform in [0, 100). Injected so tests are deterministic.
using PercentRoll = std::function<int()>;

// The production roll: a std::mt19937 seeded from std::random_device. The returned function is
// not thread-safe.
PercentRoll RandomPercentRoll();

// The chance, in percent, that a new connection is dropped while `unauthenticated` connections
// wait for their login: 0 below limits.start, limits.rate at start, rising linearly to 100 at
// limits.full and beyond. Pure.
int StartupDropPercent(const config::MaxStartups& limits, int unauthenticated);

// The key a source is counted under: auth::Defender::BanKey(ip), or `ip` itself when it is no
// address (a test transport). Pure.
std::string SourceKey(const std::string& ip);

// Counts the connections not yet logged in, in total and per source. Not thread-safe: the server
// calls it under its own lock.
class Startups {
 public:
  // Why a connection was refused; the metric's and the log's word for it.
  static constexpr const char* kFull = "max_startups";
  static constexpr const char* kPerSource = "per_source_max_startups";

  // REQUIRES: `roll` is callable.
  explicit Startups(PercentRoll roll) : roll_(std::move(roll)) {}

  // Decides on a new connection from `source` (a SourceKey): nullptr when it is admitted (and
  // now counted), else kPerSource (per_source already wait from there) or kFull (dropped early:
  // roll() below StartupDropPercent; the roll is made only when the percent is between 0 and
  // 100).
  const char* Admit(const std::string& source, const config::MaxStartups& limits, int per_source);

  // A counted connection from `source` logged in or ended: no longer counted.
  // REQUIRES: Admit(source, ...) admitted it and Leave was not called for it yet.
  void Leave(const std::string& source);

  int total() const { return total_; }
  int from(const std::string& source) const;

 private:
  PercentRoll roll_;
  int total_ = 0;
  std::map<std::string, int> per_source_;
};

}  // namespace sftplc::server
