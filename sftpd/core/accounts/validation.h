#pragma once

// Validation and normalisation of what an admin types for an account. Every function returns
// kInvalidArgument with a message that names the field and says what is accepted; messages
// never repeat the rejected value (it may be personal data).

#include <string>
#include <string_view>

#include "sftpd/core/accounts/account.h"
#include "sftpd/core/base/result.h"

namespace sftplc::accounts {

// [a-z0-9][a-z0-9._-]{2,31}
Status ValidateUsername(std::string_view username);
// One '@', no spaces or control characters, local part <= 64, domain <= 255, total <= 254,
// a dot-separated domain of LDH labels.
Status ValidateEmail(std::string_view email);
// Normalises to E.164 ("+441513577700"): accepts spaces, dots, dashes, parentheses and a
// leading "00"; refuses letters, a missing country code, and fewer than 8 or more than 15 digits.
Result<std::string> NormalizePhone(std::string_view phone);
// 1-200 characters (code points) of valid UTF-8, no control characters, not only spaces.
Status ValidateFullName(std::string_view name);
// Optional (empty ok); else as a full name.
Status ValidateCompany(std::string_view company);
// 1-200 characters of valid UTF-8 (a consent source).
Status ValidateConsentSource(std::string_view source);
// All of the above on a NewAccount; returns it with the phone normalised. A consent source is
// required with marketing consent and refused without it; password_hash may be empty.
Result<NewAccount> ValidateNewAccount(NewAccount account);
// Passwords: 12-1024 bytes.
Status ValidatePasswordLength(std::size_t bytes);
// A stored password hash: an Argon2 PHC string ("$argon2id$v=19$..."), printable ASCII, at most
// 512 bytes; empty only when allow_empty (an account that logs in with keys only).
Status ValidatePasswordHash(std::string_view phc, bool allow_empty);

}  // namespace sftplc::accounts
