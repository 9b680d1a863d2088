#include "sftpd/core/auth/defender.h"

#include <arpa/inet.h>

#include <cstring>
#include <functional>

#include "sftpd/core/base/ids.h"
#include "sftpd/core/db/audit_log.h"
#include "sftpd/core/db/sql.h"

namespace sftplc::auth {
namespace {

// A ban found in the database is trusted from the cache this long before it is asked again (so
// `sftpctl ban remove` takes effect on every node within this time).
constexpr Seconds kBanCacheTtl{10};
// Names tracked at once; beyond this the expired ones are dropped, then all (failing open).
constexpr std::size_t kMaxTrackedNames = 100000;

Ban BanFromRow(const std::string& ip, long long until, long long count, long long first,
               long long last) {
  Ban b;
  b.ip = ip;
  b.banned_until = FromUnix(until);
  b.ban_count = static_cast<int>(count);
  b.first_banned_at = FromUnix(first);
  b.last_banned_at = FromUnix(last);
  return b;
}

}  // namespace

Defender::Defender(const config::DefenderConfig& cfg, db::Database& db, const Clock& clock,
                   Logger log)
    : cfg_(cfg), db_(db), clock_(clock), log_(std::move(log)), name_key_secret_(RandomHex(16)) {}

std::optional<std::string> Defender::BanKey(std::string_view ip) {
  std::string text(ip);
  in_addr a4{};
  if (inet_pton(AF_INET, text.c_str(), &a4) == 1) {
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a4, buf, sizeof buf);
    return std::string(buf);
  }
  // "2001:db8::1/64" as ListBans prints it is accepted too.
  if (text.size() > 3 && text.compare(text.size() - 3, 3, "/64") == 0) {
    text.resize(text.size() - 3);
  }
  in6_addr a6{};
  if (inet_pton(AF_INET6, text.c_str(), &a6) != 1) {
    return std::nullopt;
  }
  if (IN6_IS_ADDR_V4MAPPED(&a6)) {
    std::memcpy(&a4, &a6.s6_addr[12], 4);
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a4, buf, sizeof buf);
    return std::string(buf);
  }
  std::memset(&a6.s6_addr[8], 0, 8);
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, &a6, buf, sizeof buf);
  return std::string(buf) + "/64";
}

Seconds Defender::BanDuration(const config::DefenderConfig& cfg, int ban_count) {
  long double seconds = static_cast<long double>(cfg.ban_time.count());
  long double factor = 1.0L + static_cast<long double>(cfg.ban_growth_percent) / 100.0L;
  long double cap = static_cast<long double>(cfg.max_ban_time.count());
  for (int i = 1; i < ban_count && seconds < cap; ++i) {
    seconds *= factor;
  }
  if (seconds > cap) {
    seconds = cap;
  }
  return Seconds(static_cast<long long>(seconds));
}

uint64_t Defender::NameKey(std::string_view username) const {
  std::string keyed = name_key_secret_;
  keyed.append(username);
  return std::hash<std::string>()(keyed);
}

int Defender::PruneAndSum(std::deque<std::pair<TimePoint, int>>& events, TimePoint now) const {
  while (!events.empty() && events.front().first <= now - cfg_.observation) {
    events.pop_front();
  }
  int sum = 0;
  for (const auto& e : events) {
    sum += e.second;
  }
  return sum;
}

std::optional<TimePoint> Defender::CachedBan(const std::string& key, TimePoint now) {
  auto it = ban_cache_.find(key);
  if (it == ban_cache_.end()) {
    return std::nullopt;
  }
  if (it->second.first > now && it->second.second + kBanCacheTtl > now) {
    return it->second.first;
  }
  ban_cache_.erase(it);
  return std::nullopt;
}

std::optional<TimePoint> Defender::KnownBan(std::string_view ip) {
  if (!cfg_.enabled) {
    return std::nullopt;
  }
  auto key = BanKey(ip);
  if (!key) {
    return std::nullopt;
  }
  TimePoint now = clock_.Now();
  std::lock_guard lock(mu_);
  return CachedBan(*key, now);
}

Result<std::optional<TimePoint>> Defender::BannedUntil(std::string_view ip) {
  if (!cfg_.enabled) {
    return std::optional<TimePoint>();
  }
  auto key = BanKey(ip);
  if (!key) {
    return std::optional<TimePoint>();
  }
  TimePoint now = clock_.Now();
  {
    std::lock_guard lock(mu_);
    if (auto until = CachedBan(*key, now)) {
      return until;
    }
  }
  long long now_s = ToUnix(now);
  auto until =
      db_.Read<std::optional<TimePoint>>([&](soci::session& s) -> Result<std::optional<TimePoint>> {
        long long u = 0;
        soci::indicator ind = soci::i_null;
        s << "SELECT banned_until FROM auth_bans WHERE ip = :ip AND banned_until > :now",
            soci::into(u, ind), soci::use(*key), soci::use(now_s);
        if (!s.got_data() || ind != soci::i_ok) {
          return std::optional<TimePoint>();
        }
        return std::optional<TimePoint>(FromUnix(u));
      });
  if (!until) {
    return until.error();  // the caller refuses the login and logs it
  }
  if (*until) {
    std::lock_guard lock(mu_);
    ban_cache_[*key] = {**until, now};
  }
  return *until;
}

std::optional<Ban> Defender::RecordFailure(std::string_view ip, std::string_view username) {
  if (!cfg_.enabled) {
    return std::nullopt;
  }
  TimePoint now = clock_.Now();
  {
    std::lock_guard lock(mu_);
    if (names_.size() >= kMaxTrackedNames) {
      for (auto it = names_.begin(); it != names_.end();) {
        PruneAndSum(it->second, now);
        it = it->second.empty() ? names_.erase(it) : std::next(it);
      }
      if (names_.size() >= kMaxTrackedNames) {
        names_.clear();
      }
    }
    // One per failure: the per-name count must not tell existing names apart.
    names_[NameKey(username)].emplace_back(now, 1);
  }

  auto key = BanKey(ip);
  if (!key) {
    return std::nullopt;  // no address (a local test transport): nothing to ban
  }
  // One score whatever the name: a different one would tell existing names apart by the
  // attempt at which the ban comes.
  int score = cfg_.score_failure;
  if (score <= 0) {
    return std::nullopt;
  }
  long long now_s = ToUnix(now);
  long long window_start = ToUnix(now - cfg_.observation);
  long long forget_before = ToUnix(now - cfg_.max_ban_time);
  long long score_ll = score;
  auto result = db_.Write<std::optional<Ban>>([&](soci::session& s) -> Result<std::optional<Ban>> {
    s << "DELETE FROM auth_failures WHERE at <= :w", soci::use(window_start);
    s << "DELETE FROM auth_bans WHERE banned_until < :f", soci::use(forget_before);
    s << "INSERT INTO auth_failures (ip, at, score) VALUES (:ip, :at, :score)", soci::use(*key),
        soci::use(now_s), soci::use(score_ll);
    long long sum = 0;
    soci::indicator sum_ind = soci::i_null;
    s << "SELECT SUM(score) FROM auth_failures WHERE ip = :ip AND at > :w",
        soci::into(sum, sum_ind), soci::use(*key), soci::use(window_start);
    if (sum_ind != soci::i_ok || sum < cfg_.threshold) {
      return std::optional<Ban>();
    }
    long long count = 0;
    long long first = now_s;
    soci::indicator count_ind = soci::i_null;
    s << "SELECT ban_count, first_banned_at FROM auth_bans WHERE ip = :ip",
        soci::into(count, count_ind), soci::into(first), soci::use(*key);
    if (!s.got_data() || count_ind != soci::i_ok) {
      count = 0;
      first = now_s;
    }
    ++count;
    long long until = now_s + BanDuration(cfg_, static_cast<int>(count)).count();
    s << "INSERT INTO auth_bans (ip, banned_until, ban_count, first_banned_at, last_banned_at) "
         "VALUES (:ip, :u, :c, :f, :l) ON CONFLICT (ip) DO UPDATE SET "
         "banned_until = excluded.banned_until, ban_count = excluded.ban_count, "
         "last_banned_at = excluded.last_banned_at",
        soci::use(*key), soci::use(until), soci::use(count), soci::use(first), soci::use(now_s);
    // The score starts again from zero after the ban.
    s << "DELETE FROM auth_failures WHERE ip = :ip", soci::use(*key);
    return std::optional<Ban>(BanFromRow(*key, until, count, first, now_s));
  });
  if (!result) {
    SPDLOG_LOGGER_WARN(log_, "failed login not scored ip={} error={}", *key,
                       result.error().ToString());
    return std::nullopt;
  }
  if (*result) {
    const Ban& b = **result;
    {
      std::lock_guard lock(mu_);
      ban_cache_[b.ip] = {b.banned_until, now};
    }
    SPDLOG_LOGGER_WARN(log_, "ip banned ip={} seconds={} ban_count={}", b.ip,
                       (b.banned_until - now).count(), b.ban_count);
  }
  return *result;
}

bool Defender::NameUnderAttack(std::string_view username) {
  if (!cfg_.enabled) {
    return false;
  }
  TimePoint now = clock_.Now();
  std::lock_guard lock(mu_);
  auto it = names_.find(NameKey(username));
  if (it == names_.end()) {
    return false;
  }
  int sum = PruneAndSum(it->second, now);
  if (it->second.empty()) {
    names_.erase(it);
  }
  return sum >= cfg_.threshold;
}

Result<std::vector<Ban>> Defender::ListBans(bool include_expired) {
  long long now_s = ToUnix(clock_.Now());
  long long from = include_expired ? 0 : now_s + 1;
  return db_.Read<std::vector<Ban>>([&](soci::session& s) -> Result<std::vector<Ban>> {
    std::vector<Ban> out;
    std::string ip;
    long long until = 0, count = 0, first = 0, last = 0;
    soci::statement st =
        (s.prepare << "SELECT ip, banned_until, ban_count, first_banned_at, last_banned_at "
                      "FROM auth_bans WHERE banned_until >= :from ORDER BY ip",
         soci::into(ip), soci::into(until), soci::into(count), soci::into(first), soci::into(last),
         soci::use(from));
    st.execute(false);
    while (st.fetch()) {
      out.push_back(BanFromRow(ip, until, count, first, last));
    }
    return out;
  });
}

Status Defender::RemoveBan(std::string_view ip, std::string_view actor) {
  auto key = BanKey(ip);
  if (!key) {
    return Error::InvalidArgument("not an IP address: give an address as `ban list` shows it");
  }
  if (actor.empty() || actor.size() > 200) {
    return Error::InvalidArgument("the actor of a change must be named (1-200 bytes)");
  }
  std::string who(actor);
  std::string detail = "ip=" + *key;
  long long now_s = ToUnix(clock_.Now());
  auto removed = db_.Write<long long>([&](soci::session& s) -> Result<long long> {
    long long active = 0;
    s << "SELECT COUNT(*) FROM auth_bans WHERE ip = :ip AND banned_until > :now",
        soci::into(active), soci::use(*key), soci::use(now_s);
    if (active == 0) {
      return Error::NotFound(fmt::format("no ban in force for {}", *key));
    }
    s << "DELETE FROM auth_bans WHERE ip = :ip", soci::use(*key);
    s << "DELETE FROM auth_failures WHERE ip = :ip", soci::use(*key);
    db::AuditLog::Append(s, FromUnix(now_s), who, "ban.remove", "", detail);
    return active;
  });
  if (!removed) {
    return removed.error();
  }
  {
    std::lock_guard lock(mu_);
    ban_cache_.erase(*key);
  }
  SPDLOG_LOGGER_INFO(log_, "ban removed ip={}", *key);
  return {};
}

Result<int64_t> Defender::ForgetAddresses(db::Database& db, const config::DefenderConfig& cfg,
                                          TimePoint now, TimePoint before) {
  long long window_start = ToUnix(now - cfg.observation);
  long long forget_before = ToUnix(now - cfg.max_ban_time);
  long long b = ToUnix(before), now_s = ToUnix(now);
  return db.Write<int64_t>([&](soci::session& s) -> Result<int64_t> {
    soci::statement f = (s.prepare << "DELETE FROM auth_failures WHERE at <= :w OR at < :b",
                         soci::use(window_start), soci::use(b));
    f.execute(true);
    soci::statement bans = (s.prepare << "DELETE FROM auth_bans WHERE banned_until < :f OR "
                                         "(banned_until <= :now AND last_banned_at < :b)",
                            soci::use(forget_before), soci::use(now_s), soci::use(b));
    bans.execute(true);
    int64_t audit = db::AuditLog::Redact(s, "ban.remove", before, kRemovedAddress);
    return static_cast<int64_t>(f.get_affected_rows() + bans.get_affected_rows()) + audit;
  });
}

Result<std::optional<TimePoint>> Defender::OldestAddress(db::Database& db, TimePoint now) {
  long long now_s = ToUnix(now);
  return db.Read<std::optional<TimePoint>>(
      [&](soci::session& s) -> Result<std::optional<TimePoint>> {
        std::optional<TimePoint> oldest;
        auto take = [&](long long t, soci::indicator ind) {
          if (ind == soci::i_ok && (!oldest || FromUnix(t) < *oldest)) {
            oldest = FromUnix(t);
          }
        };
        long long t = 0;
        soci::indicator ind = soci::i_null;
        s << "SELECT MIN(at) FROM auth_failures", soci::into(t, ind);
        take(t, ind);
        ind = soci::i_null;
        s << "SELECT MIN(last_banned_at) FROM auth_bans WHERE banned_until <= :now",
            soci::into(t, ind), soci::use(now_s);
        take(t, ind);
        if (auto audit = db::AuditLog::OldestUnredacted(s, "ban.remove", kRemovedAddress);
            audit && (!oldest || *audit < *oldest)) {
          oldest = audit;
        }
        return oldest;
      });
}

}  // namespace sftplc::auth
