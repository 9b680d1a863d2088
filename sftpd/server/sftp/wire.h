#pragma once

// Big-endian encoding of SFTP fields. Reader parses one packet body with bounds checks (a
// short field sets a sticky failure and yields zero / empty); the Put* functions append to a
// reply buffer. Neither allocates except when the output string grows.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sftplc::sftp {

inline uint32_t LoadU32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

inline void StoreU32(char* p, uint32_t v) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}

// A bounds-checked cursor over one packet. Not thread-safe (a value type).
class Reader {
 public:
  Reader(const uint8_t* data, std::size_t len) : p_(data), end_(data + len) {}

  uint8_t U8() {
    if (!Need(1)) {
      return 0;
    }
    return *p_++;
  }
  uint32_t U32() {
    if (!Need(4)) {
      return 0;
    }
    uint32_t v = LoadU32(p_);
    p_ += 4;
    return v;
  }
  uint64_t U64() {
    uint64_t hi = U32();
    uint64_t lo = U32();
    return (hi << 32) | lo;
  }
  // A uint32-length-prefixed string, as a view into the packet.
  std::string_view String() {
    uint32_t n = U32();
    if (!Need(n)) {
      return {};
    }
    std::string_view s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }

  // True while every field so far was complete. Bytes left after the last field are not an
  // error: like OpenSSH's sftp-server, a request whose fields all parsed is served and its
  // trailing bytes are discarded (Go's pkg/sftp sends some).
  bool ok() const { return ok_; }
  std::size_t remaining() const { return static_cast<std::size_t>(end_ - p_); }

 private:
  bool Need(std::size_t n) {
    if (!ok_ || remaining() < n) {
      ok_ = false;
      p_ = end_;
      return false;
    }
    return true;
  }
  const uint8_t* p_;
  const uint8_t* end_;
  bool ok_ = true;
};

inline void PutU8(std::string& out, uint8_t v) { out.push_back(static_cast<char>(v)); }
inline void PutU32(std::string& out, uint32_t v) {
  char b[4];
  StoreU32(b, v);
  out.append(b, 4);
}
inline void PutU64(std::string& out, uint64_t v) {
  PutU32(out, static_cast<uint32_t>(v >> 32));
  PutU32(out, static_cast<uint32_t>(v));
}
inline void PutString(std::string& out, std::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

// Starts a reply packet (length placeholder + type); returns where it starts for EndPacket.
inline std::size_t BeginPacket(std::string& out, uint8_t type) {
  std::size_t at = out.size();
  PutU32(out, 0);
  PutU8(out, type);
  return at;
}
// Writes the final length of the packet started at `at`.
inline void EndPacket(std::string& out, std::size_t at) {
  StoreU32(out.data() + at, static_cast<uint32_t>(out.size() - at - 4));
}

}  // namespace sftplc::sftp
