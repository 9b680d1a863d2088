// WorkerBackend (sftpd/server/worker_backend.h) with the real sftpd-sftp: how long a worker may
// take to confine itself, and what the monitor does once a worker has gone. Whole sessions
// through the daemon are in tests/integration.

#include "sftpd/server/worker_backend.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>

#include "sftpd/core/accounts/account.h"
#include "sftpd/core/base/ids.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_env.h"

namespace sftplc::server {
namespace {

using sftplc::testing::ReadFile;
using sftplc::testing::TempDir;
using sftplc::testing::WriteFile;

// A storage root with one account's folder, and the backend of a worker started from opts.binary.
struct WorkerFixture {
  TempDir dir;
  accounts::Account account;
  WorkerOptions opts;

  WorkerFixture() {
    account.id = AccountId::New();
    std::filesystem::create_directories(dir.Sub("storage/" + account.id.str()));
    opts.binary = SFTPLC_WORKER_BINARY;
    opts.storage_root = dir.Sub("storage");
  }
  // A shell script in the fixture's folder that runs `body`, then the real worker.
  std::string Wrapper(const std::string& body) {
    WriteFile(dir.Sub("wrapped-sftp"),
              "#!/bin/sh\n" + body + "\nexec '" SFTPLC_WORKER_BINARY "' \"$@\"\n");
    EXPECT_EQ(chmod(dir.Sub("wrapped-sftp").c_str(), 0755), 0);
    return dir.Sub("wrapped-sftp");
  }
  // The pid a wrapper wrote to `file` in the fixture's folder.
  pid_t Pid(const std::string& file) {
    return static_cast<pid_t>(std::stol(ReadFile(dir.Sub(file))));
  }
  std::unique_ptr<SftpBackend> Start() {
    auto backend = MakeWorkerBackendFactory(opts)(account, 1, "[c1]");
    EXPECT_TRUE(backend.has_value()) << backend.error().message();
    return backend ? std::move(*backend) : nullptr;
  }
};

// Waits (bounded) for `fd` to be readable, as the monitor's poll does.
bool Readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 10000) == 1;
}

// A worker that takes 12 s to start still serves: with 200 uploads on two cores, workers took up
// to 7.4 s from login to confined (median 2.2 s), and a 10 s limit failed sessions.
TEST(WorkerBackendTest, SlowStartingWorkerStillServes) {
  WorkerFixture f;
  f.opts.binary = f.Wrapper("/bin/sleep 12");
  auto backend = f.Start();
  ASSERT_NE(backend, nullptr);
  (void)backend->TakeTransportEnd();  // closed: the worker sees the session end and exits
  backend->End(/*kill=*/false, 0);
  EXPECT_EQ(backend->FailureReason(), "");
}

// A worker that has ended (here killed, as a crash or a hostile process would) has closed its
// control socket for good: the monitor stops watching it. Polled still, a socket at its end is
// readable at once, every time, and the connection's thread spun until the transport ended,
// which a compromised transport need never do.
TEST(WorkerBackendTest, StopsWatchingAWorkerThatHasEnded) {
  WorkerFixture f;
  f.opts.binary = f.Wrapper("echo $$ >'" + f.dir.Sub("worker.pid") + "'");
  auto backend = f.Start();
  ASSERT_NE(backend, nullptr);
  files::UniqueFd transport_end = backend->TakeTransportEnd();  // the session stays open
  const int fd = backend->ReadyFd();
  ASSERT_GE(fd, 0);
  ASSERT_EQ(kill(f.Pid("worker.pid"), SIGKILL), 0);
  ASSERT_TRUE(Readable(fd));
  EXPECT_TRUE(backend->OnReady(0));
  EXPECT_EQ(backend->ReadyFd(), -1);
  backend->End(/*kill=*/false, 0);
  EXPECT_EQ(backend->FailureReason(), "worker_crashed");
}

// A process that hangs up its control socket but does not exit is killed when the session
// ends, within a bound: the monitor's thread never waits for it without one. The real worker
// serves from a child of the process sftpd started, which closes its copies of the sockets and
// stays.
TEST(WorkerBackendTest, ProcessThatHangsUpButStaysIsKilled) {
  WorkerFixture f;
  f.opts.binary = f.Wrapper("'" SFTPLC_WORKER_BINARY "' \"$@\" &\necho $! >'" +
                            f.dir.Sub("worker.pid") + "'\necho $$ >'" + f.dir.Sub("stays.pid") +
                            "'\nexec 3>&- 4>&-\nexec /bin/sleep 1000");
  auto backend = f.Start();
  ASSERT_NE(backend, nullptr);
  files::UniqueFd transport_end = backend->TakeTransportEnd();
  ASSERT_EQ(kill(f.Pid("worker.pid"), SIGKILL), 0);
  ASSERT_TRUE(Readable(backend->ReadyFd()));
  EXPECT_TRUE(backend->OnReady(0));
  EXPECT_EQ(backend->ReadyFd(), -1);
  const pid_t stays = f.Pid("stays.pid");
  backend->End(/*kill=*/false, 0);  // returns: before, it waited for the process without a bound
  EXPECT_EQ(kill(stays, 0), -1);    // killed and reaped
  EXPECT_EQ(errno, ESRCH);
}

}  // namespace
}  // namespace sftplc::server
