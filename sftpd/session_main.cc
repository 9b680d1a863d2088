// sftpd-session: the transport of one SSH connection. sftpd starts it (fork+exec, a clean
// environment, no descriptor but this one) before or when a connection arrives:
//   fd 4  the control socket to the monitor (sftpd/server/ipc/ipc.h): Hello with the limits,
//         the algorithms, the host keys and the client's TCP socket (SCM_RIGHTS) in; login
//         attempts, OpenSftp, Relayed and Bye out; login answers, the SFTP worker's data socket
//         and Stop in
// It confines itself first (sftpd/server/confine/confine.h: no file can be opened, no socket
// created, nothing executed), so a spare transport waiting for its connection holds nothing
// and can do nothing; then it waits for its Hello and runs the SSH transport
// (sftpd/server/session.h). It never opens the database, an account's files or the host key
// files. The monitor closing the control socket before a Hello ends it quietly. Not meant to be
// run by hand.

#include <gcrypt.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "sftpd/core/base/log.h"
#include "sftpd/core/base/secret.h"
#include "sftpd/server/confine/confine.h"
#include "sftpd/server/ipc/ipc.h"
#include "sftpd/server/read_ahead.h"
#include "sftpd/server/session.h"
#include "sftpd/server/ssh_algorithms.h"

namespace sftplc {
namespace {

constexpr int kControlFd = 4;

// libssh's libgcrypt build asks libgcrypt for random bytes for every packet it sends (the
// padding). libgcrypt's default generator mixes its pool for each request (about 12 us here, a
// fifth of a download's server CPU); its system generator reads the kernel's (getrandom, about
// 1.3 us). The choice must come before libgcrypt initialises, which libssh's constructor does:
// a pre-initialisation function of the executable runs before any library's constructor.
void SelectSystemRandom(int, char**, char**) {
  gcry_control(GCRYCTL_SET_PREFERRED_RNG_TYPE, GCRY_RNG_TYPE_SYSTEM);
}
using PreInit = void (*)(int, char**, char**);
[[gnu::section(".preinit_array"), gnu::used]] const PreInit kSelectSystemRandom =
    SelectSystemRandom;

bool SystemRandomInEffect() {
  int type = 0;
  return gcry_control(GCRYCTL_GET_CURRENT_RNG_TYPE, &type) == 0 && type == GCRY_RNG_TYPE_SYSTEM;
}

class Transport {
 public:
  explicit Transport(Logger log) : log_(std::move(log)) {}
  ~Transport() {
    if (session_ != nullptr) {
      ssh_free(session_);
    }
    if (bind_ != nullptr) {
      ssh_bind_free(bind_);
    }
  }
  int Run();

 private:
  bool Prepare(ipc::Hello& hello);
  bool Confine();
  bool Option(ssh_bind_options_e opt, const void* value, const char* what);

  Logger log_;
  std::string tag_ = "[c?]";
  ssh_bind bind_ = nullptr;
  ssh_session session_ = nullptr;
  int client_fd_ = -1;  // the client's socket, from the Hello
  int landlock_abi_ = 0;
};

bool Transport::Option(ssh_bind_options_e opt, const void* value, const char* what) {
  if (ssh_bind_options_set(bind_, opt, value) != SSH_OK) {
    SPDLOG_LOGGER_ERROR(log_, "{} libssh refused {}: {}", tag_, what, ssh_get_error(bind_));
    return false;
  }
  return true;
}

// libssh set up with the monitor's configuration and keys, the client's socket adopted. The
// host keys' text is wiped once imported.
bool Transport::Prepare(ipc::Hello& hello) {
  bind_ = ssh_bind_new();
  if (bind_ == nullptr) {
    return false;
  }
  // Never read /etc/ssh/libssh_server_config: the monitor's configuration is the only one.
  bool process_config = false;
  if (!Option(SSH_BIND_OPTIONS_PROCESS_CONFIG, &process_config, "process_config")) {
    return false;
  }
  bool ok = true;
  for (std::string& text : hello.host_keys) {
    ssh_key key = nullptr;
    if (ok &&
        ssh_pki_import_privkey_base64(text.c_str(), nullptr, nullptr, nullptr, &key) != SSH_OK) {
      SPDLOG_LOGGER_ERROR(log_, "{} a host key from the monitor is not a private key", tag_);
      ok = false;
    }
    SecureZero(text.data(), text.size());
    // The bind owns an imported key from here on (ssh_bind_free frees it).
    if (ok && !Option(SSH_BIND_OPTIONS_IMPORT_KEY, key, "a host key")) {
      ssh_key_free(key);
      ok = false;
    }
  }
  if (!ok) {
    return false;
  }
  if (const char* refused = server::ApplyAlgorithms(bind_, hello.kex, hello.ciphers, hello.macs,
                                                    hello.hostkey_algorithms)) {
    SPDLOG_LOGGER_ERROR(log_, "{} libssh refused {}: {}", tag_, refused, ssh_get_error(bind_));
    return false;
  }
  session_ = ssh_new();
  if (session_ == nullptr || ssh_bind_accept_fd(bind_, session_, client_fd_) != SSH_OK) {
    SPDLOG_LOGGER_ERROR(log_, "{} cannot adopt the connection: {}", tag_,
                        LogSafe(ssh_get_error(bind_)));
    return false;
  }
  return true;
}

bool Transport::Confine() {
  auto abi = confine::ConfineSelf(confine::Profile::kTransport);
  if (!abi) {
    SPDLOG_LOGGER_ERROR(log_, "{} transport cannot confine itself: {}", tag_, abi.error());
    return false;
  }
  landlock_abi_ = *abi;
  return true;
}

int Transport::Run() {
  if (!Confine()) {
    return 1;
  }
  auto got = ipc::Receive(kControlFd, /*block=*/true);
  if (!got && got.error().IsNotFound()) {
    return 0;  // the monitor closed the socket: a spare no longer needed
  }
  if (!got || !got->has_value() || !std::holds_alternative<ipc::Hello>((*got)->message) ||
      (*got)->fd < 0) {
    SPDLOG_LOGGER_ERROR(log_, "transport: no valid Hello message");
    if (got && got->has_value() && (*got)->fd >= 0) {
      close((*got)->fd);
    }
    return 1;
  }
  client_fd_ = (*got)->fd;
  ipc::Hello hello = std::move(std::get<ipc::Hello>((*got)->message));
  tag_ = fmt::format("[c{}]", hello.connection);
  if (!Prepare(hello)) {
    (void)ipc::Send(kControlFd, ipc::Bye{ipc::ByeReason::kError});
    return 1;
  }
  const bool system_random = SystemRandomInEffect();
  SPDLOG_LOGGER_DEBUG(log_, "{} transport confined landlock_abi={} random={}", tag_, landlock_abi_,
                      system_random ? "system" : "libgcrypt");
  if (!server::SocketReadAhead::InEffect()) {
    SPDLOG_LOGGER_WARN(log_,
                       "{} socket read-ahead not in effect (recv/poll/close not exported by this "
                       "build): uploads cost more CPU",
                       tag_);
  }
  if (!system_random) {
    SPDLOG_LOGGER_WARN(log_,
                       "{} libgcrypt's system random generator not in effect: every packet sent "
                       "costs more CPU",
                       tag_);
  }
  ipc::ByeReason reason;
  {
    // libssh's 4 KiB socket reads, served from 64 KiB ones (read_ahead.h).
    server::SocketReadAhead read_ahead(client_fd_);
    reason = server::RunTransport(hello, session_, kControlFd, log_);
  }
  (void)ipc::Send(kControlFd, ipc::Bye{reason});
  return 0;
}

}  // namespace
}  // namespace sftplc

int main(int argc, char** argv) {
  tzset();  // read /etc/localtime now: once confined the transport can open nothing
  // A monitor or worker that is gone makes writes fail with EPIPE instead of killing us.
  signal(SIGPIPE, SIG_IGN);
  if (argc != 2 || !sftplc::SetLogLevel(argv[1])) {
    std::fprintf(stderr,
                 "sftpd-session: the SSH transport of one sftpd connection, started by sftpd "
                 "only\n"
                 "usage: sftpd-session LOG_LEVEL (with its control socket on descriptor 4)\n");
    return 2;
  }
  ssh_init();
  int rc = 1;
  {
    sftplc::Transport transport(sftplc::GetLogger("sftpd"));
    rc = transport.Run();
  }
  sftplc::GetLogger("sftpd")->flush();
  // _exit: no destructors of static objects (libssh's, OpenSSL's), nothing left to flush.
  _exit(rc);
}
