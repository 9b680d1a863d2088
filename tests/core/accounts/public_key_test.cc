#include "sftpd/core/accounts/public_key.h"

#include <gtest/gtest.h>

#include "tests/core/accounts/test_keys.h"

namespace sftplc::accounts {
namespace {

using namespace ::sftplc::testing;  // NOLINT: test key constants

// Fingerprints match what ssh-keygen -l prints, for every key type we accept.
TEST(PublicKeyTest, FingerprintsMatchSshKeygen) {
  struct Case {
    const char* line;
    const char* type;
    const char* fingerprint;
    const char* comment;
  };
  for (const Case& c : {Case{kEd25519Key, "ssh-ed25519", kEd25519Fingerprint, "alice@laptop"},
                        Case{kEcdsaKey, "ecdsa-sha2-nistp256", kEcdsaFingerprint, ""},
                        Case{kRsaKey, "ssh-rsa", kRsaFingerprint, "rsa key"}}) {
    auto k = ParseAuthorizedKey(c.line);
    ASSERT_TRUE(k) << k.error().ToString();
    EXPECT_EQ(k->key_type, c.type);
    EXPECT_EQ(k->fingerprint, c.fingerprint);
    EXPECT_EQ(k->comment, c.comment);
  }
}

// The line may end in a newline and carry extra spaces; the stored key is canonical base64.
TEST(PublicKeyTest, ToleratesWhitespace) {
  auto k = ParseAuthorizedKey(std::string("  ") + kEd25519Key + "\r\n");
  ASSERT_TRUE(k);
  EXPECT_EQ(k->fingerprint, kEd25519Fingerprint);
  EXPECT_EQ(k->key_base64, "AAAAC3NzaC1lZDI1NTE5AAAAIF+ILUNH7khkGaVJvIomZAbLxzCBzQRJ0BmDJRXSb15A");
}

// Malformed lines are kInvalidArgument: empty, options, unknown types, bad base64, a blob of
// another type, a truncated blob, a control character in the comment.
TEST(PublicKeyTest, RefusesMalformedLines) {
  std::string ed_blob = "AAAAC3NzaC1lZDI1NTE5AAAAIF+ILUNH7khkGaVJvIomZAbLxzCBzQRJ0BmDJRXSb15A";
  for (const std::string& bad :
       {std::string(""), std::string("   "), std::string("# comment"),
        "no-pty " + std::string(kEd25519Key), "ssh-dss " + ed_blob, std::string("ssh-ed25519"),
        std::string("ssh-ed25519 !!!notbase64"), "ssh-rsa " + ed_blob,
        std::string("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5"), "ssh-ed25519 " + ed_blob + " a\x01z",
        "ssh-ed25519 " + ed_blob + " \xff\xfe",
        std::string("ssh-ed25519 '; DROP TABLE public_keys; --"), std::string(20000, 'A')}) {
    auto k = ParseAuthorizedKey(bad);
    ASSERT_FALSE(k) << bad;
    EXPECT_EQ(k.error().code(), ErrorCode::kInvalidArgument);
  }
}

// The public half of an OpenSSH private key file (a throwaway test key) is read from its header:
// type, blob and the fingerprint `ssh-keygen -l` prints; other text is refused.
TEST(PublicKeyTest, PublicHalfOfOpenSshPrivateKeyFile) {
  const std::string key =
      "-----BEGIN OPENSSH PRIVATE KEY-----\n"
      "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
      "QyNTUxOQAAACA/WuKofEs+2K29l6W1dAyfySSJR3Po2r3FcTsuYN5TqAAAAIiwqqsjsKqr\n"
      "IwAAAAtzc2gtZWQyNTUxOQAAACA/WuKofEs+2K29l6W1dAyfySSJR3Po2r3FcTsuYN5TqA\n"
      "AAAEAoFyxgK0dv9gVHn/Vm2+lBbDplDLDh4Wt3mBefE5x6cz9a4qh8Sz7Yrb2XpbV0DJ/J\n"
      "JIlHc+javcVxOy5g3lOoAAAAAAECAwQF\n"
      "-----END OPENSSH PRIVATE KEY-----\n";
  auto k = PublicKeyOfPrivateKeyFile(key);
  ASSERT_TRUE(k) << k.error().ToString();
  EXPECT_EQ(k->key_type, "ssh-ed25519");
  EXPECT_EQ(k->fingerprint, "SHA256:2+kUSWQ6nmWNFF3rrD9Ww9z1fwwLnPZAHFDwDzefzkg");
  EXPECT_EQ(k->key_base64, "AAAAC3NzaC1lZDI1NTE5AAAAID9a4qh8Sz7Yrb2XpbV0DJ/JJIlHc+javcVxOy5g3lOo");

  EXPECT_FALSE(PublicKeyOfPrivateKeyFile(""));
  EXPECT_FALSE(
      PublicKeyOfPrivateKeyFile("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n"
                                "-----END RSA PRIVATE KEY-----\n"));
  // Truncated inside the header: refused, never read past the end.
  std::string cut = key.substr(0, key.find('\n') + 41) + "\n-----END OPENSSH PRIVATE KEY-----\n";
  EXPECT_FALSE(PublicKeyOfPrivateKeyFile(cut));
}

// Base64 round-trips and refuses non-canonical trailing bits.
TEST(PublicKeyTest, Base64RoundTrip) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    auto d = DecodeBase64(EncodeBase64(s, true));
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, s);
  }
  EXPECT_EQ(EncodeBase64("foobar", false), "Zm9vYmFy");
  EXPECT_EQ(EncodeBase64("fo", false), "Zm8");
  EXPECT_FALSE(DecodeBase64("Zm9="));  // trailing bits set
  EXPECT_FALSE(DecodeBase64("Z"));
}

// Padding is optional but, when present, exactly what the length needs: found by public_key_fuzz
// ("=" decoded to the empty string; any run of '=' was dropped).
TEST(PublicKeyTest, Base64RefusesWrongPadding) {
  for (const char* bad : {"=", "==", "Zm8===", "Zm9v=", "Zm9v====", "Zm9vYg=", "Zm9vYmE=="}) {
    EXPECT_FALSE(DecodeBase64(bad)) << bad;
  }
  EXPECT_EQ(DecodeBase64("Zm9vYg==").value_or("?"), "foob");
  EXPECT_EQ(DecodeBase64("Zm9vYmE=").value_or("?"), "fooba");
  EXPECT_EQ(DecodeBase64("Zm9vYmE").value_or("?"), "fooba");
}

}  // namespace
}  // namespace sftplc::accounts
