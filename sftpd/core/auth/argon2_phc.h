#pragma once

// The PHC string format of Argon2 hashes, as the reference implementation writes it:
//   $argon2id$v=19$m=65536,t=3,p=1$<salt, base64 without padding>$<hash, base64 without padding>
// libargon2 has no public encoder/decoder, so these are ours: strict (canonical base64, no
// leading zeros, parameters within the limits of config.h), so a tampered or foreign string is
// refused before any memory is allocated for it.

#include <cstdint>
#include <string>
#include <string_view>

#include "sftpd/core/base/result.h"

namespace sftplc::auth {

inline constexpr uint32_t kArgon2Version13 = 0x13;  // "v=19"
inline constexpr uint32_t kArgon2Version10 = 0x10;  // no "v=" field in the string

struct PhcHash {
  std::string algorithm = "argon2id";  // "argon2id", "argon2i" or "argon2d"
  uint32_t version = kArgon2Version13;
  uint32_t m_cost_kib = 0;
  uint32_t t_cost = 0;
  uint32_t parallelism = 0;
  std::string salt;  // raw bytes, 8..64
  std::string hash;  // raw bytes, 4..64
};

// Parses a PHC string. kInvalidArgument (the message never repeats the string) when it is
// malformed: unknown algorithm, missing field, non-canonical base64 or number, parameters outside
// the configured limits, salt or hash of an unsupported length. Thread-safe.
Result<PhcHash> ParsePhc(std::string_view phc);

// The canonical PHC string of `h` (no "v=" field when version is 0x10). Thread-safe.
std::string FormatPhc(const PhcHash& h);

// Standard base64 (RFC 4648 alphabet) without padding, as PHC strings use it.
std::string Base64EncodeNoPad(std::string_view bytes);
// Inverse of Base64EncodeNoPad; refuses padding, other characters, impossible lengths and
// non-zero unused bits (so every byte string has exactly one encoding).
Result<std::string> Base64DecodeNoPad(std::string_view text);

}  // namespace sftplc::auth
