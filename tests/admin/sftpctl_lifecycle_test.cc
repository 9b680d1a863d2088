// The lifecycle through the real sftpctl binary, with time moved by libfaketime and notices
// delivered to the real aiosmtpd sink: notice -> silence -> closure -> purge, then the person's
// data is looked for in the raw bytes of the database files and the storage root.

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "sftpd/core/base/log.h"
#include "sftpd/core/db/sql.h"
#include "tests/core/notify/smtp_sink_process.h"
#include "tests/testing/cli_world.h"
#include "tests/testing/test_env.h"

namespace sftplc::lifecycle {
namespace {

using nlohmann::json;
using testing::CommandResult;

// Python's email package (strict) decodes the message: "subject\nbody".
std::string Decode(const std::string& raw) {
  testing::DecodedMail m = testing::DecodeMail(raw);
  EXPECT_FALSE(m.subject.empty()) << raw;
  return m.subject + "\n" + m.body;
}

bool FileContains(const std::string& path, const std::string& needle) {
  return testing::ReadFile(path).find(needle) != std::string::npos;
}

class SftpctlLifecycleTest : public ::testing::Test, protected testing::CliWorld {
 protected:
  void SetUp() override {
    sink_ =
        std::make_unique<testing::SmtpSinkProcess>(dir().Sub("mail"), std::vector<std::string>{});
    ASSERT_GT(sink_->port(), 0);
    WriteConfig(
        "[storage]\nroot = \"files\"\n[database]\nurl = \"sqlite:accounts.db\"\n"
        "[smtp]\nurl = \"smtp://127.0.0.1:" +
        std::to_string(sink_->port()) +
        "\"\ntls = \"none\"\nfrom = \"CX Services secure FTP <sftp@cx.example>\"\n"
        "[log]\nlevel = \"warn\"\n");
  }
  // sftpctl at a fixed UTC time ("2026-01-10 10:00:00").
  CommandResult Ctl(const std::string& when, const std::string& args) {
    sftpctl().set_env({"TZ=UTC", testing::AsanOptionsUnderFakeTime()});
    sftpctl().set_wrapper("faketime " + testing::ShellQuote(when));
    return sftpctl().Run(args);
  }
  std::unique_ptr<testing::SmtpSinkProcess> sink_;
};

// Notice by mail, silence, closure, purge: afterwards name, email and phone are nowhere in the
// database files (main and -wal) or the storage root; the retention report is clean.
TEST_F(SftpctlLifecycleTest, SilenceLeadsToClosureThenPurgeWithNothingLeft) {
  auto r = Ctl("2024-01-10 10:00:00",
               "account create --username zoe --name 'Zoë Quartermain' --email "
               "zoe.q@client.example --phone '+44 151 496 0123' --company 'Quartz Ltd' "
               "--no-password");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  testing::WriteFile(dir().Sub("files/") + r.out.substr(r.out.find("id=") + 3, 32) +
                         "/report-zoe.q@client.example.txt",
                     "Zoë Quartermain's data");
  // The byte search below can fail: before the purge the address is in the files.
  EXPECT_TRUE(FileContains(dir().Sub("accounts.db"), "zoe.q@client.example") ||
              FileContains(dir().Sub("accounts.db-wal"), "zoe.q@client.example"));
  r = Ctl("2026-01-10 10:00:01", "lifecycle run --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json sweep = json::parse(r.out);
  EXPECT_EQ(sweep["notices_queued"], 1);
  EXPECT_EQ(sweep["notices_sent"], 1);
  auto mail = sink_->Delivered();
  ASSERT_EQ(mail.size(), 1u);
  std::string notice = Decode(mail[0]);
  EXPECT_NE(notice.find("still needed"), std::string::npos) << notice;
  EXPECT_NE(notice.find("Dear Zoë Quartermain"), std::string::npos);
  EXPECT_NE(notice.find("by 2026-02-09"), std::string::npos);
  EXPECT_NE(notice.find("log in"), std::string::npos);
  EXPECT_NE(notice.find("reply to this email"), std::string::npos);

  // faketime starts each run at the given time and lets it run on: leave a minute of margin.
  r = Ctl("2026-02-09 09:59:00", "lifecycle run --json");  // the window is not over yet
  EXPECT_EQ(json::parse(r.out)["closed"], 0);
  r = Ctl("2026-02-09 10:01:00", "lifecycle run --json");
  EXPECT_EQ(json::parse(r.out)["closed"], 1) << r.out;
  EXPECT_EQ(sink_->Delivered().size(), 2u);  // the closure notice
  r = Ctl("2026-03-11 10:02:00", "lifecycle run --json");
  EXPECT_EQ(json::parse(r.out)["purged"], 1) << r.out;

  for (const char* f : {"accounts.db", "accounts.db-wal"}) {
    std::string path = dir().Sub(f);
    for (const char* needle : {"zoe.q@client.example", "Quartermain", "4960123", "Quartz Ltd"}) {
      EXPECT_FALSE(FileContains(path, needle)) << needle << " found in " << f;
    }
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir().Sub("files")));
  r = Ctl("2026-03-11 10:03:00", "retention report --json");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(json::parse(r.out)["purge_receipts"], 1);
}

// A closure the sweep never carried out makes `retention report` exit 6; a sweep fixes it.
TEST_F(SftpctlLifecycleTest, RetentionReportExitsSixWhenPastDeadline) {
  ASSERT_EQ(Ctl("2026-01-10 10:00:00",
                "account create --username ada --name 'Ada L' --email ada@client.example "
                "--phone '+44 151 496 0124' --no-password")
                .exit_code,
            0);
  ASSERT_EQ(Ctl("2026-01-11 10:00:00", "account close ada").exit_code, 0);
  auto r = Ctl("2026-02-12 10:00:00", "retention report");
  EXPECT_EQ(r.exit_code, 6) << r.out << r.err;
  EXPECT_NE(r.out.find("overdue"), std::string::npos);
  r = Ctl("2026-02-12 10:00:01", "lifecycle run");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Ctl("2026-02-12 10:00:02", "retention report").exit_code, 0);
}

// Export by username (JSON and text to a 0600 file), confirm, plan, erase, notices list.
TEST_F(SftpctlLifecycleTest, ExportConfirmPlanErase) {
  ASSERT_EQ(Ctl("2026-01-10 10:00:00",
                "account create --username bob --name 'Bob B' --email bob@client.example "
                "--phone '+44 151 496 0125' --marketing-consent --consent-source 'web form' "
                "--no-password")
                .exit_code,
            0);
  auto r = Ctl("2026-01-12 10:00:00", "account export bob");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json e = json::parse(r.out);
  EXPECT_EQ(e["categories"][0]["data"]["email"], "bob@client.example");
  r = Ctl("2026-01-12 10:00:00",
          "account export bob --format text --output '" + dir().Sub("bob.txt") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(FileContains(dir().Sub("bob.txt"), "Why we hold it"));
  EXPECT_EQ(
      std::filesystem::status(dir().Sub("bob.txt")).permissions() & std::filesystem::perms::all,
      std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  r = Ctl("2027-06-01 10:00:00", "account confirm bob");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("2029-06-01"), std::string::npos);
  r = Ctl("2029-05-01 10:00:00", "lifecycle plan --days 60 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json plan = json::parse(r.out);
  ASSERT_EQ(plan["plan"].size(), 1u);
  EXPECT_EQ(plan["plan"][0]["action"], "inactivity_notice");
  EXPECT_EQ(Ctl("2029-05-01 10:00:00", "account erase bob").exit_code, 4);  // needs --yes
  r = Ctl("2029-05-01 10:00:00", "account erase bob --yes");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(FileContains(dir().Sub("accounts.db"), "bob@client.example"));
  EXPECT_FALSE(FileContains(dir().Sub("accounts.db-wal"), "bob@client.example"));
  r = Ctl("2029-05-01 10:00:00", "notices list --failed --json");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out).size(), 0u);
}

// Consent withdrawn on the marketing contact kept after a purge (named by its account id; the
// username is gone with the account, and an id with nothing held is exit 2): consent show and
// withdraw work, a second withdrawal is exit 3, the first sweep after withdrawal_purge deletes
// the contact, and the purge receipt records why; nothing of the person is left in the database
// files.
TEST_F(SftpctlLifecycleTest, PurgedContactConsentWithdrawnThenDeleted) {
  auto r = Ctl("2026-01-10 10:00:00",
               "account create --username bob --name 'Bob Builder' --email bob@client.example "
               "--phone '+44 151 496 0125' --marketing-consent --consent-source 'web form' "
               "--no-password");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string id = r.out.substr(r.out.find("id=") + 3, 32);
  ASSERT_EQ(Ctl("2026-01-11 10:00:00", "account close bob --reason request").exit_code, 0);
  r = Ctl("2026-02-10 10:01:00", "lifecycle run --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(json::parse(r.out)["purged"], 1) << r.out;

  r = Ctl("2026-03-01 09:00:00", "consent show " + id + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json shown = json::parse(r.out);
  EXPECT_EQ(shown["account_id"], id);
  EXPECT_TRUE(shown["username"].is_null());
  EXPECT_EQ(shown["marketing_consent"], true);
  EXPECT_EQ(shown["events"].size(), 1u);
  EXPECT_EQ(Ctl("2026-03-01 09:00:00", "consent show bob").exit_code, 2);
  EXPECT_EQ(Ctl("2026-03-01 09:00:00", "consent withdraw bob --source phone").exit_code, 2);
  EXPECT_EQ(
      Ctl("2026-03-01 09:00:00", "consent withdraw 0123456789abcdef0123456789abcdef --source phone")
          .exit_code,
      2);

  r = Ctl("2026-03-01 10:00:00", "consent withdraw " + id + " --source 'email 2026-03-01'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("2026-03-31T10:00:0"), std::string::npos) << r.out;
  EXPECT_EQ(Ctl("2026-03-01 10:05:00", "consent withdraw " + id + " --source again").exit_code, 3);
  EXPECT_EQ(Ctl("2026-03-01 10:05:00", "consent grant " + id + " --source again").exit_code, 2);
  r = Ctl("2026-03-01 10:05:00", "consent show " + id + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  shown = json::parse(r.out);
  EXPECT_EQ(shown["marketing_consent"], false);
  EXPECT_EQ(shown["consent_withdrawn_at"].get<std::string>().rfind("2026-03-01T10:00:0", 0), 0u);
  ASSERT_EQ(shown["events"].size(), 2u);
  EXPECT_EQ(shown["events"][1]["granted"], false);
  EXPECT_EQ(shown["events"][1]["source"], "email 2026-03-01");
  r = Ctl("2026-03-01 10:05:00", "consent show " + id);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("withdrawn"), std::string::npos) << r.out;

  r = Ctl("2026-03-02 10:00:00", "retention report --json");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  json report = json::parse(r.out);
  bool listed = false;
  for (const auto& e : report["entries"]) {
    if (e["record"] == "marketing_contact") {
      listed = true;
      EXPECT_EQ(e["state"], "withdrawn");
      EXPECT_EQ(e["deadline"].get<std::string>().rfind("2026-03-31T10:00:0", 0), 0u);
    }
  }
  EXPECT_TRUE(listed);

  r = Ctl("2026-03-31 09:59:00", "lifecycle run --json");
  EXPECT_EQ(json::parse(r.out)["contacts_deleted"], 0) << r.out;
  EXPECT_TRUE(FileContains(dir().Sub("accounts.db"), "bob@client.example") ||
              FileContains(dir().Sub("accounts.db-wal"), "bob@client.example"));
  r = Ctl("2026-03-31 10:01:00", "lifecycle run --json");
  EXPECT_EQ(json::parse(r.out)["contacts_deleted"], 1) << r.out;
  EXPECT_FALSE(FileContains(dir().Sub("accounts.db"), "bob@client.example"));
  EXPECT_FALSE(FileContains(dir().Sub("accounts.db-wal"), "bob@client.example"));
  EXPECT_EQ(Ctl("2026-03-31 10:02:00", "consent show " + id).exit_code, 2);
  r = Ctl("2026-03-31 10:02:00", "account export " + id);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["categories"].size(), 0u);

  auto db = OpenDb();
  ASSERT_TRUE(db);
  auto receipt = db->Read<std::string>([&](soci::session& s) -> Result<std::string> {
    std::string reason;
    s << "SELECT contact_deleted_reason FROM purge_receipts WHERE account_id = :i", soci::use(id),
        soci::into(reason);
    return reason;
  });
  EXPECT_EQ(receipt.value_or(""), "withdrawal");
  auto withdrawals = db->Read<int>([&](soci::session& s) -> Result<int> {
    int n = 0;
    s << "SELECT COUNT(*) FROM audit_events WHERE action = 'consent.withdraw' AND "
         "account_id = :i AND actor LIKE 'admin:%'",
        soci::use(id), soci::into(n);
    return n;
  });
  EXPECT_EQ(withdrawals.value_or(-1), 1);
  db.reset();
  for (const char* f : {"accounts.db", "accounts.db-wal"}) {
    for (const char* needle : {"bob@client.example", "Bob Builder", "4960125"}) {
      EXPECT_FALSE(FileContains(dir().Sub(f), needle)) << needle << " found in " << f;
    }
  }
}

// A sweep that skipped a row because of an error exits 5, with --json as without.
TEST_F(SftpctlLifecycleTest, RunExitsFiveOnErrorsAlsoWithJson) {
  ASSERT_EQ(Ctl("2024-01-10 10:00:00",
                "account create --username ada --name 'Ada L' --email ada@client.example "
                "--phone '+44 151 496 0124' --no-password")
                .exit_code,
            0);
  {
    // The notice goes out, but its result cannot be recorded.
    auto db = OpenDb();
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->Write<int>([](soci::session& s) -> Result<int> {
      s << "CREATE TRIGGER settle_fails BEFORE UPDATE OF state ON outbox "
           "WHEN NEW.state = 'sent' BEGIN SELECT RAISE(ABORT, 'injected failure'); END";
      return 0;
    }));
  }
  auto r = Ctl("2026-01-10 10:00:01", "lifecycle run --json");
  EXPECT_EQ(r.exit_code, 5) << r.out << r.err;
  json sweep = json::parse(r.out);
  EXPECT_EQ(sweep["errors"], 1);
  EXPECT_EQ(sweep["notices_sent"], 0);
  r = Ctl("2026-01-10 10:20:00", "lifecycle run");  // after the lease of the first attempt
  EXPECT_EQ(r.exit_code, 5) << r.out << r.err;
  EXPECT_NE(r.out.find("errors 1"), std::string::npos) << r.out;
}

// Section 9 under faketime: an account that stays active gets a "files waiting" mail; the copy
// (its row, and the file list it reconstructs the message from) is in the database at 1 year
// 364 days, and after the sweep at 2 years it is gone from the rows and from the raw bytes of
// the database file and its -wal.
TEST_F(SftpctlLifecycleTest, MailCopyGoneTwoYearsAfterSendingWhileActive) {
  auto r = Ctl("2026-01-10 10:00:00",
               "account create --username zoe --name 'Zoe Q' --email zoe.q@client.example "
               "--phone '+44 151 496 0123' --no-password");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string marker = "quarterly-plan-7f3a9c.pdf";
  testing::WriteFile(dir().Sub("plan.pdf"), "plan");
  r = Ctl("2026-03-01 10:00:00",
          "files put zoe '" + dir().Sub("plan.pdf") + "' /" + marker + " --notify");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Ctl("2026-03-01 10:00:30", "lifecycle run --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(json::parse(r.out)["notices_sent"], 1) << r.out;
  ASSERT_EQ(sink_->Delivered().size(), 1u);
  EXPECT_NE(Decode(sink_->Delivered()[0]).find(marker), std::string::npos);
  // A transfer a year later keeps the account active (no inactivity notice before 2029).
  r = Ctl("2027-06-01 09:00:00", "files put zoe '" + dir().Sub("plan.pdf") + "' /later.pdf");
  ASSERT_EQ(r.exit_code, 0) << r.err;

  auto copies = [&]() {
    auto db = OpenDb();
    auto n = db->Read<int>([&](soci::session& s) -> Result<int> {
      int c = 0;
      s << "SELECT COUNT(*) FROM outbox WHERE kind = 'files_waiting'", soci::into(c);
      return c;
    });
    return n.value_or(-1);
  };
  auto in_db_bytes = [&]() {
    return FileContains(dir().Sub("accounts.db"), marker) ||
           FileContains(dir().Sub("accounts.db-wal"), marker);
  };
  // 1 year 364 days after sending: the copy is there, listed by notices list.
  r = Ctl("2028-02-28 10:00:00", "lifecycle run --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["notice_copies_deleted"], 0);
  EXPECT_EQ(copies(), 1);
  EXPECT_TRUE(in_db_bytes());  // so the search below can fail
  r = Ctl("2028-02-28 10:01:00", "notices list --json");
  EXPECT_NE(r.out.find("files_waiting"), std::string::npos) << r.out;

  // 2 years and one sweep: gone, from the rows and the raw bytes.
  r = Ctl("2028-03-01 10:01:00", "lifecycle run --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["notice_copies_deleted"], 1) << r.out;
  EXPECT_EQ(copies(), 0);
  EXPECT_FALSE(in_db_bytes());
  r = Ctl("2028-03-01 10:02:00", "notices list --json");
  EXPECT_EQ(r.out.find("files_waiting"), std::string::npos) << r.out;
  r = Ctl("2028-03-01 10:02:00", "account show zoe --json");
  EXPECT_NE(r.out.find("\"active\""), std::string::npos) << r.out;
  r = Ctl("2028-03-01 10:03:00", "retention report");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

}  // namespace
}  // namespace sftplc::lifecycle
