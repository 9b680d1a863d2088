#include "sftpd/server/sftp/attrs.h"

#include <time.h>

#include <algorithm>
#include <cstdio>

#include "sftpd/server/sftp/protocol.h"

namespace sftplc::sftp {

Attrs ReadAttrs(Reader& r) {
  Attrs a;
  a.flags = r.U32();
  if (a.flags & kAttrSize) {
    a.size = r.U64();
  }
  if (a.flags & kAttrUidGid) {
    a.uid = r.U32();
    a.gid = r.U32();
  }
  if (a.flags & kAttrPermissions) {
    a.permissions = r.U32();
  }
  if (a.flags & kAttrAcModTime) {
    a.atime = r.U32();
    a.mtime = r.U32();
  }
  if (a.flags & kAttrExtended) {
    uint32_t count = r.U32();
    // Each pair takes at least 8 bytes, so a bogus count ends at the packet's end.
    for (uint32_t i = 0; i < count && r.ok(); ++i) {
      r.String();
      r.String();
    }
  }
  return a;
}

files::SetAttrs ToSetAttrs(const Attrs& a) {
  files::SetAttrs s;
  if (a.flags & kAttrSize) {
    s.size = a.size;
  }
  if (a.flags & kAttrPermissions) {
    s.permissions = a.permissions;
  }
  if (a.flags & kAttrAcModTime) {
    s.atime = a.atime;
    s.mtime = a.mtime;
  }
  return s;
}

void PutAttrs(std::string& out, const struct stat& st) {
  PutU32(out, kAttrSize | kAttrUidGid | kAttrPermissions | kAttrAcModTime);
  PutU64(out, static_cast<uint64_t>(st.st_size));
  PutU32(out, st.st_uid);
  PutU32(out, st.st_gid);
  PutU32(out, st.st_mode);
  PutU32(out, static_cast<uint32_t>(st.st_atime));
  PutU32(out, static_cast<uint32_t>(st.st_mtime));
}

void PutEmptyAttrs(std::string& out) { PutU32(out, 0); }

namespace {

void ModeString(mode_t m, char out[11]) {
  char t = '?';
  switch (m & S_IFMT) {
    case S_IFREG:
      t = '-';
      break;
    case S_IFDIR:
      t = 'd';
      break;
    case S_IFLNK:
      t = 'l';
      break;
    case S_IFCHR:
      t = 'c';
      break;
    case S_IFBLK:
      t = 'b';
      break;
    case S_IFIFO:
      t = 'p';
      break;
    case S_IFSOCK:
      t = 's';
      break;
  }
  out[0] = t;
  out[1] = (m & S_IRUSR) ? 'r' : '-';
  out[2] = (m & S_IWUSR) ? 'w' : '-';
  out[3] = (m & S_ISUID) ? ((m & S_IXUSR) ? 's' : 'S') : ((m & S_IXUSR) ? 'x' : '-');
  out[4] = (m & S_IRGRP) ? 'r' : '-';
  out[5] = (m & S_IWGRP) ? 'w' : '-';
  out[6] = (m & S_ISGID) ? ((m & S_IXGRP) ? 's' : 'S') : ((m & S_IXGRP) ? 'x' : '-');
  out[7] = (m & S_IROTH) ? 'r' : '-';
  out[8] = (m & S_IWOTH) ? 'w' : '-';
  out[9] = (m & S_ISVTX) ? ((m & S_IXOTH) ? 't' : 'T') : ((m & S_IXOTH) ? 'x' : '-');
  out[10] = '\0';
}

}  // namespace

void PutLongName(std::string& out, std::string_view name, const struct stat& st, TimePoint now) {
  char mode[11];
  ModeString(st.st_mode, mode);
  char tbuf[32] = "";
  struct tm tm;
  time_t mtime = st.st_mtime;
  if (gmtime_r(&mtime, &tm) != nullptr) {
    long long age = ToUnix(now) - static_cast<long long>(mtime);
    const char* fmt = (age < (365LL * 24 * 60 * 60) / 2 && age > -(365LL * 24 * 60 * 60) / 2)
                          ? "%b %e %H:%M"
                          : "%b %e  %Y";
    if (strftime(tbuf, sizeof tbuf, fmt, &tm) == 0) {
      tbuf[0] = '\0';
    }
  }
  char head[160];
  int n = std::snprintf(head, sizeof head, "%s  %3u %-8u %-8u %8llu %s ", mode,
                        static_cast<unsigned>(st.st_nlink), static_cast<unsigned>(st.st_uid),
                        static_cast<unsigned>(st.st_gid),
                        static_cast<unsigned long long>(st.st_size), tbuf);
  if (n < 0) {
    n = 0;
  }
  std::size_t hlen = std::min(static_cast<std::size_t>(n), sizeof head - 1);
  PutU32(out, static_cast<uint32_t>(hlen + name.size()));
  out.append(head, hlen);
  out.append(name);
}

}  // namespace sftplc::sftp
