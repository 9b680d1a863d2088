#pragma once

// A temporary folder removed (recursively) when the object dies.

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

}  // namespace sftplc::testing
