#include "sftpd/core/auth/argon2_phc.h"

#include <array>
#include <charconv>

#include "sftpd/core/config/config.h"

namespace sftplc::auth {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> MakeDecodeTable() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) {
    v = -1;
  }
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
    t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  }
  return t;
}
constexpr std::array<int8_t, 256> kDecode = MakeDecodeTable();

Error Malformed(std::string_view why) {
  return Error::InvalidArgument(fmt::format("malformed password hash: {}", why));
}

// Takes the text up to the next '$' (or the end) off the front of `s`.
std::string_view NextField(std::string_view& s) {
  auto pos = s.find('$');
  std::string_view field = s.substr(0, pos);
  s = pos == std::string_view::npos ? std::string_view() : s.substr(pos + 1);
  return field;
}

// "name=<decimal>" with no sign, no leading zero, within [min, max].
Result<uint32_t> ParseParam(std::string_view field, std::string_view name, uint32_t min,
                            uint32_t max) {
  if (field.size() <= name.size() + 1 || field.substr(0, name.size()) != name ||
      field[name.size()] != '=') {
    return Malformed(fmt::format("expected {}=<number>", name));
  }
  std::string_view digits = field.substr(name.size() + 1);
  if (digits.size() > 1 && digits[0] == '0') {
    return Malformed(fmt::format("{} has a leading zero", name));
  }
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || ptr != digits.data() + digits.size()) {
    return Malformed(fmt::format("{} is not a number", name));
  }
  if (v < min || v > max) {
    return Malformed(fmt::format("{} is outside {}..{}", name, min, max));
  }
  return static_cast<uint32_t>(v);
}

}  // namespace

std::string Base64EncodeNoPad(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  auto b = [&](std::size_t k) {
    return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k]));
  };
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (b(i) << 16) | (b(i + 1) << 8) | b(i + 2);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = b(i) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (rest == 2) {
    uint32_t v = (b(i) << 16) | (b(i + 1) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

Result<std::string> Base64DecodeNoPad(std::string_view text) {
  if (text.size() % 4 == 1) {
    return Malformed("base64 of impossible length");
  }
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int8_t v = kDecode[static_cast<unsigned char>(c)];
    if (v < 0) {
      return Malformed("invalid base64 character");
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  // The bits left over must be zero, or two strings would decode to the same bytes.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
    return Malformed("non-canonical base64");
  }
  return out;
}

Result<PhcHash> ParsePhc(std::string_view phc) {
  if (phc.empty() || phc.front() != '$') {
    return Malformed("does not start with '$'");
  }
  if (phc.size() > 512) {
    return Malformed("too long");
  }
  std::string_view rest = phc.substr(1);
  PhcHash h;
  std::string_view alg = NextField(rest);
  if (alg != "argon2id" && alg != "argon2i" && alg != "argon2d") {
    return Malformed("not an Argon2 hash");
  }
  h.algorithm = std::string(alg);

  std::string_view field = NextField(rest);
  if (field.substr(0, 2) == "v=") {
    auto v = ParseParam(field, "v", kArgon2Version10, kArgon2Version13);
    if (!v) {
      return v.error();
    }
    if (*v != kArgon2Version10 && *v != kArgon2Version13) {
      return Malformed("unknown version");
    }
    h.version = *v;
    field = NextField(rest);
  } else {
    h.version = kArgon2Version10;
  }

  // "m=..,t=..,p=.."
  std::string_view params = field;
  std::array<std::string_view, 3> parts;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    auto comma = params.find(',');
    if ((i < 2) == (comma == std::string_view::npos)) {
      return Malformed("expected m=..,t=..,p=..");
    }
    parts[i] = params.substr(0, comma);
    params = comma == std::string_view::npos ? std::string_view() : params.substr(comma + 1);
  }
  auto m = ParseParam(parts[0], "m", config::kArgon2MinMCostKib, config::kArgon2MaxMCostKib);
  auto t = ParseParam(parts[1], "t", config::kArgon2MinTCost, config::kArgon2MaxTCost);
  auto p = ParseParam(parts[2], "p", 1, config::kArgon2MaxParallelism);
  if (!m) {
    return m.error();
  }
  if (!t) {
    return t.error();
  }
  if (!p) {
    return p.error();
  }
  if (*m < 8 * *p) {
    return Malformed("m is less than 8 x p");
  }
  h.m_cost_kib = *m;
  h.t_cost = *t;
  h.parallelism = *p;

  std::string_view salt_text = NextField(rest);
  std::string_view hash_text = rest;
  if (hash_text.find('$') != std::string_view::npos) {
    return Malformed("unexpected extra field");
  }
  auto salt = Base64DecodeNoPad(salt_text);
  if (!salt) {
    return salt.error();
  }
  auto hash = Base64DecodeNoPad(hash_text);
  if (!hash) {
    return hash.error();
  }
  if (salt->size() < 8 || salt->size() > 64) {
    return Malformed("salt length outside 8..64 bytes");
  }
  if (hash->size() < 4 || hash->size() > 64) {
    return Malformed("hash length outside 4..64 bytes");
  }
  h.salt = std::move(*salt);
  h.hash = std::move(*hash);
  return h;
}

std::string FormatPhc(const PhcHash& h) {
  std::string version = h.version == kArgon2Version10 ? "" : fmt::format("v={}$", h.version);
  return fmt::format("${}${}m={},t={},p={}${}${}", h.algorithm, version, h.m_cost_kib, h.t_cost,
                     h.parallelism, Base64EncodeNoPad(h.salt), Base64EncodeNoPad(h.hash));
}

}  // namespace sftplc::auth
