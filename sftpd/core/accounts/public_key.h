#pragma once

// Parsing of one authorized_keys line and the OpenSSH SHA256 fingerprint of a key, shared by
// the account store (sftpctl account add-key) and the server's public-key authentication.

#include <string>
#include <string_view>

#include "sftpd/core/accounts/account.h"
#include "sftpd/core/base/result.h"

namespace sftplc::accounts {

// Parses "type base64 [comment]" (no options prefix). Fills key_type, key_base64, fingerprint
// and comment; id, account_id and added_at are left for the store. The type must be one of
// ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa, sk-ssh-ed25519@openssh.com,
// sk-ecdsa-sha2-nistp256@openssh.com, and must match the type inside the key blob; the comment
// is at most 200 characters of UTF-8 text. kInvalidArgument otherwise (the message never
// repeats the line). Thread-safe.
Result<PublicKey> ParseAuthorizedKey(std::string_view line);

// The public half of an OpenSSH-format private key file ("-----BEGIN OPENSSH PRIVATE KEY-----",
// the format ssh-keygen and sftpd write), read from the file's unencrypted header without the
// passphrase or the private half. Fills key_type, key_base64 and fingerprint.
// kInvalidArgument when the text is not that format (PEM keys: read the ".pub" file instead).
// Thread-safe.
Result<PublicKey> PublicKeyOfPrivateKeyFile(std::string_view file_text);

// "SHA256:" + unpadded base64 of SHA-256(blob), as `ssh-keygen -l` prints it. Thread-safe.
std::string Sha256Fingerprint(std::string_view blob);

// Strict base64 (RFC 4648, padding optional, no whitespace). kInvalidArgument otherwise.
Result<std::string> DecodeBase64(std::string_view text);
// Base64 with or without '=' padding.
std::string EncodeBase64(std::string_view bytes, bool pad);

}  // namespace sftplc::accounts
