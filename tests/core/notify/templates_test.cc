#include "sftpd/core/notify/templates.h"

#include <gtest/gtest.h>

#include "tests/testing/temp_dir.h"

namespace sftplc::notify {
namespace {

std::map<std::string, std::string> Values() {
  return {{"name", "Jane Doe"},
          {"username", "jdoe"},
          {"service", "CX Services secure FTP facility"},
          {"reply_to", "sftp@example.com"},
          {"last_activity", "2026-01-10"},
          {"deadline", "2028-02-09"},
          {"purge_date", "2028-03-10"},
          {"account_id", "0123abcd"}};
}

// The default inactivity notice says what happens, by when, and how to confirm.
TEST(TemplatesTest, DefaultInactivityNoticeExplainsDeadlineAndHowToConfirm) {
  auto r = TemplateSet::Defaults().Render(NoticeKind::kInactivity, Values());
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->subject, "Is your CX Services secure FTP facility account still needed?");
  EXPECT_NE(r->body.find("Dear Jane Doe"), std::string::npos);
  EXPECT_NE(r->body.find("confirm\nby 2028-02-09"), std::string::npos);
  EXPECT_NE(r->body.find("log in"), std::string::npos);
  EXPECT_NE(r->body.find("reply to this email"), std::string::npos);
  EXPECT_NE(r->body.find("close the account"), std::string::npos);
  EXPECT_NE(r->body.find("within a month"), std::string::npos);
  EXPECT_EQ(r->body.find('{'), std::string::npos);
}

// The closure notice names the purge date; the files notice lists the files.
TEST(TemplatesTest, ClosureAndFilesDefaults) {
  auto closure = TemplateSet::Defaults().Render(NoticeKind::kClosure, Values());
  ASSERT_TRUE(closure);
  EXPECT_NE(closure->body.find("deleted by 2028-03-10"), std::string::npos);
  auto values = Values();
  values["file_count"] = "2";
  values["files"] = "  report.pdf\n  data.csv";
  auto files = TemplateSet::Defaults().Render(NoticeKind::kFilesWaiting, values);
  ASSERT_TRUE(files);
  EXPECT_NE(files->body.find("2 new file(s)"), std::string::npos);
  EXPECT_NE(files->body.find("  data.csv"), std::string::npos);
}

// A template file in templates_dir overrides the default; missing files keep defaults.
TEST(TemplatesTest, FileOverridesDefault) {
  testing::TempDir dir;
  testing::WriteFile(dir.Sub("inactivity_notice.txt"),
                     "Subject: Still there, {name}?\n\nReply by {deadline}. {{literal}}\n");
  auto set = TemplateSet::Load(dir.path());
  ASSERT_TRUE(set) << set.error().ToString();
  auto r = set->Render(NoticeKind::kInactivity, Values());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->subject, "Still there, Jane Doe?");
  EXPECT_EQ(r->body, "Reply by 2028-02-09. {literal}\n");
  EXPECT_EQ(set->Get(NoticeKind::kClosure).subject,
            TemplateSet::Defaults().Get(NoticeKind::kClosure).subject);
}

// A typo in a placeholder or a missing Subject line is refused at load, naming the file.
TEST(TemplatesTest, BadTemplatesRefusedAtLoad) {
  testing::TempDir dir;
  testing::WriteFile(dir.Sub("closure_notice.txt"), "Subject: x\n\nBy {purgedate}\n");
  auto set = TemplateSet::Load(dir.path());
  ASSERT_FALSE(set);
  EXPECT_NE(set.error().message().find("closure_notice.txt"), std::string::npos);
  EXPECT_NE(set.error().message().find("{purgedate}"), std::string::npos);
  testing::TempDir dir2;
  testing::WriteFile(dir2.Sub("files_waiting.txt"), "Hello {name}\n");
  EXPECT_FALSE(TemplateSet::Load(dir2.path()));
  EXPECT_EQ(TemplateSet::Load(dir.Sub("missing")).error().code(), ErrorCode::kNotFound);
}

// A value with a newline cannot break the subject into two header lines.
TEST(TemplatesTest, SubjectValuesFlattened) {
  auto values = Values();
  values["service"] = "x\r\nBcc: a@b.c";
  auto r = TemplateSet::Defaults().Render(NoticeKind::kClosure, values);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->subject.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace sftplc::notify
