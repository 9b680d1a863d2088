#pragma once

// A temporary folder removed (recursively) when the object dies.

#include <sys/types.h>

#include <string>

namespace sftplc::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // path() + "/" + name
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Writes a file (creating parent folders); aborts on failure (tests only).
void WriteFile(const std::string& path, const std::string& content);
// Reads a whole file; "" if missing.
std::string ReadFile(const std::string& path);

// What a client can leave in its folder, made with the *at calls (so paths far beyond PATH_MAX
// and names of any bytes work). MkdirAt makes the folder `name` below `dirfd` and returns its
// descriptor; TouchAt makes the file `name` holding `data`, then gives it `mode`. Both fail the
// test (not fatally) when a call fails.
int MkdirAt(int dirfd, const char* name, mode_t mode = 0700);
void TouchAt(int dirfd, const char* name, const std::string& data = "x", mode_t mode = 0600);

}  // namespace sftplc::testing
