#include "tests/testing/cli_world.h"

#include <gtest/gtest.h>

#include "sftpd/core/base/log.h"
#include "tests/testing/service_user.h"

namespace sftplc::testing {

std::string CliWorld::DefaultConfig(const std::string& extra) {
  return "[storage]\nroot = \"files\"\n[database]\nurl = \"sqlite:accounts.db\"\n"
         "[log]\nlevel = \"info\"\n" +
         extra;
}

CliWorld::CliWorld() : config_(dir_.Sub("sftpd.toml")), sftpctl_(config_, dir_.path()) {
  WriteConfig(DefaultConfig());
}

void CliWorld::WriteConfig(const std::string& toml) const { WriteFile(config_, toml); }

std::unique_ptr<db::Database> CliWorld::OpenDb() const {
  config::DatabaseConfig cfg;
  cfg.url = "sqlite:" + database_path();
  cfg.pool_size = 1;
  auto db = db::Database::Open(cfg, GetLogger("store"));
  EXPECT_TRUE(db) << db.error().ToString();
  // A database this opening created belongs to the service, as if sftpctl had made it.
  GiveToServiceUser(dir_.path());
  return db ? std::move(*db) : nullptr;
}

}  // namespace sftplc::testing
