#include "sftpd/core/accounts/validation.h"

#include <gtest/gtest.h>

namespace sftplc::accounts {
namespace {

// Usernames follow [a-z0-9][a-z0-9._-]{2,31} exactly.
TEST(ValidationTest, Username) {
  for (const char* ok : {"abc", "a.b", "0-9", "alice_smith", "abcdefghijklmnopqrstuvwxyz012345"}) {
    EXPECT_TRUE(ValidateUsername(ok)) << ok;
  }
  for (const char* bad :
       {"", "ab", "Alice", ".abc", "-abc", "_abc", "abc def", "abc@x",
        "abcdefghijklmnopqrstuvwxyz0123456", "al'ice", "a;b--", "ålice", "abc\n"}) {
    auto st = ValidateUsername(bad);
    ASSERT_FALSE(st) << bad;
    EXPECT_EQ(st.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(st.error().message().find("username"), std::string::npos);
  }
}

// Emails: one '@', RFC 5321 lengths, LDH domain labels, no spaces or control characters.
TEST(ValidationTest, Email) {
  for (const char* ok : {"a@example.com", "first.last+tag@sub.example.co.uk", "o'brien@x.org",
                         "x@xn--bcher-kva.example"}) {
    EXPECT_TRUE(ValidateEmail(ok)) << ok;
  }
  std::string long_local = std::string(65, 'a') + "@example.com";
  std::string long_total = std::string(60, 'a') + "@" + std::string(63, 'b') + "." +
                           std::string(63, 'c') + "." + std::string(63, 'd') + ".com";
  std::string long_label = "a@" + std::string(64, 'b') + ".com";
  for (const std::string& bad : {std::string(""),
                                 std::string("plain"),
                                 std::string("a@@b.com"),
                                 std::string("a@b@c.com"),
                                 std::string("@b.com"),
                                 std::string("a@"),
                                 std::string("a b@c.com"),
                                 std::string("a@b .com"),
                                 std::string("a@localhost"),
                                 std::string("a@-b.com"),
                                 std::string("a@b..com"),
                                 std::string(".a@b.com"),
                                 std::string("a..b@c.com"),
                                 std::string("a\n@b.com"),
                                 std::string("a@b.com\t"),
                                 std::string("x'; DROP TABLE a;--@b.com"),
                                 std::string("\xc3\xa9@b.com"),
                                 long_local,
                                 long_total,
                                 long_label}) {
    auto st = ValidateEmail(bad);
    ASSERT_FALSE(st) << bad;
    EXPECT_NE(st.error().message().find("email"), std::string::npos);
  }
}

// Phones normalise to E.164 from common notations; letters, a missing country code and the
// wrong number of digits are refused.
TEST(ValidationTest, PhoneNormalisation) {
  EXPECT_EQ(NormalizePhone("+44 151 357 7700").value_or("?"), "+441513577700");
  EXPECT_EQ(NormalizePhone("0044 (151) 357-7700").value_or("?"), "+441513577700");
  EXPECT_EQ(NormalizePhone("+44 (0)151 357.7700").value_or("?"), "+441513577700");
  EXPECT_EQ(NormalizePhone("+1-212-555-0100").value_or("?"), "+12125550100");
  for (const char* bad : {"", "0151 357 7700", "151 357 7700", "+44 151 CALL ME",
                          "+4415135777001234", "+1234567", "+0441513577700", "+44;151",
                          "+44 151 357 7700'--", "++441513577700", "+44\0011513577700"}) {
    auto p = NormalizePhone(bad);
    ASSERT_FALSE(p) << bad;
    EXPECT_NE(p.error().message().find("phone"), std::string::npos) << bad;
  }
}

// Names: 1-200 code points of valid UTF-8 without control characters; company may be empty.
TEST(ValidationTest, NamesAndUtf8) {
  EXPECT_TRUE(ValidateFullName("Zoë Ångström-Łukasiewicz"));
  EXPECT_TRUE(ValidateFullName("李小龍"));
  EXPECT_TRUE(ValidateFullName("O'Brien; DROP TABLE accounts; --"));  // stored as a value
  std::string two_hundred;
  for (int i = 0; i < 200; ++i) {
    two_hundred += "é";  // 2 bytes each: 200 characters, 400 bytes
  }
  EXPECT_TRUE(ValidateFullName(two_hundred));
  EXPECT_FALSE(ValidateFullName(two_hundred + "e"));
  EXPECT_TRUE(ValidateCompany(""));
  EXPECT_FALSE(ValidateFullName(""));
  EXPECT_FALSE(ValidateFullName("   "));
  for (const char* bad : {"\xff", "abc\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
                          "\xf4\x90\x80\x80", "\x80", "tab\there", "nul\x7f", "c1\xc2\x85"}) {
    EXPECT_FALSE(ValidateFullName(bad)) << bad;
    auto st = ValidateCompany(bad);
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message().find("company"), std::string::npos);
  }
  EXPECT_TRUE(ValidateConsentSource("web form 2026-11-02"));
  EXPECT_FALSE(ValidateConsentSource(""));
}

// ValidateNewAccount checks every field, normalises the phone, and ties source to consent.
TEST(ValidationTest, NewAccount) {
  NewAccount a{"alice", "Alice Example", "", "alice@example.com", "+44 151 357 7700",
               "",      false,           ""};
  auto v = ValidateNewAccount(a);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->phone, "+441513577700");
  a.marketing_consent = true;
  EXPECT_FALSE(ValidateNewAccount(a));  // consent without a source
  a.consent_source = "web form";
  EXPECT_TRUE(ValidateNewAccount(a));
  a.marketing_consent = false;
  EXPECT_FALSE(ValidateNewAccount(a));  // a source without consent
  a.consent_source = "";
  a.password_hash = "plaintext-password";
  EXPECT_FALSE(ValidateNewAccount(a));
  a.password_hash = "$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2g";
  EXPECT_TRUE(ValidateNewAccount(a));
}

// Passwords are 12 to 1024 bytes.
TEST(ValidationTest, PasswordLength) {
  EXPECT_FALSE(ValidatePasswordLength(0));
  EXPECT_FALSE(ValidatePasswordLength(11));
  EXPECT_TRUE(ValidatePasswordLength(12));
  EXPECT_TRUE(ValidatePasswordLength(1024));
  EXPECT_FALSE(ValidatePasswordLength(1025));
}

// Error messages never repeat the rejected value.
TEST(ValidationTest, MessagesDoNotEchoInput) {
  auto e = ValidateEmail("secret.person@nowhere");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message().find("secret.person"), std::string::npos);
  auto p = NormalizePhone("+44 SECRET");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().message().find("SECRET"), std::string::npos);
}

}  // namespace
}  // namespace sftplc::accounts
