// sftpctl db backup / export-receipts / replay-receipts, and the refusal to run as root on the
// service's SQLite database: the built sftpctl against a temporary configuration.

#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sftpd/core/base/log.h"
#include "sftpd/core/base/time_format.h"
#include "sftpd/core/db/sql.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_env.h"

namespace sftplc::admin {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::sftplc::testing::CommandResult;
using ::sftplc::testing::ReadFile;
using ::sftplc::testing::RunCommand;
using ::sftplc::testing::TempDir;
using ::sftplc::testing::WriteFile;

constexpr char kFaketime[] = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

class BackupReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = dir_.Sub("sftpd.toml");
    WriteFile(config_,
              "[storage]\nroot = \"files\"\n[database]\nurl = \"sqlite:state/accounts.db\"\n"
              "[auth.argon2]\nt_cost = 1\nm_cost_kib = 1024\nparallelism = 1\n"
              "[lifecycle]\npurge_after_closure = \"1d\"\n");
    fs::create_directories(dir_.Sub("state"));
  }

  // sftpctl --config CONFIG ARGS, with `env` before it (e.g. libfaketime).
  CommandResult Ctl(const std::string& args, const std::string& env = "") {
    return RunCommand(env + " " + ::sftplc::testing::BinaryPath("admin/sftpctl") + " --config " +
                      config_ + " " + args);
  }
  // Two days from now, when an account closed now is due for its purge.
  std::string TwoDaysOn() const {
    return std::string("LD_PRELOAD=") + kFaketime +
           " FAKETIME=+2d FAKETIME_DONT_FAKE_MONOTONIC=1 TZ=UTC";
  }

  // Creates `user` with one file (and marketing consent if `consent`); returns its id.
  std::string CreateWithFile(const std::string& user, bool consent = false) {
    auto r = Ctl("account create --username " + user +
                 " --name 'Ada Lovelace' --email ada@example.com --phone '+44 151 357 7700' "
                 "--no-password" +
                 (consent ? " --marketing-consent --consent-source 'web form'" : ""));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    WriteFile(dir_.Sub("upload.txt"), "the contents of a file\n");
    r = Ctl("files put " + user + " " + dir_.Sub("upload.txt") + " /report.txt");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Id(user);
  }

  std::string Id(const std::string& user) {
    auto r = Ctl("account show " + user + " --json");
    if (r.exit_code != 0) {
      return "";
    }
    return json::parse(r.out)["id"].get<std::string>();
  }

  // Rows of the state database for `sql`, with `param` bound to :p.
  int Count(const std::string& sql, const std::string& param) {
    config::DatabaseConfig cfg;
    cfg.url = "sqlite:" + dir_.Sub("state/accounts.db");
    cfg.pool_size = 1;
    auto db = db::Database::Open(cfg, GetLogger("store"));
    if (!db) {
      return -1;
    }
    auto n = (*db)->Read<int>([&](soci::session& s) -> Result<int> {
      int c = 0;
      s << sql, soci::use(param), soci::into(c);
      return c;
    });
    return n.value_or(-1);
  }
  int AuditRows(const std::string& actor) {
    return Count("SELECT COUNT(*) FROM audit_events WHERE actor = :p AND action = 'account.replay'",
                 actor);
  }
  int Contacts(const std::string& id) {
    return Count("SELECT COUNT(*) FROM marketing_contacts WHERE account_id = :p", id);
  }

  TempDir dir_;
  std::string config_;
};

// The scenario of the privacy notice's promise across a restore: a backup is taken, then one
// account is erased and two closed ones purged, one of them with marketing consent (its contact
// is kept); the backup (database and files) is restored, which brings all three back; replaying
// the receipts exported after the backup purges them again, files included, keeps the consented
// contact as the purge did, `retention report` is clean, and a second replay changes nothing.
TEST_F(BackupReplayTest, RestoreThenReplayKeepsErasuresAndPurges) {
  std::string kept = CreateWithFile("keep-ftp");
  std::string erased = CreateWithFile("erase-ftp");
  std::string closed = CreateWithFile("close-ftp");
  std::string consented = CreateWithFile("consent-ftp", /*consent=*/true);
  ASSERT_EQ(Ctl("account close close-ftp --reason request").exit_code, 0);
  ASSERT_EQ(Ctl("account close consent-ftp --reason request").exit_code, 0);
  std::string since =
      FormatDate(std::chrono::time_point_cast<Seconds>(std::chrono::system_clock::now()));

  auto r = Ctl("db backup " + dir_.Sub("backup.db"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  struct stat st {};
  ASSERT_EQ(stat(dir_.Sub("backup.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // An existing file is never overwritten.
  r = Ctl("db backup " + dir_.Sub("backup.db"));
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  fs::copy(dir_.Sub("files"), dir_.Sub("files.bak"), fs::copy_options::recursive);

  ASSERT_EQ(Ctl("account erase erase-ftp --yes").exit_code, 0);
  r = Ctl("lifecycle run", TwoDaysOn());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(Ctl("account show close-ftp").exit_code, 2) << "the closed account was not purged";
  ASSERT_EQ(Contacts(consented), 1) << "the purge did not keep the consented contact";

  r = Ctl("db export-receipts --since " + since + " " + dir_.Sub("receipts.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string receipts = ReadFile(dir_.Sub("receipts.jsonl"));
  EXPECT_NE(receipts.find(erased), std::string::npos) << receipts;
  EXPECT_NE(receipts.find(closed), std::string::npos) << receipts;
  EXPECT_EQ(receipts.find(kept), std::string::npos) << receipts;
  // The phone in full (stored as +441513577700, or as typed): three digits alone can turn up in
  // the random hex account ids of the receipts.
  for (const char* personal : {"Ada", "example.com", "1513577700", "357 7700", "ftp"}) {
    EXPECT_EQ(receipts.find(personal), std::string::npos) << personal << " in " << receipts;
  }
  ASSERT_EQ(stat(dir_.Sub("receipts.jsonl").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // Restore the backup: the database and the files as they were.
  for (const char* f : {"state/accounts.db", "state/accounts.db-wal", "state/accounts.db-shm"}) {
    fs::remove(dir_.Sub(f));
  }
  fs::copy_file(dir_.Sub("backup.db"), dir_.Sub("state/accounts.db"));
  fs::remove_all(dir_.Sub("files"));
  fs::rename(dir_.Sub("files.bak"), dir_.Sub("files"));
  ASSERT_EQ(Id("erase-ftp"), erased) << "the restore did not bring the erased account back";
  ASSERT_TRUE(fs::exists(dir_.Sub("files/" + closed + "/report.txt")));

  r = Ctl("db replay-receipts " + dir_.Sub("receipts.jsonl"), TwoDaysOn());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("3 erased again, 0 already gone"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(consented + ": 1 file(s), marketing contact kept"), std::string::npos)
      << r.out;
  EXPECT_EQ(Ctl("account show erase-ftp").exit_code, 2);
  EXPECT_EQ(Ctl("account show close-ftp").exit_code, 2);
  EXPECT_EQ(Ctl("account show consent-ftp").exit_code, 2);
  EXPECT_FALSE(fs::exists(dir_.Sub("files/" + erased)));
  EXPECT_FALSE(fs::exists(dir_.Sub("files/" + closed)));
  EXPECT_FALSE(fs::exists(dir_.Sub("files/" + consented)));
  EXPECT_EQ(Contacts(consented), 1) << "the replay deleted a contact the purge kept";
  EXPECT_EQ(Contacts(erased), 0);
  EXPECT_TRUE(fs::exists(dir_.Sub("files/" + kept + "/report.txt")));
  EXPECT_EQ(Ctl("account show keep-ftp").exit_code, 0);
  r = Ctl("retention report", TwoDaysOn());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(AuditRows("admin:" + std::string(getpwuid(geteuid())->pw_name) + ":replay"), 3);

  // Idempotent.
  r = Ctl("db replay-receipts " + dir_.Sub("receipts.jsonl"), TwoDaysOn());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("0 erased again, 3 already gone"), std::string::npos) << r.out;
  EXPECT_EQ(Contacts(consented), 1);
}

// A damaged receipts file erases nothing and names the line.
TEST_F(BackupReplayTest, DamagedReceiptsFileChangesNothing) {
  CreateWithFile("keep-ftp");
  std::string id = Id("keep-ftp");
  WriteFile(dir_.Sub("receipts.jsonl"),
            "{\"account_id\":\"" + id + "\"}\n{\"account_id\":\"not an id\"}\n");
  auto r = Ctl("db replay-receipts " + dir_.Sub("receipts.jsonl"));
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  EXPECT_NE(r.err.find("receipts.jsonl:2:"), std::string::npos) << r.err;
  EXPECT_EQ(Ctl("account show keep-ftp").exit_code, 0);
  r = Ctl("db export-receipts --since yesterday " + dir_.Sub("out.jsonl"));
  EXPECT_EQ(r.exit_code, 4) << r.err;
}

// PostgreSQL is backed up with its own tools: sftpctl says so.
TEST_F(BackupReplayTest, BackupOfPostgresqlIsRefusedWithTheRightTool) {
  auto url = ::sftplc::testing::CreatePostgresDatabase("backup");
  if (!url) {
    GTEST_SKIP() << "no PostgreSQL test server (SFTPLC_TEST_PG_URL)";
  }
  WriteFile(config_, "[database]\nurl = \"" + *url + "\"\n");
  auto r = Ctl("db backup " + dir_.Sub("pg.db"));
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("pg_dump"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_.Sub("pg.db")));
}

// root on the service's database folder would leave root-owned files sftpd cannot open:
// refused, naming the user to run as, and nothing is created. As that user it works.
TEST_F(BackupReplayTest, RootIsRefusedOnAnotherUsersDatabaseFolder) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root";
  }
  const uid_t nobody = 65534;
  ASSERT_EQ(chown(dir_.Sub("state").c_str(), nobody, nobody), 0);
  ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);
  ASSERT_EQ(chmod(config_.c_str(), 0644), 0);
  auto r = Ctl("account list");
  EXPECT_EQ(r.exit_code, 5) << r.out << r.err;
  EXPECT_NE(r.err.find("sudo -u nobody sftpctl"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_empty(dir_.Sub("state"))) << "root created files in the folder";

  r = RunCommand("setpriv --reuid=65534 --regid=65534 --clear-groups " +
                 ::sftplc::testing::BinaryPath("admin/sftpctl") + " --config " + config_ +
                 " account list");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  struct stat st {};
  ASSERT_EQ(stat(dir_.Sub("state/accounts.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, nobody);
}

}  // namespace
}  // namespace sftplc::admin
