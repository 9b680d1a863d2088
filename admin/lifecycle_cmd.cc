#include "admin/lifecycle_cmd.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>

#include "sftpd/core/base/calendar.h"
#include "sftpd/core/base/log.h"
#include "sftpd/core/base/time_format.h"
#include "sftpd/core/files/account_root.h"
#include "sftpd/core/lifecycle/configured_runner.h"
#include "sftpd/core/lifecycle/export.h"
#include "sftpd/core/lifecycle/runner.h"
#include "sftpd/core/notify/mailer.h"
#include "sftpd/core/notify/templates.h"

namespace sftplc::admin {
namespace {

using json = nlohmann::ordered_json;

// An account named by username or id; purged accounts only by id.
Result<AccountId> ResolveId(CommandContext& ctx, const std::string& key) {
  auto store = ctx.Accounts();
  if (!store) {
    return store.error();
  }
  auto a = (*store)->Resolve(key);
  if (a) {
    return a->id;
  }
  if (a.error().IsNotFound() && AccountId::LooksLikeId(key)) {
    return AccountId::Parse(key);
  }
  return a.error();
}

Error OutputError(const char* what) {
  Error e = files::SysError(errno, what);
  return Error::Unavailable("cannot write the --output file: " + e.message());
}

// Writes `text` (personal data) to `path` so that it is never readable by anyone but the owner:
// into a new temporary file in the same folder (mkostemp: O_EXCL, mode 0600), synced, then
// renamed onto `path`, which therefore holds either the whole export or what it held before.
// `before_rename` runs once the data is in the temporary file; its error stops the write (the
// temporary file is removed). Without `force` an existing `path` is kAlreadyExists (also one
// created meanwhile: RENAME_NOREPLACE); with it, `path` is replaced (a symbolic link itself,
// never its target). kInvalidArgument for a folder, kUnavailable when the file cannot be written.
Status WritePrivateFile(const std::string& path, const std::string& text, bool force,
                        const std::function<Status()>& before_rename) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      return Error::InvalidArgument("--output names a folder: give the name of a file");
    }
    if (!force) {
      return Error::AlreadyExists("--output: the file exists; add --force to replace it");
    }
  } else if (errno != ENOENT) {
    return OutputError("lstat");
  }
  std::filesystem::path target(path);
  std::filesystem::path dir = target.parent_path().empty() ? "." : target.parent_path();
  std::string tmp = (dir / ("." + target.filename().string() + ".XXXXXX")).string();
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) {
    return OutputError("create");
  }
  auto fail = [&](const char* what) {
    Error e = OutputError(what);
    ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  };
  if (::fchmod(fd, 0600) != 0) {
    return fail("chmod");
  }
  for (size_t done = 0; done < text.size();) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return fail("write");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    return fail("sync");
  }
  if (::close(fd) != 0) {
    Error e = OutputError("close");
    ::unlink(tmp.c_str());
    return e;
  }
  if (Status st = before_rename(); !st) {
    ::unlink(tmp.c_str());
    return st;
  }
  int rc = force ? ::rename(tmp.c_str(), path.c_str())
                 : ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE);
  if (rc != 0 && !force && errno == EINVAL) {
    // A file system without RENAME_NOREPLACE: link() refuses an existing name just the same.
    rc = ::link(tmp.c_str(), path.c_str());
    if (rc == 0) {
      ::unlink(tmp.c_str());
    }
  }
  if (rc != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    errno = err;
    if (err == EEXIST) {
      return Error::AlreadyExists("--output: the file exists; add --force to replace it");
    }
    return OutputError("rename");
  }
  return {};
}

json ReportJson(const lifecycle::SweepReport& r) {
  json planned = json::array();
  for (const auto& p : r.planned) {
    planned.push_back(
        {{"account_id", p.account_id.str()}, {"action", p.action}, {"due", FormatTime(p.due)}});
  }
  json failures = json::array();
  for (const auto& f : r.failures) {
    failures.push_back({{"account_id", f.account_id.str()},
                        {"action", f.action},
                        {"failures", f.failures},
                        {"retry_after", FormatTime(f.retry_after)},
                        {"error", f.last_error}});
  }
  return json{{"scheduled", r.scheduled},
              {"notices_queued", r.notices_queued},
              {"reactivated", r.reactivated},
              {"closed", r.closed},
              {"purged", r.purged},
              {"contacts_deleted", r.contacts_deleted},
              {"notices_sent", r.notices_sent},
              {"notices_deferred", r.notices_deferred},
              {"notices_failed", r.notices_failed},
              {"notices_cancelled", r.notices_cancelled},
              {"trash_removed", r.trash_removed},
              {"notice_copies_deleted", r.notice_copies_deleted},
              {"addresses_dropped", r.addresses_dropped},
              {"errors", r.errors},
              {"failures", failures},
              {"planned", planned}};
}

void AddRun(CLI::App& group, CommandContext& ctx) {
  auto* cmd = group.add_subcommand("run", "run one lifecycle sweep now (idempotent)");
  auto dry = std::make_shared<bool>(false);
  auto as_json = std::make_shared<bool>(false);
  cmd->add_flag("--dry-run", *dry, "show what is due; change nothing, send nothing");
  cmd->add_flag("--json", *as_json, "print the summary as JSON");
  cmd->footer("Example:\n  sftpctl lifecycle run --dry-run");
  cmd->callback([&ctx, dry, as_json] {
    ctx.Run([&]() -> Status {
      auto b = ctx.Runner(!*dry);
      if (!b) {
        return b.error();
      }
      lifecycle::SweepOptions opts;
      opts.dry_run = *dry;
      bool tty = isatty(STDERR_FILENO) && !*as_json;
      if (tty) {
        opts.progress = [](const lifecycle::SweepProgress& p) {
          std::fprintf(
              stderr, "\r%-9s [%-30s] %lld done", p.phase.c_str(),
              std::string(static_cast<size_t>(std::min<int64_t>(30, p.done / 10 + 1)), '#').c_str(),
              static_cast<long long>(p.done));
          std::fflush(stderr);
        };
      }
      auto r = b->runner->RunOnce(ctx.clock().Now(), opts);
      if (tty) {
        std::fputs("\r\033[K", stderr);
      }
      if (!r) {
        return r.error();
      }
      // Rows skipped because of an error are retried by the next sweep, but this one did not do
      // everything that was due: whatever the output format, say so in the exit code.
      if (r->errors > 0) {
        ctx.Fail(kExitUnavailable);
      }
      if (*as_json) {
        PrintJson(ReportJson(*r));
        return {};
      }
      if (*dry) {
        std::cout << "dry run: " << r->planned.size() << " action(s) due\n";
        for (const auto& p : r->planned) {
          std::cout << "  " << FormatTime(p.due) << "  " << p.account_id.str() << "  " << p.action
                    << "\n";
        }
        return {};
      }
      std::cout << "notices queued " << r->notices_queued << ", sent " << r->notices_sent
                << ", deferred " << r->notices_deferred << ", failed " << r->notices_failed
                << "; reactivated " << r->reactivated << ", closed " << r->closed << ", purged "
                << r->purged << ", contacts deleted " << r->contacts_deleted
                << "; mail copies deleted " << r->notice_copies_deleted << ", IP addresses dropped "
                << r->addresses_dropped << "; errors " << r->errors << "\n";
      for (const auto& f : r->failures) {
        std::cout << "failed: account " << f.account_id.str() << " (" << f.action << ", "
                  << f.failures << " time(s); retried after " << FormatTime(f.retry_after)
                  << "): " << f.last_error << "\n";
      }
      return {};
    });
  });
}

void AddPlan(CLI::App& group, CommandContext& ctx) {
  auto* cmd = group.add_subcommand("plan", "what will happen to which account, on which date");
  auto days = std::make_shared<int>(30);
  auto as_json = std::make_shared<bool>(false);
  cmd->add_option("--days", *days, "look this many days ahead (default 30)")
      ->check(CLI::Range(0, 36600));
  cmd->add_flag("--json", *as_json, "print JSON");
  cmd->footer("Example:\n  sftpctl lifecycle plan --days 90 --json");
  cmd->callback([&ctx, days, as_json] {
    ctx.Run([&]() -> Status {
      auto b = ctx.Runner(false);
      if (!b) {
        return b.error();
      }
      TimePoint now = ctx.clock().Now();
      TimePoint until = AddPeriod(now, Period{*days, Period::Unit::kDays});
      auto plan = b->runner->Plan(now, until);
      if (!plan) {
        return plan.error();
      }
      if (*as_json) {
        json out = json::array();
        for (const auto& p : *plan) {
          out.push_back({{"date", FormatTime(p.due)},
                         {"account_id", p.account_id.str()},
                         {"action", p.action}});
        }
        PrintJson(json{{"from", FormatTime(now)}, {"until", FormatTime(until)}, {"plan", out}});
        return {};
      }
      std::cout << plan->size() << " action(s) from " << FormatDate(now) << " to "
                << FormatDate(until) << "\n";
      for (const auto& p : *plan) {
        std::cout << "  " << FormatTime(p.due) << "  " << p.account_id.str() << "  " << p.action
                  << "\n";
      }
      return {};
    });
  });
}

void AddAccountCommands(CLI::App& account, CommandContext& ctx) {
  {
    auto* cmd = account.add_subcommand(
        "confirm", "confirm an account is still needed (the client replied): idle clock restarts");
    auto key = std::make_shared<std::string>();
    cmd->add_option("account", *key, "username or id")->required();
    cmd->footer("Example:\n  sftpctl account confirm acme-ftp");
    cmd->callback([&ctx, key] {
      ctx.Run([&]() -> Status {
        auto id = ResolveId(ctx, *key);
        if (!id) {
          return id.error();
        }
        auto b = ctx.Runner(false);
        if (!b) {
          return b.error();
        }
        auto a = b->runner->Confirm(*id, ctx.clock().Now(), ctx.Actor().name);
        if (!a) {
          return a.error();
        }
        std::cout << "account " << a->id.str() << " confirmed; next inactivity notice due "
                  << FormatTime(a->next_action_due) << "\n";
        return {};
      });
    });
  }
  {
    auto* cmd = account.add_subcommand(
        "erase", "erasure request: delete the account and everything held about the person now");
    auto key = std::make_shared<std::string>();
    auto yes = std::make_shared<bool>(false);
    cmd->add_option("account", *key, "username or id")->required();
    cmd->add_flag("--yes", *yes, "required: this cannot be undone");
    cmd->footer(
        "Example:\n  sftpctl account erase acme-ftp --yes\n"
        "  sftpctl account erase 9b2e61c04d7f4a1e8c3b5d6f7a8e9c0d --yes   (what remains of a "
        "purged account)");
    cmd->callback([&ctx, key, yes] {
      ctx.Run([&]() -> Status {
        if (!*yes) {
          return Error::InvalidArgument(
              "erasure deletes everything at once and cannot be undone: add --yes");
        }
        auto id = ResolveId(ctx, *key);
        if (!id) {
          return id.error();
        }
        auto b = ctx.Runner(false);
        if (!b) {
          return b.error();
        }
        auto r = b->runner->EraseNow(*id, ctx.clock().Now(), ctx.Actor().name);
        if (!r) {
          return r.error();
        }
        if (r->folder_only) {
          std::cout << "erased " << id->str() << ": the storage folder left without an account ("
                    << r->files_deleted << " file(s), " << r->bytes_deleted << " byte(s))\n";
          return {};
        }
        std::cout << "erased " << id->str() << ": " << r->files_deleted << " file(s), "
                  << r->keys_deleted << " key(s), " << r->usage_rows_deleted << " usage record(s), "
                  << r->notices_deleted << " notice(s)"
                  << (r->contact_deleted_at ? ", marketing contact" : "") << "\n";
        return {};
      });
    });
  }
  {
    auto* cmd = account.add_subcommand(
        "export", "access request: everything held about the person, with purpose and deadline");
    auto key = std::make_shared<std::string>();
    auto format = std::make_shared<std::string>("json");
    auto output = std::make_shared<std::string>();
    auto force = std::make_shared<bool>(false);
    cmd->add_option("account", *key, "username or id")->required();
    cmd->add_option("--format", *format, "json (default) or text")
        ->check(CLI::IsMember({"json", "text"}));
    auto* output_opt = cmd->add_option("--output", *output,
                                       "write to this new file (mode 0600) instead of stdout");
    cmd->add_flag("--force", *force, "with --output: replace the file if it exists")
        ->needs(output_opt);
    cmd->footer(
        "Example:\n  sftpctl account export acme-ftp --format text --output "
        "acme-ftp-export.txt");
    cmd->callback([&ctx, key, format, output, force] {
      ctx.Run([&]() -> Status {
        auto id = ResolveId(ctx, *key);
        if (!id) {
          return id.error();
        }
        auto cfg = ctx.Config();
        if (!cfg) {
          return cfg.error();
        }
        auto db = ctx.Database();
        if (!db) {
          return db.error();
        }
        auto e = lifecycle::ExportAccount(**db, **cfg, *id, ctx.clock().Now());
        if (!e) {
          return e.error();
        }
        std::string text =
            *format == "text"
                ? lifecycle::ExportText(*e)
                : e->dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
        // An access request is recorded before the data is handed out: never a copy without a
        // record. The detail holds no personal values (no path: a file name may be one).
        auto record = [&]() -> Status {
          return lifecycle::RecordExport(
              **db, *id, ctx.clock().Now(), ctx.Actor().name,
              "format=" + *format + (output->empty() ? " to=stdout" : " to=file"));
        };
        if (output->empty()) {
          if (auto st = record(); !st) {
            return st;
          }
          std::cout << text;
          return {};
        }
        if (auto st = WritePrivateFile(*output, text, *force, record); !st) {
          return st;
        }
        std::cerr << "export written to " << *output << "\n";
        return {};
      });
    });
  }
}

}  // namespace

void RegisterLifecycleCommands(CLI::App& app, CommandContext& ctx) {
  auto* group = app.add_subcommand("lifecycle", "the account lifecycle: sweeps and plans");
  group->require_subcommand(1);
  group->footer(
      "Example:\n  sftpctl lifecycle plan --days 90\nRun a command with --help for its options "
      "and an example.");
  AddRun(*group, ctx);
  AddPlan(*group, ctx);
  CLI::App* account = nullptr;
  for (CLI::App* sub : app.get_subcommands({})) {
    if (sub->get_name() == "account") {
      account = sub;
    }
  }
  if (account == nullptr) {
    account = app.add_subcommand("account", "client accounts");
  }
  AddAccountCommands(*account, ctx);
}

}  // namespace sftplc::admin
