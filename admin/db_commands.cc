#include "admin/db_commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>

#include "sftpd/core/base/time_format.h"

namespace sftplc::admin {
namespace {

using json = nlohmann::ordered_json;

void RegisterMigrate(CLI::App& group, CommandContext& ctx) {
  auto* cmd = group.add_subcommand("migrate", "apply the pending schema migrations");
  cmd->footer("Example:\n  sftpctl db migrate");
  cmd->callback([&ctx] {
    ctx.Run([&]() -> Status {
      auto db = ctx.Database(false);
      if (!db) {
        return db.error();
      }
      int before = (*db)->SchemaVersion();
      if (auto st = (*db)->Migrate(); !st) {
        return st;
      }
      int after = (*db)->SchemaVersion();
      if (after == before) {
        std::cout << "database is up to date (schema version " << after << ")\n";
      } else {
        std::cout << "migrated database from schema version " << before << " to " << after << "\n";
      }
      return {};
    });
  });
}

void RegisterStatus(CLI::App& group, CommandContext& ctx) {
  auto json_out = std::make_shared<bool>(false);
  auto* cmd = group.add_subcommand("status",
                                   "show the schema version and pending migrations "
                                   "(does not migrate)");
  cmd->add_flag("--json", *json_out, "print JSON");
  cmd->footer("Example:\n  sftpctl db status --json");
  cmd->callback([&ctx, json_out] {
    ctx.Run([&]() -> Status {
      auto db = ctx.Database(false);
      if (!db) {
        return db.error();
      }
      auto status = (*db)->MigrationStatus();
      if (!status) {
        return status.error();
      }
      int version = (*db)->SchemaVersion();
      int pending = 0;
      for (const auto& m : *status) {
        pending += m.applied ? 0 : 1;
      }
      bool newer = version > db::Database::LatestVersion();
      if (*json_out) {
        json arr = json::array();
        for (const auto& m : *status) {
          arr.push_back({{"version", m.version}, {"name", m.name}, {"applied", m.applied}});
        }
        PrintJson({{"database", (*db)->description()},
                   {"backend", (*db)->backend() == db::Backend::kSqlite ? "sqlite" : "postgresql"},
                   {"schema_version", version},
                   {"binary_version", db::Database::LatestVersion()},
                   {"pending", pending},
                   {"newer_than_binary", newer},
                   {"migrations", arr}});
      } else {
        std::printf("database:        %s\n", (*db)->description().c_str());
        std::printf("schema version:  %d (this program knows up to %d)\n", version,
                    db::Database::LatestVersion());
        for (const auto& m : *status) {
          std::printf("  %04d %-24s %s\n", m.version, m.name.c_str(),
                      m.applied ? "applied" : "pending");
        }
      }
      if (newer) {
        return Error::Unavailable(
            "the database schema is newer than this program: upgrade "
            "sftp-lifecycle");
      }
      return {};
    });
  });
}

void RegisterBackup(CLI::App& group, CommandContext& ctx) {
  auto file = std::make_shared<std::string>();
  auto* cmd = group.add_subcommand(
      "backup", "write a consistent copy of the SQLite database to FILE (mode 0600), online");
  cmd->add_option("file", *file, "the backup file to create (must not exist)")->required();
  cmd->footer(
      "Example:\n  sftpctl db backup /var/backups/sftp-lifecycle/accounts-2026-12-03.db\n"
      "Keep the receipts exported after it (db export-receipts) outside the backup; after a "
      "restore run db replay-receipts. PostgreSQL: pg_dump (docs/operations.md).");
  cmd->callback([&ctx, file] {
    ctx.Run([&]() -> Status {
      auto db = ctx.Database();
      if (!db) {
        return db.error();
      }
      if (auto st = (*db)->BackupTo(*file); !st) {
        return st;
      }
      std::cout << "backed up " << (*db)->description() << " to " << *file << "\n";
      return {};
    });
  });
}

// One receipt as a JSON line: ids, times, reasons and counts only (no personal data).
json ReceiptLine(const lifecycle::PurgeReceipt& r) {
  return {{"account_id", r.account_id.str()},
          {"purged_at", FormatTime(r.purged_at)},
          {"reason", r.reason},
          {"closed_at", TimeJson(r.closed_at)},
          {"files_deleted", r.files_deleted},
          {"bytes_deleted", r.bytes_deleted},
          {"contact_kept", r.contact_kept},
          {"contact_deleted_at", TimeJson(r.contact_deleted_at)},
          {"contact_deleted_reason", r.contact_deleted_reason}};
}

void RegisterExportReceipts(CLI::App& group, CommandContext& ctx) {
  auto since = std::make_shared<std::string>();
  auto file = std::make_shared<std::string>();
  auto* cmd = group.add_subcommand(
      "export-receipts",
      "write the purge receipts (purges and contact deletions) since a date to FILE, one JSON "
      "object a line, to replay after restoring an older backup");
  cmd->add_option("--since", *since,
                  "YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC): at or before the backup's time")
      ->required();
  cmd->add_option("file", *file, "the file to write (replaced; mode 0600); - for stdout")
      ->required();
  cmd->footer(
      "Example:\n  sftpctl db export-receipts --since 2026-12-01 "
      "/var/backups/sftp-lifecycle/receipts.jsonl");
  cmd->callback([&ctx, since, file] {
    ctx.Run([&]() -> Status {
      auto from = ParseTime(*since);
      if (!from) {
        return Error::InvalidArgument("--since: " + from.error().message());
      }
      auto b = ctx.Runner(false);
      if (!b) {
        return b.error();
      }
      auto ids = b->runner->ReceiptsChangedSince(*from);
      if (!ids) {
        return ids.error();
      }
      std::string text;
      for (const auto& id : *ids) {
        auto r = b->runner->GetReceipt(id);
        if (!r) {
          return r.error();
        }
        if (*r) {
          text += ReceiptLine(**r).dump() + "\n";
        }
      }
      if (*file == "-") {
        std::cout << text;
        return {};
      }
      // Written beside the target and renamed over it, so a reader never sees half a file.
      std::string tmp = *file + ".tmp";
      int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (fd < 0) {
        return Error::Unavailable("cannot write " + tmp + ": " + std::strerror(errno));
      }
      bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                ::fsync(fd) == 0;
      ok = ::close(fd) == 0 && ok;
      if (!ok || ::rename(tmp.c_str(), file->c_str()) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        return Error::Unavailable("cannot write " + *file + ": " + std::strerror(err));
      }
      std::cout << "exported " << ids->size() << " receipt(s) since " << FormatTime(*from) << " to "
                << *file << "\n";
      return {};
    });
  });
}

void RegisterReplayReceipts(CLI::App& group, CommandContext& ctx) {
  auto file = std::make_shared<std::string>();
  auto* cmd = group.add_subcommand(
      "replay-receipts",
      "after restoring a backup: purge again every account and delete again every marketing "
      "contact that FILE (from db export-receipts) says was purged or deleted");
  cmd->add_option("file", *file, "receipts file written by db export-receipts")->required();
  cmd->footer(
      "Example:\n  sftpctl db replay-receipts /var/backups/sftp-lifecycle/receipts.jsonl\n"
      "A marketing contact the purge kept (contact_kept, no contact_deleted_at) is kept again.\n"
      "Idempotent: what is already gone is counted, not an error. Each purge is audited "
      "(account.replay, actor admin:<user>:replay).");
  cmd->callback([&ctx, file] {
    ctx.Run([&]() -> Status {
      std::ifstream in(*file);
      if (!in) {
        return Error::InvalidArgument("cannot read the receipts file " + *file);
      }
      // Every line is checked before anything is erased: a damaged file changes nothing.
      struct Replay {
        AccountId id;
        bool contact_kept = false;
      };
      std::vector<Replay> receipts;
      std::string line;
      for (int n = 1; std::getline(in, line); ++n) {
        if (line.empty()) {
          continue;
        }
        json j = json::parse(line, nullptr, false);
        auto id = j.is_object() && j.contains("account_id") && j["account_id"].is_string()
                      ? AccountId::Parse(j["account_id"].get<std::string>())
                      : Result<AccountId>(Error::InvalidArgument("no account_id"));
        auto kept = j.is_object() ? j.find("contact_kept") : j.end();
        auto deleted = j.is_object() ? j.find("contact_deleted_at") : j.end();
        if (!id || (kept != j.end() && !kept->is_boolean()) ||
            (deleted != j.end() && !deleted->is_null() && !deleted->is_string())) {
          return Error::InvalidArgument(*file + ":" + std::to_string(n) +
                                        ": not a receipt line of db export-receipts");
        }
        // A line without contact_kept keeps nothing: the safe side of a hand-made file.
        bool keep =
            kept != j.end() && kept->get<bool>() && (deleted == j.end() || deleted->is_null());
        receipts.push_back({*id, keep});
      }
      auto b = ctx.Runner(false);
      if (!b) {
        return b.error();
      }
      std::string actor = ctx.Actor().name + ":replay";
      int64_t erased = 0, gone = 0;
      for (const auto& [id, keep] : receipts) {
        auto r = b->runner->ReplayPurge(id, keep, ctx.clock().Now(), actor);
        if (r) {
          ++erased;
          std::cout << "erased again " << id.str() << ": " << r->files_deleted << " file(s)"
                    << (r->contact_kept ? ", marketing contact kept" : "") << "\n";
        } else if (r.error().code() == ErrorCode::kNotFound) {
          ++gone;
        } else {
          return Error(r.error().code(), id.str() + ": " + r.error().message() +
                                             " (nothing after it was replayed; run again)");
        }
      }
      std::cout << "replayed " << receipts.size() << " receipt(s): " << erased << " erased again, "
                << gone << " already gone\n";
      return {};
    });
  });
}

}  // namespace

void RegisterDbCommands(CLI::App& app, CommandContext& ctx) {
  auto* group = app.add_subcommand("db", "the database: schema, backup, receipts to replay");
  group->require_subcommand(1);
  group->footer(
      "Example:\n  sftpctl db status\nRun a command with --help for its options and an example.");
  RegisterMigrate(*group, ctx);
  RegisterStatus(*group, ctx);
  RegisterBackup(*group, ctx);
  RegisterExportReceipts(*group, ctx);
  RegisterReplayReceipts(*group, ctx);
}

}  // namespace sftplc::admin
