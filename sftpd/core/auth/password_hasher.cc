#include "sftpd/core/auth/password_hasher.h"

#include "sftpd/core/auth/argon2_engine.h"
#include "sftpd/core/auth/argon2_phc.h"
#include "sftpd/core/base/ids.h"

namespace sftplc::auth {
namespace {

constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kTagBytes = 32;
constexpr std::size_t kMaxPasswordBytes = 1024;
// Idle work areas kept mapped; more concurrent calls than this map and unmap their own.
constexpr std::size_t kMaxIdleAreas = 8;

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  volatile unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = diff | static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

}  // namespace

PasswordHasher::PasswordHasher(const config::Argon2Config& params)
    : params_(params), engine_(std::make_unique<Argon2Engine>(kMaxIdleAreas)) {}

PasswordHasher::~PasswordHasher() = default;

Result<std::string> PasswordHasher::Hash(const Secret& password) const {
  if (password.empty()) {
    return Error::InvalidArgument("the password is empty");
  }
  if (password.size() > kMaxPasswordBytes) {
    return Error::InvalidArgument("the password is longer than 1024 bytes");
  }
  if (params_.t_cost < config::kArgon2MinTCost || params_.t_cost > config::kArgon2MaxTCost ||
      params_.m_cost_kib < config::kArgon2MinMCostKib ||
      params_.m_cost_kib > config::kArgon2MaxMCostKib || params_.parallelism < 1 ||
      params_.parallelism > config::kArgon2MaxParallelism ||
      params_.m_cost_kib < 8 * params_.parallelism) {
    return Error::InvalidArgument("argon2 parameters outside the accepted limits");
  }
  PhcHash h;
  h.algorithm = "argon2id";
  h.version = kArgon2Version13;
  h.t_cost = params_.t_cost;
  h.m_cost_kib = params_.m_cost_kib;
  h.parallelism = params_.parallelism;
  h.salt.resize(kSaltBytes);
  RandomBytes(h.salt.data(), h.salt.size());

  Argon2Input in;
  in.version = h.version;
  in.t_cost = h.t_cost;
  in.m_cost_kib = h.m_cost_kib;
  in.parallelism = h.parallelism;
  in.password = password.view();
  in.salt = h.salt;
  in.out_len = kTagBytes;
  auto tag = engine_->Compute(in);
  if (!tag) {
    return tag.error();
  }
  h.hash = std::move(*tag);
  return FormatPhc(h);
}

Result<bool> PasswordHasher::Verify(std::string_view phc, const Secret& password) const {
  auto h = ParsePhc(phc);
  if (!h) {
    return h.error();
  }
  if (h->algorithm != "argon2id") {
    return Error::InvalidArgument("malformed password hash: not an argon2id hash");
  }
  Argon2Input in;
  in.version = h->version;
  in.t_cost = h->t_cost;
  in.m_cost_kib = h->m_cost_kib;
  in.parallelism = h->parallelism;
  in.password = password.view();
  in.salt = h->salt;
  in.out_len = h->hash.size();
  auto tag = engine_->Compute(in);
  if (!tag) {
    return tag.error();
  }
  bool match = ConstantTimeEqual(*tag, h->hash);
  SecureClear(*tag);
  return match;
}

bool PasswordHasher::NeedsRehash(std::string_view phc) const {
  auto h = ParsePhc(phc);
  if (!h) {
    return true;
  }
  return h->algorithm != "argon2id" || h->version != kArgon2Version13 ||
         h->t_cost != params_.t_cost || h->m_cost_kib != params_.m_cost_kib ||
         h->parallelism != params_.parallelism || h->salt.size() != kSaltBytes ||
         h->hash.size() != kTagBytes;
}

void PasswordHasher::ReleaseIdleMemory() const { engine_->ReleaseIdle(); }

std::size_t PasswordHasher::ReleaseIdleMemoryOlderThan(
    std::chrono::steady_clock::duration age, std::chrono::steady_clock::time_point now) const {
  return engine_->ReleaseIdleOlderThan(age, now);
}

std::size_t PasswordHasher::idle_work_areas() const { return engine_->idle_areas(); }

}  // namespace sftplc::auth
