#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>
#include <fstream>
#include <sstream>

#include "sftpd/core/base/secret.h"
#include "sftpd/core/db/migrations_data.h"
#include "sftpd/core/db/sql.h"

namespace sftplc::db {
namespace {

const std::vector<MigrationSource>& MigrationsFor(Backend b) {
  return b == Backend::kSqlite ? sqlite_migrations() : postgresql_migrations();
}

// The first line of a driver message, bounded. PostgreSQL puts the offending values in a
// DETAIL line ("Key (username)=(...) already exists"): those are personal data, so only the
// first line ever leaves this file.
std::string FirstLine(const std::string& msg) {
  std::string line = msg.substr(0, msg.find('\n'));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
    line.pop_back();
  }
  if (line.size() > 200) {
    line.resize(200);
  }
  return line;
}

Error MapSociError(const soci::soci_error& e) {
  std::string line = FirstLine(e.get_error_message());
  switch (e.get_error_category()) {
    case soci::soci_error::constraint_violation:
      return Error::AlreadyExists("conflicts with an existing record (" + line + ")");
    case soci::soci_error::connection_error:
      return Error::Unavailable("database unavailable: " + line);
    default:
      break;
  }
  // SOCI 4.0's SQLite backend leaves constraint errors uncategorised.
  if (line.find("UNIQUE constraint failed") != std::string::npos) {
    return Error::AlreadyExists("conflicts with an existing record (" + line + ")");
  }
  if (line.find("database is locked") != std::string::npos ||
      line.find("database table is locked") != std::string::npos) {
    return Error::Unavailable("database busy: " + line);
  }
  return Error::Internal("database error: " + line);
}

bool IsConnectionError(const soci::soci_error& e) {
  return e.get_error_category() == soci::soci_error::connection_error;
}

// libpq keyword/value quoting: single quotes, with \ and ' escaped.
std::string PqQuote(std::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\\' || c == '\'') {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

bool AllOf(std::string_view s, bool (*pred)(char)) { return std::all_of(s.begin(), s.end(), pred); }

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '_' || c == '-' ||
         c == '.';
}
bool IsHostChar(char c) { return IsNameChar(c) || c == ':'; }

Result<std::string> ReadPasswordFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error::Unavailable("cannot read database.password_file " + path);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string pw = ss.str();
  while (!pw.empty() && (pw.back() == '\n' || pw.back() == '\r')) {
    pw.pop_back();
  }
  if (pw.find('\n') != std::string::npos || pw.find('\0') != std::string::npos) {
    SecureClear(pw);
    return Error::InvalidArgument("database.password_file " + path +
                                  " must hold the password on one line");
  }
  return pw;
}

}  // namespace

std::string DatabaseUrl::ToString() const {
  if (backend == Backend::kSqlite) {
    return "sqlite:" + sqlite_path;
  }
  std::string out = "postgresql://";
  if (!user.empty()) {
    out += user + "@";
  }
  out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  // Appended piece by piece: GCC 12 reports a false -Wrestrict on `"literal" + std::string&&`.
  out += ':';
  out += std::to_string(port);
  out += '/';
  out += dbname;
  char sep = '?';
  for (const auto& [k, v] : params) {
    out += sep + k + "=" + v;
    sep = '&';
  }
  return out;
}

Result<DatabaseUrl> ParseDatabaseUrl(std::string_view url) {
  DatabaseUrl out;
  if (url.substr(0, 7) == "sqlite:") {
    std::string_view path = url.substr(7);
    if (path.substr(0, 2) == "//") {
      path.remove_prefix(2);  // also accept sqlite:///abs/path
    }
    if (path.empty()) {
      return Error::InvalidArgument("database.url: sqlite: needs a file path (sqlite:PATH)");
    }
    // SOCI's connect-string parser quotes with '"' and has no escape for it.
    if (path.find('"') != std::string_view::npos || path.find('\0') != std::string_view::npos) {
      return Error::InvalidArgument("database.url: the SQLite path must not contain '\"'");
    }
    out.backend = Backend::kSqlite;
    out.sqlite_path = std::string(path);
    return out;
  }
  std::string_view rest;
  if (url.substr(0, 13) == "postgresql://") {
    rest = url.substr(13);
  } else if (url.substr(0, 11) == "postgres://") {
    rest = url.substr(11);
  } else {
    return Error::InvalidArgument(
        "database.url must be sqlite:PATH or postgresql://user@host:port/dbname");
  }
  out.backend = Backend::kPostgresql;
  std::string_view query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  auto slash = rest.find('/');
  if (slash == std::string_view::npos || slash + 1 == rest.size()) {
    return Error::InvalidArgument(
        "database.url: a PostgreSQL URL names the database: postgresql://user@host:port/dbname");
  }
  std::string_view authority = rest.substr(0, slash);
  std::string_view dbname = rest.substr(slash + 1);
  if (!AllOf(dbname, IsNameChar)) {
    return Error::InvalidArgument(
        "database.url: the database name may hold letters, digits, '_', '-' and '.'");
  }
  out.dbname = std::string(dbname);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view user = authority.substr(0, at);
    if (user.find(':') != std::string_view::npos) {
      return Error::InvalidArgument(
          "database.url must not carry a password: put it in database.password_file");
    }
    if (user.empty() || !AllOf(user, IsNameChar)) {
      return Error::InvalidArgument(
          "database.url: the user name may hold letters, digits, '_', '-' and '.'");
    }
    out.user = std::string(user);
    authority = authority.substr(at + 1);
  }
  std::string_view host = authority;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string_view::npos) {
      return Error::InvalidArgument("database.url: unclosed '[' in the host");
    }
    std::string_view after = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return Error::InvalidArgument("database.url: expected ':port' after the host");
      }
      port = after.substr(1);
    }
  } else if (auto colon = host.rfind(':'); colon != std::string_view::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  if (host.empty() || !AllOf(host, IsHostChar)) {
    return Error::InvalidArgument("database.url: a PostgreSQL URL needs a host name or address");
  }
  out.host = std::string(host);
  if (!port.empty() || authority.back() == ':') {
    int p = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || p < 1 ||
        p > 65535) {
      return Error::InvalidArgument("database.url: the port must be a number from 1 to 65535");
    }
    out.port = p;
  }
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    auto eq = kv.find('=');
    std::string_view k = kv.substr(0, eq);
    std::string_view v = eq == std::string_view::npos ? std::string_view() : kv.substr(eq + 1);
    if (k != "sslmode" && k != "connect_timeout") {
      return Error::InvalidArgument(
          "database.url: the only parameters accepted are sslmode and connect_timeout");
    }
    if (v.empty() || !AllOf(v, IsNameChar)) {
      return Error::InvalidArgument("database.url: parameter " + std::string(k) + " needs a value");
    }
    out.params[std::string(k)] = std::string(v);
  }
  return out;
}

std::vector<std::string> SplitSqlStatements(std::string_view sql) {
  std::vector<std::string> out;
  std::string current;
  auto flush = [&] {
    bool blank = std::all_of(current.begin(), current.end(), [](char c) {
      return c == ' ' || c == '\n' || c == '\t' || c == '\r';
    });
    if (!blank) {
      out.push_back(current);
    }
    current.clear();
  };
  while (!sql.empty()) {
    auto nl = sql.find('\n');
    std::string_view line = sql.substr(0, nl);
    sql = nl == std::string_view::npos ? std::string_view() : sql.substr(nl + 1);
    std::string_view trimmed = line;
    while (!trimmed.empty() &&
           (trimmed.back() == ' ' || trimmed.back() == '\t' || trimmed.back() == '\r')) {
      trimmed.remove_suffix(1);
    }
    std::string_view lead = trimmed;
    while (!lead.empty() && (lead.front() == ' ' || lead.front() == '\t')) {
      lead.remove_prefix(1);
    }
    if (lead.substr(0, 2) == "--") {
      continue;
    }
    if (!trimmed.empty() && trimmed.back() == ';') {
      trimmed.remove_suffix(1);
      current.append(trimmed);
      flush();
    } else if (!current.empty() || !lead.empty()) {
      current.append(trimmed);
      current.push_back('\n');
    }
  }
  flush();
  return out;
}

Database::Database(Backend backend, Logger log) : backend_(backend), log_(std::move(log)) {}

Database::~Database() = default;

namespace {

// The SQLite database and its -wal and -shm files hold every name, email, phone and password
// hash: owner-only. A new database file is made 0600 before SQLite opens it (SQLite gives the
// -wal and -shm it creates the main file's mode); files made by an older version or by hand
// are brought to 0600 at every open. A file that cannot be changed is reported, not fatal.
Status CreateSqliteFilePrivate(const std::string& path) {
  if (path == ":memory:") {
    return {};
  }
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd >= 0) {
    close(fd);
    return {};
  }
  if (errno == EEXIST || errno == ENOENT) {
    return {};  // there already; or its folder is missing, which SQLite reports itself
  }
  return Error::Unavailable("cannot create database file " + path + ": " + std::strerror(errno));
}

void MakeSqliteFilesPrivate(const std::string& path, const Logger& log) {
  for (const std::string& f : {path, path + "-wal", path + "-shm"}) {
    struct stat st {};
    if (stat(f.c_str(), &st) != 0 || (st.st_mode & 0777) == 0600) {
      continue;
    }
    if (chmod(f.c_str(), 0600) != 0) {
      SPDLOG_LOGGER_WARN(log,
                         "database file readable by others: cannot make it 0600 file={} "
                         "mode={:04o} error=\"{}\"",
                         f, st.st_mode & 07777, std::strerror(errno));
    } else {
      SPDLOG_LOGGER_INFO(log, "database file made private file={} was={:04o}", f,
                         st.st_mode & 07777);
    }
  }
}

}  // namespace

Result<std::unique_ptr<Database>> Database::Open(const config::DatabaseConfig& cfg,
                                                 const Logger& log) {
  auto url = ParseDatabaseUrl(cfg.url);
  if (!url) {
    return url.error();
  }
  if (cfg.pool_size < 1 || cfg.pool_size > 1000) {
    return Error::InvalidArgument("database.pool_size must be between 1 and 1000");
  }
  std::string connect;
  const char* backend_name = nullptr;
  if (url->backend == Backend::kSqlite) {
    backend_name = "sqlite3";
    if (Status created = CreateSqliteFilePrivate(url->sqlite_path); !created) {
      return created.error();
    }
    connect = "db=\"" + url->sqlite_path +
              "\" timeout=" + std::to_string(std::max<long long>(1, cfg.busy_timeout.count()));
  } else {
    backend_name = "postgresql";
    connect = "host=" + PqQuote(url->host) + " port=" + std::to_string(url->port) +
              " dbname=" + PqQuote(url->dbname);
    if (!url->user.empty()) {
      connect += " user=" + PqQuote(url->user);
    }
    if (!url->params.count("connect_timeout")) {
      connect += " connect_timeout=10";
    }
    for (const auto& [k, v] : url->params) {
      connect += " " + k + "=" + PqQuote(v);
    }
    if (!cfg.password_file.empty()) {
      auto pw = ReadPasswordFile(cfg.password_file);
      if (!pw) {
        return pw.error();
      }
      connect += " password=" + PqQuote(*pw);
      SecureClear(*pw);
    }
  }
  auto size = static_cast<std::size_t>(cfg.pool_size);
  std::unique_ptr<Database> db(new Database(url->backend, log));
  db->description_ = url->ToString();
  db->pool_ = std::make_unique<soci::connection_pool>(size);
  // `connect` may hold the password: it is wiped below and never logged; SOCI keeps its own
  // copy for reconnects.
  Status st;
  try {
    for (std::size_t i = 0; i < size; ++i) {
      soci::session& s = db->pool_->at(i);
      s.open(backend_name, connect);
      if (url->backend == Backend::kSqlite) {
        std::string mode;
        s << "PRAGMA journal_mode=WAL", soci::into(mode);
        if (mode != "wal") {
          st = Error::Unavailable("SQLite database " + url->sqlite_path +
                                  " cannot use WAL journaling (journal_mode=" + mode + ")");
          break;
        }
        s << "PRAGMA foreign_keys=ON";
        s << "PRAGMA secure_delete=ON";
        s << "PRAGMA synchronous=NORMAL";
      } else {
        // libpq prints server NOTICEs (such as "relation already exists, skipping" from the
        // idempotent migrations) on stderr; only warnings and errors are worth an operator's eye.
        s << "SET client_min_messages TO WARNING";
      }
    }
  } catch (const soci::soci_error& e) {
    // Failing to open is always "cannot reach the database", whatever category SOCI picked.
    st = Error::Unavailable("cannot open database " + db->description_ + ": " +
                            FirstLine(e.get_error_message()));
  } catch (const std::exception& e) {
    st =
        Error::Unavailable("cannot open database " + db->description_ + ": " + FirstLine(e.what()));
  }
  SecureClear(connect);
  if (!st) {
    SPDLOG_LOGGER_WARN(log, "database open failed db={}", db->description_);
    return st.error();
  }
  if (url->backend == Backend::kSqlite) {
    MakeSqliteFilesPrivate(url->sqlite_path, log);
  }
  SPDLOG_LOGGER_DEBUG(log, "database opened db={} pool={}", db->description_, size);
  return db;
}

void Database::Recover(soci::session& s) {
  try {
    s.reconnect();
    SPDLOG_LOGGER_WARN(log_, "database connection re-established db={}", description_);
  } catch (const std::exception& e) {
    SPDLOG_LOGGER_WARN(log_, "database reconnect failed db={}", description_);
  }
}

Result<void> Database::RunRead(const std::function<Status(soci::session&)>& fn) {
  std::optional<soci::session> s;
  try {
    s.emplace(*pool_);
    return fn(*s);
  } catch (const soci::soci_error& e) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    Error err = MapSociError(e);
    if (s && IsConnectionError(e)) {
      Recover(*s);
    }
    return err;
  } catch (const std::exception& e) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    return Error::Internal(std::string("database error: ") + FirstLine(e.what()));
  }
}

Result<void> Database::RunWrite(const std::function<Status(soci::session&)>& fn) {
  std::optional<soci::session> s;
  bool in_tx = false;
  auto rollback = [&] {
    if (!in_tx) {
      return;
    }
    in_tx = false;
    try {
      *s << "ROLLBACK";
    } catch (const std::exception&) {
      // The connection is gone: the server rolls back on its own.
    }
  };
  try {
    s.emplace(*pool_);
    // SQLite: a deferred BEGIN that reads and then writes can fail with SQLITE_BUSY despite the
    // busy timeout (the lock upgrade cannot wait); IMMEDIATE takes the write lock up front.
    *s << (backend_ == Backend::kSqlite ? "BEGIN IMMEDIATE" : "BEGIN");
    in_tx = true;
    Status st = fn(*s);
    if (!st) {
      rollback();
      return st;
    }
    *s << "COMMIT";
    in_tx = false;
    return {};
  } catch (const soci::soci_error& e) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    Error err = MapSociError(e);
    rollback();
    if (s && IsConnectionError(e)) {
      Recover(*s);
    }
    return err;
  } catch (const std::exception& e) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    rollback();
    return Error::Internal(std::string("database error: ") + FirstLine(e.what()));
  }
}

int Database::LatestVersion() {
  int v = 0;
  for (const auto& m : sqlite_migrations()) {
    v = std::max(v, m.version);
  }
  return v;
}

int Database::SchemaVersion() {
  auto r = Read<int>([&](soci::session& s) -> Result<int> {
    int count = 0;
    if (backend_ == Backend::kSqlite) {
      s << "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
          soci::into(count);
    } else {
      s << "SELECT COUNT(*) FROM information_schema.tables "
           "WHERE table_schema = current_schema() AND table_name = 'schema_version'",
          soci::into(count);
    }
    if (count == 0) {
      return 0;
    }
    int v = 0;
    soci::indicator ind = soci::i_null;
    s << "SELECT MAX(version) FROM schema_version", soci::into(v, ind);
    return ind == soci::i_ok ? v : 0;
  });
  if (!r) {
    SPDLOG_LOGGER_WARN(log_, "cannot read the schema version db={} error=\"{}\"", description_,
                       r.error().ToString());
    return -1;
  }
  return *r;
}

Result<bool> Database::MigrateOneStep() {
  return Write<bool>([&](soci::session& s) -> Result<bool> {
    if (backend_ == Backend::kPostgresql) {
      // Two processes starting at once (sftpd and sftpctl) migrate one after the other.
      long long key = 0x736674706c63LL;  // "sftplc"
      s << "SELECT pg_advisory_xact_lock(:k)", soci::use(key);
    }
    s << "CREATE TABLE IF NOT EXISTS schema_version ("
         "version INTEGER PRIMARY KEY, name TEXT NOT NULL)";
    int current = 0;
    soci::indicator ind = soci::i_null;
    s << "SELECT MAX(version) FROM schema_version", soci::into(current, ind);
    if (ind != soci::i_ok) {
      current = 0;
    }
    if (current > LatestVersion()) {
      return Error::Internal("the database schema is version " + std::to_string(current) +
                             ", newer than this program (version " +
                             std::to_string(LatestVersion()) +
                             "); upgrade sftp-lifecycle before using this database");
    }
    const MigrationSource* next = nullptr;
    for (const auto& m : MigrationsFor(backend_)) {
      if (m.version > current && (next == nullptr || m.version < next->version)) {
        next = &m;
      }
    }
    if (next == nullptr) {
      return false;
    }
    for (const std::string& stmt : SplitSqlStatements(next->sql)) {
      s << stmt;
    }
    int version = next->version;
    std::string name = next->name;
    s << "INSERT INTO schema_version (version, name) VALUES (:v, :n)", soci::use(version),
        soci::use(name);
    SPDLOG_LOGGER_INFO(log_, "migration applied db={} version={} name={}", description_, version,
                       name);
    return true;
  });
}

Status Database::Migrate() {
  // Bounded: one step per known migration, plus the final "nothing left" check.
  std::size_t steps = MigrationsFor(backend_).size() + 1;
  for (std::size_t i = 0; i < steps; ++i) {
    auto more = MigrateOneStep();
    if (!more) {
      return more.error();
    }
    if (!*more) {
      return {};
    }
  }
  return Error::Internal("migrations did not converge");
}

Result<std::vector<MigrationInfo>> Database::MigrationStatus() {
  int current = SchemaVersion();
  if (current < 0) {
    return Error::Unavailable("cannot read the schema version of " + description_);
  }
  auto applied =
      Read<std::map<int, std::string>>([&](soci::session& s) -> Result<std::map<int, std::string>> {
        std::map<int, std::string> out;
        if (current == 0) {
          return out;
        }
        int v = 0;
        std::string name;
        soci::statement st = (s.prepare << "SELECT version, name FROM schema_version",
                              soci::into(v), soci::into(name));
        st.execute();
        while (st.fetch()) {
          out[v] = name;
        }
        return out;
      });
  if (!applied) {
    return applied.error();
  }
  std::vector<MigrationInfo> out;
  for (const auto& m : MigrationsFor(backend_)) {
    out.push_back({m.version, m.name, applied->count(m.version) > 0});
  }
  for (const auto& [v, name] : *applied) {
    if (v > LatestVersion()) {
      out.push_back({v, name, true});
    }
  }
  return out;
}

Status Database::CheckpointAfterErase() {
  if (backend_ != Backend::kSqlite) {
    return {};
  }
  auto r = Read<int>([&](soci::session& s) -> Result<int> {
    int busy = 0, log_frames = 0, checkpointed = 0;
    s << "PRAGMA wal_checkpoint(TRUNCATE)", soci::into(busy), soci::into(log_frames),
        soci::into(checkpointed);
    return busy;
  });
  if (!r) {
    return r.error();
  }
  if (*r != 0) {
    return Error::Unavailable(
        "the WAL checkpoint could not complete while readers were active; retry later");
  }
  return {};
}

Status Database::BackupTo(const std::string& path) {
  if (backend_ != Backend::kSqlite) {
    return Error::InvalidArgument(
        "a PostgreSQL database is backed up with pg_dump or a base backup (pg_basebackup), "
        "not with sftpctl: see docs/operations.md");
  }
  // An empty file made here first, so the copy is 0600 whatever the umask; VACUUM INTO accepts
  // an empty file and refuses any other.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    int err = errno;
    if (err == EEXIST) {
      return Error::AlreadyExists("the backup file " + path + " exists: choose a new name");
    }
    return Error::Unavailable("cannot create the backup file " + path + ": " + std::strerror(err));
  }
  ::close(fd);
  auto r = Read<int>([&](soci::session& s) -> Result<int> {
    s << "VACUUM INTO :path", soci::use(path);
    return 0;
  });
  if (!r) {
    ::unlink(path.c_str());
    return Error::Unavailable("the backup to " + path + " failed: " + r.error().message());
  }
  return {};
}

}  // namespace sftplc::db
