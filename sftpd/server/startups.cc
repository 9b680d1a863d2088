#include "sftpd/server/startups.h"

#include <memory>
#include <random>

#include "sftpd/core/auth/defender.h"

namespace sftplc::server {

PercentRoll RandomPercentRoll() {
  auto engine = std::make_shared<std::mt19937>(std::random_device{}());
  return [engine] { return std::uniform_int_distribution<int>(0, 99)(*engine); };
}

int StartupDropPercent(const config::MaxStartups& limits, int unauthenticated) {
  if (unauthenticated < limits.start) {
    return 0;
  }
  if (unauthenticated >= limits.full) {
    return 100;
  }
  // start < full here. 64-bit: (100 - rate) x (full - start) may exceed an int.
  int64_t rise = static_cast<int64_t>(100 - limits.rate) * (unauthenticated - limits.start) /
                 (limits.full - limits.start);
  return limits.rate + static_cast<int>(rise);
}

std::string SourceKey(const std::string& ip) { return auth::Defender::BanKey(ip).value_or(ip); }

const char* Startups::Admit(const std::string& source, const config::MaxStartups& limits,
                            int per_source) {
  auto it = per_source_.find(source);
  if (it != per_source_.end() && it->second >= per_source) {
    return kPerSource;
  }
  int percent = StartupDropPercent(limits, total_);
  if (percent >= 100 || (percent > 0 && roll_() < percent)) {
    return kFull;
  }
  ++total_;
  ++per_source_[source];
  return nullptr;
}

void Startups::Leave(const std::string& source) {
  --total_;
  auto it = per_source_.find(source);
  if (it != per_source_.end() && --it->second <= 0) {
    per_source_.erase(it);
  }
}

int Startups::from(const std::string& source) const {
  auto it = per_source_.find(source);
  return it == per_source_.end() ? 0 : it->second;
}

}  // namespace sftplc::server
