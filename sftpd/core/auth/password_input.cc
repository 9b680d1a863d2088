#include "sftpd/core/auth/password_input.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <array>

#include "sftpd/core/base/ids.h"

namespace sftplc::auth {
namespace {

constexpr std::string_view kUnambiguous =
    "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
constexpr std::size_t kGeneratedLength = 24;

volatile sig_atomic_t g_signal = 0;
void RecordSignal(int signo) { g_signal = signo; }
constexpr std::array<int, 9> kSignals = {SIGALRM, SIGHUP,  SIGINT,  SIGPIPE, SIGQUIT,
                                         SIGTERM, SIGTSTP, SIGTTIN, SIGTTOU};

// Turns echo off on `fd` and catches the signals that would otherwise leave the terminal
// without echo; the destructor restores both and re-raises a signal that arrived meanwhile.
class EchoOff {
 public:
  explicit EchoOff(int fd) : fd_(fd) {}
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;

  Status Start() {
    if (tcgetattr(fd_, &saved_) != 0) {
      return Error::Unavailable(
          "no terminal to read a password from: use --password-stdin or --generate-password");
    }
    g_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = RecordSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: read() must return EINTR so the loop can stop
    for (std::size_t i = 0; i < kSignals.size(); ++i) {
      sigaction(kSignals[i], &sa, &old_actions_[i]);
    }
    handlers_installed_ = true;
    struct termios quiet = saved_;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHOE | ECHOK);
    quiet.c_lflag |= ICANON;
    if (tcsetattr(fd_, TCSAFLUSH, &quiet) != 0) {
      return Error::Unavailable(fmt::format("cannot turn terminal echo off: {}", strerror(errno)));
    }
    active_ = true;
    return {};
  }

  ~EchoOff() {
    if (active_) {
      while (tcsetattr(fd_, TCSAFLUSH, &saved_) != 0 && errno == EINTR) {
      }
    }
    if (handlers_installed_) {
      for (std::size_t i = 0; i < kSignals.size(); ++i) {
        sigaction(kSignals[i], &old_actions_[i], nullptr);
      }
      if (g_signal != 0) {
        raise(g_signal);
      }
    }
  }

 private:
  int fd_;
  struct termios saved_ {};
  std::array<struct sigaction, kSignals.size()> old_actions_{};
  bool handlers_installed_ = false;
  bool active_ = false;
};

void WriteAll(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t n = write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR && g_signal == 0) {
      continue;
    }
    if (n <= 0) {
      return;
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

Status CheckLine(const Secret& line, bool too_long) {
  if (too_long || line.size() > kMaxPasswordInput) {
    return Error::InvalidArgument("the password is longer than 1024 bytes");
  }
  if (line.empty()) {
    return Error::InvalidArgument("the password is empty");
  }
  if (line.view().find('\0') != std::string_view::npos) {
    return Error::InvalidArgument("the password contains a NUL byte");
  }
  return {};
}

// Reads one line (without its "\n") with echo already off. Bytes past the limit are read and
// dropped so the terminal is left at the start of the next line.
Result<Secret> ReadLine(int fd) {
  Secret line;
  bool too_long = false;
  for (;;) {
    char c = 0;
    ssize_t n = read(fd, &c, 1);
    if (n < 0) {
      if (errno == EINTR) {
        if (g_signal != 0) {
          return Error::InvalidArgument("password entry interrupted");
        }
        continue;
      }
      return Error::Unavailable(fmt::format("cannot read the password: {}", strerror(errno)));
    }
    if (n == 0) {
      return Error::InvalidArgument("end of input before the end of the password line");
    }
    if (c == '\n') {
      break;
    }
    if (line.size() <= kMaxPasswordInput) {
      line.push_back(c);
    } else {
      too_long = true;
    }
    SecureZero(&c, 1);
  }
  if (!line.empty() && line.view().back() == '\r') {
    Secret trimmed(line.view().substr(0, line.size() - 1));
    line = std::move(trimmed);
  }
  if (auto st = CheckLine(line, too_long); !st) {
    return st.error();
  }
  return line;
}

bool SameSecret(const Secret& a, const Secret& b) {
  if (a.size() != b.size()) {
    return false;
  }
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a.data()[i] ^ b.data()[i]);
  }
  return diff == 0;
}

}  // namespace

Result<Secret> ReadPasswordFromTerminal(int fd, std::string_view prompt, bool confirm) {
  EchoOff echo_off(fd);
  if (auto st = echo_off.Start(); !st) {
    return st.error();
  }
  WriteAll(fd, prompt);
  auto first = ReadLine(fd);
  WriteAll(fd, "\n");  // the user's Enter was not echoed
  if (!first) {
    return first.error();
  }
  if (!confirm) {
    return first;
  }
  WriteAll(fd, "Retype the password: ");
  auto second = ReadLine(fd);
  WriteAll(fd, "\n");
  if (!second) {
    return second.error();
  }
  if (!SameSecret(*first, *second)) {
    return Error::InvalidArgument("the two passwords differ");
  }
  return first;
}

Result<Secret> ReadPasswordFromTty(std::string_view prompt, bool confirm) {
  int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    return Error::Unavailable(
        "no terminal to read a password from: use --password-stdin or --generate-password");
  }
  auto result = ReadPasswordFromTerminal(fd, prompt, confirm);
  close(fd);
  return result;
}

Result<Secret> ReadPasswordFromFd(int fd) {
  Secret all;
  std::array<char, 512> buf{};
  bool too_long = false;
  for (;;) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      SecureZero(buf.data(), buf.size());
      return Error::Unavailable(fmt::format("cannot read the password: {}", strerror(errno)));
    }
    if (n == 0) {
      break;
    }
    for (ssize_t i = 0; i < n; ++i) {
      // Room for the password, "\r\n", and one byte that proves the input is too long.
      if (all.size() <= kMaxPasswordInput + 2) {
        all.push_back(buf[static_cast<std::size_t>(i)]);
      } else {
        too_long = true;
      }
    }
    SecureZero(buf.data(), buf.size());
  }
  std::string_view v = all.view();
  if (!v.empty() && v.back() == '\n') {
    v.remove_suffix(1);
    if (!v.empty() && v.back() == '\r') {
      v.remove_suffix(1);
    }
  }
  if (v.find('\n') != std::string_view::npos) {
    return Error::InvalidArgument("standard input holds more than one line: give one password");
  }
  Secret line(v);
  if (auto st = CheckLine(line, too_long); !st) {
    return st.error();
  }
  return line;
}

Result<Secret> ReadPasswordFromStdin() { return ReadPasswordFromFd(STDIN_FILENO); }

Secret GeneratePassword() {
  Secret out;
  // Rejection sampling: bytes >= 220 (4 x 55) are dropped so every character is equally likely.
  constexpr unsigned kLimit = 256 - 256 % kUnambiguous.size();
  std::array<unsigned char, 64> random{};
  std::size_t used = random.size();
  while (out.size() < kGeneratedLength) {
    if (used == random.size()) {
      RandomBytes(random.data(), random.size());
      used = 0;
    }
    unsigned char b = random[used++];
    if (b < kLimit) {
      out.push_back(kUnambiguous[b % kUnambiguous.size()]);
    }
  }
  SecureZero(random.data(), random.size());
  return out;
}

}  // namespace sftplc::auth
