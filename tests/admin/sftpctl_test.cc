// Runs the built sftpctl against a temporary configuration and SQLite database, and checks its
// output, exit code and the database afterwards.

#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "sftpd/core/auth/password_hasher.h"
#include "sftpd/core/base/log.h"
#include "sftpd/core/db/sql.h"
#include "tests/core/accounts/test_keys.h"
#include "tests/testing/cli_world.h"
#include "tests/testing/service_user.h"
#include "tests/testing/test_env.h"

namespace sftplc::admin {
namespace {

using nlohmann::json;
using ::sftplc::testing::CommandResult;
using ::sftplc::testing::QuoteArgs;
using ::sftplc::testing::RunCommand;
using ::sftplc::testing::ShellQuote;
using ::sftplc::testing::WriteFile;

class SftpctlTest : public ::testing::Test, protected ::sftplc::testing::CliWorld {
 protected:
  void SetUp() override {
    WriteConfig(DefaultConfig("[auth.argon2]\nt_cost = 1\nm_cost_kib = 1024\nparallelism = 1\n"));
  }

  CommandResult Create(const std::string& username) {
    return Ctl({"account", "create", "--username", username, "--name", "Ada Lovelace", "--email",
                "ada@example.com", "--phone", "+44 151 357 7700", "--no-password"});
  }

  int Count(const std::string& table) {
    auto db = OpenDb();
    if (!db) {
      return -1;
    }
    auto n = db->Read<int>([&](soci::session& s) -> Result<int> {
      int c = 0;
      s << "SELECT COUNT(*) FROM " + table, soci::into(c);  // table: a test constant
      return c;
    });
    return n.value_or(-1);
  }

  // Everything an admin command could change: every row of every table, and the folders.
  std::string Snapshot() {
    auto db = OpenDb();
    std::string out;
    if (!db) {
      return out;
    }
    auto rows = db->Read<std::string>([&](soci::session& s) -> Result<std::string> {
      std::string text;
      for (const char* t : {"accounts", "public_keys", "consent_events", "audit_events"}) {
        int c = 0;
        s << std::string("SELECT COUNT(*) FROM ") + t, soci::into(c);
        text += std::string(t) + "=" + std::to_string(c) + ";";
      }
      std::string u, f, c, e, p, st;
      soci::statement q =
          (s.prepare << "SELECT username, full_name, company, email, phone, state FROM accounts "
                        "ORDER BY username",
           soci::into(u), soci::into(f), soci::into(c), soci::into(e), soci::into(p),
           soci::into(st));
      q.execute(false);
      while (q.fetch()) {
        text += u + "|" + f + "|" + c + "|" + e + "|" + p + "|" + st + ";";
      }
      return text;
    });
    out = rows.value_or("unreadable");
    std::error_code ec;
    int folders = 0;
    for (auto it = std::filesystem::directory_iterator(dir().Sub("files"), ec);
         !ec && it != std::filesystem::directory_iterator(); ++it) {
      ++folders;
    }
    return out + "folders=" + std::to_string(folders);
  }

  // One line on stderr, nothing on stdout.
  static void ExpectOneErrorLine(const CommandResult& r) {
    EXPECT_EQ(r.out, "");
    ASSERT_FALSE(r.err.empty());
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
    EXPECT_EQ(r.err.rfind("sftpctl: ", 0), 0u) << r.err;
  }

  // The stored password hash of `username` ("" when none).
  std::string StoredHash(const std::string& username) {
    auto db = OpenDb();
    if (!db) {
      return "";
    }
    auto h = db->Read<std::string>([&](soci::session& s) -> Result<std::string> {
      std::string hash;
      std::string u = username;
      s << "SELECT password_hash FROM accounts WHERE username = :u", soci::use(u), soci::into(hash);
      return hash;
    });
    return h.value_or("");
  }

  static bool Verifies(const std::string& phc, const std::string& password) {
    auth::PasswordHasher hasher(config::Argon2Config{1, 1024, 1});
    auto ok = hasher.Verify(phc, Secret(password));
    return ok && *ok;
  }

  // The OS user sftpctl runs as (what it audits as the actor).
  static std::string OsUser() { return ::sftplc::testing::TestServiceUser().name; }
};

// create registers the account (phone normalised), makes its 0700 folder, prints the id, and
// audits the OS user; show/list print it as text and JSON.
TEST_F(SftpctlTest, CreateShowList) {
  auto r = Ctl({"account", "create", "--username", "acme-ftp", "--name", "Ada Lovelace", "--email",
                "ada@example.com", "--phone", "0044 (151) 357-7700", "--company", "Acme Ltd",
                "--no-password"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  auto pos = r.out.find("id=");
  ASSERT_NE(pos, std::string::npos) << r.out;
  std::string id = r.out.substr(pos + 3, 32);
  struct stat st {};
  ASSERT_EQ(stat(dir().Sub("files/" + id).c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  auto show = Ctl({"account", "show", "acme-ftp", "--json"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  json j = json::parse(show.out);
  EXPECT_EQ(j["id"], id);
  EXPECT_EQ(j["username"], "acme-ftp");
  EXPECT_EQ(j["full_name"], "Ada Lovelace");
  EXPECT_EQ(j["company"], "Acme Ltd");
  EXPECT_EQ(j["email"], "ada@example.com");
  EXPECT_EQ(j["phone"], "+441513577700");
  EXPECT_EQ(j["state"], "active");
  EXPECT_EQ(j["has_password"], false);
  EXPECT_TRUE(j["closed_at"].is_null());
  EXPECT_EQ(j["keys"].size(), 0u);
  EXPECT_EQ(j.find("password_hash"), j.end());

  auto by_id = Ctl({"account", "show", id});
  ASSERT_EQ(by_id.exit_code, 0);
  EXPECT_NE(by_id.out.find("Ada Lovelace"), std::string::npos);
  EXPECT_NE(by_id.out.find("+441513577700"), std::string::npos);

  ASSERT_EQ(Create("bob").exit_code, 0);
  auto list = Ctl({"account", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0);
  json arr = json::parse(list.out);
  ASSERT_EQ(arr.size(), 2u);
  EXPECT_EQ(arr[0]["username"], "acme-ftp");
  EXPECT_EQ(arr[1]["username"], "bob");
  auto text = Ctl({"account", "list", "--state", "active"});
  EXPECT_NE(text.out.find("bob"), std::string::npos);
  EXPECT_EQ(Ctl({"account", "list", "--state", "closed", "--json"}).out, "[]\n");
  EXPECT_EQ(Ctl({"account", "list", "--state", "sleeping"}).exit_code, 4);

  auto db = OpenDb();
  ASSERT_TRUE(db);
  auto actor = db->Read<std::string>([&](soci::session& s) -> Result<std::string> {
    std::string a;
    s << "SELECT actor FROM audit_events WHERE action = 'account.create' AND account_id = :i",
        soci::use(id), soci::into(a);
    return a;
  });
  EXPECT_EQ(actor.value_or(""), "admin:" + OsUser());
}

// A second account with the same username: exit 3, one line on stderr, nothing changed.
TEST_F(SftpctlTest, DuplicateUsernameIsConflict) {
  ASSERT_EQ(Create("acme-ftp").exit_code, 0);
  std::string before = Snapshot();
  auto r = Create("acme-ftp");
  EXPECT_EQ(r.exit_code, 3);
  ExpectOneErrorLine(r);
  EXPECT_NE(r.err.find("already taken"), std::string::npos);
  EXPECT_EQ(Snapshot(), before);
}

// Bad input in every field of create and update: exit 4, a message naming the field, and
// nothing changes (no row, no audit, no folder).
TEST_F(SftpctlTest, BadInputChangesNothing) {
  ASSERT_EQ(Create("acme-ftp").exit_code, 0);
  std::string before = Snapshot();
  const std::string sql = "x'); DROP TABLE accounts; --";
  const std::string bad_utf8 = "Ad\xff\xfe";
  struct Case {
    std::string flag, value, expect;
  };
  std::vector<Case> cases = {
      {"--username", "", "username"},
      {"--username", "ab", "username"},
      {"--username", "Acme", "username"},
      {"--username", std::string(33, 'a'), "username"},
      {"--username", sql, "username"},
      {"--username", bad_utf8, "username"},
      {"--name", "", "name"},
      {"--name", std::string(201, 'n'), "name"},
      {"--name", bad_utf8, "name"},
      {"--name", "tab\there", "name"},
      {"--company", std::string(201, 'c'), "company"},
      {"--company", bad_utf8, "company"},
      {"--email", "", "email"},
      {"--email", "not-an-email", "email"},
      {"--email", "a@b@c.com", "email"},
      {"--email", std::string(250, 'a') + "@x.org", "email"},
      {"--email", sql + "@x.org", "email"},
      {"--email", bad_utf8 + "@x.org", "email"},
      {"--phone", "", "phone"},
      {"--phone", "0151 357 7700", "phone"},
      {"--phone", "+44 151 CALL NOW", "phone"},
      {"--phone", "+12", "phone"},
      {"--phone", std::string(80, '9'), "phone"},
      {"--phone", sql, "phone"},
      {"--phone", bad_utf8, "phone"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"account",          "create",          "--username",
                                     "newuser",          "--name",          "Ada Lovelace",
                                     "--email",          "ada@example.com", "--phone",
                                     "+44 151 357 7700", "--no-password"};
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (args[i] == c.flag) {
        args[i + 1] = c.value;
      }
    }
    if (c.flag == "--company") {
      args.push_back("--company");
      args.push_back(c.value);
    }
    std::string cmd;
    for (const auto& a : args) {
      cmd += " " + ShellQuote(a);
    }
    auto r = Ctl(cmd);
    EXPECT_EQ(r.exit_code, 4) << c.flag << "=" << c.value << ": " << r.err;
    ExpectOneErrorLine(r);
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << r.err;
    if (c.flag != "--username") {
      auto u = Ctl({"account", "update", "acme-ftp", c.flag, c.value});
      EXPECT_EQ(u.exit_code, 4) << "update " << c.flag << "=" << c.value << ": " << u.err;
      ExpectOneErrorLine(u);
    }
  }
  // Consent without a source, a source without consent, an empty source.
  for (const auto& extra : std::vector<std::vector<std::string>>{
           {"--marketing-consent"},
           {"--consent-source", "web form"},
           {"--marketing-consent", "--consent-source", ""},
           {"--marketing-consent", "--consent-source", bad_utf8}}) {
    std::string cmd =
        QuoteArgs({"account", "create", "--username", "newuser", "--name", "Ada", "--email",
                   "ada@example.com", "--phone", "+441513577700", "--no-password"});
    for (const auto& e : extra) {
      cmd += " " + ShellQuote(e);
    }
    auto r = Ctl(cmd);
    EXPECT_EQ(r.exit_code, 4) << r.err;
    ExpectOneErrorLine(r);
  }
  EXPECT_EQ(Ctl({"account", "update", "acme-ftp"}).exit_code, 4);
  EXPECT_EQ(Ctl({"account", "close", "acme-ftp", "--reason", "bored"}).exit_code, 4);
  EXPECT_EQ(Ctl({"consent", "grant", "acme-ftp", "--source", ""}).exit_code, 4);
  EXPECT_EQ(Ctl({"account", "remove-key", "acme-ftp", sql}).exit_code, 4);
  EXPECT_EQ(Snapshot(), before);
}

// update changes the given fields only, normalising the phone.
TEST_F(SftpctlTest, UpdateFields) {
  ASSERT_EQ(Create("acme-ftp").exit_code, 0);
  auto r = Ctl({"account", "update", "acme-ftp", "--email", "new@example.org", "--phone",
                "+1 212 555 0100", "--company", "O'Neil & Sons; --"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(Ctl({"account", "show", "acme-ftp", "--json"}).out);
  EXPECT_EQ(j["email"], "new@example.org");
  EXPECT_EQ(j["phone"], "+12125550100");
  EXPECT_EQ(j["company"], "O'Neil & Sons; --");
  EXPECT_EQ(j["full_name"], "Ada Lovelace");
}

// Unknown accounts are exit 2 for every command that names one.
TEST_F(SftpctlTest, UnknownAccountIsNotFound) {
  ASSERT_EQ(Create("acme-ftp").exit_code, 0);
  std::string before = Snapshot();
  for (const auto& r :
       {Ctl({"account", "show", "nobody"}), Ctl({"account", "show", std::string(32, 'a')}),
        Ctl({"account", "update", "nobody", "--name", "X Y"}),
        Ctl({"account", "list-keys", "nobody"}), Ctl({"account", "close", "nobody"}),
        Ctl({"account", "reopen", "nobody"}),
        Ctl({"account", "remove-key", "nobody", ::sftplc::testing::kEd25519Fingerprint}),
        Ctl({"consent", "grant", "nobody", "--source", "x"}),
        Ctl({"consent", "show", "nobody", "--json"})}) {
    EXPECT_EQ(r.exit_code, 2) << r.err;
    ExpectOneErrorLine(r);
  }
  EXPECT_EQ(Snapshot(), before);
}

// Usage errors (no command, unknown command, a missing required option) are exit 1.
TEST_F(SftpctlTest, UsageErrors) {
  for (const auto& r :
       {Ctl({}), Ctl({"frobnicate"}), Ctl({"account"}),
        Ctl({"account", "create", "--username", "x1x"}), Ctl({"account", "show"}),
        Ctl({"account", "list", "--bogus"}),
        Ctl({"account", "create", "--username", "abc", "--name", "A", "--email", "a@b.co",
             "--phone", "+441513577700", "--no-password", "--generate-password"})}) {
    EXPECT_EQ(r.exit_code, 1) << r.err;
    ExpectOneErrorLine(r);
  }
  EXPECT_EQ(Ctl({"account", "list", "--json"}).out, "[]\n");
}

// Every group and command answers --help with exit 0 and its own example: after "Example:"
// a command line that names it. The top level lists every exit code.
TEST_F(SftpctlTest, HelpHasExamples) {
  std::vector<std::vector<std::string>> commands = {{},
                                                    {"account"},
                                                    {"account", "create"},
                                                    {"account", "list"},
                                                    {"account", "show"},
                                                    {"account", "update"},
                                                    {"account", "set-password"},
                                                    {"account", "add-key"},
                                                    {"account", "remove-key"},
                                                    {"account", "list-keys"},
                                                    {"account", "close"},
                                                    {"account", "reopen"},
                                                    {"consent"},
                                                    {"consent", "grant"},
                                                    {"consent", "withdraw"},
                                                    {"consent", "show"},
                                                    {"db"},
                                                    {"db", "migrate"},
                                                    {"db", "status"},
                                                    {"config"},
                                                    {"config", "check"},
                                                    {"account", "confirm"},
                                                    {"account", "erase"},
                                                    {"account", "export"},
                                                    {"ban"},
                                                    {"ban", "list"},
                                                    {"ban", "remove"},
                                                    {"usage"},
                                                    {"usage", "show"},
                                                    {"usage", "report"},
                                                    {"lifecycle"},
                                                    {"lifecycle", "run"},
                                                    {"lifecycle", "plan"},
                                                    {"notices"},
                                                    {"notices", "list"},
                                                    {"notices", "retry"},
                                                    {"retention"},
                                                    {"retention", "report"},
                                                    {"files"},
                                                    {"files", "list"},
                                                    {"files", "put"},
                                                    {"files", "get"},
                                                    {"files", "rm"},
                                                    {"hostkey"},
                                                    {"hostkey", "show"}};
  for (const auto& c : commands) {
    std::string name;
    for (const auto& w : c) {
      name += " " + w;
    }
    auto r = RunCommand(sftpctl().CommandLine(name + " --help", false));
    EXPECT_EQ(r.exit_code, 0) << name;
    auto example = r.out.find("Example:");
    if (example == std::string::npos) {
      ADD_FAILURE() << name << ": no example:\n" << r.out;
      continue;
    }
    // The example names this command (a global flag such as --config may come between).
    std::string text = r.out.substr(example);
    auto at = text.find("sftpctl");
    EXPECT_NE(at, std::string::npos) << name << ":\n" << r.out;
    if (!name.empty() && at != std::string::npos) {
      EXPECT_TRUE(text.find(name + " ", at) != std::string::npos ||
                  text.find(name + "\n", at) != std::string::npos)
          << name << ":\n"
          << r.out;
    }
  }
  auto top = RunCommand(sftpctl().CommandLine("--help", false));
  EXPECT_NE(top.out.find("6 past a deadline"), std::string::npos) << top.out;
  auto line = top.out.find("\n  account ");
  ASSERT_NE(line, std::string::npos) << top.out;
  std::string account = top.out.substr(line + 1, top.out.find('\n', line + 1) - line - 1);
  for (const char* word : {"confirm", "erase", "export"}) {
    EXPECT_NE(account.find(word), std::string::npos) << account;
  }
}

// Keys: add from a file and from stdin, list as JSON, duplicate 3, malformed 4, remove.
TEST_F(SftpctlTest, Keys) {
  ASSERT_EQ(Create("acme-ftp").exit_code, 0);
  WriteFile(dir().Sub("ed.pub"), std::string(::sftplc::testing::kEd25519Key) + "\n");
  auto add = Ctl({"account", "add-key", "acme-ftp", dir().Sub("ed.pub")});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  EXPECT_NE(add.out.find(::sftplc::testing::kEd25519Fingerprint), std::string::npos);
  auto add2 = Ctl({"account", "add-key", "acme-ftp", "-"},
                  std::string("# my key\n") + ::sftplc::testing::kRsaKey + "\n");
  ASSERT_EQ(add2.exit_code, 0) << add2.err;
  auto add3 = Ctl({"account", "add-key", "acme-ftp"}, ::sftplc::testing::kEcdsaKey);
  ASSERT_EQ(add3.exit_code, 0) << add3.err;

  auto dup = Ctl({"account", "add-key", "acme-ftp", dir().Sub("ed.pub")});
  EXPECT_EQ(dup.exit_code, 3);
  ExpectOneErrorLine(dup);
  std::string before = Snapshot();
  for (const std::string& bad :
       {std::string(""), std::string("ssh-ed25519 AAAA!!"),
        std::string("ssh-foo AAAAC3NzaC1lZDI1NTE5 x"),
        std::string(::sftplc::testing::kEd25519Key) + "\n" + ::sftplc::testing::kRsaKey + "\n"}) {
    auto r = Ctl({"account", "add-key", "acme-ftp", "-"}, bad);
    EXPECT_EQ(r.exit_code, 4) << r.err;
    ExpectOneErrorLine(r);
  }
  EXPECT_EQ(Ctl({"account", "add-key", "acme-ftp", dir().Sub("missing.pub")}).exit_code, 2);
  EXPECT_EQ(Snapshot(), before);

  json keys = json::parse(Ctl({"account", "list-keys", "acme-ftp", "--json"}).out);
  ASSERT_EQ(keys.size(), 3u);
  EXPECT_EQ(keys[0]["fingerprint"], ::sftplc::testing::kEd25519Fingerprint);
  EXPECT_EQ(keys[0]["type"], "ssh-ed25519");
  EXPECT_EQ(keys[0]["comment"], "alice@laptop");
  EXPECT_EQ(keys[1]["fingerprint"], ::sftplc::testing::kRsaFingerprint);
  EXPECT_EQ(keys[2]["fingerprint"], ::sftplc::testing::kEcdsaFingerprint);

  auto rm = Ctl({"account", "remove-key", "acme-ftp", ::sftplc::testing::kRsaFingerprint});
  ASSERT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_EQ(
      Ctl({"account", "remove-key", "acme-ftp", ::sftplc::testing::kRsaFingerprint}).exit_code, 2);
  EXPECT_EQ(Count("public_keys"), 2);
  auto text = Ctl({"account", "list-keys", "acme-ftp"});
  EXPECT_NE(text.out.find(::sftplc::testing::kEcdsaFingerprint), std::string::npos);
}

// close and reopen: states, conflicts (exit 3) and the audit trail.
TEST_F(SftpctlTest, CloseAndReopen) {
  ASSERT_EQ(Create("acme-ftp").exit_code, 0);
  auto c = Ctl({"account", "close", "acme-ftp", "--reason", "request"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  json j = json::parse(Ctl({"account", "show", "acme-ftp", "--json"}).out);
  EXPECT_EQ(j["state"], "closed");
  EXPECT_EQ(j["closed_reason"], "request");
  EXPECT_FALSE(j["closed_at"].is_null());
  auto again = Ctl({"account", "close", "acme-ftp"});
  EXPECT_EQ(again.exit_code, 3);
  ExpectOneErrorLine(again);
  ASSERT_EQ(Ctl({"account", "reopen", "acme-ftp"}).exit_code, 0);
  EXPECT_EQ(json::parse(Ctl({"account", "show", "acme-ftp", "--json"}).out)["state"], "active");
  EXPECT_EQ(Ctl({"account", "reopen", "acme-ftp"}).exit_code, 3);
  EXPECT_EQ(Count("audit_events"), 3);  // create, close, reopen
}

// The consent ledger through the CLI, consent given at creation included.
TEST_F(SftpctlTest, Consent) {
  auto r = Ctl({"account", "create", "--username", "acme-ftp", "--name", "Ada Lovelace", "--email",
                "ada@example.com", "--phone", "+441513577700", "--marketing-consent",
                "--consent-source", "registration form", "--no-password"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Ctl({"consent", "grant", "acme-ftp", "--source", "again"}).exit_code, 3);
  ASSERT_EQ(Ctl({"consent", "withdraw", "acme-ftp", "--source", "email 2026-11-30"}).exit_code, 0);
  EXPECT_EQ(Ctl({"consent", "withdraw", "acme-ftp", "--source", "again"}).exit_code, 3);
  json j = json::parse(Ctl({"consent", "show", "acme-ftp", "--json"}).out);
  EXPECT_EQ(j["marketing_consent"], false);
  EXPECT_FALSE(j["consent_withdrawn_at"].is_null());
  ASSERT_EQ(j["events"].size(), 2u);
  EXPECT_EQ(j["events"][0]["granted"], true);
  EXPECT_EQ(j["events"][0]["source"], "registration form");
  EXPECT_EQ(j["events"][1]["granted"], false);
  EXPECT_EQ(j["events"][1]["actor"], "admin:" + OsUser());
  auto text = Ctl({"consent", "show", "acme-ftp"});
  EXPECT_NE(text.out.find("not granted"), std::string::npos);
}

// db status reports pending migrations without applying them; db migrate applies them; any
// other command migrates first.
TEST_F(SftpctlTest, DbStatusAndMigrate) {
  auto st = Ctl({"db", "status", "--json"});
  ASSERT_EQ(st.exit_code, 0) << st.err;
  json j = json::parse(st.out);
  EXPECT_EQ(j["backend"], "sqlite");
  EXPECT_EQ(j["schema_version"], 0);
  EXPECT_EQ(j["pending"], db::Database::LatestVersion());
  auto m = Ctl({"db", "migrate"});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_NE(m.out.find("to " + std::to_string(db::Database::LatestVersion())), std::string::npos);
  EXPECT_NE(Ctl({"db", "migrate"}).out.find("up to date"), std::string::npos);
  json after = json::parse(Ctl({"db", "status", "--json"}).out);
  EXPECT_EQ(after["pending"], 0);
  EXPECT_EQ(after["schema_version"], db::Database::LatestVersion());
}

// A database newer than the binary is refused by every command (exit 5), changing nothing.
TEST_F(SftpctlTest, NewerDatabaseRefused) {
  ASSERT_EQ(Create("acme-ftp").exit_code, 0);
  {
    auto db = OpenDb();
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->Write<bool>([](soci::session& s) -> Result<bool> {
      int v = db::Database::LatestVersion() + 1;
      s << "INSERT INTO schema_version (version, name) VALUES (:v, 'future')", soci::use(v);
      return true;
    }));
  }
  std::string before = Snapshot();
  for (const auto& r :
       {Ctl({"account", "list"}), Create("bob"), Ctl({"db", "migrate"}), Ctl({"db", "status"})}) {
    EXPECT_EQ(r.exit_code, 5) << r.err;
    EXPECT_NE(r.err.find("newer than this program"), std::string::npos) << r.err;
  }
  EXPECT_EQ(Snapshot(), before);
}

// config check: a good file is 0 and tells the kernel's Landlock ABI (as the kernel answers
// it); a bad key is 4 naming the file and line; a missing file 2; $SFTPLC_CONFIG is used
// without --config.
TEST_F(SftpctlTest, ConfigCheck) {
  auto ok = Ctl({"config", "check", "--json"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  json checked = json::parse(ok.out);
  EXPECT_EQ(checked["ok"], true);
  long abi = syscall(SYS_landlock_create_ruleset, nullptr, 0, 1U /* ..._VERSION */);
  EXPECT_EQ(checked["landlock_abi"], abi < 0 ? 0 : abi);
  const bool warns = checked["warnings"].dump().find("no Landlock") != std::string::npos;
  EXPECT_EQ(warns, abi <= 0) << checked.dump();
  std::string bad = dir().Sub("bad.toml");
  WriteFile(bad, "[storage]\nroot = \"files\"\nrooot = \"typo\"\n");
  auto r =
      RunCommand(sftpctl().CommandLine("--config " + ShellQuote(bad) + " config check", false));
  EXPECT_EQ(r.exit_code, 4) << r.err;
  ExpectOneErrorLine(r);
  EXPECT_NE(r.err.find("bad.toml:3"), std::string::npos) << r.err;
  auto missing = RunCommand(sftpctl().CommandLine(
      "--config " + ShellQuote(dir().Sub("none.toml")) + " config check", false));
  EXPECT_EQ(missing.exit_code, 2) << missing.err;
  auto env = RunCommand("SFTPLC_CONFIG=" + ShellQuote(config_path()) + " " +
                        sftpctl().CommandLine("config check", false));
  EXPECT_EQ(env.exit_code, 0) << env.err;
  EXPECT_NE(env.out.find(config_path()), std::string::npos);
}

// hostkey show: a key not created yet is listed as missing (exit 2); an OpenSSH key's
// fingerprint is the one ssh-keygen prints; a PEM key is read through its .pub file, and without
// one it is a clear error (exit 4).
TEST_F(SftpctlTest, HostKeyShow) {
  const std::string ed = dir().Sub("var/ssh_host_ed25519_key");  // the default host_keys entry
  auto missing = Ctl({"hostkey", "show"});
  EXPECT_EQ(missing.exit_code, 2) << missing.err;
  EXPECT_NE(missing.out.find("missing " + ed), std::string::npos) << missing.out;

  std::filesystem::create_directories(dir().Sub("var"));
  ASSERT_EQ(RunCommand("ssh-keygen -q -t ed25519 -N '' -C '' -f " + ShellQuote(ed)).exit_code, 0);
  auto keygen = RunCommand("ssh-keygen -l -f " + ShellQuote(ed));
  ASSERT_EQ(keygen.exit_code, 0);
  std::string fingerprint = keygen.out.substr(keygen.out.find(' ') + 1);
  fingerprint = fingerprint.substr(0, fingerprint.find(' '));
  auto shown = Ctl({"hostkey", "show", "--json"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  json j = json::parse(shown.out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["path"], ed);
  EXPECT_EQ(j[0]["type"], "ssh-ed25519");
  EXPECT_EQ(j[0]["fingerprint"], fingerprint);
  auto text = Ctl({"hostkey", "show"});
  EXPECT_EQ(text.out, "ssh-ed25519 " + fingerprint + " " + ed + "\n");

  const std::string pem = dir().Sub("pem_key");
  ASSERT_EQ(RunCommand("ssh-keygen -q -t ecdsa -m PEM -N '' -C '' -f " + ShellQuote(pem)).exit_code,
            0);
  WriteConfig("[server]\nhost_keys = [\"" + pem +
              "\"]\n[storage]\nroot = \"files\"\n"
              "[database]\nurl = \"sqlite:accounts.db\"\n");
  auto with_pub = Ctl({"hostkey", "show", "--json"});
  ASSERT_EQ(with_pub.exit_code, 0) << with_pub.err;
  EXPECT_EQ(json::parse(with_pub.out)[0]["type"], "ecdsa-sha2-nistp256");
  std::filesystem::remove(pem + ".pub");
  auto without = Ctl({"hostkey", "show"});
  EXPECT_EQ(without.exit_code, 4) << without.err;
  ExpectOneErrorLine(without);
  EXPECT_NE(without.err.find(".pub"), std::string::npos) << without.err;
}

// --password-stdin stores an Argon2id hash of the line read; set-password replaces it.
TEST_F(SftpctlTest, PasswordFromStdin) {
  auto r = Ctl({"account", "create", "--username", "acme-ftp", "--name", "Ada Lovelace", "--email",
                "ada@example.com", "--phone", "+441513577700", "--password-stdin"},
               "correct horse battery staple\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("correct horse"), std::string::npos);
  std::string phc = StoredHash("acme-ftp");
  EXPECT_EQ(phc.rfind("$argon2id$", 0), 0u) << phc;
  EXPECT_TRUE(Verifies(phc, "correct horse battery staple"));
  EXPECT_FALSE(Verifies(phc, "correct horse battery stapl"));
  EXPECT_EQ(json::parse(Ctl({"account", "show", "acme-ftp", "--json"}).out)["has_password"], true);

  auto set =
      Ctl({"account", "set-password", "acme-ftp", "--password-stdin"}, "another long passphrase\n");
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_TRUE(Verifies(StoredHash("acme-ftp"), "another long passphrase"));
  EXPECT_EQ(Count("audit_events"), 2);  // create, set_password
}

// --generate-password prints the password once on its own line, and that password logs in.
TEST_F(SftpctlTest, GeneratedPassword) {
  auto r = Ctl({"account", "create", "--username", "acme-ftp", "--name", "Ada Lovelace", "--email",
                "ada@example.com", "--phone", "+441513577700", "--generate-password"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto pos = r.out.find("\npassword: ");
  ASSERT_NE(pos, std::string::npos) << r.out;
  std::string pw = r.out.substr(pos + 11, r.out.find('\n', pos + 1) - pos - 11);
  EXPECT_EQ(pw.size(), 24u) << pw;
  EXPECT_TRUE(Verifies(StoredHash("acme-ftp"), pw));
  auto set = Ctl({"account", "set-password", "acme-ftp", "--generate-password"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_FALSE(Verifies(StoredHash("acme-ftp"), pw));
}

// Bad passwords (too short, too long, two lines, empty) and a missing source are exit 4 and
// change nothing; a password is never accepted as an argument (exit 1).
TEST_F(SftpctlTest, BadPasswordsChangeNothing) {
  ASSERT_EQ(Create("acme-ftp").exit_code, 0);
  std::string before = Snapshot();
  for (const std::string& in : {std::string("short pw 11\n"), std::string(1025, 'p') + "\n",
                                std::string("first line ok\nsecond line\n"), std::string("")}) {
    auto r = Ctl({"account", "create", "--username", "newuser", "--name", "Ada Lovelace", "--email",
                  "ada@example.com", "--phone", "+441513577700", "--password-stdin"},
                 in);
    EXPECT_EQ(r.exit_code, 4) << r.err;
    ExpectOneErrorLine(r);
    auto s = Ctl({"account", "set-password", "acme-ftp", "--password-stdin"}, in);
    EXPECT_EQ(s.exit_code, 4) << s.err;
    ExpectOneErrorLine(s);
  }
  // stdin is not a terminal here: without a flag there is nobody to ask.
  auto none = Ctl({"account", "set-password", "acme-ftp"});
  EXPECT_EQ(none.exit_code, 4) << none.err;
  EXPECT_NE(none.err.find("--password-stdin"), std::string::npos) << none.err;
  auto arg = Ctl({"account", "set-password", "acme-ftp", "--password", "hunter2hunter2"});
  EXPECT_EQ(arg.exit_code, 1) << arg.err;
  EXPECT_EQ(Snapshot(), before);
  EXPECT_EQ(StoredHash("acme-ftp"), "");
}

// account export --output never leaves personal data in a file others can read: an existing
// file is refused (exit 3, untouched) unless --force, which replaces it (a symbolic link: the
// link, never its target) with a new 0600 file; no temporary file is left behind.
TEST_F(SftpctlTest, ExportOutputIsPrivateAndReplacedOnlyWithForce) {
  ASSERT_EQ(Create("acme-ftp").exit_code, 0);
  std::string out_dir = dir().Sub("out");
  std::filesystem::create_directory(out_dir);
  std::string target = out_dir + "/export.json";
  WriteFile(target, "old contents\n");
  ASSERT_EQ(chmod(target.c_str(), 0644), 0);
  auto r = Ctl({"account", "export", "acme-ftp", "--output", target});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  ExpectOneErrorLine(r);
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  EXPECT_EQ(::sftplc::testing::ReadFile(target), "old contents\n");

  r = Ctl({"account", "export", "acme-ftp", "--output", target, "--force"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(::sftplc::testing::ReadFile(target).find("ada@example.com"), std::string::npos);
  struct stat st {};
  ASSERT_EQ(lstat(target.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  std::string elsewhere = dir().Sub("elsewhere.txt");
  WriteFile(elsewhere, "not an export\n");
  std::string link = out_dir + "/link.json";
  ASSERT_EQ(symlink(elsewhere.c_str(), link.c_str()), 0);
  EXPECT_EQ(Ctl({"account", "export", "acme-ftp", "--output", link}).exit_code, 3);
  r = Ctl({"account", "export", "acme-ftp", "--format", "text", "--output", link, "--force"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(::sftplc::testing::ReadFile(elsewhere), "not an export\n");
  ASSERT_EQ(lstat(link.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  r = Ctl({"account", "export", "acme-ftp", "--output", out_dir, "--force"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  ExpectOneErrorLine(r);

  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(out_dir)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"export.json", "link.json"}));
}

// retention report ignores lost+found, and names any other entry of storage.root that is not an
// account folder (it stays overdue, exit 6, until it is moved away).
TEST_F(SftpctlTest, RetentionReportNamesStrayStorageEntries) {
  ASSERT_EQ(Create("acme-ftp").exit_code, 0);
  std::filesystem::create_directories(dir().Sub("files/lost+found"));
  auto r = Ctl({"retention", "report"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;

  std::filesystem::create_directories(dir().Sub("files/old-exports"));
  r = Ctl({"retention", "report"});
  EXPECT_EQ(r.exit_code, 6) << r.out << r.err;
  EXPECT_NE(r.out.find("old-exports"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("lost+found"), std::string::npos) << r.out;

  r = Ctl({"retention", "report", "--json"});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  json j = json::parse(r.out);
  int files = 0;
  for (const auto& e : j["entries"]) {
    if (e["record"] == "files") {
      ++files;
      EXPECT_EQ(e["name"], "old-exports");
      EXPECT_EQ(e["account_id"], "");
      EXPECT_EQ(e["status"], "overdue");
    } else {
      EXPECT_EQ(e["name"], "");
    }
  }
  EXPECT_EQ(files, 1);
  EXPECT_EQ(j["overdue"], 1);
}

// A client's file names that are not UTF-8, hold a newline or an escape sequence: account
// export answers in both formats (it failed with "unexpected failure" on the first), and
// retention report names a stray storage entry so named on one line, exactly in JSON.
TEST_F(SftpctlTest, ExportAndReportAnyFileName) {
  auto c = Create("acme-ftp");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  std::string id = c.out.substr(c.out.find("id=") + 3, 32);
  for (const char* name : {"\xff", "a\nb", "\x1b[31m"}) {
    WriteFile(dir().Sub("files/" + id + "/" + name), "x");
  }
  auto r = Ctl({"account", "export", "acme-ftp"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json files = json::parse(r.out)["categories"][3]["data"];
  ASSERT_EQ(files.size(), 3u);
  int escaped = 0;
  for (const auto& f : files) {
    if (f.contains("path_escaped")) {
      ++escaped;
      EXPECT_EQ(f["path_escaped"], "\\xff");
    }
  }
  EXPECT_EQ(escaped, 1);
  r = Ctl({"account", "export", "acme-ftp", "--format", "text"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("/a\\nb  ("), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);

  std::filesystem::create_directories(dir().Sub("files/x\ny\xfe"));
  r = Ctl({"retention", "report"});
  EXPECT_EQ(r.exit_code, 6) << r.out << r.err;
  EXPECT_NE(r.out.find("  x\\ny\\xfe  purge"), std::string::npos) << r.out;
  r = Ctl({"retention", "report", "--json"});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  bool found = false;
  json report = json::parse(r.out);
  for (const auto& e : report["entries"]) {
    if (e["record"] == "files") {
      found = true;
      EXPECT_EQ(e["name"], "x\ny\xef\xbf\xbd");
      EXPECT_EQ(e["name_escaped"], "x\\ny\\xfe");
    }
  }
  EXPECT_TRUE(found) << r.out;
}

// sftpctl is private by default whatever umask it is started with: the database it creates and
// its -wal/-shm are 0600, the account folder 0700; and `config check` warns about a config
// file others can read, naming it.
TEST_F(SftpctlTest, PrivateByDefault) {
  sftpctl().GiveWorld();
  auto c = RunCommand("umask 000 && " +
                      sftpctl().CommandLine("account create --username acme-ftp --name 'Ada "
                                            "Lovelace' --email ada@example.com --phone '+44 151 "
                                            "357 7700' --no-password") +
                      " </dev/null");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  std::string id = c.out.substr(c.out.find("id=") + 3, 32);
  auto mode = [](const std::string& f) {
    struct stat st {};
    return stat(f.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
  };
  EXPECT_EQ(mode(dir().Sub("accounts.db")), 0600);
  // SQLite removes -wal and -shm when the last connection closes; any left must be private.
  for (const char* f : {"accounts.db-wal", "accounts.db-shm"}) {
    int m = mode(dir().Sub(f));
    EXPECT_TRUE(m == -1 || m == 0600) << f << " " << std::oct << m;
  }
  EXPECT_EQ(mode(dir().Sub("files/" + id)) & 077, 0) << std::oct << mode(dir().Sub("files/" + id));

  ASSERT_EQ(chmod(config_path().c_str(), 0600), 0);
  auto r = Ctl({"config", "check"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("warning"), std::string::npos) << r.out;
  ASSERT_EQ(chmod(config_path().c_str(), 0644), 0);
  r = Ctl({"config", "check"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("warning: configuration file " + config_path() +
                       " is readable by group and others (mode 0644)"),
            std::string::npos)
      << r.out;
  r = Ctl({"config", "check", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["warnings"].size(), 1u) << r.out;
}

// account erase of an id whose account is gone but whose storage folder was left behind (an
// interrupted purge) removes the folder, even an empty one, says what it removed, exits 0 and
// writes an account.erase audit row; afterwards nothing is held (exit 2).
TEST_F(SftpctlTest, EraseRemovesLeftoverStorageFolder) {
  const std::string id = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
  const std::string empty_id = "1f1e2d3c4b5a69788796a5b4c3d2e1f0";
  WriteFile(dir().Sub("files/" + id + "/sub/a.txt"), "a");
  WriteFile(dir().Sub("files/" + id + "/b.txt"), "bb");
  std::filesystem::create_directories(dir().Sub("files/" + empty_id));

  auto r = Ctl({"account", "erase", id, "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("storage folder"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 file(s)"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir().Sub("files/" + id)));
  r = Ctl({"account", "erase", empty_id, "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("storage folder"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir().Sub("files/" + empty_id)));

  auto db = OpenDb();
  ASSERT_TRUE(db);
  for (const std::string& erased : {id, empty_id}) {
    auto rows = db->Read<int>([&](soci::session& s) -> Result<int> {
      int n = 0;
      std::string actor = "admin:" + OsUser();
      s << "SELECT COUNT(*) FROM audit_events WHERE action = 'account.erase' AND "
           "account_id = :i AND actor = :a",
          soci::use(erased), soci::use(actor), soci::into(n);
      return n;
    });
    EXPECT_EQ(rows.value_or(-1), 1) << erased;
  }
  r = Ctl({"account", "erase", id, "--yes"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  ExpectOneErrorLine(r);
  EXPECT_EQ(Ctl({"retention", "report"}).exit_code, 0);
}

// A folder a client left without owner rwx (chmod 000, on the account's folder too) does not stop
// its access request: sftpctl, as the service user, gives the owner rwx back and exports every
// file. A folder it cannot fix (immutable: only root can make one) makes account export fail
// (exit 5, naming the folder as the client sees it) instead of handing out an incomplete
// inventory of the files.
TEST_F(SftpctlTest, ExportReadsFoldersOfModeZeroAndFailsOnOnesItCannotFix) {
  auto c = Create("acme-ftp");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  std::string id = c.out.substr(c.out.find("id=") + 3, 32);
  std::string root = dir().Sub("files/" + id);
  WriteFile(root + "/outgoing/2026/invoice.pdf", "pdf");
  WriteFile(root + "/readme.txt", "hi");

  // sftpctl runs as the service user, whose modes hold (root would read anything).
  const std::string locked = root + "/outgoing/2026";
  for (const std::string& path : {locked, root}) {
    ASSERT_EQ(chmod(path.c_str(), 0), 0);
    auto r = Ctl({"account", "export", "acme-ftp"});
    ASSERT_EQ(r.exit_code, 0) << path << ": " << r.err;
    EXPECT_EQ(json::parse(r.out)["categories"][3]["data"].size(), 2u);
    struct stat st {};
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & S_IRWXU, S_IRWXU) << path;
  }

  ASSERT_EQ(chmod(locked.c_str(), 0), 0);
  if (RunCommand("chattr +i " + ShellQuote(locked)).exit_code != 0) {
    chmod(locked.c_str(), 0700);
    GTEST_SKIP() << "the file system of the test folder has no immutable attribute";
  }
  auto r = Ctl({"account", "export", "acme-ftp"});
  RunCommand("chattr -i " + ShellQuote(locked));
  chmod(locked.c_str(), 0700);
  EXPECT_EQ(r.exit_code, 5) << r.out << r.err;
  ExpectOneErrorLine(r);
  EXPECT_NE(r.err.find("\"/outgoing/2026\""), std::string::npos) << r.err;
}

// A broken lifecycle.templates_dir blocks only what renders a notice (lifecycle run): account
// confirm, lifecycle plan, a dry run and an erasure work without the templates.
TEST_F(SftpctlTest, BrokenTemplatesDoNotBlockErasure) {
  WriteConfig(::sftplc::testing::ReadFile(config_path()) +
              "[lifecycle]\ntemplates_dir = \"no-such-templates\"\n");
  ASSERT_EQ(Create("acme-ftp").exit_code, 0);
  auto r = Ctl({"account", "confirm", "acme-ftp"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = Ctl({"lifecycle", "plan"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = Ctl({"lifecycle", "run", "--dry-run"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = Ctl({"lifecycle", "run"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  ExpectOneErrorLine(r);
  EXPECT_NE(r.err.find("templates_dir"), std::string::npos) << r.err;
  r = Ctl({"account", "erase", "acme-ftp", "--yes"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Count("accounts"), 0);
}

// notices retry of an unknown id is exit 2 naming it, and changes nothing; a retry writes one
// notices.retry audit row per notice queued again. An access request (account export) is
// audited too, with no personal values.
TEST_F(SftpctlTest, NoticesRetryAndExportAreAudited) {
  auto c = Create("acme-ftp");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  std::string id = c.out.substr(c.out.find("id=") + 3, 32);
  {
    auto db = OpenDb();
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->Write<int>([&](soci::session& s) -> Result<int> {
      s << "INSERT INTO outbox (id, account_id, kind, event_key, state, created_at, attempts, "
           "last_error) VALUES (1, :a, 'inactivity_notice', 'inactivity:1', 'failed', 1000, 3, "
           "'smtp code 550')",
          soci::use(id);
      s << "INSERT INTO outbox (id, account_id, kind, event_key, state, created_at, attempts, "
           "sent_at) VALUES (2, :a, 'files_waiting', 'files:1', 'sent', 1000, 1, 1001)",
          soci::use(id);
      return 0;
    }));
  }
  auto audit = [&](const std::string& action) {
    auto db = OpenDb();
    std::vector<std::string> out;
    if (!db) {
      return out;
    }
    auto rows = db->Read<std::vector<std::string>>(
        [&](soci::session& s) -> Result<std::vector<std::string>> {
          std::vector<std::string> v;
          std::string actor, account, detail;
          soci::statement st =
              (s.prepare << "SELECT actor, account_id, detail FROM "
                            "audit_events WHERE action = :a ORDER BY id",
               soci::use(action), soci::into(actor), soci::into(account), soci::into(detail));
          st.execute();
          while (st.fetch()) {
            v.push_back(actor + "|" + account + "|" + detail);
          }
          return v;
        });
    return rows.value_or(out);
  };
  auto state = [&] {
    auto l = Ctl({"notices", "list", "--json"});
    return json::parse(l.out)[1]["state"].get<std::string>();  // newest first: id 2, then 1
  };

  auto r = Ctl({"notices", "retry", "1", "77", "78"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  ExpectOneErrorLine(r);
  EXPECT_NE(r.err.find("77"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("78"), std::string::npos) << r.err;
  EXPECT_EQ(state(), "failed");
  EXPECT_TRUE(audit("notices.retry").empty());

  r = Ctl({"notices", "retry", "1", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("1 notice(s) queued again"), std::string::npos) << r.out;
  EXPECT_EQ(state(), "pending");
  EXPECT_EQ(audit("notices.retry"), (std::vector<std::string>{"admin:" + OsUser() + "|" + id +
                                                              "|notice=1 kind=inactivity_notice"}));
  r = Ctl({"notices", "retry"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(audit("notices.retry").size(), 1u);

  ASSERT_EQ(Ctl({"account", "export", "acme-ftp"}).exit_code, 0);
  ASSERT_EQ(
      Ctl({"account", "export", id, "--format", "text", "--output", dir().Sub("a.txt")}).exit_code,
      0);
  auto exports = audit("account.export");
  ASSERT_EQ(exports.size(), 2u);
  const std::string prefix = "admin:" + OsUser() + "|" + id + "|";
  for (const auto& row : exports) {
    EXPECT_EQ(row.rfind(prefix, 0), 0u) << row;
    // After the id: a random hex id can hold "7700" itself.
    std::string details = row.substr(std::min(prefix.size(), row.size()));
    for (const char* personal : {"Ada", "Lovelace", "example.com", "7700", "a.txt"}) {
      EXPECT_EQ(details.find(personal), std::string::npos) << row;
    }
  }
}

// The export says retention periods in words ("2 years", "30 days"); its text gives an active
// account's deletion date as the earliest (each login moves it later) and a closed account's as
// the latest. --since names both forms it accepts.
TEST_F(SftpctlTest, ExportRetentionWording) {
  ASSERT_EQ(Create("acme-ftp").exit_code, 0);
  auto r = Ctl({"account", "export", "acme-ftp"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string retention = json::parse(r.out)["categories"][0]["retention"];
  EXPECT_NE(retention.find("2 years without a login"), std::string::npos) << retention;
  EXPECT_NE(retention.find("within 30 days"), std::string::npos) << retention;
  EXPECT_EQ(retention.find("2y"), std::string::npos) << retention;
  r = Ctl({"account", "export", "acme-ftp", "--format", "text"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("not before"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("at the latest"), std::string::npos) << r.out;

  ASSERT_EQ(Ctl({"account", "close", "acme-ftp"}).exit_code, 0);
  r = Ctl({"account", "export", "acme-ftp", "--format", "text"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("deleted within 30 days of the closure"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("at the latest"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("not before"), std::string::npos) << r.out;

  for (const char* cmd : {"show", "report"}) {
    auto help = RunCommand(sftpctl().CommandLine(std::string("usage ") + cmd + " --help", false));
    EXPECT_NE(help.out.find("YYYY-MM-DDTHH:MM:SSZ"), std::string::npos) << help.out;
  }
}

}  // namespace
}  // namespace sftplc::admin
