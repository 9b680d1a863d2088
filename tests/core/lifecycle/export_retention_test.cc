#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>

#include "sftpd/core/lifecycle/export.h"
#include "sftpd/core/lifecycle/retention.h"
#include "tests/core/lifecycle/lifecycle_fixture.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/service_user.h"
#include "tests/testing/temp_dir.h"

namespace sftplc::lifecycle {
namespace {

using testing::T;

class ExportRetentionTest : public ::testing::TestWithParam<db::Backend> {
 protected:
  void SetUp() override {
    env_ = testing::LifecycleEnv::Create(GetParam(), "lifecycle_export");
    if (!env_) {
      if (GetParam() == db::Backend::kPostgresql && testing::SkipAllowed()) {
        GTEST_SKIP() << "no PostgreSQL test server (SFTPLC_TEST_PG_URL)";
      }
      GTEST_FAIL() << "no test database";
    }
  }
  std::unique_ptr<testing::LifecycleEnv> env_;
};

// Every category of a live account has a description, purpose, legal basis, no recipients and
// a retention deadline computed for this account; the data is all there.
TEST_P(ExportRetentionTest, ExportLiveAccount) {
  AccountId id = env_->AddAccount(T("2026-01-10"), true);
  env_->Login(id, T("2026-03-01T10:00:00Z"));
  auto e = ExportAccount(*env_->db, env_->cfg, id, T("2026-03-02"));
  ASSERT_TRUE(e) << e.error().ToString();
  EXPECT_EQ((*e)["status"], "active");
  std::set<std::string> names;
  for (const auto& c : (*e)["categories"]) {
    names.insert(c["category"].get<std::string>());
    EXPECT_FALSE(c["description"].get<std::string>().empty());
    EXPECT_FALSE(c["purpose"].get<std::string>().empty());
    EXPECT_FALSE(c["legal_basis"].get<std::string>().empty());
    EXPECT_TRUE(c["recipients"].is_array() && c["recipients"].empty());
    EXPECT_FALSE(c["retention_deadline"].is_null()) << c["category"];
  }
  EXPECT_EQ(names, (std::set<std::string>{"profile", "credentials", "usage", "files", "notices",
                                          "lifecycle", "marketing_consent"}));
  const auto& profile = (*e)["categories"][0];
  auto a = env_->Get(id);
  EXPECT_EQ(profile["data"]["email"], a->email);
  // 2026-03-01 + 2y + 30d + 30d
  EXPECT_EQ(profile["retention_deadline"], "2028-04-30T10:00:00Z");
  const auto& files = (*e)["categories"][3];
  ASSERT_EQ(files["data"].size(), 1u);
  EXPECT_EQ(files["data"][0]["path"], "inbox/report.pdf");
  const auto& consent = (*e)["categories"][6];
  EXPECT_EQ(consent["legal_basis"], "consent");
  EXPECT_EQ(consent["data"]["ledger"].size(), 1u);
  std::string text = ExportText(*e);
  EXPECT_NE(text.find("Disclosed to:   no one"), std::string::npos);
  EXPECT_NE(text.find(a->email), std::string::npos);
}

// Names a client can give its files (not UTF-8, a newline, an escape sequence) are exported
// losslessly, the JSON dumps without an exception, and no name forges a line in the letter.
TEST_P(ExportRetentionTest, ExportAnyFileName) {
  AccountId id = env_->AddAccount(T("2026-01-10"), false);
  for (const char* name : {"\xff", "a\nb", "\x1b[31m"}) {
    testing::WriteFile(env_->storage.Sub(id.str() + "/" + name), "x");
  }
  auto e = ExportAccount(*env_->db, env_->cfg, id, T("2026-03-02"));
  ASSERT_TRUE(e) << e.error().ToString();
  std::string dumped;
  ASSERT_NO_THROW(dumped = e->dump(2));
  const auto& files = (*e)["categories"][3]["data"];
  ASSERT_EQ(files.size(), 4u);
  std::map<std::string, nlohmann::ordered_json> by_path;
  for (const auto& f : files) {
    by_path[f["path"].get<std::string>()] = f;
  }
  ASSERT_EQ(by_path.count("\xef\xbf\xbd"), 1u) << dumped;
  EXPECT_EQ(by_path["\xef\xbf\xbd"]["path_escaped"], "\\xff");
  ASSERT_EQ(by_path.count("a\nb"), 1u);
  EXPECT_FALSE(by_path["a\nb"].contains("path_escaped"));
  ASSERT_EQ(by_path.count("\x1b[31m"), 1u);
  std::string text = ExportText(*e);
  EXPECT_NE(text.find("  /\\xff  (1 bytes"), std::string::npos) << text;
  EXPECT_NE(text.find("  /a\\nb  (1 bytes"), std::string::npos) << text;
  EXPECT_NE(text.find("  /\\x1b[31m  (1 bytes"), std::string::npos) << text;
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
  EXPECT_EQ(text.find("\nb  (1 bytes"), std::string::npos);
}

// A client's `chmod 000` on its folder and on a folder inside does not stop its access request:
// the export, made without root's bypass of file modes (as the service user makes it), lists
// every file, and the folders have owner rwx again.
TEST_P(ExportRetentionTest, ExportFoldersOfModeZero) {
  AccountId id = env_->AddAccount(T("2026-01-10"), false);
  std::string folder = env_->storage.Sub(id.str());
  int root = open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(root, 0);
  int sub = testing::MkdirAt(root, "locked");
  testing::TouchAt(sub, "kept.txt", "x", 0000);
  fchmod(sub, 0000);
  close(sub);
  fchmod(root, 0000);
  close(root);
  testing::OnThreadWithoutDacCapabilities(env_->storage.Sub(".probe"), [&] {
    auto e = ExportAccount(*env_->db, env_->cfg, id, T("2026-03-02"));
    ASSERT_TRUE(e) << e.error().ToString();
    const auto& files = (*e)["categories"][3]["data"];
    ASSERT_EQ(files.size(), 2u);
    EXPECT_EQ(files[0]["path"], "inbox/report.pdf");
    EXPECT_EQ(files[1]["path"], "locked/kept.txt");
  });
  struct stat st {};
  ASSERT_EQ(stat((folder + "/locked").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & S_IRWXU, S_IRWXU);
}

// After a purge with consent, the export shows the marketing contact and the purge.
TEST_P(ExportRetentionTest, ExportPurgedAccountWithContact) {
  AccountId id = env_->AddAccount(T("2026-01-10"), true);
  env_->Close(id, T("2026-05-01"));
  testing::Sweep(*env_, T("2026-05-31"));
  auto e = ExportAccount(*env_->db, env_->cfg, id, T("2026-06-01"));
  ASSERT_TRUE(e) << e.error().ToString();
  EXPECT_EQ((*e)["status"], "purged");
  EXPECT_EQ((*e)["purge"]["reason"], "request");
  ASSERT_EQ((*e)["categories"].size(), 1u);
  EXPECT_EQ((*e)["categories"][0]["category"], "marketing_contact");
  EXPECT_EQ(ExportAccount(*env_->db, env_->cfg, AccountId::New(), T("2026-06-01")).error().code(),
            ErrorCode::kNotFound);
}

// The report flags what a sweep should have done but did not, and is clean after the sweep.
TEST_P(ExportRetentionTest, ReportFlagsMissedDeadlines) {
  AccountId id = env_->AddAccount(T("2026-01-10"), false);
  env_->Close(id, T("2026-05-01"));
  auto rep = BuildRetentionReport(*env_->db, env_->cfg, T("2026-05-31T00:30:00Z"));
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->overdue, 0);  // due, but within one sweep interval
  rep = BuildRetentionReport(*env_->db, env_->cfg, T("2026-05-31T01:00:01Z"));
  EXPECT_EQ(rep->overdue, 1);
  testing::Sweep(*env_, T("2026-05-31T01:00:01Z"));
  rep = BuildRetentionReport(*env_->db, env_->cfg, T("2026-05-31T01:00:02Z"));
  EXPECT_EQ(rep->overdue, 0);
  EXPECT_EQ(rep->receipts, 1);
}

// Undelivered notices are shown as waiting; orphaned storage folders as overdue.
TEST_P(ExportRetentionTest, ReportShowsWaitingMailAndOrphanFiles) {
  env_->AddAccount(T("2026-01-10"), false);
  env_->mailer.SetDown(true);
  testing::Sweep(*env_, T("2028-01-10"));
  testing::WriteFile(env_->storage.Sub(AccountId::New().str() + "/left.txt"), "x");
  auto rep = BuildRetentionReport(*env_->db, env_->cfg, T("2028-01-11"));
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->waiting, 2);  // the account, and its notice
  EXPECT_EQ(rep->overdue, 1);  // the orphaned folder
}

INSTANTIATE_TEST_SUITE_P(Backends, ExportRetentionTest,
                         ::testing::Values(db::Backend::kSqlite, db::Backend::kPostgresql),
                         testing::BackendName);

}  // namespace
}  // namespace sftplc::lifecycle
