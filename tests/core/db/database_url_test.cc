#include <gtest/gtest.h>

#include "sftpd/core/db/database.h"
#include "sftpd/core/db/migrations_data.h"

namespace sftplc::db {
namespace {

// A SQLite URL names a file; sqlite:///abs also works.
TEST(DatabaseUrlTest, SqlitePaths) {
  auto u = ParseDatabaseUrl("sqlite:/var/lib/sftp/accounts.db");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->backend, Backend::kSqlite);
  EXPECT_EQ(u->sqlite_path, "/var/lib/sftp/accounts.db");
  auto u2 = ParseDatabaseUrl("sqlite:///tmp/a b.db");
  ASSERT_TRUE(u2);
  EXPECT_EQ(u2->sqlite_path, "/tmp/a b.db");
  EXPECT_EQ(u2->ToString(), "sqlite:/tmp/a b.db");
}

// A PostgreSQL URL yields user, host, port and database; the port defaults to 5432.
TEST(DatabaseUrlTest, PostgresqlParts) {
  auto u = ParseDatabaseUrl("postgresql://sftp@db.example.com:6543/accounts?sslmode=require");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->backend, Backend::kPostgresql);
  EXPECT_EQ(u->user, "sftp");
  EXPECT_EQ(u->host, "db.example.com");
  EXPECT_EQ(u->port, 6543);
  EXPECT_EQ(u->dbname, "accounts");
  EXPECT_EQ(u->params.at("sslmode"), "require");
  EXPECT_EQ(u->ToString(), "postgresql://sftp@db.example.com:6543/accounts?sslmode=require");

  auto v = ParseDatabaseUrl("postgres://[::1]/x");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->host, "::1");
  EXPECT_EQ(v->port, 5432);
  EXPECT_EQ(v->user, "");
}

// Malformed URLs are refused with kInvalidArgument, and a password in the URL is refused
// without being repeated in the message.
TEST(DatabaseUrlTest, RefusesMalformed) {
  for (const char* bad :
       {"", "sqlite:", "mysql://u@h/db", "postgresql://u@h:5432/", "postgresql://u@h:0/db",
        "postgresql://u@h:99999/db", "postgresql://u@h:x/db", "postgresql://u@/db",
        "postgresql://u@h/d;b", "postgresql://u@h/db?options=-c", "postgresql://u@[::1/db",
        "sqlite:/tmp/a\"b.db"}) {
    auto u = ParseDatabaseUrl(bad);
    ASSERT_FALSE(u) << bad;
    EXPECT_EQ(u.error().code(), ErrorCode::kInvalidArgument) << bad;
  }
  auto pw = ParseDatabaseUrl("postgresql://u:hunter2secret@h/db");
  ASSERT_FALSE(pw);
  EXPECT_EQ(pw.error().message().find("hunter2secret"), std::string::npos);
  EXPECT_NE(pw.error().message().find("password_file"), std::string::npos);
}

// Statements end with ';' at a line end; comment-only lines and empty statements vanish.
TEST(SplitSqlStatementsTest, SplitsAtLineEndSemicolons) {
  auto s = SplitSqlStatements(
      "-- header\nCREATE TABLE a (\n  x TEXT DEFAULT ';'\n);\n\n  -- note\n"
      "CREATE INDEX i ON a (x);  \n-- trailing comment\n");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0], "CREATE TABLE a (\n  x TEXT DEFAULT ';'\n)");
  EXPECT_EQ(s[1], "CREATE INDEX i ON a (x)");
  EXPECT_TRUE(SplitSqlStatements("-- only a comment\n").empty());
}

// The compiled-in migrations split into statements on both backends, with the same numbers.
TEST(SplitSqlStatementsTest, EmbeddedMigrationsAlign) {
  EXPECT_GE(Database::LatestVersion(), 1);
  EXPECT_FALSE(SplitSqlStatements(sqlite_migrations().front().sql).empty());
  ASSERT_EQ(sqlite_migrations().size(), postgresql_migrations().size());
  for (std::size_t i = 0; i < sqlite_migrations().size(); ++i) {
    EXPECT_EQ(sqlite_migrations()[i].version, postgresql_migrations()[i].version);
  }
}

}  // namespace
}  // namespace sftplc::db
