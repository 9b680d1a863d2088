#pragma once

// The SQL migrations compiled in from sql/<backend>/NNNN_name.sql (see cmake/EmbedSql.cmake).

#include <string>
#include <vector>

namespace sftplc::db {

struct MigrationSource {
  int version;
  const char* name;
  const char* sql;  // statements separated by ';' at line ends
};

const std::vector<MigrationSource>& sqlite_migrations();
const std::vector<MigrationSource>& postgresql_migrations();

}  // namespace sftplc::db
