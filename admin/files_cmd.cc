#include "admin/files_cmd.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "sftpd/core/base/log.h"
#include "sftpd/core/base/name_text.h"
#include "sftpd/core/base/time_format.h"
#include "sftpd/core/files/account_root.h"
#include "sftpd/core/lifecycle/runner.h"
#include "sftpd/core/notify/templates.h"
#include "sftpd/core/usage/usage_store.h"

namespace sftplc::admin {
namespace {

using accounts::Account;
using accounts::AccountState;
using json = nlohmann::ordered_json;

constexpr const char* kAccountArgHelp = "the account: its username or its 32-hex-digit id";
constexpr uint64_t kProgressMinBytes = 1 << 20;  // progress only for files of 1 MiB or more

// Refuses a remote path with a ".." component: the operator names paths in the client's view
// ("/" is the account's folder) and has no reason to climb; refusing says so clearly instead
// of silently clamping at the root as a chroot would.
Status CheckRemotePath(const std::string& remote) {
  if (remote.find('\0') != std::string::npos) {
    return Error::InvalidArgument("the remote path contains a NUL byte");
  }
  size_t i = 0;
  while (i <= remote.size()) {
    size_t j = remote.find('/', i);
    if (j == std::string::npos) {
      j = remote.size();
    }
    if (remote.compare(i, j - i, "..") == 0 && j - i == 2) {
      return Error::InvalidArgument(
          "the remote path must not contain \"..\": name it from the account's folder (\"/\")");
    }
    i = j + 1;
  }
  return {};
}

// A remote path written with a final "/" names a folder: it must exist and be one (followed
// inside the root). Nothing to check without the slash.
Status CheckFolderSlash(const files::AccountRoot& root, const std::string& remote) {
  if (remote.empty() || remote.back() != '/') {
    return {};
  }
  auto st = root.Stat(remote);
  if (!st) {
    return st.error().sys_errno() == EXDEV
               ? Error::InvalidArgument(
                     "the remote path leads outside the account's folder "
                     "(through a symlink): refused")
               : st.error();
  }
  if (!S_ISDIR(st->st_mode)) {
    return Error::InvalidArgument("the remote path ends with \"/\" but is not a folder");
  }
  return {};
}

// An error of the confinement code, for the operator: a path that would leave the account's
// folder (EXDEV from RESOLVE_BENEATH: a symlink pointing out) is invalid input (exit 4).
Error ForOperator(const Error& e) {
  if (e.sys_errno() == EXDEV) {
    return Error::InvalidArgument(
        "the remote path leads outside the account's folder "
        "(through a symlink): refused");
  }
  return e;
}

// What every files command needs: the account, its confined root, the stores.
struct Target {
  Account account;
  std::unique_ptr<files::AccountRoot> root;
  accounts::AccountStore* store = nullptr;
  db::Database* db = nullptr;
};

Result<Target> OpenTarget(CommandContext& ctx, const std::string& key) {
  auto cfg = ctx.Config();
  if (!cfg) {
    return cfg.error();
  }
  auto store = ctx.Accounts();
  if (!store) {
    return store.error();
  }
  auto db = ctx.Database();
  if (!db) {
    return db.error();
  }
  auto a = (*store)->Resolve(key);
  if (!a) {
    return a.error();
  }
  const std::string& storage = (*cfg)->storage.root;
  std::error_code ec;
  if (!std::filesystem::is_directory(storage, ec)) {
    return Error::Unavailable("storage.root " + storage + " is not a directory");
  }
  auto root = files::AccountRoot::Open(storage, a->id);
  if (!root) {
    return Error::Unavailable("cannot open the account folder under storage.root " + storage +
                              ": " + root.error().message());
  }
  Target t;
  t.account = std::move(*a);
  t.root = std::move(*root);
  t.store = *store;
  t.db = *db;
  return t;
}

// One usage session row for one command (actor admin:<os user>), closed by Finish().
class UsageRecord {
 public:
  UsageRecord(CommandContext& ctx, db::Database& db, const AccountId& id)
      : ctx_(ctx), usage_(db, ctx.clock()) {
    usage::NewSession s;
    s.account = id;
    s.started_at = ctx.clock().Now();
    s.remote_ip = "";  // a local actor
    s.client_version = "sftpctl";
    s.auth_method = "admin";
    s.actor = ctx.Actor().name;
    auto r = usage_.Open(s);
    if (r) {
      id_ = *r;
    } else {
      open_error_ = r.error();
    }
  }

  // The error of opening the row, if any (the command then does nothing).
  Status opened() const { return open_error_ ? Status(*open_error_) : Status(); }
  int64_t id() const { return id_; }

  // Closes the row with `c` and "closed" (success) or "failed".
  Status Finish(const usage::Counters& c, bool ok) {
    return usage_.Close(id_, c, ok ? "closed" : "failed", ctx_.clock().Now());
  }

 private:
  CommandContext& ctx_;
  usage::UsageStore usage_;
  int64_t id_ = 0;
  std::optional<Error> open_error_;
};

std::string HumanBytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return buf;
}

// Progress on stderr when it is a terminal and the file is large: bytes, percent, rate; at most
// ten updates a second, a final newline. Nothing at all when stderr is not a terminal.
class ProgressLine {
 public:
  explicit ProgressLine(const Clock& clock)
      : clock_(clock), tty_(isatty(STDERR_FILENO) == 1), start_(clock.SteadyNow()) {}
  ~ProgressLine() {
    if (shown_) {
      std::fputs("\n", stderr);
    }
  }

  files::Progress Callback() {
    if (!tty_) {
      return {};
    }
    return [this](uint64_t done, uint64_t total) { Update(done, total); };
  }

 private:
  void Update(uint64_t done, uint64_t total) {
    if (total < kProgressMinBytes) {
      return;
    }
    auto now = clock_.SteadyNow();
    if (shown_ && done < total && now - last_ < std::chrono::milliseconds(100)) {
      return;
    }
    last_ = now;
    shown_ = true;
    double secs = std::chrono::duration<double>(now - start_).count();
    double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
    std::fprintf(stderr, "\r%s / %s  %3d%%  %s/s   ", HumanBytes(static_cast<double>(done)).c_str(),
                 HumanBytes(static_cast<double>(total)).c_str(),
                 static_cast<int>(done * 100 / total), HumanBytes(rate).c_str());
    std::fflush(stderr);
  }

  const Clock& clock_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_{};
  bool shown_ = false;
};

std::string TypeName(mode_t m) {
  if (S_ISREG(m)) return "file";
  if (S_ISDIR(m)) return "dir";
  if (S_ISLNK(m)) return "symlink";
  return "other";
}

std::string BaseName(const std::string& p) {
  std::string s = p;
  while (s.size() > 1 && s.back() == '/') {
    s.pop_back();
  }
  size_t slash = s.rfind('/');
  return slash == std::string::npos ? s : s.substr(slash + 1);
}

// --- list ---

void RegisterList(CLI::App& group, CommandContext& ctx) {
  struct Opts {
    std::string account, path;
    bool recursive = false, json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = group.add_subcommand("list", "list the files in an account's folder");
  cmd->add_option("account", o->account, kAccountArgHelp)->required();
  cmd->add_option("path", o->path, "a path in the account's folder (default \"/\")");
  cmd->add_flag("--recursive,-r", o->recursive, "descend into folders (symlinks are not followed)");
  cmd->add_flag("--json", o->json, "print JSON");
  cmd->footer("Example:\n  sftpctl files list acme-ftp /outgoing --recursive");
  cmd->callback([&ctx, o] {
    ctx.Run([&]() -> Status {
      if (auto st = CheckRemotePath(o->path); !st) {
        return st;
      }
      auto t = OpenTarget(ctx, o->account);
      if (!t) {
        return t.error();
      }
      if (auto st = CheckFolderSlash(*t->root, o->path); !st) {
        return st;
      }
      UsageRecord rec(ctx, *t->db, t->account.id);
      if (auto st = rec.opened(); !st) {
        return st;
      }
      auto entries = t->root->List(o->path, o->recursive);
      (void)rec.Finish({}, static_cast<bool>(entries));
      if (!entries) {
        return ForOperator(entries.error());
      }
      if (auto st =
              t->store->RecordAudit(t->account.id, "files.list",
                                    "entries=" + std::to_string(entries->size()), ctx.Actor());
          !st) {
        return st;
      }
      if (o->json) {
        json arr = json::array();
        for (const auto& e : *entries) {
          char mode[8];
          std::snprintf(mode, sizeof mode, "%04o", e.st.st_mode & 07777);
          json entry;
          PutName(entry, "path", e.path);
          entry["type"] = TypeName(e.st.st_mode);
          entry["size"] = static_cast<uint64_t>(e.st.st_size);
          entry["mode"] = mode;
          entry["mtime"] = FormatTime(FromUnix(e.st.st_mtim.tv_sec));
          arr.push_back(std::move(entry));
        }
        PrintJson({{"account_id", t->account.id.str()},
                   {"username", t->account.username},
                   {"entries", arr}});
        return {};
      }
      for (const auto& e : *entries) {
        std::printf("%-7s %04o %12llu  %s  %s\n", TypeName(e.st.st_mode).c_str(),
                    e.st.st_mode & 07777, static_cast<unsigned long long>(e.st.st_size),
                    FormatTime(FromUnix(e.st.st_mtim.tv_sec)).c_str(), EscapeName(e.path).c_str());
      }
      return {};
    });
  });
}

// --- put ---

void RegisterPut(CLI::App& group, CommandContext& ctx) {
  struct Opts {
    std::string account, local, remote;
    bool notify = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = group.add_subcommand("put", "send a file to a client (copy it into their folder)");
  cmd->add_option("account", o->account, kAccountArgHelp)->required();
  cmd->add_option("local", o->local, "the local file to send")->required();
  cmd->add_option("remote", o->remote,
                  "where in the account's folder (default \"/\"; into it when a folder)");
  cmd->add_flag("--notify", o->notify,
                "queue a \"files waiting\" email to the client (delivered by the sweep)");
  cmd->footer("Example:\n  sftpctl files put acme-ftp report-2026-11.pdf /outgoing/ --notify");
  cmd->callback([&ctx, o] {
    ctx.Run([&]() -> Status {
      if (auto st = CheckRemotePath(o->remote); !st) {
        return st;
      }
      auto t = OpenTarget(ctx, o->account);
      if (!t) {
        return t.error();
      }
      if (t->account.state == AccountState::kClosed) {
        return Error::AlreadyExists(
            "the account is closed: no files can be sent to it (list, get and rm still work)");
      }
      if (auto st = CheckFolderSlash(*t->root, o->remote); !st) {
        return st;
      }
      auto log = GetLogger("sftpctl");
      // Where the file lands, in the client's view (for the output and the notice).
      std::string target = o->remote;
      if (auto st = t->root->Stat(o->remote); o->remote.empty() || (st && S_ISDIR(st->st_mode))) {
        std::string dir = target;
        while (!dir.empty() && dir.back() == '/') {
          dir.pop_back();
        }
        target = dir + "/" + BaseName(o->local);
      }
      auto norm = files::NormalizeClientPath(target);
      std::string shown = "/" + (norm ? *norm : target);

      UsageRecord rec(ctx, *t->db, t->account.id);
      if (auto st = rec.opened(); !st) {
        return st;
      }
      Result<uint64_t> bytes = uint64_t{0};
      {
        ProgressLine progress(ctx.clock());
        bytes = t->root->Put(o->local, o->remote, progress.Callback());
      }
      usage::Counters c;
      if (bytes) {
        c.bytes_in = *bytes;
        c.files_uploaded = 1;
      }
      (void)rec.Finish(c, static_cast<bool>(bytes));
      if (!bytes) {
        return ForOperator(bytes.error());
      }
      SPDLOG_LOGGER_DEBUG(log, "files put account={} path={}", t->account.id.short_str(), shown);
      // Run as root, give the file to the owner of the account's folder (the user sftpd runs as).
      if (geteuid() == 0) {
        auto rs = files::AccountRoot::Fstat(t->root->fd());
        auto fd = t->root->OpenFile(shown, O_RDONLY, 0);
        if (rs && fd && fchown(fd->get(), rs->st_uid, rs->st_gid) != 0) {
          return Error::Unavailable("cannot give the file to the owner of the account folder");
        }
      }
      if (auto st = t->store->RecordActivity(t->account.id, ctx.clock().Now()); !st) {
        return st;
      }
      if (auto st =
              t->store->RecordAudit(t->account.id, "files.put",
                                    "bytes=" + std::to_string(*bytes) + " files=1", ctx.Actor());
          !st) {
        return st;
      }
      log->info("files put account={} bytes={}", t->account.id.short_str(), *bytes);
      std::cout << "sent " << *bytes << " bytes to " << EscapeName(shown) << " for account "
                << t->account.username << "\n";
      if (o->notify) {
        auto cfg = ctx.Config();
        lifecycle::LifecycleRunner runner(*t->db, **cfg, nullptr, notify::TemplateSet::Defaults(),
                                          GetLogger("lifecycle"));
        auto st = runner.QueueFilesNotice(t->account.id, {shown}, "put-" + std::to_string(rec.id()),
                                          ctx.clock().Now());
        if (!st) {
          return Error(st.error().code(),
                       "the file was sent, but the notice was not queued: " + st.error().message());
        }
        std::cout << "a \"files waiting\" notice is queued (sent by the next sweep)\n";
      }
      return {};
    });
  });
}

// --- get ---

void RegisterGet(CLI::App& group, CommandContext& ctx) {
  struct Opts {
    std::string account, remote, local;
    bool force = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = group.add_subcommand("get", "copy a file from an account's folder");
  cmd->add_option("account", o->account, kAccountArgHelp)->required();
  cmd->add_option("remote", o->remote, "the file in the account's folder")->required();
  cmd->add_option("local", o->local,
                  "where to write it (default: its name in the current folder; into it when a "
                  "folder)");
  cmd->add_flag("--force", o->force, "replace an existing local file");
  cmd->footer("Example:\n  sftpctl files get acme-ftp /incoming/orders.csv ./orders.csv");
  cmd->callback([&ctx, o] {
    ctx.Run([&]() -> Status {
      if (auto st = CheckRemotePath(o->remote); !st) {
        return st;
      }
      auto norm = files::NormalizeClientPath(o->remote);
      if (!norm) {
        return norm.error();
      }
      if (norm->empty()) {
        return Error::InvalidArgument("name a file in the account's folder, not the folder");
      }
      std::string local = o->local.empty() ? BaseName(*norm) : o->local;
      std::error_code ec;
      if (std::filesystem::is_directory(local, ec)) {
        local += "/" + BaseName(*norm);
      }
      auto t = OpenTarget(ctx, o->account);
      if (!t) {
        return t.error();
      }
      UsageRecord rec(ctx, *t->db, t->account.id);
      if (auto st = rec.opened(); !st) {
        return st;
      }
      Result<uint64_t> bytes = uint64_t{0};
      {
        ProgressLine progress(ctx.clock());
        bytes = t->root->Get(o->remote, local, o->force, progress.Callback());
      }
      usage::Counters c;
      if (bytes) {
        c.bytes_out = *bytes;
        c.files_downloaded = 1;
      }
      (void)rec.Finish(c, static_cast<bool>(bytes));
      if (!bytes) {
        if (bytes.error().sys_errno() == EEXIST) {
          return Error::AlreadyExists("the local file exists (--force replaces it)");
        }
        return ForOperator(bytes.error());
      }
      // Retrieving the data of a closed account before its purge is not client activity.
      if (t->account.state != AccountState::kClosed) {
        if (auto st = t->store->RecordActivity(t->account.id, ctx.clock().Now()); !st) {
          return st;
        }
      }
      if (auto st =
              t->store->RecordAudit(t->account.id, "files.get",
                                    "bytes=" + std::to_string(*bytes) + " files=1", ctx.Actor());
          !st) {
        return st;
      }
      GetLogger("sftpctl")->info("files get account={} bytes={}", t->account.id.short_str(),
                                 *bytes);
      std::cout << "received " << *bytes << " bytes into " << local << "\n";
      return {};
    });
  });
}

// --- rm ---

void RegisterRm(CLI::App& group, CommandContext& ctx) {
  struct Opts {
    std::string account, remote;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = group.add_subcommand(
      "rm", "remove a file, a symlink (never its target) or an empty folder of an account");
  cmd->add_option("account", o->account, kAccountArgHelp)->required();
  cmd->add_option("remote", o->remote, "the path in the account's folder")->required();
  cmd->footer("Example:\n  sftpctl files rm acme-ftp /outgoing/report-2026-10.pdf");
  cmd->callback([&ctx, o] {
    ctx.Run([&]() -> Status {
      if (auto st = CheckRemotePath(o->remote); !st) {
        return st;
      }
      auto norm = files::NormalizeClientPath(o->remote);
      if (!norm) {
        return norm.error();
      }
      if (norm->empty()) {
        return Error::InvalidArgument("the account's folder itself cannot be removed");
      }
      auto t = OpenTarget(ctx, o->account);
      if (!t) {
        return t.error();
      }
      UsageRecord rec(ctx, *t->db, t->account.id);
      if (auto st = rec.opened(); !st) {
        return st;
      }
      Status st = t->root->Remove(o->remote);
      usage::Counters c;
      c.files_removed = st ? 1 : 0;
      (void)rec.Finish(c, static_cast<bool>(st));
      if (!st) {
        if (st.error().sys_errno() == ENOTEMPTY || st.error().sys_errno() == EEXIST) {
          return Error::AlreadyExists("the folder is not empty");
        }
        return ForOperator(st.error());
      }
      if (auto a = t->store->RecordAudit(t->account.id, "files.rm", "files=1", ctx.Actor()); !a) {
        return a;
      }
      GetLogger("sftpctl")->info("files rm account={}", t->account.id.short_str());
      std::cout << "removed /" << EscapeName(*norm) << " from account " << t->account.username
                << "\n";
      return {};
    });
  });
}

}  // namespace

void RegisterFilesCommands(CLI::App& app, CommandContext& ctx) {
  auto* group = app.add_subcommand("files", "files sent to and retrieved from a client's folder");
  group->require_subcommand(1);
  group->footer(
      "Example:\n  sftpctl files put acme-ftp invoice.pdf /outgoing/ --notify\nRun a command with "
      "--help for its options and an example.");
  RegisterList(*group, ctx);
  RegisterPut(*group, ctx);
  RegisterGet(*group, ctx);
  RegisterRm(*group, ctx);
}

}  // namespace sftplc::admin
