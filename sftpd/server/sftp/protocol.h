#pragma once

// SFTP v3 wire constants (draft-ietf-secsh-filexfer-02) and the OpenSSH extension names.

#include <cstdint>

namespace sftplc::sftp {

inline constexpr uint32_t kProtocolVersion = 3;

// Packet types.
enum : uint8_t {
  kFxpInit = 1,
  kFxpVersion = 2,
  kFxpOpen = 3,
  kFxpClose = 4,
  kFxpRead = 5,
  kFxpWrite = 6,
  kFxpLstat = 7,
  kFxpFstat = 8,
  kFxpSetstat = 9,
  kFxpFsetstat = 10,
  kFxpOpendir = 11,
  kFxpReaddir = 12,
  kFxpRemove = 13,
  kFxpMkdir = 14,
  kFxpRmdir = 15,
  kFxpRealpath = 16,
  kFxpStat = 17,
  kFxpRename = 18,
  kFxpReadlink = 19,
  kFxpSymlink = 20,
  kFxpStatus = 101,
  kFxpHandle = 102,
  kFxpData = 103,
  kFxpName = 104,
  kFxpAttrs = 105,
  kFxpExtended = 200,
  kFxpExtendedReply = 201,
};

// Status codes (SSH_FX_*).
enum : uint32_t {
  kFxOk = 0,
  kFxEof = 1,
  kFxNoSuchFile = 2,
  kFxPermissionDenied = 3,
  kFxFailure = 4,
  kFxBadMessage = 5,
  kFxNoConnection = 6,
  kFxConnectionLost = 7,
  kFxOpUnsupported = 8,
};

// Attribute flags.
enum : uint32_t {
  kAttrSize = 0x00000001,
  kAttrUidGid = 0x00000002,
  kAttrPermissions = 0x00000004,
  kAttrAcModTime = 0x00000008,
  kAttrExtended = 0x80000000,
};

// OPEN pflags.
enum : uint32_t {
  kOpenRead = 0x01,
  kOpenWrite = 0x02,
  kOpenAppend = 0x04,
  kOpenCreat = 0x08,
  kOpenTrunc = 0x10,
  kOpenExcl = 0x20,
};

// statvfs@openssh.com f_flag bits.
inline constexpr uint64_t kStatvfsRdonly = 0x1;
inline constexpr uint64_t kStatvfsNosuid = 0x2;

}  // namespace sftplc::sftp
