#include "sftpd/core/notify/message.h"

#include <fmt/format.h>

#include "sftpd/core/base/ids.h"
#include "sftpd/core/base/time_format.h"

namespace sftplc::notify {
namespace {

bool IsAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) {
      return false;
    }
  }
  return true;
}

bool HasLineBreak(std::string_view s) {
  return s.find('\r') != std::string_view::npos || s.find('\n') != std::string_view::npos;
}

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  while (i + 2 < in.size()) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
    i += 3;
  }
  if (i + 1 == in.size()) {
    uint32_t n = uint8_t(in[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

// Length of the UTF-8 sequence starting with `lead` (1 for invalid leads: never split them).
size_t Utf8Len(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 1;
}

// Folds an ASCII header value at spaces so lines stay near 78 characters.
std::string FoldAscii(std::string_view name, std::string_view value) {
  std::string out;
  size_t line_len = name.size() + 2;
  size_t pos = 0;
  bool first = true;
  while (pos <= value.size()) {
    size_t sp = value.find(' ', pos);
    std::string_view word = value.substr(pos, sp == std::string_view::npos ? value.npos : sp - pos);
    if (!first && line_len + 1 + word.size() > 78) {
      out += "\r\n ";
      line_len = 1;
    } else if (!first) {
      out += ' ';
      ++line_len;
    }
    out += word;
    line_len += word.size();
    first = false;
    if (sp == std::string_view::npos) {
      break;
    }
    pos = sp + 1;
  }
  return out;
}

std::string Header(std::string_view name, std::string_view value) {
  if (IsAscii(value)) {
    return fmt::format("{}: {}\r\n", name, FoldAscii(name, value));
  }
  return fmt::format("{}: {}\r\n", name, EncodeHeaderWords(value, name.size() + 2));
}

// Length of the last physical line of a folded header value.
size_t LastLineLength(std::string_view s, size_t first_offset) {
  size_t nl = s.rfind("\r\n");
  return nl == std::string_view::npos ? first_offset + s.size() : s.size() - nl - 2;
}

// A display name as a quoted-string (ASCII) or encoded-words.
// `offset` is the length of "To: " before it, to keep lines within 78 characters.
std::string FormatMailbox(const Mailbox& m, size_t offset) {
  if (m.display_name.empty()) {
    return m.address;
  }
  if (!IsAscii(m.display_name)) {
    std::string words = EncodeHeaderWords(m.display_name, offset);
    bool fold = LastLineLength(words, offset) + m.address.size() + 3 > 78;
    return fmt::format("{}{}<{}>", words, fold ? "\r\n " : " ", m.address);
  }
  if (m.display_name.find_first_of("()<>[]:;@\\,.\"") == std::string::npos) {
    return fmt::format("{} <{}>", m.display_name, m.address);
  }
  std::string quoted = "\"";
  for (char c : m.display_name) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
    }
    quoted += c;
  }
  quoted += '"';
  return fmt::format("{} <{}>", quoted, m.address);
}

std::string NormaliseLines(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 40);
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\r') {
      if (i + 1 < text.size() && text[i + 1] == '\n') {
        ++i;
      }
      out += "\r\n";
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out += c;
    }
  }
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) {
    out += "\r\n";
  }
  return out;
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    size_t n = Utf8Len(c);
    if (c >= 0x80 && n == 1) {
      return false;
    }
    if (i + n > s.size()) {
      return false;
    }
    for (size_t k = 1; k < n; ++k) {
      if ((uint8_t(s[i + k]) & 0xC0) != 0x80) {
        return false;
      }
    }
    i += n;
  }
  return true;
}

Result<Mailbox> ParseMailbox(std::string_view text) {
  if (HasLineBreak(text)) {
    return Error::InvalidArgument("a mail address may not contain a line break");
  }
  Mailbox m;
  size_t lt = text.find('<');
  if (lt != std::string_view::npos) {
    size_t gt = text.find('>', lt);
    if (gt == std::string_view::npos || text.find('<', lt + 1) != std::string_view::npos) {
      return Error::InvalidArgument("a mail address has unbalanced angle brackets");
    }
    std::string_view name = text.substr(0, lt);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.remove_prefix(1);
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
      name = name.substr(1, name.size() - 2);
    }
    m.display_name = std::string(name);
    m.address = std::string(text.substr(lt + 1, gt - lt - 1));
  } else {
    std::string_view a = text;
    while (!a.empty() && a.back() == ' ') a.remove_suffix(1);
    while (!a.empty() && a.front() == ' ') a.remove_prefix(1);
    m.address = std::string(a);
  }
  size_t at = m.address.find('@');
  if (at == std::string::npos || at == 0 || at + 1 == m.address.size() || !IsAscii(m.address) ||
      m.address.find(' ') != std::string::npos) {
    return Error::InvalidArgument("a mail address must look like name@host (ASCII)");
  }
  if (!IsValidUtf8(m.display_name)) {
    return Error::InvalidArgument("a mail display name must be UTF-8");
  }
  return m;
}

std::string EncodeHeaderWords(std::string_view text, size_t first_offset) {
  if (IsAscii(text)) {
    return std::string(text);
  }
  // A word is 12 + 4*ceil(n/3) characters for n octets: at most 75 (45 octets), and the line
  // it starts on (after `first_offset` characters, or one space when folded) within 78.
  auto max_octets = [](size_t offset) -> size_t {
    size_t room = offset < 62 ? (66 - offset) / 4 * 3 : 3;
    return std::min<size_t>(45, room);
  };
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t kMaxOctets = max_octets(out.empty() ? first_offset : 1);
    size_t end = i;
    while (end < text.size()) {
      size_t n = Utf8Len(uint8_t(text[end]));
      if (end + n - i > kMaxOctets) {
        break;
      }
      end += std::min(n, text.size() - end);
    }
    if (end == i) {  // cannot happen with n <= 4; guard against a stuck loop anyway
      end = i + 1;
    }
    if (!out.empty()) {
      out += "\r\n ";
    }
    out += "=?UTF-8?B?" + Base64(text.substr(i, end - i)) + "?=";
    i = end;
  }
  return out;
}

std::string QuotedPrintable(std::string_view text) {
  std::string norm = NormaliseLines(text);
  std::string out;
  size_t start = 0;
  while (start < norm.size()) {
    size_t eol = norm.find("\r\n", start);
    std::string_view line(norm.data() + start, eol - start);
    std::string enc;
    size_t line_len = 0;
    for (size_t i = 0; i < line.size(); ++i) {
      unsigned char c = line[i];
      std::string piece;
      bool last = i + 1 == line.size();
      if ((c == '.' && i == 0) || c == '=' || c >= 0x7F || (c < 0x20 && c != '\t') ||
          ((c == ' ' || c == '\t') && last)) {
        piece = fmt::format("={:02X}", c);
      } else {
        piece = std::string(1, char(c));
      }
      if (line_len + piece.size() > 75) {
        enc += "=\r\n";
        line_len = 0;
      }
      enc += piece;
      line_len += piece.size();
    }
    out += enc;
    out += "\r\n";
    start = eol + 2;
  }
  return out;
}

Result<std::string> BuildMessage(const MailMessage& msg) {
  if (HasLineBreak(msg.subject) || HasLineBreak(msg.reply_to) ||
      HasLineBreak(msg.from.display_name) || HasLineBreak(msg.to.display_name) ||
      HasLineBreak(msg.message_id)) {
    return Error::InvalidArgument("a mail header value may not contain a line break");
  }
  if (!IsValidUtf8(msg.subject) || !IsValidUtf8(msg.body)) {
    return Error::InvalidArgument("a notice's subject and body must be UTF-8");
  }
  std::string domain = "localhost";
  size_t at = msg.from.address.find('@');
  if (at != std::string::npos) {
    domain = msg.from.address.substr(at + 1);
  }
  std::string message_id =
      msg.message_id.empty() ? fmt::format("<{}@{}>", RandomHex(16), domain) : msg.message_id;

  std::string out;
  out += Header("Date", FormatRfc5322(msg.date));
  out += Header("Message-ID", message_id);
  out += "From: " + FormatMailbox(msg.from, 6) + "\r\n";
  out += "To: " + FormatMailbox(msg.to, 4) + "\r\n";
  if (!msg.reply_to.empty()) {
    auto reply = ParseMailbox(msg.reply_to);
    if (!reply) {
      return reply.error();
    }
    out += "Reply-To: " + FormatMailbox(*reply, 10) + "\r\n";
  }
  out += Header("Subject", msg.subject);
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: text/plain; charset=utf-8\r\n";
  bool plain = IsAscii(msg.body);
  if (plain) {
    std::string body = NormaliseLines(msg.body);
    bool long_line = false;
    size_t start = 0;
    while (start < body.size()) {
      size_t eol = body.find("\r\n", start);
      if (eol - start > 998) {
        long_line = true;
      }
      start = eol + 2;
    }
    plain = !long_line;
    if (plain) {
      out += "Content-Transfer-Encoding: 7bit\r\n\r\n";
      // libcurl dot-stuffs the DATA stream; doubling a leading dot here as well would show
      // two dots, so 7bit bodies are left as they are.
      out += body;
      return out;
    }
  }
  out += "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
  out += QuotedPrintable(msg.body);
  return out;
}

}  // namespace sftplc::notify
