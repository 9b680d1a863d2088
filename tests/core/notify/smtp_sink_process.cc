#include "tests/core/notify/smtp_sink_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "tests/testing/temp_dir.h"
#include "tests/testing/test_env.h"

namespace sftplc::testing {

SmtpSinkProcess::SmtpSinkProcess(const std::string& maildir,
                                 const std::vector<std::string>& extra)
    : maildir_(maildir) {
  // smtp_sink.py creates the maildir folder before mailbox.Maildir(create=True) runs, which
  // then skips tmp/new/cur: create them here.
  for (const char* sub : {"tmp", "new", "cur"}) {
    std::filesystem::create_directories(maildir + "/" + sub);
  }
  int fds[2];
  if (pipe(fds) != 0) {
    return;
  }
  pid_ = fork();
  if (pid_ == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    std::vector<std::string> args = {"/usr/bin/python3", SourcePath("tests/testing/smtp_sink.py"),
                                     "--maildir", maildir};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  FILE* out = fdopen(fds[0], "r");
  char line[256];
  while (out != nullptr && std::fgets(line, sizeof line, out) != nullptr) {
    int p = 0;
    if (std::sscanf(line, "listening on 127.0.0.1:%d", &p) == 1) {
      port_ = p;
      break;
    }
  }
  if (out != nullptr) {
    std::fclose(out);
  }
}

SmtpSinkProcess::~SmtpSinkProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
}

std::vector<std::string> SmtpSinkProcess::Delivered() const {
  std::vector<std::pair<std::string, std::string>> files;
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(maildir_ + "/new", ec)) {
    files.push_back({e.path().filename().string(), ReadFile(e.path())});
  }
  // Maildir names start with the delivery time: sorting keeps the order of arrival.
  std::sort(files.begin(), files.end());
  std::vector<std::string> out;
  for (auto& f : files) {
    out.push_back(std::move(f.second));
  }
  return out;
}

}  // namespace sftplc::testing
