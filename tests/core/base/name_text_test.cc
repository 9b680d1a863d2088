#include "sftpd/core/base/name_text.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace sftplc {
namespace {

// Reverses EscapeName (the decoding docs/sftpctl.md describes), to prove the form is exact.
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    char c = s[++i];
    if (c == 'n') {
      out += '\n';
    } else if (c == 'r') {
      out += '\r';
    } else if (c == 't') {
      out += '\t';
    } else if (c == '\\') {
      out += '\\';
    } else if (c == 'x') {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else if (c == 'u') {
      unsigned cp = std::stoul(std::string(s.substr(i + 1, 4)), nullptr, 16);
      i += 4;
      if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      }
    }
  }
  return out;
}

// The names of the access-request failure: an invalid byte, a newline, an escape sequence.
TEST(NameTextTest, EscapesHostileNamesOnOneLine) {
  EXPECT_EQ(EscapeName("\xff"), "\\xff");
  EXPECT_EQ(EscapeName("a\nb"), "a\\nb");
  EXPECT_EQ(EscapeName("\x1b[31m"), "\\x1b[31m");
  EXPECT_EQ(EscapeName("a\\nb"), "a\\\\nb");
  EXPECT_EQ(EscapeName("tab\there\r"), "tab\\there\\r");
  EXPECT_EQ(EscapeName("del\x7f"), "del\\x7f");
  // C1 NEL, LINE SEPARATOR and RIGHT-TO-LEFT OVERRIDE start a line or reorder text.
  EXPECT_EQ(EscapeName("a\xc2\x85"
                       "b"),
            "a\\u0085b");
  EXPECT_EQ(EscapeName("a\xe2\x80\xa8"
                       "b"),
            "a\\u2028b");
  EXPECT_EQ(EscapeName("evil\xe2\x80\xaegpj.exe"), "evil\\u202egpj.exe");
}

// Printable UTF-8 is kept as it is: names stay readable in a letter.
TEST(NameTextTest, KeepsPrintableUtf8) {
  EXPECT_EQ(EscapeName("Überweisung 2026.pdf"), "Überweisung 2026.pdf");
  EXPECT_EQ(EscapeName("日本語/😀.txt"), "日本語/😀.txt");
}

// Decoding the escaped form gives back every byte, whatever the name.
TEST(NameTextTest, EscapedFormIsExact) {
  std::string all;
  for (int c = 1; c < 256; ++c) {
    all += static_cast<char>(c);
  }
  for (const std::string& name :
       {all, std::string("\xff\xfe"), std::string("a\nb\\x41"), std::string("\xc0\xaf"),
        std::string("\xed\xa0\x80"), std::string("\xf4\x90\x80\x80"), std::string("\xe2\x80")}) {
    std::string esc = EscapeName(name);
    EXPECT_EQ(Unescape(esc), name) << esc;
    EXPECT_EQ(esc.find('\n'), std::string::npos);
    EXPECT_TRUE(IsValidUtf8(esc));
  }
}

// Overlong forms, surrogates and code points above U+10FFFF are not UTF-8; each invalid byte
// becomes one U+FFFD.
TEST(NameTextTest, LossyReplacesEachInvalidByte) {
  EXPECT_TRUE(IsValidUtf8("plain é 😀"));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("\xe2\x80"));
  EXPECT_EQ(Utf8Lossy("a\xff"
                      "b"),
            "a\xef\xbf\xbd"
            "b");
  EXPECT_EQ(Utf8Lossy("\xe2\x80"), "\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(Utf8Lossy("a\nb"), "a\nb");
}

// JSON: a name that is not UTF-8 gets the exact form next to it and dumps without an
// exception; a valid one (control characters included) is exact in JSON itself.
TEST(NameTextTest, PutNameAddsEscapedFormOnlyWhenNeeded) {
  nlohmann::ordered_json j;
  PutName(j, "path", "\xff");
  EXPECT_EQ(j["path"], "\xef\xbf\xbd");
  EXPECT_EQ(j["path_escaped"], "\\xff");
  EXPECT_NO_THROW((void)j.dump());
  nlohmann::ordered_json k;
  PutName(k, "path", "a\nb");
  EXPECT_EQ(k["path"], "a\nb");
  EXPECT_FALSE(k.contains("path_escaped"));
  EXPECT_EQ(k.dump(), R"({"path":"a\nb"})");
}

}  // namespace
}  // namespace sftplc
