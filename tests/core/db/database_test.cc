#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "sftpd/core/base/log.h"
#include "sftpd/core/db/sql.h"
#include "tests/core/db/test_database.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_env.h"

namespace sftplc::db {
namespace {

using ::sftplc::testing::TestDatabase;

class DatabaseTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { SFTPLC_CREATE_TEST_DATABASE(tdb_, "db_test"); }

  int CountRows(Database& db, const std::string& table) {
    auto n = db.Read<int>([&](soci::session& s) -> Result<int> {
      int count = 0;
      s << "SELECT COUNT(*) FROM " + table, soci::into(count);  // table: a test constant
      return count;
    });
    EXPECT_TRUE(n) << n.error().ToString();
    return n.value_or(-1);
  }

  Status InsertAudit(soci::session& s, const std::string& action) {
    long long at = 1;
    std::string actor = "test";
    s << "INSERT INTO audit_events (at, actor, action) VALUES (:a, :b, :c)", soci::use(at),
        soci::use(actor), soci::use(action);
    return {};
  }

  std::unique_ptr<TestDatabase> tdb_;
};

// An empty database migrates to the binary's newest version; migrating again changes nothing.
TEST_P(DatabaseTest, MigratesAndIsIdempotent) {
  auto db = tdb_->Open();
  ASSERT_TRUE(db);
  EXPECT_EQ(db->SchemaVersion(), 0);
  auto before = db->MigrationStatus();
  ASSERT_TRUE(before);
  for (const auto& m : *before) {
    EXPECT_FALSE(m.applied) << m.name;
  }
  ASSERT_TRUE(db->Migrate());
  EXPECT_EQ(db->SchemaVersion(), Database::LatestVersion());
  ASSERT_TRUE(db->Migrate());
  auto after = db->MigrationStatus();
  ASSERT_TRUE(after);
  ASSERT_EQ(after->size(), before->size());
  for (const auto& m : *after) {
    EXPECT_TRUE(m.applied) << m.name;
  }
  EXPECT_EQ(CountRows(*db, "accounts"), 0);
  EXPECT_EQ(CountRows(*db, "schema_version"), static_cast<int>(after->size()));
}

// A database whose schema is newer than the binary is refused with a clear message.
TEST_P(DatabaseTest, RefusesNewerDatabase) {
  auto db = tdb_->OpenMigrated();
  ASSERT_TRUE(db);
  int future = Database::LatestVersion() + 1;
  ASSERT_TRUE(db->Write<bool>([&](soci::session& s) -> Result<bool> {
    s << "INSERT INTO schema_version (version, name) VALUES (:v, 'from_the_future')",
        soci::use(future);
    return true;
  }));
  auto st = db->Migrate();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kInternal);
  EXPECT_NE(st.error().message().find("newer than this program"), std::string::npos);
  auto status = db->MigrationStatus();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->back().version, future);
  EXPECT_EQ(status->back().name, "from_the_future");
}

// A write whose function returns an error, or throws, leaves nothing behind.
TEST_P(DatabaseTest, WriteRollsBackOnErrorAndException) {
  auto db = tdb_->OpenMigrated();
  ASSERT_TRUE(db);
  auto r = db->Write<int>([&](soci::session& s) -> Result<int> {
    EXPECT_TRUE(InsertAudit(s, "first"));
    return Error::InvalidArgument("changed my mind");
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  auto r2 = db->Write<int>([&](soci::session& s) -> Result<int> {
    EXPECT_TRUE(InsertAudit(s, "second"));
    s << "INSERT INTO no_such_table (x) VALUES (1)";
    return 1;
  });
  ASSERT_FALSE(r2);
  EXPECT_EQ(CountRows(*db, "audit_events"), 0);
  auto ok = db->Write<int>([&](soci::session& s) -> Result<int> {
    EXPECT_TRUE(InsertAudit(s, "third"));
    return 1;
  });
  ASSERT_TRUE(ok);
  EXPECT_EQ(CountRows(*db, "audit_events"), 1);
}

// A UNIQUE violation is kAlreadyExists and its message carries no value from the row.
TEST_P(DatabaseTest, UniqueViolationIsAlreadyExists) {
  auto db = tdb_->OpenMigrated();
  ASSERT_TRUE(db);
  auto insert = [&](const std::string& id) {
    return db->Write<int>([&](soci::session& s) -> Result<int> {
      std::string username = "secretname";
      s << "INSERT INTO accounts (id, username, full_name, email, phone, state, created_at, "
           "updated_at) VALUES (:i, :u, 'n', 'e@x.org', '+4415135777', 'active', 1, 1)",
          soci::use(id), soci::use(username);
      return 1;
    });
  };
  ASSERT_TRUE(insert(std::string(32, 'a')));
  auto dup = insert(std::string(32, 'b'));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(dup.error().message().find("secretname"), std::string::npos) << dup.error().message();
}

// Foreign keys are enforced: a key for a missing account is refused; deleting an account
// deletes its keys.
TEST_P(DatabaseTest, ForeignKeysEnforced) {
  auto db = tdb_->OpenMigrated();
  ASSERT_TRUE(db);
  std::string id(32, 'c');
  auto add_key = [&] {
    return db->Write<int>([&](soci::session& s) -> Result<int> {
      s << "INSERT INTO public_keys (account_id, key_type, key_base64, fingerprint, added_at) "
           "VALUES (:i, 'ssh-ed25519', 'AAAA', 'SHA256:x', 1)",
          soci::use(id);
      return 1;
    });
  };
  EXPECT_FALSE(add_key());
  ASSERT_TRUE(db->Write<int>([&](soci::session& s) -> Result<int> {
    s << "INSERT INTO accounts (id, username, full_name, email, phone, state, created_at, "
         "updated_at) VALUES (:i, 'abc', 'n', 'e@x.org', '+4415135777', 'active', 1, 1)",
        soci::use(id);
    return 1;
  }));
  ASSERT_TRUE(add_key());
  EXPECT_EQ(CountRows(*db, "public_keys"), 1);
  ASSERT_TRUE(db->Write<int>([&](soci::session& s) -> Result<int> {
    s << "DELETE FROM accounts WHERE id = :i", soci::use(id);
    return 1;
  }));
  EXPECT_EQ(CountRows(*db, "public_keys"), 0);
}

// Writers on every pooled connection at once all commit (no "database is locked").
TEST_P(DatabaseTest, ConcurrentWritersAllCommit) {
  auto db = tdb_->OpenMigrated();
  ASSERT_TRUE(db);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        // Read then write inside one transaction: the pattern that fails under a deferred BEGIN.
        auto r = db->Write<int>([&](soci::session& s) -> Result<int> {
          int n = 0;
          s << "SELECT COUNT(*) FROM audit_events", soci::into(n);
          return InsertAudit(s, "n" + std::to_string(n)).has_value() ? 1 : 0;
        });
        if (!r) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(CountRows(*db, "audit_events"), 100);
}

// Two programs starting at once (sftpd and sftpctl) both migrate, one after the other.
TEST_P(DatabaseTest, ConcurrentMigrationsAgree) {
  auto a = tdb_->Open();
  auto b = tdb_->Open();
  ASSERT_TRUE(a && b);
  Status sa, sb;
  std::thread ta([&] { sa = a->Migrate(); });
  std::thread tb([&] { sb = b->Migrate(); });
  ta.join();
  tb.join();
  EXPECT_TRUE(sa) << sa.error().ToString();
  EXPECT_TRUE(sb) << sb.error().ToString();
  EXPECT_EQ(a->SchemaVersion(), Database::LatestVersion());
  EXPECT_EQ(CountRows(*a, "schema_version"), static_cast<int>(a->MigrationStatus()->size()));
}

INSTANTIATE_TEST_SUITE_P(Backends, DatabaseTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgresql),
                         ::sftplc::testing::BackendName);

// Every pooled SQLite connection has WAL, foreign keys, secure_delete and the busy timeout.
TEST(SqliteDatabaseTest, PragmasOnEveryConnection) {
  auto tdb = TestDatabase::Create(Backend::kSqlite, "pragmas");
  auto db = tdb->OpenMigrated();
  ASSERT_TRUE(db);
  int checked = 0;
  // Nested reads hold one connection each, so the innermost level has taken all four.
  std::function<Status(int)> level = [&](int depth) -> Status {
    return db->Read<int>([&](soci::session& s) -> Result<int> {
               std::string mode;
               int fk = 0, sd = 0, busy = 0;
               s << "PRAGMA journal_mode", soci::into(mode);
               s << "PRAGMA foreign_keys", soci::into(fk);
               s << "PRAGMA secure_delete", soci::into(sd);
               s << "PRAGMA busy_timeout", soci::into(busy);
               EXPECT_EQ(mode, "wal");
               EXPECT_EQ(fk, 1);
               EXPECT_EQ(sd, 1);
               EXPECT_EQ(busy, 10000);
               ++checked;
               if (depth + 1 < 4) {
                 auto st = level(depth + 1);
                 if (!st) {
                   return st.error();
                 }
               }
               return 0;
             }).has_value()
               ? Status()
               : Status(Error::Internal("read failed"));
  };
  ASSERT_TRUE(level(0));
  EXPECT_EQ(checked, 4);
}

// The database holds every name, email and password hash: a new SQLite database and its -wal
// and -shm are 0600 even under a permissive umask, and files left readable by an older version
// are made 0600 at the next open.
TEST(SqliteDatabaseTest, FilesArePrivate) {
  auto tdb = TestDatabase::Create(Backend::kSqlite, "modes");
  std::string main = tdb->dir().Sub("modes.db");
  auto mode = [](const std::string& f) {
    struct stat st {};
    return stat(f.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
  };
  mode_t old = umask(022);
  {
    auto db = tdb->OpenMigrated();
    ASSERT_TRUE(db);
    for (const std::string& f : {main, main + "-wal", main + "-shm"}) {
      EXPECT_EQ(mode(f), 0600) << f;
    }
    for (const std::string& f : {main, main + "-wal", main + "-shm"}) {
      ASSERT_EQ(chmod(f.c_str(), 0644), 0) << f;
    }
  }
  auto db = tdb->OpenMigrated();
  umask(old);
  ASSERT_TRUE(db);
  for (const std::string& f : {main, main + "-wal", main + "-shm"}) {
    EXPECT_EQ(mode(f), 0600) << f;
  }
}

// After an erase, the checkpoint empties the -wal file.
TEST(SqliteDatabaseTest, CheckpointTruncatesWal) {
  auto tdb = TestDatabase::Create(Backend::kSqlite, "wal");
  auto db = tdb->OpenMigrated();
  ASSERT_TRUE(db);
  std::string wal = tdb->dir().Sub("wal.db-wal");
  struct stat st {};
  ASSERT_EQ(stat(wal.c_str(), &st), 0);
  EXPECT_GT(st.st_size, 0);
  ASSERT_TRUE(db->CheckpointAfterErase());
  ASSERT_EQ(stat(wal.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 0);
}

// A server that cannot be reached is kUnavailable; an unreadable password file too.
TEST(PostgresqlDatabaseTest, UnreachableServerIsUnavailable) {
  config::DatabaseConfig cfg;
  cfg.url = "postgresql://nobody@127.0.0.1:1/nothing";
  cfg.pool_size = 1;
  auto db = Database::Open(cfg, GetLogger("store"));
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code(), ErrorCode::kUnavailable);
  cfg.password_file = "/nonexistent/pw";
  auto db2 = Database::Open(cfg, GetLogger("store"));
  ASSERT_FALSE(db2);
  EXPECT_EQ(db2.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(db2.error().message().find("password_file"), std::string::npos);
}

// A PostgreSQL connection killed by the server fails one call with kUnavailable; the pool
// reconnects it, and the next call works.
TEST(PostgresqlDatabaseTest, RecoversFromLostConnection) {
  auto tdb = TestDatabase::Create(Backend::kPostgresql, "reconnect");
  if (!tdb) {
    if (::sftplc::testing::SkipAllowed()) {
      GTEST_SKIP() << "no PostgreSQL test server";
    }
    GTEST_FAIL() << "no PostgreSQL test server: set SFTPLC_TEST_PG_URL";
  }
  config::DatabaseConfig cfg = tdb->config();
  cfg.pool_size = 1;
  auto db = Database::Open(cfg, GetLogger("store"));
  ASSERT_TRUE(db);
  ASSERT_TRUE((*db)->Migrate());
  std::string dbname = cfg.url.substr(cfg.url.rfind('/') + 1);
  auto kill = ::sftplc::testing::RunCommand(
      "psql -q -v ON_ERROR_STOP=1 '" + *::sftplc::testing::PostgresUrl() +
      "postgres' -c \"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" +
      dbname + "'\"");
  ASSERT_EQ(kill.exit_code, 0) << kill.err;
  auto read = [&] {
    return (*db)->Read<int>([](soci::session& s) -> Result<int> {
      int n = 0;
      s << "SELECT COUNT(*) FROM accounts", soci::into(n);
      return n;
    });
  };
  auto failed = read();
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code(), ErrorCode::kUnavailable) << failed.error().ToString();
  auto again = read();
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(*again, 0);
}

}  // namespace
}  // namespace sftplc::db
