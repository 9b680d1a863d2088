#include "admin/command_context.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <exception>
#include <iostream>

#include "sftpd/core/base/log.h"
#include "sftpd/core/base/time_format.h"

namespace sftplc::admin {

int ExitCodeFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotFound:
      return kExitNotFound;
    case ErrorCode::kAlreadyExists:
      return kExitConflict;
    case ErrorCode::kInvalidArgument:
      return kExitInvalid;
    case ErrorCode::kUnavailable:
    case ErrorCode::kPermissionDenied:
    case ErrorCode::kInternal:
      return kExitUnavailable;
  }
  return kExitUnavailable;
}

namespace {

// The name of `uid` ("uid<N>" when it has none).
std::string UserName(uid_t uid) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::string buf(16384, '\0');
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr) {
    return found->pw_name;
  }
  return "uid" + std::to_string(uid);
}

// root writing to an SQLite database folder that belongs to another user (the service user)
// would leave root-owned files there (the -wal and -shm files, a new database) that sftpd can
// no longer open. Refused, naming the user to run as (docs/sftpctl.md, "Running as root").
Status CheckSqliteOwner(const config::DatabaseConfig& cfg) {
  if (geteuid() != 0) {
    return {};
  }
  auto url = db::ParseDatabaseUrl(cfg.url);
  if (!url || url->backend != db::Backend::kSqlite) {
    return {};  // Open() reports a bad URL; PostgreSQL files belong to the server
  }
  std::string folder = url->sqlite_path;
  auto slash = folder.rfind('/');
  folder = slash == std::string::npos ? "." : (slash == 0 ? "/" : folder.substr(0, slash));
  struct stat st {};
  if (stat(folder.c_str(), &st) != 0 || st.st_uid == 0) {
    return {};
  }
  std::string user = UserName(st.st_uid);
  return Error::PermissionDenied("the database folder " + folder + " belongs to the user " + user +
                                 ": run sftpctl as that user (sudo -u " + user +
                                 " sftpctl ...); as root it would leave "
                                 "files there that the service cannot open");
}

}  // namespace

CommandContext::CommandContext(const Clock& clock) : clock_(clock) {}

// The store refers to the database: destroy it first.
CommandContext::~CommandContext() {
  store_.reset();
  db_.reset();
}

Result<const config::Config*> CommandContext::Config() {
  if (!config_) {
    std::optional<std::string> flag;
    if (!config_flag.empty()) {
      flag = config_flag;
    }
    auto cfg = config::LoadConfig(config::ResolveConfigPath(flag));
    if (!cfg) {
      return cfg.error();
    }
    config_ = std::move(*cfg);
  }
  return &*config_;
}

Result<db::Database*> CommandContext::Database(bool migrate) {
  if (!db_) {
    auto cfg = Config();
    if (!cfg) {
      return cfg.error();
    }
    if (auto owner = CheckSqliteOwner((*cfg)->database); !owner) {
      return owner.error();
    }
    auto db = db::Database::Open((*cfg)->database, GetLogger("store"));
    if (!db) {
      return db.error();
    }
    db_ = std::move(*db);
  }
  if (migrate && !migrated_) {
    auto st = db_->Migrate();
    if (!st) {
      return st.error();
    }
    migrated_ = true;
  }
  return db_.get();
}

Result<accounts::AccountStore*> CommandContext::Accounts() {
  if (!store_) {
    auto db = Database();
    if (!db) {
      return db.error();
    }
    store_ = std::make_unique<accounts::AccountStore>(**db, clock_);
  }
  return store_.get();
}

accounts::Actor CommandContext::Actor() const { return {"admin:" + UserName(geteuid())}; }

Result<lifecycle::ConfiguredRunner> CommandContext::Runner(bool with_mailer) {
  auto cfg = Config();
  if (!cfg) {
    return cfg.error();
  }
  auto db = Database();
  if (!db) {
    return db.error();
  }
  return lifecycle::MakeConfiguredRunner(**db, **cfg, with_mailer);
}

void CommandContext::Run(const std::function<Status()>& body) {
  SetLogLevel(verbose ? "info" : "error");
  Status st;
  try {
    st = body();
  } catch (const std::exception& e) {
    st = Error::Internal(std::string("unexpected failure: ") + e.what());
  }
  if (!st) {
    std::cerr << "sftpctl: " << st.error().message() << "\n";
    exit_code_ = ExitCodeFor(st.error().code());
  }
}

// Client-chosen names reach JSON through PutName (name_text.h), which keeps them valid UTF-8;
// replacing is the last guard, so that no output ever ends in an exception instead.
void PrintJson(const nlohmann::ordered_json& j) {
  std::cout << j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
}

nlohmann::ordered_json TimeJson(const std::optional<TimePoint>& t) {
  if (!t) {
    return nullptr;
  }
  return FormatTime(*t);
}

}  // namespace sftplc::admin
