#include "tests/server/test_protocol.h"

namespace sftplc::testing {
namespace {

constexpr std::size_t kMaxFrame = 256 * 1024 + 1024;

uint32_t Get32(const std::string& s, std::size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) |
         (uint32_t(uint8_t(s[at + 2])) << 8) | uint32_t(uint8_t(s[at + 3]));
}

void Put32(std::string& s, uint32_t v) {
  s.push_back(char(v >> 24));
  s.push_back(char(v >> 16));
  s.push_back(char(v >> 8));
  s.push_back(char(v));
}

void PutString(std::string& s, const std::string& v) {
  Put32(s, uint32_t(v.size()));
  s += v;
}

void Frame(std::string& out, const std::string& body) {
  Put32(out, uint32_t(body.size()));
  out += body;
}

void StatusReply(std::string& out, uint32_t id, uint32_t code) {
  std::string b;
  b.push_back(char(101));
  Put32(b, id);
  Put32(b, code);
  PutString(b, code == 0 ? "ok" : "unsupported");
  PutString(b, "");
  Frame(out, b);
}

}  // namespace

Status TestProtocol::OnData(const uint8_t* data, std::size_t len, std::string& out) {
  pending_.append(reinterpret_cast<const char*>(data), len);
  std::size_t at = 0;
  while (pending_.size() - at >= 4) {
    uint32_t n = Get32(pending_, at);
    if (n == 0 || n > kMaxFrame) {
      return Error::InvalidArgument("frame length out of range");
    }
    if (pending_.size() - at - 4 < n) {
      break;
    }
    Handle(pending_.substr(at + 4, n), out);
    at += 4 + n;
  }
  pending_.erase(0, at);
  return {};
}

void TestProtocol::Handle(const std::string& p, std::string& out) {
  uint8_t type = uint8_t(p[0]);
  if (type == 1) {  // INIT -> VERSION 3
    std::string b;
    b.push_back(char(2));
    Put32(b, 3);
    Frame(out, b);
    return;
  }
  if (p.size() < 5) {
    return;
  }
  uint32_t id = Get32(p, 1);
  switch (type) {
    case 16: {  // REALPATH -> NAME "/"
      std::string b;
      b.push_back(char(104));
      Put32(b, id);
      Put32(b, 1);
      PutString(b, "/");
      PutString(b, "/");
      Put32(b, 0);  // no attributes
      Frame(out, b);
      return;
    }
    case 3: {  // OPEN -> HANDLE "h"
      std::string b;
      b.push_back(char(102));
      Put32(b, id);
      PutString(b, "h");
      Frame(out, b);
      return;
    }
    case 6: {  // WRITE handle offset data: count the data
      std::size_t at = 5;
      uint32_t hl = Get32(p, at);
      at += 4 + hl + 8;
      uint32_t dl = Get32(p, at);
      counters_.bytes_in += dl;
      activity_ = true;
      StatusReply(out, id, 0);
      return;
    }
    case 4:  // CLOSE
      counters_.files_uploaded += 1;
      StatusReply(out, id, 0);
      return;
    default:
      StatusReply(out, id, 8);
      return;
  }
}

}  // namespace sftplc::testing
