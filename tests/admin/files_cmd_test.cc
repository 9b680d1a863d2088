// Runs the built `sftpctl files ...` against a temporary configuration, SQLite database and
// storage root, and checks the files, the output, the exit codes and the rows written.

#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "sftpd/core/accounts/account_store.h"
#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/log.h"
#include "sftpd/core/db/sql.h"
#include "sftpd/core/usage/usage_store.h"
#include "tests/testing/cli_world.h"
#include "tests/testing/service_user.h"
#include "tests/testing/test_env.h"

namespace sftplc::admin {
namespace {

using nlohmann::json;
using ::sftplc::testing::CommandResult;
using ::sftplc::testing::ReadFile;
using ::sftplc::testing::RunCommand;
using ::sftplc::testing::ShellQuote;
using ::sftplc::testing::WriteFile;

// FNV-1a 64: a checksum to compare what went in with what came out.
uint64_t Checksum(const std::string& data) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : data) {
    h = (h ^ c) * 1099511628211ull;
  }
  return h;
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) {
    c = static_cast<char>(gen() & 0xff);
  }
  return s;
}

// Every name below `dir` with its size and mtime: "nothing outside changed" is this being equal.
std::string TreeState(const std::string& dir) {
  std::string out;
  std::error_code ec;
  std::set<std::string> lines;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st {};
    lstat(it->path().c_str(), &st);
    lines.insert(it->path().string() + " " + std::to_string(st.st_size) + " " +
                 std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec));
  }
  for (const auto& l : lines) {
    out += l + "\n";
  }
  return out;
}

class FilesCmdTest : public ::testing::Test, protected ::sftplc::testing::CliWorld {
 protected:
  void SetUp() override {
    auto r =
        Ctl("account create --username acme-ftp --name 'Ada Lovelace' --email "
            "ada@example.com --phone '+44 151 357 7700' --no-password");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto pos = r.out.find("id=");
    ASSERT_NE(pos, std::string::npos) << r.out;
    id_ = r.out.substr(pos + 3, 32);
    root_ = dir().Sub("files/" + id_);
  }

  int Count(const std::string& sql_count) {
    auto db = OpenDb();
    if (!db) {
      return -1;
    }
    auto n = db->Read<int>([&](soci::session& s) -> Result<int> {
      int c = 0;
      s << sql_count, soci::into(c);  // a test constant
      return c;
    });
    return n.value_or(-1);
  }

  // The OS user sftpctl runs as (what it audits as the actor).
  static std::string OsUser() { return ::sftplc::testing::TestServiceUser().name; }

  static void ExpectOneErrorLine(const CommandResult& r) {
    EXPECT_EQ(r.out, "");
    ASSERT_FALSE(r.err.empty());
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
    EXPECT_EQ(r.err.rfind("sftpctl: ", 0), 0u) << r.err;
  }

  std::string id_, root_;
};

// A 1 KiB and a 3 MiB file survive put then get byte for byte (checksums), land in the
// account's folder (also into a subfolder, also by account id), and print no progress when
// stderr is not a terminal.
TEST_F(FilesCmdTest, PutThenGetKeepsContent) {
  const std::string small = RandomBytes(1024, 1), large = RandomBytes(3 << 20, 2);
  WriteFile(dir().Sub("small.bin"), small);
  WriteFile(dir().Sub("large.bin"), large);
  ASSERT_EQ(mkdir((root_ + "/outgoing").c_str(), 0700), 0);

  auto p1 = Ctl("files put acme-ftp small.bin");
  ASSERT_EQ(p1.exit_code, 0) << p1.err;
  EXPECT_EQ(p1.err, "");
  EXPECT_NE(p1.out.find("/small.bin"), std::string::npos) << p1.out;
  auto p2 = Ctl("files put " + id_ + " large.bin /outgoing/");
  ASSERT_EQ(p2.exit_code, 0) << p2.err;
  EXPECT_EQ(p2.err, "");  // no progress line: stderr is not a terminal
  EXPECT_EQ(Checksum(ReadFile(root_ + "/small.bin")), Checksum(small));
  EXPECT_EQ(Checksum(ReadFile(root_ + "/outgoing/large.bin")), Checksum(large));

  auto g1 = Ctl("files get acme-ftp /small.bin back-small.bin");
  ASSERT_EQ(g1.exit_code, 0) << g1.err;
  ASSERT_EQ(mkdir(dir().Sub("dl").c_str(), 0700), 0);
  auto g2 = Ctl("files get acme-ftp outgoing/large.bin", "", dir().Sub("dl"));  // default: its name
  ASSERT_EQ(g2.exit_code, 0) << g2.err;
  EXPECT_EQ(g2.err, "");
  EXPECT_EQ(Checksum(ReadFile(dir().Sub("back-small.bin"))), Checksum(small));
  EXPECT_EQ(Checksum(ReadFile(dir().Sub("dl/large.bin"))), Checksum(large));
}

// On a terminal (script(1) gives the command a pty) a large put and get show progress on
// stderr: bytes, percent, rate, ending at 100%; a small file shows none.
TEST_F(FilesCmdTest, ProgressOnTerminal) {
  if (RunCommand("command -v script").exit_code != 0) {
    GTEST_SKIP() << "script(1) is not installed";
  }
  WriteFile(dir().Sub("big.bin"), RandomBytes(4 << 20, 4));
  WriteFile(dir().Sub("tiny.bin"), "tiny");
  auto InPty = [&](const std::string& args) {
    sftpctl().GiveWorld();
    return RunCommand("cd " + ShellQuote(dir().path()) + " && script -qec " +
                      ShellQuote(sftpctl().CommandLine(args)) + " /dev/null");
  };
  auto put = InPty("files put acme-ftp big.bin");
  ASSERT_EQ(put.exit_code, 0) << put.out << put.err;
  EXPECT_NE(put.out.find("4.0 MiB / 4.0 MiB  100%"), std::string::npos) << put.out;
  EXPECT_NE(put.out.find("/s"), std::string::npos) << put.out;
  auto get = InPty("files get acme-ftp big.bin big.back");
  ASSERT_EQ(get.exit_code, 0) << get.out << get.err;
  EXPECT_NE(get.out.find("100%"), std::string::npos) << get.out;
  auto tiny = InPty("files put acme-ftp tiny.bin");
  ASSERT_EQ(tiny.exit_code, 0) << tiny.out << tiny.err;
  EXPECT_EQ(tiny.out.find('%'), std::string::npos) << tiny.out;
}

// get refuses to replace an existing local file without --force (exit 3), and replaces it with.
TEST_F(FilesCmdTest, GetDoesNotOverwriteWithoutForce) {
  WriteFile(dir().Sub("a.txt"), "new content");
  ASSERT_EQ(Ctl("files put acme-ftp a.txt").exit_code, 0);
  WriteFile(dir().Sub("local.txt"), "keep me");
  auto r = Ctl("files get acme-ftp a.txt local.txt");
  EXPECT_EQ(r.exit_code, 3);
  ExpectOneErrorLine(r);
  EXPECT_EQ(ReadFile(dir().Sub("local.txt")), "keep me");
  ASSERT_EQ(Ctl("files get acme-ftp a.txt local.txt --force").exit_code, 0);
  EXPECT_EQ(ReadFile(dir().Sub("local.txt")), "new content");
  // Into a local folder: under the remote name.
  ASSERT_EQ(mkdir(dir().Sub("into").c_str(), 0700), 0);
  ASSERT_EQ(Ctl("files get acme-ftp /a.txt into").exit_code, 0);
  EXPECT_EQ(ReadFile(dir().Sub("into/a.txt")), "new content");
}

// list prints the entries as text and JSON, descends with --recursive only, and lists a file
// by itself.
TEST_F(FilesCmdTest, ListTextAndJson) {
  WriteFile(root_ + "/top.txt", "12345");
  WriteFile(root_ + "/sub/inner.txt", "1234567");
  auto flat = Ctl("files list acme-ftp --json");
  ASSERT_EQ(flat.exit_code, 0) << flat.err;
  json j = json::parse(flat.out);
  EXPECT_EQ(j["account_id"], id_);
  ASSERT_EQ(j["entries"].size(), 2u);
  EXPECT_EQ(j["entries"][0]["path"], "/sub");
  EXPECT_EQ(j["entries"][0]["type"], "dir");
  EXPECT_EQ(j["entries"][1]["path"], "/top.txt");
  EXPECT_EQ(j["entries"][1]["type"], "file");
  EXPECT_EQ(j["entries"][1]["size"], 5);

  auto rec = Ctl("files list acme-ftp / --recursive --json");
  ASSERT_EQ(rec.exit_code, 0) << rec.err;
  json jr = json::parse(rec.out);
  ASSERT_EQ(jr["entries"].size(), 3u);
  EXPECT_EQ(jr["entries"][1]["path"], "/sub/inner.txt");
  EXPECT_EQ(jr["entries"][1]["size"], 7);

  auto text = Ctl("files list acme-ftp sub");
  ASSERT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("/sub/inner.txt"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("/top.txt"), std::string::npos) << text.out;
  EXPECT_EQ(Ctl("files list acme-ftp /missing").exit_code, 2);
}

// Names a client can give its files (not UTF-8, a newline, an escape sequence) list without
// an error: JSON keeps them exact (an escaped form next to a name that is not UTF-8), text
// prints each on one line with nothing a terminal would act on.
TEST_F(FilesCmdTest, ListAnyFileName) {
  for (const char* name : {"\xff", "a\nb", "\x1b[31m"}) {
    WriteFile(root_ + "/" + name, "x");
  }
  auto r = Ctl("files list acme-ftp --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  ASSERT_EQ(j["entries"].size(), 3u);
  std::map<std::string, json> by_path;
  for (const auto& e : j["entries"]) {
    by_path[e["path"].get<std::string>()] = e;
  }
  ASSERT_EQ(by_path.count("/\xef\xbf\xbd"), 1u) << r.out;
  EXPECT_EQ(by_path["/\xef\xbf\xbd"]["path_escaped"], "/\\xff");
  EXPECT_EQ(by_path.count("/a\nb"), 1u) << r.out;
  EXPECT_EQ(by_path.count("/\x1b[31m"), 1u) << r.out;

  auto text = Ctl("files list acme-ftp");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("  /\\xff\n"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("  /a\\nb\n"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("  /\\x1b[31m\n"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find('\x1b'), std::string::npos);
  int lines = 0;
  for (char c : text.out) {
    lines += c == '\n';
  }
  EXPECT_EQ(lines, 3) << text.out;
}

// rm removes a file and an empty folder; a missing path is exit 2, a non-empty folder exit 3,
// the account's folder itself exit 4.
TEST_F(FilesCmdTest, Rm) {
  WriteFile(root_ + "/d/f.txt", "x");
  auto r = Ctl("files rm acme-ftp /d/f.txt");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(std::filesystem::exists(root_ + "/d/f.txt"));
  EXPECT_EQ(Ctl("files rm acme-ftp /d/f.txt").exit_code, 2);
  WriteFile(root_ + "/d/g.txt", "x");
  auto full = Ctl("files rm acme-ftp d");
  EXPECT_EQ(full.exit_code, 3);
  ExpectOneErrorLine(full);
  ASSERT_EQ(Ctl("files rm acme-ftp d/g.txt").exit_code, 0);
  ASSERT_EQ(Ctl("files rm acme-ftp d").exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(root_ + "/d"));
  EXPECT_EQ(Ctl("files rm acme-ftp /").exit_code, 4);
  EXPECT_TRUE(std::filesystem::is_directory(root_));
}

// Paths that try to leave the account's folder (".." components, symlinks pointing out,
// absolute or relative) are refused with exit 4 (an absolute client path stays inside: exit 2),
// and nothing outside the folder is read, changed or created.
TEST_F(FilesCmdTest, EscapesRefusedNothingOutsideTouched) {
  const std::string outside = dir().Sub("outside");
  WriteFile(outside + "/sentinel", "do not touch");
  WriteFile(dir().Sub("payload"), "payload");
  ASSERT_EQ(symlink(outside.c_str(), (root_ + "/abs-out").c_str()), 0);
  ASSERT_EQ(symlink("../../outside", (root_ + "/rel-out").c_str()), 0);
  ASSERT_EQ(symlink((outside + "/sentinel").c_str(), (root_ + "/file-out").c_str()), 0);
  const std::string before = TreeState(outside);
  const std::string files_before = TreeState(dir().Sub("files"));
  std::string etc_passwd_before = ReadFile("/etc/passwd");

  for (const std::string& args :
       {std::string("files put acme-ftp payload ../../etc/passwd"),
        std::string("files put acme-ftp payload ../outside/sentinel"),
        std::string("files put acme-ftp payload /../../outside/x"),
        std::string("files put acme-ftp payload abs-out/sentinel"),
        std::string("files put acme-ftp payload rel-out/new"),
        std::string("files put acme-ftp payload abs-out/"),
        std::string("files get acme-ftp ../../etc/passwd got1"),
        std::string("files get acme-ftp abs-out/sentinel got2"),
        std::string("files get acme-ftp rel-out/sentinel got3"),
        std::string("files get acme-ftp file-out got4"),
        std::string("files rm acme-ftp abs-out/sentinel"),
        std::string("files rm acme-ftp ../outside/sentinel"),
        std::string("files list acme-ftp abs-out/"), std::string("files list acme-ftp ../..")}) {
    auto r = Ctl(args);
    EXPECT_EQ(r.exit_code, 4) << args << ": " << r.err;
    ExpectOneErrorLine(r);
  }
  // An absolute client path names a file in the account's folder, never the host's.
  EXPECT_EQ(Ctl("files get acme-ftp /etc/passwd got5").exit_code, 2);
  EXPECT_EQ(Ctl("files put acme-ftp payload /etc/passwd").exit_code, 2);

  EXPECT_EQ(TreeState(outside), before);
  EXPECT_EQ(ReadFile(outside + "/sentinel"), "do not touch");
  EXPECT_EQ(TreeState(dir().Sub("files")), files_before);  // no half-written temporary left
  EXPECT_EQ(ReadFile("/etc/passwd"), etc_passwd_before);
  for (const char* got : {"got1", "got2", "got3", "got4", "got5"}) {
    EXPECT_FALSE(std::filesystem::exists(dir().Sub(got))) << got;
  }
}

// Each command writes a usage session row (actor admin:<os user>, auth "admin", bytes and file
// counts, closed), an audit row without paths, and put/get move last_activity_at.
TEST_F(FilesCmdTest, UsageAuditAndActivityRecorded) {
  WriteFile(dir().Sub("data.bin"), RandomBytes(5000, 3));
  ASSERT_EQ(Ctl("files put acme-ftp data.bin /secret-name.bin").exit_code, 0);
  ASSERT_EQ(Ctl("files get acme-ftp /secret-name.bin out.bin").exit_code, 0);
  ASSERT_EQ(Ctl("files rm acme-ftp /secret-name.bin").exit_code, 0);

  auto db = OpenDb();
  ASSERT_TRUE(db);
  auto id = AccountId::Parse(id_);
  ASSERT_TRUE(id);
  usage::UsageStore usage(*db, SystemClock::Instance());
  auto sessions = usage.ListSessions(*id, std::nullopt, 10);
  ASSERT_TRUE(sessions);
  ASSERT_EQ(sessions->size(), 3u);
  usage::Counters total;
  for (const auto& s : *sessions) {
    EXPECT_EQ(s.actor, "admin:" + OsUser());
    EXPECT_EQ(s.auth_method, "admin");
    EXPECT_TRUE(s.ended_at.has_value());
    EXPECT_EQ(s.end_reason, "closed");
    total += s.counters;
  }
  EXPECT_EQ(total.bytes_in, 5000u);
  EXPECT_EQ(total.bytes_out, 5000u);
  EXPECT_EQ(total.files_uploaded, 1u);
  EXPECT_EQ(total.files_downloaded, 1u);
  EXPECT_EQ(total.files_removed, 1u);

  accounts::AccountStore store(*db, SystemClock::Instance());
  auto audit = store.ListAudit(*id, 20);
  ASSERT_TRUE(audit);
  std::set<std::string> actions;
  for (const auto& e : *audit) {
    actions.insert(e.action);
    EXPECT_EQ(e.detail.find("secret-name"), std::string::npos) << e.detail;
    if (e.action == "files.put") {
      EXPECT_EQ(e.actor, "admin:" + OsUser());
      EXPECT_EQ(e.detail, "bytes=5000 files=1");
    }
  }
  EXPECT_TRUE(actions.count("files.put"));
  EXPECT_TRUE(actions.count("files.get"));
  EXPECT_TRUE(actions.count("files.rm"));
  auto a = store.Get(*id);
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->last_activity_at.has_value());

  // A failed command still closes its usage row, as "failed", with nothing counted.
  EXPECT_EQ(Ctl("files get acme-ftp /missing.bin x.bin").exit_code, 2);
  auto after = usage.ListSessions(*id, std::nullopt, 10);
  ASSERT_TRUE(after);
  ASSERT_EQ(after->size(), 4u);
  int failed = 0;
  for (const auto& s : *after) {
    if (s.end_reason == "failed") {
      ++failed;
      EXPECT_EQ(s.counters, usage::Counters{});
    }
  }
  EXPECT_EQ(failed, 1);
}

// put --notify queues exactly one files_waiting notice in the outbox; a put without it none.
TEST_F(FilesCmdTest, NotifyQueuesOneNotice) {
  WriteFile(dir().Sub("report.pdf"), "pdf");
  ASSERT_EQ(Ctl("files put acme-ftp report.pdf").exit_code, 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM outbox"), 0);
  auto r = Ctl("files put acme-ftp report.pdf /report-2.pdf --notify");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Count("SELECT COUNT(*) FROM outbox"), 1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM outbox WHERE kind = 'files_waiting' AND state = "
                  "'pending' AND account_id = '" +
                  id_ + "'"),  // id_: hex digits only
            1);
}

// A closed account refuses put (exit 3, nothing written) but still allows list and get, so an
// admin can retrieve its data before the purge.
TEST_F(FilesCmdTest, ClosedAccountRefusesPutAllowsGetAndList) {
  WriteFile(root_ + "/kept.txt", "kept");
  WriteFile(dir().Sub("new.txt"), "new");
  ASSERT_EQ(Ctl("account close acme-ftp").exit_code, 0);
  auto put = Ctl("files put acme-ftp new.txt");
  EXPECT_EQ(put.exit_code, 3);
  ExpectOneErrorLine(put);
  EXPECT_FALSE(std::filesystem::exists(root_ + "/new.txt"));
  auto list = Ctl("files list acme-ftp");
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("/kept.txt"), std::string::npos);
  ASSERT_EQ(Ctl("files get acme-ftp kept.txt kept.txt").exit_code, 0);
  EXPECT_EQ(ReadFile(dir().Sub("kept.txt")), "kept");
}

// An unknown account is exit 2, a missing local file exit 2, a local folder exit 4; each one
// line on stderr.
TEST_F(FilesCmdTest, Errors) {
  auto r = Ctl("files list nobody");
  EXPECT_EQ(r.exit_code, 2);
  ExpectOneErrorLine(r);
  auto missing = Ctl("files put acme-ftp no-such-file");
  EXPECT_EQ(missing.exit_code, 2);
  ExpectOneErrorLine(missing);
  ASSERT_EQ(mkdir(dir().Sub("adir").c_str(), 0700), 0);
  auto folder = Ctl("files put acme-ftp adir");
  EXPECT_EQ(folder.exit_code, 4);
  ExpectOneErrorLine(folder);
  EXPECT_EQ(Ctl("files").exit_code, 1);
}

}  // namespace
}  // namespace sftplc::admin
