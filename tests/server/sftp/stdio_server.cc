// sftp_stdio_server STORAGE_ROOT ACCOUNT_ID: the SFTP processor on stdin/stdout, so a real
// OpenSSH client can drive it without SSH (`sftp -D "sftp_stdio_server ..."`). Test tool only.

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>
#include <vector>

#include "sftpd/core/base/log.h"
#include "sftpd/server/sftp/processor.h"
#include "sftpd/server/sftp/splice_sender.h"

int main(int argc, char** argv) {
  using namespace sftplc;
  if (argc != 3) {
    std::fprintf(stderr, "usage: sftp_stdio_server STORAGE_ROOT ACCOUNT_ID\n");
    return 2;
  }
  SetLogLevel("warn");
  auto id = AccountId::Parse(argv[2]);
  if (!id) {
    std::fprintf(stderr, "bad account id\n");
    return 2;
  }
  auto root = files::AccountRoot::Open(argv[1], *id);
  if (!root) {
    std::fprintf(stderr, "%s\n", root.error().ToString().c_str());
    return 1;
  }
  // READ data leaves as the SFTP worker's does: spliced from the file to stdout.
  sftp::SpliceSender sender(STDOUT_FILENO);
  if (Status st = sender.pipe_status(); !st) {
    std::fprintf(stderr, "%s\n", st.error().ToString().c_str());
    return 1;
  }
  sftp::Processor p(std::move(*root), sftp::Limits{}, GetLogger("sftp"), "[stdio]",
                    SystemClock::Instance(), nullptr, &sender);
  std::vector<uint8_t> buf(256 * 1024);
  std::string out;
  for (;;) {
    ssize_t n = read(STDIN_FILENO, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    out.clear();
    Status s = p.OnData(buf.data(), static_cast<std::size_t>(n), out);
    while (s && p.HasPendingRequests()) {
      if (!sender.Write(out)) {
        return 1;
      }
      out.clear();
      s = p.OnData(nullptr, 0, out);
    }
    if (!sender.Write(out) || !s) {
      p.CloseAll();
      return 1;
    }
  }
  p.CloseAll();
  const auto& st = p.stats();
  std::fprintf(stderr, "stats bytes_in=%llu bytes_out=%llu uploaded=%llu downloaded=%llu\n",
               static_cast<unsigned long long>(st.bytes_in),
               static_cast<unsigned long long>(st.bytes_out),
               static_cast<unsigned long long>(st.files_uploaded),
               static_cast<unsigned long long>(st.files_downloaded));
  return 0;
}
