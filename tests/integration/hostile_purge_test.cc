// Issue 9, first defect, end to end with the real binaries as the non-root service user: a client
// that makes its own folder unreadable (`chmod 000 .`, `chmod 000 somefolder` over files) must not
// stop the purge of its account, nor of another account due in the same sweep. sftpd serves a
// real OpenSSH sftp client; the accounts are closed on request; a month later (libfaketime)
// `sftpctl lifecycle run` purges both, `retention report` is clean, and nothing of either
// account is left in the storage root or the database files.

#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "tests/core/notify/smtp_sink_process.h"
#include "tests/integration/daemon_harness.h"

namespace sftplc::testing {
namespace {

using nlohmann::json;

struct Client {
  std::string username, name, email, password, payload;
};

const Client kHostile{"hostile-client", "Hester Ironmonger", "hester@ironmonger-client.example",
                      "harbour hinge hollow hemlock", "Ironmonger payroll 2026"};
const Client kInnocent{"innocent-client", "Ivo Innocenti", "ivo@innocenti-client.example",
                       "indigo island ivory igloo", "Innocenti invoice 2026"};

class HostilePurgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sink_ = std::make_unique<SmtpSinkProcess>(d_.dir().Sub("mail"), std::vector<std::string>{});
    ASSERT_GT(sink_->port(), 0);
    d_.Set("smtp", "url = \"smtp://127.0.0.1:" + std::to_string(sink_->port()) + "\"");
    d_.Set("smtp", "tls = \"none\"");
    d_.Set("smtp", "from = \"CX Services secure FTP <sftp@cx.example>\"");
    d_.Set("server", "shutdown_grace = \"2s\"");
    d_.WriteConfig();
  }

  // sftpctl with its clock starting at `when` (UTC).
  CommandResult Ctl(const std::string& when, const std::string& args,
                    const std::string& stdin_data = "") {
    EXPECT_TRUE(d_.SetFakeTime(when)) << d_.error();
    return d_.Sftpctl(args, stdin_data);
  }
  // Registers `c` with a password; returns the account id.
  std::string Create(const Client& c) {
    CommandResult r =
        Ctl(kStart,
            "account create --username " + c.username + " --name '" + c.name + "' --email '" +
                c.email + "' --phone '+44 20 7946 0999'" + " --password-stdin",
            c.password + "\n");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::size_t at = r.out.find("id=");
    return at == std::string::npos ? "" : r.out.substr(at + 3, 32);
  }
  // A real OpenSSH sftp session logging in as `c` with its password, running `batch`.
  CommandResult Sftp(const Client& c, const std::string& batch) {
    return d_.SftpWithPassword(c.username, c.password, batch);
  }
  // Every path under the storage root (root reads through any mode) and every file's bytes.
  std::string StorageBytes() const {
    std::string out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(d_.storage_root())) {
      out += e.path().string() + "\n";
      if (e.is_regular_file()) {
        out += ReadFile(e.path().string());
      }
    }
    return out;
  }
  std::string DatabaseBytes() const {
    std::string db = d_.database_path();
    return ReadFile(db) + ReadFile(db + "-wal") + ReadFile(db + "-shm");
  }

  static constexpr const char* kStart = "2026-04-01 10:00:00";
  DaemonHarness d_;
  std::unique_ptr<SmtpSinkProcess> sink_;
};

TEST_F(HostilePurgeTest, UnreadableFoldersDoNotStopThePurge) {
  std::string hostile = Create(kHostile);
  std::string innocent = Create(kInnocent);
  ASSERT_EQ(hostile.size(), 32u);
  ASSERT_EQ(innocent.size(), 32u);
  WriteFile(d_.dir().Sub("hostile.txt"), kHostile.payload);
  WriteFile(d_.dir().Sub("innocent.txt"), kInnocent.payload);

  ASSERT_TRUE(d_.SetFakeTime(kStart)) << d_.error();
  ASSERT_TRUE(d_.Start()) << d_.error();
  auto up = Sftp(kInnocent, "put " + d_.dir().Sub("innocent.txt") + " invoice.txt\n");
  ASSERT_EQ(up.exit_code, 0) << up.err << d_.Log();
  // The hostile client: files in a folder, then that folder and its own root made unreadable.
  // ("-": the batch goes on if the server refuses a mode, which is one allowed answer.)
  up = Sftp(kHostile, "mkdir somefolder\nput " + d_.dir().Sub("hostile.txt") +
                          " somefolder/payroll.txt\nput " + d_.dir().Sub("hostile.txt") +
                          " top.txt\n-chmod 000 somefolder\n-chmod 000 .\n");
  ASSERT_EQ(up.exit_code, 0) << up.err << d_.Log();
  ASSERT_EQ(d_.Stop(SIGTERM), 0) << d_.Log();
  // The searches below can fail: both accounts are in the storage root and the database now.
  ASSERT_NE(StorageBytes().find(kHostile.payload), std::string::npos);
  ASSERT_NE(StorageBytes().find(kInnocent.payload), std::string::npos);
  ASSERT_NE(DatabaseBytes().find(kHostile.email), std::string::npos);

  // Both close on request the next day; the purge is due 30 days later.
  auto closed =
      Ctl("2026-04-02 10:00:00", "account close " + kHostile.username + " --reason request");
  ASSERT_EQ(closed.exit_code, 0) << closed.err;
  closed = Ctl("2026-04-02 10:00:00", "account close " + kInnocent.username + " --reason request");
  ASSERT_EQ(closed.exit_code, 0) << closed.err;

  // A month later: one sweep purges both.
  auto run = Ctl("2026-05-03 10:00:00", "lifecycle run --json");
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  if (run.exit_code == 0) {
    EXPECT_EQ(json::parse(run.out)["purged"], 2) << run.out;
  }
  auto report = Ctl("2026-05-03 10:01:00", "retention report");
  EXPECT_EQ(report.exit_code, 0) << report.out << report.err;
  for (const Client* c : {&kHostile, &kInnocent}) {
    auto show = Ctl("2026-05-03 10:01:00", "account show " + c->username);
    EXPECT_EQ(show.exit_code, 2) << c->username << ": " << show.out;
  }

  // Nothing of either is left: no folder or file of theirs under the storage root (a trash area
  // may remain, empty), and no personal data in the database files.
  std::string storage = StorageBytes();
  for (const std::string& id : {hostile, innocent}) {
    EXPECT_EQ(storage.find(id), std::string::npos) << id << " in the storage root:\n" << storage;
  }
  for (const Client* c : {&kHostile, &kInnocent}) {
    EXPECT_EQ(storage.find(c->payload), std::string::npos) << c->username << "'s file is left";
    std::string db = DatabaseBytes();
    for (const std::string& needle : {c->name, c->email}) {
      EXPECT_EQ(db.find(needle), std::string::npos) << needle << " in the database files";
    }
  }
}

}  // namespace
}  // namespace sftplc::testing
