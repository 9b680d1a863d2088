#pragma once

// A fresh, migrated database for store tests, on either backend: SQLite in a temporary folder,
// or a new database on the PostgreSQL server of scripts/test (SFTPLC_TEST_PG_URL). Used by
// every suite instantiated over both backends (INSTANTIATE_TEST_SUITE_P with BackendName).

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "sftpd/core/config/config.h"
#include "sftpd/core/db/database.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_env.h"

namespace sftplc::testing {

// "sqlite" / "postgresql", for test names.
std::string BackendName(const ::testing::TestParamInfo<db::Backend>& info);

// Holds the temporary folder and the configuration of one test database.
class TestDatabase {
 public:
  // Creates an empty database (not migrated). Returns nullopt when the backend is PostgreSQL
  // and no test server is configured: the caller skips (SkipAllowed) or fails.
  static std::unique_ptr<TestDatabase> Create(db::Backend backend, const std::string& prefix);

  const config::DatabaseConfig& config() const { return cfg_; }
  const TempDir& dir() const { return dir_; }
  // Opens a Database on it (a new pool each call).
  std::unique_ptr<db::Database> Open() const;
  // Opens and migrates.
  std::unique_ptr<db::Database> OpenMigrated() const;

 private:
  TempDir dir_;
  config::DatabaseConfig cfg_;
};

}  // namespace sftplc::testing

// In a TEST_P's SetUp: creates `var` (a TestDatabase) for GetParam(), or skips/fails when
// PostgreSQL is not available.
#define SFTPLC_CREATE_TEST_DATABASE(var, prefix)                                          \
  do {                                                                                    \
    var = ::sftplc::testing::TestDatabase::Create(GetParam(), prefix);                    \
    if (!var) {                                                                           \
      if (::sftplc::testing::SkipAllowed()) {                                             \
        GTEST_SKIP() << "no PostgreSQL test server (SFTPLC_TEST_PG_URL)";                 \
      }                                                                                   \
      GTEST_FAIL() << "no PostgreSQL test server: set SFTPLC_TEST_PG_URL (scripts/test) " \
                      "or SFTPLC_TEST_ALLOW_SKIP=1";                                      \
    }                                                                                     \
  } while (0)
