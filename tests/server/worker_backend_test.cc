// WorkerBackend (sftpd/server/worker_backend.h) with the real sftpd-sftp: how long a worker may
// take to confine itself. Whole sessions through the daemon are in tests/integration.

#include "sftpd/server/worker_backend.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "sftpd/core/accounts/account.h"
#include "sftpd/core/base/ids.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_env.h"

namespace sftplc::server {
namespace {

using sftplc::testing::TempDir;
using sftplc::testing::WriteFile;

// A worker that takes 12 s to start still serves: with 200 uploads on two cores, workers took up
// to 7.4 s from login to confined (median 2.2 s), and a 10 s limit failed sessions.
TEST(WorkerBackendTest, SlowStartingWorkerStillServes) {
  TempDir dir;
  accounts::Account account;
  account.id = AccountId::New();
  std::filesystem::create_directories(dir.Sub("storage/" + account.id.str()));
  WriteFile(dir.Sub("slow-sftp"),
            "#!/bin/sh\n/bin/sleep 12\nexec '" SFTPLC_WORKER_BINARY "' \"$@\"\n");
  ASSERT_EQ(chmod(dir.Sub("slow-sftp").c_str(), 0755), 0);
  WorkerOptions opts;
  opts.binary = dir.Sub("slow-sftp");
  opts.storage_root = dir.Sub("storage");
  auto backend = MakeWorkerBackendFactory(opts)(account, 1, "[c1]");
  ASSERT_TRUE(backend.has_value()) << backend.error().message();
  (void)(*backend)->TakeTransportEnd();  // closed: the worker sees the session end and exits
  (*backend)->End(/*kill=*/false, 0);
  EXPECT_EQ((*backend)->FailureReason(), "");
}

}  // namespace
}  // namespace sftplc::server
