#pragma once

// Database: a pool of SOCI sessions on SQLite (embedded, the default) or PostgreSQL, the schema
// migrations, and the transaction helpers every store uses. SOCI is only declared here: store
// implementations (.cc files) include sftpd/core/db/sql.h for the session they are handed and
// db::OneShot. SOCI exceptions stop here: Read() and Write()
// turn them into Errors (a UNIQUE violation becomes kAlreadyExists, a lost connection
// kUnavailable).
//
// SQLite connections: WAL, busy timeout, foreign_keys=ON, secure_delete=ON on every connection;
// write transactions are BEGIN IMMEDIATE. Thread-safe.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sftpd/core/base/log.h"
#include "sftpd/core/base/result.h"
#include "sftpd/core/config/config.h"

namespace soci {
class session;
class connection_pool;
}  // namespace soci

namespace sftplc::db {

enum class Backend { kSqlite, kPostgresql };

// database.url, parsed: "sqlite:PATH" or "postgresql://[user@]host[:port]/dbname[?sslmode=..]".
// The URL never carries a password (database.password_file does).
struct DatabaseUrl {
  Backend backend = Backend::kSqlite;
  std::string sqlite_path;  // kSqlite
  std::string user;         // kPostgresql; empty: libpq's default
  std::string host;
  int port = 5432;
  std::string dbname;
  std::map<std::string, std::string> params;  // sslmode, connect_timeout
  // The URL again, for messages and logs (no secret is ever part of it).
  std::string ToString() const;
};

// Parses database.url. kInvalidArgument with a message saying what is accepted.
Result<DatabaseUrl> ParseDatabaseUrl(std::string_view url);

// Splits a migration into statements: a statement ends with ';' at the end of a line; lines
// that are only a "--" comment are dropped, and so are empty statements.
std::vector<std::string> SplitSqlStatements(std::string_view sql);

struct MigrationInfo {
  int version = 0;
  std::string name;
  bool applied = false;
};

class Database {
 public:
  // Opens the pool from config (password from password_file for PostgreSQL). Does not migrate.
  // kInvalidArgument for a malformed URL, kUnavailable when the server cannot be reached.
  static Result<std::unique_ptr<Database>> Open(const config::DatabaseConfig& cfg,
                                                const Logger& log);
  ~Database();

  Backend backend() const { return backend_; }
  // Where the database is ("sqlite:/var/lib/..." or "postgresql://user@host:5432/db").
  const std::string& description() const { return description_; }

  // Applies every pending migration in order, each in its own transaction. Refuses
  // (kInternal, clear message) a database whose schema_version is newer than this binary.
  Status Migrate();
  // Every migration this binary knows (applied or pending) in order, plus any version recorded
  // in the database that the binary does not know (applied, name from the database).
  Result<std::vector<MigrationInfo>> MigrationStatus();
  // The highest applied version: 0 for an empty database, -1 when the database cannot be read.
  int SchemaVersion();
  // The newest migration compiled into this binary.
  static int LatestVersion();

  // Runs `fn` on a pooled session inside a write transaction (BEGIN IMMEDIATE on SQLite; on
  // PostgreSQL BEGIN, and `FOR UPDATE SKIP LOCKED` is available to `fn`). Commits when `fn`
  // returns a value, rolls back on an Error or exception.
  template <typename T>
  Result<T> Write(const std::function<Result<T>(soci::session&)>& fn);
  // Runs `fn` on a pooled session without a transaction (single reads).
  template <typename T>
  Result<T> Read(const std::function<Result<T>(soci::session&)>& fn);

  // After deleting personal data: on SQLite a WAL checkpoint (TRUNCATE) so freed pages,
  // already zeroed by secure_delete, leave the -wal file too. On PostgreSQL nothing (see
  // docs/security.md: VACUUM).
  Status CheckpointAfterErase();

  // SQLite: writes a consistent copy of the live database to `path` (VACUUM INTO: one read
  // transaction, writers go on meanwhile), created with mode 0600. kAlreadyExists when `path`
  // exists; kUnavailable when it cannot be written; kInvalidArgument on PostgreSQL (its own
  // tools back it up: docs/operations.md).
  Status BackupTo(const std::string& path);

  // Failed Read/Write calls since the pool was opened (a SOCI or other exception: the database
  // failed, not the caller's own Error). For sftpd's metrics. Thread-safe.
  uint64_t error_count() const { return errors_.load(std::memory_order_relaxed); }

 private:
  Database(Backend backend, Logger log);
  Result<void> RunWrite(const std::function<Status(soci::session&)>& fn);
  Result<void> RunRead(const std::function<Status(soci::session&)>& fn);
  // Migrate() one step: applies the next pending migration; returns false when none is left.
  Result<bool> MigrateOneStep();
  // After a lost connection: reopens the session so the next caller gets a working one.
  void Recover(soci::session& s);

  Backend backend_;
  std::string description_;
  std::unique_ptr<soci::connection_pool> pool_;
  Logger log_;
  std::atomic<uint64_t> errors_{0};
};

template <typename T>
Result<T> Database::Write(const std::function<Result<T>(soci::session&)>& fn) {
  std::optional<Result<T>> out;
  Status st = RunWrite([&](soci::session& s) -> Status {
    out.emplace(fn(s));
    if (!out->has_value()) {
      return out->error();
    }
    return {};
  });
  if (!st.has_value()) {
    return st.error();
  }
  return std::move(*out);
}

template <typename T>
Result<T> Database::Read(const std::function<Result<T>(soci::session&)>& fn) {
  std::optional<Result<T>> out;
  Status st = RunRead([&](soci::session& s) -> Status {
    out.emplace(fn(s));
    if (!out->has_value()) {
      return out->error();
    }
    return {};
  });
  if (!st.has_value()) {
    return st.error();
  }
  return std::move(*out);
}

}  // namespace sftplc::db
