#pragma once

// SFTP v3 file attributes: parsing from requests, encoding from struct stat, and the `ls -l`
// style longname of READDIR.

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "sftpd/core/base/clock.h"
#include "sftpd/core/files/account_root.h"
#include "sftpd/server/sftp/wire.h"

namespace sftplc::sftp {

// The attributes a client sent. Extended pairs are read and dropped.
struct Attrs {
  uint32_t flags = 0;
  uint64_t size = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t permissions = 0;
  uint32_t atime = 0;
  uint32_t mtime = 0;
};

// Parses ATTRS from `r` (failure is sticky in the reader).
Attrs ReadAttrs(Reader& r);

// What SETSTAT/FSETSTAT may change (permissions, times, size); the owner is never changed.
files::SetAttrs ToSetAttrs(const Attrs& a);

// Appends ATTRS for `st` (size, uid/gid, permissions, atime/mtime).
void PutAttrs(std::string& out, const struct stat& st);
// Appends ATTRS with no fields (flags 0).
void PutEmptyAttrs(std::string& out);

// Appends the longname string (uint32 length + text) for `name`, like OpenSSH's ls_file with
// numeric owner and group: "-rw-r--r--    1 1000     1000         1234 Jan 13 18:39 name".
// Dates within six months of `now` show the time, older ones the year (UTC).
void PutLongName(std::string& out, std::string_view name, const struct stat& st, TimePoint now);

}  // namespace sftplc::sftp
