#include "sftpd/core/accounts/public_key.h"

#include <openssl/evp.h>

#include <array>
#include <cstdint>

#include "sftpd/core/accounts/validation.h"

namespace sftplc::accounts {
namespace {

constexpr std::string_view kB64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<std::string_view, 7> kKeyTypes = {"ssh-ed25519",
                                                       "ecdsa-sha2-nistp256",
                                                       "ecdsa-sha2-nistp384",
                                                       "ecdsa-sha2-nistp521",
                                                       "ssh-rsa",
                                                       "sk-ssh-ed25519@openssh.com",
                                                       "sk-ecdsa-sha2-nistp256@openssh.com"};

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view NextToken(std::string_view& rest) {
  while (!rest.empty() && IsSpace(rest.front())) {
    rest.remove_prefix(1);
  }
  std::size_t n = 0;
  while (n < rest.size() && !IsSpace(rest[n])) {
    ++n;
  }
  std::string_view tok = rest.substr(0, n);
  rest.remove_prefix(n);
  return tok;
}

}  // namespace

std::string EncodeBase64(std::string_view bytes, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  while (i + 3 <= bytes.size()) {
    uint32_t v = (static_cast<unsigned char>(bytes[i]) << 16) |
                 (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                 static_cast<unsigned char>(bytes[i + 2]);
    out.push_back(kB64[(v >> 18) & 63]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(kB64[(v >> 6) & 63]);
    out.push_back(kB64[v & 63]);
    i += 3;
  }
  std::size_t left = bytes.size() - i;
  if (left > 0) {
    uint32_t v = static_cast<unsigned char>(bytes[i]) << 16;
    if (left == 2) {
      v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    }
    out.push_back(kB64[(v >> 18) & 63]);
    out.push_back(kB64[(v >> 12) & 63]);
    if (left == 2) {
      out.push_back(kB64[(v >> 6) & 63]);
    }
    if (pad) {
      out.append(left == 1 ? "==" : "=");
    }
  }
  return out;
}

Result<std::string> DecodeBase64(std::string_view text) {
  static constexpr const char* kBad = "not valid base64";
  std::size_t padding = 0;
  while (!text.empty() && text.back() == '=') {
    text.remove_suffix(1);
    ++padding;
  }
  // Padding is optional; when present it completes the last group of 4, no more.
  if (text.size() % 4 == 1 || (padding != 0 && (padding > 2 || (text.size() + padding) % 4 != 0))) {
    return Error::InvalidArgument(kBad);
  }
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    auto pos = kB64.find(c);
    if (pos == std::string_view::npos) {
      return Error::InvalidArgument(kBad);
    }
    acc = (acc << 6) | static_cast<uint32_t>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  // Leftover bits must be zero (canonical encoding).
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
    return Error::InvalidArgument(kBad);
  }
  return out;
}

std::string Sha256Fingerprint(std::string_view blob) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(blob.data(), blob.size(), digest, &len, EVP_sha256(), nullptr);
  return "SHA256:" +
         EncodeBase64(std::string_view(reinterpret_cast<const char*>(digest), len), false);
}

Result<PublicKey> ParseAuthorizedKey(std::string_view line) {
  if (line.size() > 16384) {
    return Error::InvalidArgument("key: the line is longer than 16384 bytes");
  }
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || IsSpace(line.back()))) {
    line.remove_suffix(1);
  }
  std::string_view rest = line;
  std::string_view type = NextToken(rest);
  if (type.empty()) {
    return Error::InvalidArgument("key: the line is empty (expected \"type base64 [comment]\")");
  }
  bool known = false;
  for (auto t : kKeyTypes) {
    known = known || t == type;
  }
  if (!known) {
    return Error::InvalidArgument(
        "key: unknown key type (accepted: ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa, "
        "sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com; authorized_keys "
        "options are not supported)");
  }
  std::string_view b64 = NextToken(rest);
  auto blob = DecodeBase64(b64);
  if (b64.empty() || !blob || blob->size() < 4) {
    return Error::InvalidArgument("key: the key data is missing or not valid base64");
  }
  // The blob starts with the key type as an SSH string (uint32 length, bytes).
  const auto* p = reinterpret_cast<const unsigned char*>(blob->data());
  uint32_t n = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
  if (n != type.size() || blob->size() < 4 + n + 4 || blob->compare(4, n, type) != 0) {
    return Error::InvalidArgument("key: the key data does not match its type");
  }
  while (!rest.empty() && IsSpace(rest.front())) {
    rest.remove_prefix(1);
  }
  if (!rest.empty()) {
    auto st = ValidateCompany(rest);  // optional text: UTF-8, no control characters, <= 200
    if (!st) {
      return Error::InvalidArgument(
          "key: the comment must be at most 200 characters of UTF-8 text");
    }
  }
  PublicKey key;
  key.key_type = std::string(type);
  key.key_base64 = EncodeBase64(*blob, true);
  key.fingerprint = Sha256Fingerprint(*blob);
  key.comment = std::string(rest);
  return key;
}

Result<PublicKey> PublicKeyOfPrivateKeyFile(std::string_view file_text) {
  constexpr std::string_view kBegin = "-----BEGIN OPENSSH PRIVATE KEY-----";
  constexpr std::string_view kEnd = "-----END OPENSSH PRIVATE KEY-----";
  constexpr std::string_view kMagic{"openssh-key-v1\0", 15};
  const Error bad = Error::InvalidArgument(
      "host key: not an OpenSSH private key file (\"BEGIN OPENSSH PRIVATE KEY\")");
  std::size_t begin = file_text.find(kBegin);
  std::size_t end = file_text.find(kEnd);
  if (begin == std::string_view::npos || end == std::string_view::npos || end < begin) {
    return bad;
  }
  std::string b64;
  for (char c : file_text.substr(begin + kBegin.size(), end - begin - kBegin.size())) {
    if (!IsSpace(c) && c != '\n' && c != '\r') {
      b64.push_back(c);
    }
  }
  auto raw = DecodeBase64(b64);
  if (!raw || raw->compare(0, kMagic.size(), kMagic) != 0) {
    return bad;
  }
  // After the magic: string ciphername, string kdfname, string kdfoptions, uint32 number of
  // keys, then the first public key blob as a string (RFC 4251 encodings, PROTOCOL.key).
  std::string_view rest(*raw);
  rest.remove_prefix(kMagic.size());
  auto u32 = [&rest](uint32_t& v) {
    if (rest.size() < 4) {
      return false;
    }
    const auto* p = reinterpret_cast<const unsigned char*>(rest.data());
    v = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    rest.remove_prefix(4);
    return true;
  };
  auto str = [&](std::string_view& v) {
    uint32_t n = 0;
    if (!u32(n) || n > rest.size()) {
      return false;
    }
    v = rest.substr(0, n);
    rest.remove_prefix(n);
    return true;
  };
  std::string_view cipher, kdf, kdf_options, blob, type;
  uint32_t keys = 0;
  if (!str(cipher) || !str(kdf) || !str(kdf_options) || !u32(keys) || keys < 1 || !str(blob)) {
    return bad;
  }
  std::string_view in_blob = blob;
  std::swap(rest, in_blob);
  bool typed = str(type);
  std::swap(rest, in_blob);
  if (!typed || type.empty()) {
    return bad;
  }
  PublicKey key;
  key.key_type = std::string(type);
  key.key_base64 = EncodeBase64(blob, true);
  key.fingerprint = Sha256Fingerprint(blob);
  return key;
}

}  // namespace sftplc::accounts
