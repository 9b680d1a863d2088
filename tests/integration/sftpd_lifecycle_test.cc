// The account lifecycle end to end with the real binaries under libfaketime: sftpd serving real
// SFTP clients (OpenSSH sftp through sshpass), sftpctl and sftpd's own sweep, notices delivered
// to the real aiosmtpd sink, a SQLite database file. Afterwards the person's data is looked for
// in the raw bytes of the database files, the storage root and everything either binary logged.

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "tests/core/notify/smtp_sink_process.h"
#include "tests/integration/daemon_harness.h"

namespace sftplc::testing {
namespace {

using nlohmann::json;

// Who the tests register. Every needle is searched case-insensitively: name, company, email,
// phone (stored normalised, "+441614960789", so both that and the typed form) and password.
struct Person {
  std::string username, name, email, phone, company, password;
  std::vector<std::string> needles;
};

const Person kA{"client-a",
                "Amelia Fairbrother",
                "amelia.fairbrother@client-a.example",
                "+44 20 7946 0011",
                "Fairbrother Print",
                "amber anchor lantern quarry",
                {"fairbrother", "client-a.example", "2079460011", "7946 0011"}};
const Person kB{
    "client-b",
    "Bartholomew Quaintance",
    "b.quaintance@client-b.example",
    "+44 161 496 0789",
    "Quaintance Ltd",
    "basalt bramble cobalt delta",
    {"bartholomew", "quaintance", "client-b.example", "1614960789", "496 0789", "basalt bramble"}};
const Person kC{"client-c",
                "Cordelia Vantongeren",
                "cordelia@vantongeren-client.example",
                "+44 141 496 0456",
                "Vantongeren & Co",
                "cedar comet canyon copper",
                {"cordelia", "vantongeren", "1414960456", "496 0456", "cedar comet"}};

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// The needles of `p` found in `text` (case-insensitive), for failure messages.
std::vector<std::string> Found(const Person& p, const std::string& text) {
  std::string lower = Lower(text);
  std::vector<std::string> out;
  for (const std::string& n : p.needles) {
    if (lower.find(n) != std::string::npos) {
      out.push_back(n);
    }
  }
  return out;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) {
    out += (out.empty() ? "" : ", ") + s;
  }
  return out;
}

class SftpdLifecycleTest : public ::testing::Test {
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

  // sftpctl (logging at info) with its clock starting at `when` (UTC). What it prints is kept in
  // outputs_, unless `ask` marks an operator's question about the person (account show, export),
  // whose answer is the person's data.
  CommandResult Ctl(const std::string& when, const std::string& args,
                    const std::string& stdin_data = "", bool ask = false) {
    d_.SetFakeTime(when);
    CommandResult r = d_.Sftpctl("--verbose " + args, stdin_data);
    if (!ask) {
      outputs_ += r.out;
    }
    return r;
  }
  // `lifecycle run --json` at `when`.
  json Sweep(const std::string& when) {
    CommandResult r = Ctl(when, "lifecycle run --json");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out);
  }
  // `account show --json`.
  json Show(const std::string& when, const Person& p) {
    CommandResult r = Ctl(when, "account show " + p.username + " --json", "", true);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out);
  }
  // Registers `p` with a password; returns the account id.
  std::string Create(const std::string& when, const Person& p, const std::string& extra = "") {
    CommandResult r = Ctl(when,
                          "account create --username " + p.username + " --name '" + p.name +
                              "' --email '" + p.email + "' --phone '" + p.phone + "' --company '" +
                              p.company + "' --password-stdin " + extra,
                          p.password + "\n");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::size_t at = r.out.find("id=");
    return at == std::string::npos ? "" : r.out.substr(at + 3, 32);
  }
  // Starts sftpd with its clock starting at `when`.
  void StartDaemon(const std::string& when) {
    d_.SetFakeTime(when);
    ASSERT_TRUE(d_.Start()) << d_.error();
  }
  // A real OpenSSH sftp session logging in as `p` with its password, running `batch`.
  CommandResult Sftp(const Person& p, const std::string& batch) {
    return d_.SftpWithPassword(p.username, p.password, batch);
  }
  // The delivered messages addressed to `p`, decoded.
  std::vector<DecodedMail> MailTo(const Person& p) {
    std::vector<DecodedMail> out;
    for (const std::string& raw : sink_->Delivered()) {
      DecodedMail m = DecodeMail(raw);
      if (m.to.find(p.email) != std::string::npos) {
        out.push_back(std::move(m));
      }
    }
    return out;
  }
  // The database as bytes on disk: the main file, its -wal and -shm.
  std::string DatabaseBytes() const {
    std::string db = d_.database_path();
    return ReadFile(db) + ReadFile(db + "-wal") + ReadFile(db + "-shm");
  }
  // Every path and every file's bytes under the storage root.
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
  // Asserts that none of `p`'s needles is in any place this service keeps or logs anything.
  void ExpectNothingLeft(const Person& p) {
    EXPECT_EQ(Join(Found(p, DatabaseBytes())), "") << "in the database files";
    EXPECT_EQ(Join(Found(p, StorageBytes())), "") << "in the storage root";
    EXPECT_EQ(Join(Found(p, d_.Log())), "") << "in sftpd's log:\n" << d_.Log();
    EXPECT_EQ(Join(Found(p, d_.SftpctlLog())), "") << "in sftpctl's log:\n" << d_.SftpctlLog();
    EXPECT_EQ(Join(Found(p, outputs_)), "") << "in sftpctl's output:\n" << outputs_;
  }

  DaemonHarness d_;
  std::unique_ptr<SmtpSinkProcess> sink_;
  std::string outputs_;  // what sftpctl printed for the lifecycle commands
};

// A: files uploaded at T0, silent for two years, noticed by mail, confirmed by a real SFTP login
// ten days later (active again, usage row recorded) and not closed when its window would have
// ended. B: the same start, silent throughout: noticed, closed when the window ends (closure
// mail), refused at login while closed, purged by sftpd's own sweep 30 days after closure; then
// B's name, email and phone are in no database file, storage folder or log line of either binary,
// though B's logins, transfers and refusal were logged (by account id) and A's data is still held.
TEST_F(SftpdLifecycleTest, LoginConfirmsNoticedAccountSilentOneIsClosedPurgedAndUntraceable) {
  // T0: registration, then uploads through sftpd.
  std::string a = Create("2027-03-10 10:00:00", kA);
  std::string b = Create("2027-03-10 10:00:00", kB);
  ASSERT_EQ(a.size(), 32u);
  ASSERT_EQ(b.size(), 32u);
  WriteFile(d_.dir().Sub("artwork.pdf"), "%PDF Fairbrother Print: spring catalogue artwork");
  WriteFile(d_.dir().Sub("quaintance-ledger.csv"),
            "Quaintance Ltd ledger\ndate,amount\n2027-03-01,1200\n");
  StartDaemon("2027-03-10 10:00:00");
  auto up = Sftp(kA, "put " + d_.dir().Sub("artwork.pdf") + " artwork.pdf\n");
  ASSERT_EQ(up.exit_code, 0) << up.err << d_.Log();
  up = Sftp(kB, "put " + d_.dir().Sub("quaintance-ledger.csv") +
                    " quaintance-ledger.csv\nls -l\nget quaintance-ledger.csv " +
                    d_.dir().Sub("back.csv") + "\n");
  ASSERT_EQ(up.exit_code, 0) << up.err << d_.Log();
  ASSERT_EQ(d_.Stop(SIGTERM), 0) << d_.Log();
  EXPECT_EQ(Show("2027-03-10 10:01:00", kB)["last_login_at"].get<std::string>().substr(0, 10),
            "2027-03-10");
  // The searches below can fail: B is in the database and the storage root now.
  EXPECT_NE(Join(Found(kB, DatabaseBytes())), "");
  EXPECT_NE(Join(Found(kB, StorageBytes())), "");

  // T0 + 2y + 1d: the inactivity notices.
  json sweep = Sweep("2029-03-11 10:00:00");
  EXPECT_EQ(sweep["notices_queued"], 2);
  EXPECT_EQ(sweep["notices_sent"], 2);
  auto mail = MailTo(kA);
  ASSERT_EQ(mail.size(), 1u);
  EXPECT_NE(mail[0].to.find(kA.email), std::string::npos);
  EXPECT_NE(mail[0].subject.find("still needed"), std::string::npos) << mail[0].subject;
  EXPECT_NE(mail[0].body.find("Dear " + kA.name), std::string::npos) << mail[0].body;
  EXPECT_NE(mail[0].body.find("not been used since 2027-03-10"), std::string::npos);
  EXPECT_NE(mail[0].body.find("by 2029-04-10"), std::string::npos);
  EXPECT_NE(mail[0].body.find("log in to the CX Services secure FTP"), std::string::npos);
  EXPECT_NE(mail[0].body.find("reply to this email (sftp@cx.example)"), std::string::npos);
  EXPECT_NE(mail[0].body.find("Account reference: " + a), std::string::npos);
  EXPECT_EQ(MailTo(kB).size(), 1u);
  json show = Show("2029-03-11 10:01:00", kA);
  EXPECT_EQ(show["state"], "confirmation_pending");
  EXPECT_EQ(show["notice_delivered_at"].get<std::string>().substr(0, 10), "2029-03-11");

  // T0 + 2y + 10d: A logs in through sftpd and finds its file.
  StartDaemon("2029-03-20 10:00:00");
  auto login = Sftp(kA, "get artwork.pdf " + d_.dir().Sub("artwork.back") + "\n");
  EXPECT_EQ(login.exit_code, 0) << login.err << d_.Log();
  EXPECT_EQ(ReadFile(d_.dir().Sub("artwork.back")), ReadFile(d_.dir().Sub("artwork.pdf")));
  ASSERT_EQ(d_.Stop(SIGTERM), 0) << d_.Log();
  show = Show("2029-03-20 10:05:00", kA);
  EXPECT_EQ(show["state"], "active");
  EXPECT_EQ(show["last_login_at"].get<std::string>().substr(0, 15), "2029-03-20T10:0");
  EXPECT_TRUE(show["notice_delivered_at"].is_null());
  CommandResult usage = Ctl("2029-03-20 10:05:00", "usage show client-a --json");
  ASSERT_EQ(usage.exit_code, 0) << usage.err;
  json sessions = json::parse(usage.out)["sessions"];
  ASSERT_EQ(sessions.size(), 2u);
  EXPECT_EQ(sessions[0]["started_at"].get<std::string>().substr(0, 15), "2029-03-20T10:0");
  EXPECT_EQ(sessions[0]["auth_method"], "password");
  EXPECT_EQ(sessions[0]["end_reason"], "closed");
  EXPECT_EQ(Show("2029-03-20 10:05:00", kB)["state"], "confirmation_pending");

  // The notices were delivered at 2029-03-11 10:00: the windows end 30 days later.
  sweep = Sweep("2029-04-10 09:55:00");
  EXPECT_EQ(sweep["closed"], 0);
  EXPECT_EQ(Show("2029-04-10 09:56:00", kB)["state"], "confirmation_pending");
  sweep = Sweep("2029-04-10 10:05:00");
  EXPECT_EQ(sweep["closed"], 1);
  EXPECT_EQ(Show("2029-04-10 10:06:00", kA)["state"], "active");
  show = Show("2029-04-10 10:06:00", kB);
  EXPECT_EQ(show["state"], "closed");
  EXPECT_EQ(show["closed_reason"], "inactivity");
  mail = MailTo(kB);
  ASSERT_EQ(mail.size(), 2u);
  auto closure = std::find_if(mail.begin(), mail.end(), [](const DecodedMail& m) {
    return m.subject.find("has been closed") != std::string::npos;
  });
  ASSERT_NE(closure, mail.end());
  EXPECT_NE(closure->body.find("deleted by 2029-05-10"), std::string::npos) << closure->body;
  EXPECT_EQ(MailTo(kA).size(), 1u);

  // Closed: B's login is refused (and recorded on the account, and logged without a name).
  StartDaemon("2029-04-20 10:00:00");
  EXPECT_NE(Sftp(kB, "ls\n").exit_code, 0);
  ASSERT_EQ(d_.Stop(SIGTERM), 0) << d_.Log();
  EXPECT_NE(d_.Log().find("login failed method=password"), std::string::npos) << d_.Log();
  usage = Ctl("2029-04-20 10:05:00", "usage show client-b --json");
  ASSERT_EQ(usage.exit_code, 0) << usage.err;
  json b_usage = json::parse(usage.out);
  ASSERT_EQ(b_usage["failed_logins"].size(), 1u) << usage.out;
  EXPECT_EQ(b_usage["failed_logins"][0]["at"].get<std::string>().substr(0, 10), "2029-04-20");
  ASSERT_EQ(b_usage["sessions"].size(), 1u) << usage.out;
  EXPECT_EQ(b_usage["sessions"][0]["counters"]["files_uploaded"], 1);

  // closed_at + 30 days: sftpd's own sweep (the first runs at start) purges B.
  d_.Set("lifecycle", "enabled = true");
  d_.WriteConfig();
  EXPECT_NE(Join(Found(kB, DatabaseBytes())), "");
  StartDaemon("2029-05-10 10:15:00");
  ASSERT_TRUE(d_.WaitForLog("sweep done")) << d_.Log();
  std::string log = d_.Log();
  std::string done = log.substr(log.find("sweep done"));
  done = done.substr(0, done.find('\n'));
  EXPECT_NE(done.find("purged=1"), std::string::npos) << done;
  EXPECT_NE(done.find("errors=0"), std::string::npos) << done;
  ASSERT_EQ(d_.Stop(SIGTERM), 0) << d_.Log();
  EXPECT_EQ(Ctl("2029-05-10 10:20:00", "account show client-b").exit_code, 2);
  EXPECT_EQ(Show("2029-05-10 10:20:00", kA)["state"], "active");
  CommandResult report = Ctl("2029-05-10 10:20:00", "retention report --json");
  EXPECT_EQ(report.exit_code, 0) << report.out << report.err;
  EXPECT_EQ(json::parse(report.out)["purge_receipts"], 1);

  // Both binaries did log B's story - by account id: the searches cover it.
  std::string b8 = b.substr(0, 8);
  log = d_.Log();
  EXPECT_NE(log.find("login ok account=" + b8), std::string::npos) << log;
  EXPECT_NE(log.find("session ended account=" + b8), std::string::npos) << log;
  EXPECT_NE(log.find("account purged account=" + b8), std::string::npos) << log;
  EXPECT_NE(log.find("2029-03-20T10:0"), std::string::npos) << "sftpd's clock was not faked";
  std::string ctl_log = d_.SftpctlLog();
  EXPECT_NE(ctl_log.find("account closed for inactivity account=" + b8), std::string::npos)
      << ctl_log;
  // A is still held, so the byte searches see what they look for; A's password never is.
  EXPECT_NE(Join(Found(kA, DatabaseBytes())), "");
  EXPECT_NE(Join(Found(kA, StorageBytes())), "");
  EXPECT_EQ(Lower(DatabaseBytes() + d_.Log() + d_.SftpctlLog() + outputs_).find(kA.password),
            std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(d_.storage_root() + "/" + b));

  ExpectNothingLeft(kB);
}

// C consented to marketing, uploaded files and asked for the account to be closed: 30 days
// later the purge removes the account, files and usage and keeps only the marketing contact;
// it stands a year later (consent stands); after C withdraws consent it is gone within the
// month, from the database files and every log.
TEST_F(SftpdLifecycleTest, ConsentingClosedAccountKeepsContactOnlyUntilWithdrawal) {
  std::string c =
      Create("2027-03-10 10:00:00", kC, "--marketing-consent --consent-source 'registration form'");
  ASSERT_EQ(c.size(), 32u);
  WriteFile(d_.dir().Sub("brief.txt"), "Vantongeren campaign brief");
  StartDaemon("2027-03-10 10:00:00");
  auto up = Sftp(kC, "put " + d_.dir().Sub("brief.txt") + " vantongeren-brief.txt\n");
  ASSERT_EQ(up.exit_code, 0) << up.err << d_.Log();
  ASSERT_EQ(d_.Stop(SIGTERM), 0) << d_.Log();

  ASSERT_EQ(Ctl("2027-06-01 10:00:00", "account close client-c --reason request").exit_code, 0);
  json sweep = Sweep("2027-07-01 09:55:00");
  EXPECT_EQ(sweep["purged"], 0);
  sweep = Sweep("2027-07-01 10:05:00");
  EXPECT_EQ(sweep["purged"], 1);
  EXPECT_EQ(Ctl("2027-07-01 10:06:00", "account show client-c").exit_code, 2);
  EXPECT_FALSE(std::filesystem::exists(d_.storage_root() + "/" + c));
  CommandResult exported = Ctl("2027-07-01 10:06:00", "account export " + c, "", true);
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  json e = json::parse(exported.out);
  EXPECT_EQ(e["status"], "purged");
  ASSERT_EQ(e["categories"].size(), 1u) << e.dump(2);
  EXPECT_EQ(e["categories"][0]["category"], "marketing_contact");
  EXPECT_EQ(e["categories"][0]["data"]["email"], kC.email);
  EXPECT_EQ(e["categories"][0]["data"]["phone"], "+441414960456");
  // The contact is held: the byte search can fail.
  EXPECT_NE(Join(Found(kC, DatabaseBytes())), "");

  // A year later consent still stands: the contact stays.
  sweep = Sweep("2028-07-01 10:00:00");
  EXPECT_EQ(sweep["contacts_deleted"], 0);
  CommandResult withdraw =
      Ctl("2028-07-01 10:10:00", "consent withdraw " + c + " --source 'email 2028-07-01'");
  ASSERT_EQ(withdraw.exit_code, 0) << withdraw.out << withdraw.err;
  sweep = Sweep("2028-07-31 10:15:00");
  EXPECT_EQ(sweep["contacts_deleted"], 1);
  CommandResult report = Ctl("2028-07-31 10:16:00", "retention report --json");
  EXPECT_EQ(report.exit_code, 0) << report.out << report.err;
  json rep = json::parse(report.out);
  EXPECT_EQ(rep["marketing_contacts"], 0);
  EXPECT_EQ(rep["purge_receipts"], 1);
  EXPECT_NE(d_.Log().find("login ok account=" + c.substr(0, 8)), std::string::npos) << d_.Log();

  exported = Ctl("2028-07-31 10:16:00", "account export " + c, "", true);
  ASSERT_EQ(exported.exit_code, 0) << exported.err;  // the receipt remains
  EXPECT_EQ(json::parse(exported.out)["categories"].size(), 0u) << exported.out;

  ExpectNothingLeft(kC);
}

}  // namespace
}  // namespace sftplc::testing
