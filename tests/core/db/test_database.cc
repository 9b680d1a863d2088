#include "tests/core/db/test_database.h"

#include "sftpd/core/base/log.h"
#include "tests/testing/test_env.h"

namespace sftplc::testing {

std::string BackendName(const ::testing::TestParamInfo<db::Backend>& info) {
  return info.param == db::Backend::kSqlite ? "sqlite" : "postgresql";
}

std::unique_ptr<TestDatabase> TestDatabase::Create(db::Backend backend, const std::string& prefix) {
  // NOLINTNEXTLINE(modernize-make-unique): the constructor is private
  auto t = std::unique_ptr<TestDatabase>(new TestDatabase());
  if (backend == db::Backend::kSqlite) {
    t->cfg_.url = "sqlite:" + t->dir_.Sub(prefix + ".db");
  } else {
    auto url = CreatePostgresDatabase(prefix);
    if (!url) {
      return nullptr;
    }
    t->cfg_.url = *url;
  }
  t->cfg_.pool_size = 4;
  t->cfg_.busy_timeout = Seconds(10);
  return t;
}

std::unique_ptr<db::Database> TestDatabase::Open() const {
  auto db = db::Database::Open(cfg_, GetLogger("store"));
  if (!db) {
    ADD_FAILURE() << "cannot open the test database: " << db.error().ToString();
    return nullptr;
  }
  return std::move(*db);
}

std::unique_ptr<db::Database> TestDatabase::OpenMigrated() const {
  auto db = Open();
  if (db) {
    auto st = db->Migrate();
    if (!st) {
      ADD_FAILURE() << "migration failed: " << st.error().ToString();
      return nullptr;
    }
  }
  return db;
}

}  // namespace sftplc::testing
