// libFuzzer target for public-key lines (sftpd/core/accounts/public_key.cc): an accepted
// authorized_keys line has the fingerprint of its decoded blob and parses again, as the store
// writes it back ("type base64 comment"), to the same key; the private-key header reader and
// the base64 codec take any bytes.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sftpd/core/accounts/public_key.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sftplc::accounts;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto key = ParseAuthorizedKey(text);
  if (key) {
    auto blob = DecodeBase64(key->key_base64);
    if (!blob || Sha256Fingerprint(*blob) != key->fingerprint) {
      __builtin_trap();
    }
    std::string again = key->key_type + " " + key->key_base64;
    if (!key->comment.empty()) {
      again += " " + key->comment;
    }
    auto reparsed = ParseAuthorizedKey(again);
    if (!reparsed || reparsed->fingerprint != key->fingerprint ||
        reparsed->comment != key->comment || reparsed->key_type != key->key_type) {
      __builtin_trap();
    }
  }
  (void)PublicKeyOfPrivateKeyFile(text);
  auto bytes = DecodeBase64(text);
  if (bytes) {
    std::string padded = EncodeBase64(*bytes, true), bare = EncodeBase64(*bytes, false);
    if (text != padded && text != bare) {
      __builtin_trap();  // strict: only the canonical forms decode
    }
  }
  return 0;
}
