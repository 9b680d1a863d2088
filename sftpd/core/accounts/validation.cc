#include "sftpd/core/accounts/validation.h"

#include <cstdint>
#include <optional>

namespace sftplc::accounts {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Counts the code points of `s` if it is valid UTF-8 (no overlong forms, no surrogates, nothing
// above U+10FFFF) without control characters (C0, DEL, C1); nullopt otherwise.
std::optional<std::size_t> CountPrintableUtf8(std::string_view s) {
  std::size_t count = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    auto b0 = static_cast<unsigned char>(s[i]);
    uint32_t cp = 0;
    std::size_t len = 0;
    if (b0 < 0x80) {
      cp = b0;
      len = 1;
    } else if ((b0 & 0xE0) == 0xC0) {
      cp = b0 & 0x1F;
      len = 2;
    } else if ((b0 & 0xF0) == 0xE0) {
      cp = b0 & 0x0F;
      len = 3;
    } else if ((b0 & 0xF8) == 0xF0) {
      cp = b0 & 0x07;
      len = 4;
    } else {
      return std::nullopt;  // a continuation byte or 0xF8..0xFF where a sequence must start
    }
    if (i + len > s.size()) {
      return std::nullopt;
    }
    for (std::size_t k = 1; k < len; ++k) {
      auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) {
        return std::nullopt;
      }
      cp = (cp << 6) | (b & 0x3F);
    }
    static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return std::nullopt;
    }
    if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F)) {
      return std::nullopt;
    }
    ++count;
    i += len;
  }
  return count;
}

bool IsBlank(std::string_view s) {
  for (char c : s) {
    if (c != ' ') {
      return false;
    }
  }
  return true;
}

Status ValidateText(std::string_view field, std::string_view text, bool optional) {
  if (text.empty()) {
    if (optional) {
      return {};
    }
    return Error::InvalidArgument(std::string(field) + " is required");
  }
  // 200 code points take at most 800 bytes: anything longer is refused before decoding.
  if (text.size() > 800) {
    return Error::InvalidArgument(std::string(field) + " must be at most 200 characters");
  }
  auto n = CountPrintableUtf8(text);
  if (!n) {
    return Error::InvalidArgument(std::string(field) +
                                  " must be valid UTF-8 text without control characters");
  }
  if (*n > 200) {
    return Error::InvalidArgument(std::string(field) + " must be at most 200 characters");
  }
  if (IsBlank(text)) {
    return Error::InvalidArgument(std::string(field) + " must not be only spaces");
  }
  return {};
}

// An LDH label: letters, digits, hyphens; 1-63; no hyphen at either end.
bool IsDomainLabel(std::string_view label) {
  if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
    return false;
  }
  for (char c : label) {
    if (!IsAlpha(c) && !IsDigit(c) && c != '-') {
      return false;
    }
  }
  return true;
}

// RFC 5322 dot-atom characters.
bool IsAtext(char c) {
  if (IsAlpha(c) || IsDigit(c)) {
    return true;
  }
  std::string_view specials = "!#$%&'*+/=?^_`{|}~-";
  return specials.find(c) != std::string_view::npos;
}

}  // namespace

Status ValidateUsername(std::string_view username) {
  static constexpr const char* kRule =
      "username must be 3 to 32 characters: lowercase letters, digits, '.', '_' or '-', "
      "starting with a letter or digit";
  if (username.size() < 3 || username.size() > 32 || !IsLowerAlnum(username.front())) {
    return Error::InvalidArgument(kRule);
  }
  for (char c : username) {
    if (!IsLowerAlnum(c) && c != '.' && c != '_' && c != '-') {
      return Error::InvalidArgument(kRule);
    }
  }
  return {};
}

Status ValidateEmail(std::string_view email) {
  if (email.empty()) {
    return Error::InvalidArgument("email is required");
  }
  if (email.size() > 254) {
    return Error::InvalidArgument("email must be at most 254 characters");
  }
  auto at = email.find('@');
  if (at == std::string_view::npos || email.find('@', at + 1) != std::string_view::npos) {
    return Error::InvalidArgument("email must contain exactly one '@'");
  }
  std::string_view local = email.substr(0, at);
  std::string_view domain = email.substr(at + 1);
  if (local.empty() || local.size() > 64) {
    return Error::InvalidArgument("email: the part before '@' must be 1 to 64 characters");
  }
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
    return Error::InvalidArgument("email: the part before '@' has a misplaced '.'");
  }
  for (char c : local) {
    if (c != '.' && !IsAtext(c)) {
      return Error::InvalidArgument(
          "email: the part before '@' may hold letters, digits and !#$%&'*+/=?^_`{|}~.- "
          "(no spaces or control characters)");
    }
  }
  if (domain.empty() || domain.size() > 255) {
    return Error::InvalidArgument("email: the domain must be 1 to 255 characters");
  }
  if (domain.find('.') == std::string_view::npos) {
    return Error::InvalidArgument("email: the domain must contain a '.' (example.com)");
  }
  std::string_view rest = domain;
  while (true) {
    auto dot = rest.find('.');
    std::string_view label = rest.substr(0, dot);
    if (!IsDomainLabel(label)) {
      return Error::InvalidArgument(
          "email: the domain must be dot-separated labels of letters, digits and '-'");
    }
    if (dot == std::string_view::npos) {
      break;
    }
    rest = rest.substr(dot + 1);
  }
  return {};
}

Result<std::string> NormalizePhone(std::string_view phone) {
  if (phone.empty()) {
    return Error::InvalidArgument("phone is required");
  }
  if (phone.size() > 64) {
    return Error::InvalidArgument("phone must be at most 64 characters");
  }
  std::string_view p = phone;
  while (!p.empty() && p.front() == ' ') {
    p.remove_prefix(1);
  }
  bool international = false;
  if (!p.empty() && p.front() == '+') {
    international = true;
    p.remove_prefix(1);
  } else if (p.substr(0, 2) == "00") {
    international = true;
    p.remove_prefix(2);
  }
  std::string digits;
  for (std::size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (IsDigit(c)) {
      digits.push_back(c);
    } else if (c == '(' && p.substr(i, 3) == "(0)" && !digits.empty()) {
      // "+44 (0)151 ...": the national trunk prefix is not dialled internationally.
      i += 2;
    } else if (c == ' ' || c == '.' || c == '-' || c == '(' || c == ')') {
      continue;
    } else if (IsAlpha(c)) {
      return Error::InvalidArgument("phone must not contain letters");
    } else {
      return Error::InvalidArgument(
          "phone may hold digits, spaces, '.', '-', '(' and ')' after a leading '+' or '00'");
    }
  }
  if (!international) {
    return Error::InvalidArgument(
        "phone needs the country code: start with '+' or '00' (+44 151 357 7700)");
  }
  if (digits.empty() || digits.front() == '0') {
    return Error::InvalidArgument("phone: a country code does not start with 0");
  }
  if (digits.size() < 8 || digits.size() > 15) {
    return Error::InvalidArgument("phone must have 8 to 15 digits including the country code");
  }
  return "+" + digits;
}

Status ValidateFullName(std::string_view name) { return ValidateText("name", name, false); }

Status ValidateCompany(std::string_view company) { return ValidateText("company", company, true); }

Status ValidateConsentSource(std::string_view source) {
  return ValidateText("consent source", source, false);
}

Result<NewAccount> ValidateNewAccount(NewAccount account) {
  if (auto st = ValidateUsername(account.username); !st) {
    return st.error();
  }
  if (auto st = ValidateFullName(account.full_name); !st) {
    return st.error();
  }
  if (auto st = ValidateCompany(account.company); !st) {
    return st.error();
  }
  if (auto st = ValidateEmail(account.email); !st) {
    return st.error();
  }
  auto phone = NormalizePhone(account.phone);
  if (!phone) {
    return phone.error();
  }
  account.phone = std::move(*phone);
  if (account.marketing_consent) {
    if (auto st = ValidateConsentSource(account.consent_source); !st) {
      return st.error();
    }
  } else if (!account.consent_source.empty()) {
    return Error::InvalidArgument("a consent source is only given with marketing consent");
  }
  if (auto st = ValidatePasswordHash(account.password_hash, true); !st) {
    return st.error();
  }
  return account;
}

Status ValidatePasswordLength(std::size_t bytes) {
  if (bytes < 12 || bytes > 1024) {
    return Error::InvalidArgument("password must be 12 to 1024 bytes long");
  }
  return {};
}

Status ValidatePasswordHash(std::string_view phc, bool allow_empty) {
  if (phc.empty()) {
    if (allow_empty) {
      return {};
    }
    return Error::InvalidArgument("password hash is required");
  }
  if (phc.size() > 512 || phc.substr(0, 7) != "$argon2") {
    return Error::InvalidArgument("password hash must be an Argon2 PHC string ($argon2id$...)");
  }
  for (char c : phc) {
    if (c <= ' ' || c > '~') {
      return Error::InvalidArgument("password hash must be an Argon2 PHC string ($argon2id$...)");
    }
  }
  return {};
}

}  // namespace sftplc::accounts
