#include "admin/db_commands.h"

#include <cstdio>
#include <iostream>

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

}  // namespace

void RegisterDbCommands(CLI::App& app, CommandContext& ctx) {
  auto* group = app.add_subcommand("db", "the database schema");
  group->require_subcommand(1);
  group->footer(
      "Example:\n  sftpctl db status\nRun a command with --help for its options and an example.");
  RegisterMigrate(*group, ctx);
  RegisterStatus(*group, ctx);
}

}  // namespace sftplc::admin
