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

SmtpSinkProcess::SmtpSinkProcess(const std::string& maildir, const std::vector<std::string>& extra)
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

DecodedMail DecodeMail(const std::string& raw) {
  TempDir dir;
  WriteFile(dir.Sub("m.eml"), raw);
  auto r = RunCommand(
      "/usr/bin/python3 -c 'import email, email.policy, sys\n"
      "m = email.message_from_binary_file(open(sys.argv[1], \"rb\"), policy=email.policy.strict)\n"
      "sys.stdout.write(str(m[\"To\"]) + \"\\n\" + str(m[\"Subject\"]) + \"\\n\" + "
      "m.get_content())' '" +
      dir.Sub("m.eml") + "'");
  DecodedMail m;
  if (r.exit_code != 0) {
    return m;
  }
  std::size_t first = r.out.find('\n');
  std::size_t second = first == std::string::npos ? first : r.out.find('\n', first + 1);
  if (second == std::string::npos) {
    return m;
  }
  m.to = r.out.substr(0, first);
  m.subject = r.out.substr(first + 1, second - first - 1);
  m.body = r.out.substr(second + 1);
  return m;
}

}  // namespace sftplc::testing
