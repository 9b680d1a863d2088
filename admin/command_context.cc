#include "admin/command_context.h"

#include <pwd.h>
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

accounts::Actor CommandContext::Actor() const {
  uid_t uid = geteuid();
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::string buf(16384, '\0');
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr) {
    return {"admin:" + std::string(found->pw_name)};
  }
  return {"admin:uid" + std::to_string(uid)};
}

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
