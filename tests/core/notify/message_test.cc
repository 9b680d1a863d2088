#include "sftpd/core/notify/message.h"

#include <gtest/gtest.h>

#include "tests/testing/fake_clock.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_env.h"

namespace sftplc::notify {
namespace {

using testing::T;

MailMessage Sample() {
  MailMessage m;
  m.from = *ParseMailbox("SFTP service <sftp@example.com>");
  m.to = *ParseMailbox("Jane Doe <jane@example.org>");
  m.subject = "Is your account still needed?";
  m.body = "Hello,\nline two\n";
  m.date = T("2026-11-25T15:23:20Z");
  return m;
}

// Decodes a message with Python's email package (a strict, independent RFC 5322 parser) and
// returns "subject|from|to|body".
std::string DecodeWithPython(const std::string& raw) {
  testing::TempDir dir;
  testing::WriteFile(dir.Sub("m.eml"), raw);
  auto r = testing::RunCommand(
      "/usr/bin/python3 -c 'import email, email.policy, sys\n"
      "m = email.message_from_binary_file(open(sys.argv[1], \"rb\"), policy=email.policy.strict)\n"
      "sys.stdout.write(str(m[\"Subject\"]) + \"|\" + str(m[\"From\"]) + \"|\" + str(m[\"To\"]) + "
      "\"|\" + m.get_content())' '" +
      dir.Sub("m.eml") + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

// An ASCII notice has all required headers, CRLF line ends and a 7bit body.
TEST(MessageTest, AsciiMessageHasRequiredHeadersAndCrlf) {
  auto raw = BuildMessage(Sample());
  ASSERT_TRUE(raw) << raw.error().ToString();
  EXPECT_NE(raw->find("Date: Wed, 25 Nov 2026 15:23:20 +0000\r\n"), std::string::npos);
  EXPECT_NE(raw->find("Message-ID: <"), std::string::npos);
  EXPECT_NE(raw->find("@example.com>\r\n"), std::string::npos);
  EXPECT_NE(raw->find("From: SFTP service <sftp@example.com>\r\n"), std::string::npos);
  EXPECT_NE(raw->find("To: Jane Doe <jane@example.org>\r\n"), std::string::npos);
  EXPECT_NE(raw->find("MIME-Version: 1.0\r\n"), std::string::npos);
  EXPECT_NE(raw->find("Content-Type: text/plain; charset=utf-8\r\n"), std::string::npos);
  EXPECT_NE(raw->find("Content-Transfer-Encoding: 7bit\r\n\r\nHello,\r\nline two\r\n"),
            std::string::npos);
  for (size_t i = 0; i < raw->size(); ++i) {
    if ((*raw)[i] == '\n') {
      ASSERT_GT(i, 0u);
      EXPECT_EQ((*raw)[i - 1], '\r') << "bare LF at " << i;
    }
  }
  EXPECT_EQ(DecodeWithPython(*raw),
            "Is your account still needed?|SFTP service <sftp@example.com>|"
            "Jane Doe <jane@example.org>|Hello,\nline two\n");
}

// Non-ASCII names and subjects become encoded-words; the body becomes quoted-printable and
// decodes back to the same UTF-8 text.
TEST(MessageTest, NonAsciiHeadersAndBodyRoundTrip) {
  MailMessage m = Sample();
  m.to = *ParseMailbox("Zoë Åström-Łukasiewicz <zoe@example.org>");
  m.subject = "Votre compte est-il toujours nécessaire ? Ünïcödé everywhere, a rather long one";
  m.body = "Bonjour Zoë,\n.leading dot line\ntrailing space \n" + std::string(120, 'x') + "é\n";
  auto raw = BuildMessage(m);
  ASSERT_TRUE(raw) << raw.error().ToString();
  EXPECT_NE(raw->find("Subject: =?UTF-8?B?"), std::string::npos);
  EXPECT_NE(raw->find("Content-Transfer-Encoding: quoted-printable"), std::string::npos);
  EXPECT_NE(raw->find("\r\n=2Eleading dot line"), std::string::npos);
  size_t start = 0;
  while (start < raw->size()) {
    size_t eol = raw->find("\r\n", start);
    EXPECT_LE(eol - start, 78u) << raw->substr(start, eol - start);
    start = eol + 2;
  }
  EXPECT_EQ(DecodeWithPython(*raw), m.subject + "|SFTP service <sftp@example.com>|" +
                                        "Zoë Åström-Łukasiewicz <zoe@example.org>|" + m.body);
}

// A header value with a line break (header injection) is refused.
TEST(MessageTest, HeaderInjectionRefused) {
  MailMessage m = Sample();
  m.subject = "hello\r\nBcc: victim@example.net";
  auto raw = BuildMessage(m);
  ASSERT_FALSE(raw);
  EXPECT_EQ(raw.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(ParseMailbox("a@b.c\nBcc: x@y.z"));
}

// Mailbox parsing accepts the usual forms and refuses broken ones.
TEST(MessageTest, ParseMailboxForms) {
  auto a = ParseMailbox("  \"Doe, Jane\" <jane@example.org> ");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->display_name, "Doe, Jane");
  EXPECT_EQ(a->address, "jane@example.org");
  EXPECT_EQ(ParseMailbox("jane@example.org")->address, "jane@example.org");
  EXPECT_FALSE(ParseMailbox("Jane <jane.example.org>"));
  EXPECT_FALSE(ParseMailbox("Jane <jane@example.org"));
  EXPECT_FALSE(ParseMailbox("jané@example.org"));
}

// Encoded words never split a UTF-8 character and stay within 75 characters.
TEST(MessageTest, EncodedWordsSplitOnCharacterBoundaries) {
  std::string text;
  for (int i = 0; i < 40; ++i) {
    text += "€";  // 3 octets each
  }
  std::string enc = EncodeHeaderWords(text);
  size_t start = 0, words = 0;
  while (start < enc.size()) {
    size_t end = enc.find("\r\n ", start);
    std::string word = enc.substr(start, end == std::string::npos ? enc.npos : end - start);
    EXPECT_LE(word.size(), 75u);
    EXPECT_EQ(word.rfind("=?UTF-8?B?", 0), 0u);
    ++words;
    if (end == std::string::npos) {
      break;
    }
    start = end + 3;
  }
  EXPECT_EQ(words, 3u);  // 120 octets, 45 (15 chars) per word
  EXPECT_EQ(EncodeHeaderWords("plain"), "plain");
}

// Invalid UTF-8 in a body is refused rather than sent garbled.
TEST(MessageTest, InvalidUtf8Refused) {
  MailMessage m = Sample();
  m.body = std::string("bad \xC3\x28 byte");
  EXPECT_FALSE(BuildMessage(m));
  EXPECT_TRUE(IsValidUtf8("Zoë"));
  EXPECT_FALSE(IsValidUtf8("\xF0\x9F"));
}

}  // namespace
}  // namespace sftplc::notify
