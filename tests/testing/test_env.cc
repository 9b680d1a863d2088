#include "tests/testing/test_env.h"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>

#include "sftpd/core/base/ids.h"
#include "tests/testing/temp_dir.h"

namespace sftplc::testing {

std::optional<std::string> Env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    return std::nullopt;
  }
  return std::string(v);
}

std::optional<std::string> PostgresUrl() { return Env("SFTPLC_TEST_PG_URL"); }

std::optional<std::string> CreatePostgresDatabase(const std::string& prefix) {
  auto url = PostgresUrl();
  if (!url) {
    return std::nullopt;
  }
  std::string name = prefix + "_" + RandomHex(6);
  // psql reads the server from the URL; the database name is generated (no quoting needed).
  auto r = RunCommand("psql -q -v ON_ERROR_STOP=1 '" + *url + "postgres' -c 'CREATE DATABASE " +
                      name + "'");
  if (r.exit_code != 0) {
    std::fprintf(stderr, "CREATE DATABASE failed: %s\n", r.err.c_str());
    return std::nullopt;
  }
  return *url + name;
}

std::string BinaryPath(const std::string& rel) {
  return std::string(SFTPLC_BINARY_DIR) + "/" + rel;
}
std::string SourcePath(const std::string& rel) {
  return std::string(SFTPLC_SOURCE_DIR) + "/" + rel;
}

bool SkipAllowed() { return Env("SFTPLC_TEST_ALLOW_SKIP").value_or("") == "1"; }

CommandResult RunCommand(const std::string& command_line, const std::string& stdin_data) {
  TempDir tmp;
  std::string in = tmp.Sub("in"), out = tmp.Sub("out"), err = tmp.Sub("err");
  WriteFile(in, stdin_data);
  std::string full = "(" + command_line + ") <'" + in + "' >'" + out + "' 2>'" + err + "'";
  int status = std::system(full.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = ReadFile(out);
  r.err = ReadFile(err);
  return r;
}

std::string AsanOptionsUnderFakeTime() {
  std::string options = Env("ASAN_OPTIONS").value_or("");
  return "ASAN_OPTIONS=" + options + (options.empty() ? "" : ":") + "detect_leaks=0";
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

double PrometheusSample(const std::string& text, const std::string& series) {
  std::string needle = "\n" + series + " ";
  auto at = text.find(needle);
  if (at == std::string::npos) {
    return -1;
  }
  return std::stod(text.substr(at + needle.size()));
}

}  // namespace sftplc::testing
