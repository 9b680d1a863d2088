#pragma once

// Test helpers: SFTP request packets built by hand and reply streams split back into packets.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sftplc::sftp::testing {

// Builds the body of a packet field by field.
class Body {
 public:
  Body& u8(uint8_t v) {
    s_.push_back(static_cast<char>(v));
    return *this;
  }
  Body& u32(uint32_t v) {
    for (int i = 3; i >= 0; --i) {
      s_.push_back(static_cast<char>(v >> (8 * i)));
    }
    return *this;
  }
  Body& u64(uint64_t v) {
    u32(static_cast<uint32_t>(v >> 32));
    return u32(static_cast<uint32_t>(v));
  }
  Body& str(std::string_view v) {
    u32(static_cast<uint32_t>(v.size()));
    s_.append(v);
    return *this;
  }
  Body& raw(std::string_view v) {
    s_.append(v);
    return *this;
  }
  const std::string& bytes() const { return s_; }

 private:
  std::string s_;
};

// A whole packet: uint32 length, type, body.
inline std::string Packet(uint8_t type, const Body& body) {
  Body p;
  p.u32(static_cast<uint32_t>(1 + body.bytes().size())).u8(type).raw(body.bytes());
  return p.bytes();
}

inline std::string InitPacket() { return Packet(1, Body().u32(3)); }

// One reply packet.
struct Reply {
  uint8_t type = 0;
  std::string body;  // after the type byte
  uint32_t id() const { return U32At(0); }
  uint32_t U32At(std::size_t off) const {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      v = (v << 8) | static_cast<uint8_t>(body.at(off + i));
    }
    return v;
  }
  uint64_t U64At(std::size_t off) const { return (uint64_t{U32At(off)} << 32) | U32At(off + 4); }
  // For STATUS replies.
  uint32_t status() const { return U32At(4); }
  // The string at `off` (uint32 length + bytes).
  std::string StrAt(std::size_t off) const { return body.substr(off + 4, U32At(off)); }
};

// Splits a reply stream into packets; sets `ok` false when it is not a sequence of whole packets.
inline std::vector<Reply> SplitReplies(std::string_view out, bool* ok = nullptr) {
  std::vector<Reply> v;
  std::size_t i = 0;
  bool good = true;
  while (i < out.size()) {
    if (out.size() - i < 5) {
      good = false;
      break;
    }
    uint32_t len = 0;
    for (int k = 0; k < 4; ++k) {
      len = (len << 8) | static_cast<uint8_t>(out[i + k]);
    }
    if (len < 1 || out.size() - i - 4 < len) {
      good = false;
      break;
    }
    Reply r;
    r.type = static_cast<uint8_t>(out[i + 4]);
    r.body = std::string(out.substr(i + 5, len - 1));
    v.push_back(std::move(r));
    i += 4 + len;
  }
  if (ok != nullptr) {
    *ok = good;
  }
  return v;
}

}  // namespace sftplc::sftp::testing
