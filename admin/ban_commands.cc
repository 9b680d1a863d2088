#include "admin/ban_commands.h"

#include <cstdio>
#include <iostream>
#include <memory>

#include "sftpd/core/auth/defender.h"
#include "sftpd/core/base/log.h"
#include "sftpd/core/base/time_format.h"

namespace sftplc::admin {
namespace {

using json = nlohmann::ordered_json;

// The defender over the configured database (the same tables every sftpd node uses).
Result<std::unique_ptr<auth::Defender>> OpenDefender(CommandContext& ctx) {
  auto cfg = ctx.Config();
  if (!cfg) {
    return cfg.error();
  }
  auto db = ctx.Database();
  if (!db) {
    return db.error();
  }
  return std::make_unique<auth::Defender>((*cfg)->auth.defender, **db, ctx.clock(),
                                          GetLogger("admin"));
}

void RegisterList(CLI::App& group, CommandContext& ctx) {
  struct Opts {
    bool all = false;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = group.add_subcommand("list", "show the source addresses banned now");
  cmd->add_flag("--all", o->all,
                "also the expired bans still remembered (they make the next ban longer)");
  cmd->add_flag("--json", o->json, "print JSON");
  cmd->footer("Example:\n  sftpctl ban list --json");
  cmd->callback([&ctx, o] {
    ctx.Run([&]() -> Status {
      auto defender = OpenDefender(ctx);
      if (!defender) {
        return defender.error();
      }
      auto bans = (*defender)->ListBans(o->all);
      if (!bans) {
        return bans.error();
      }
      TimePoint now = ctx.clock().Now();
      if (o->json) {
        json arr = json::array();
        for (const auto& b : *bans) {
          arr.push_back({{"ip", b.ip},
                         {"banned_until", FormatTime(b.banned_until)},
                         {"active", b.banned_until > now},
                         {"ban_count", b.ban_count},
                         {"first_banned_at", FormatTime(b.first_banned_at)},
                         {"last_banned_at", FormatTime(b.last_banned_at)}});
        }
        PrintJson(arr);
        return {};
      }
      if (bans->empty()) {
        std::printf("no %s\n", o->all ? "bans remembered" : "ban in force");
        return {};
      }
      std::printf("%-28s  %-20s  %5s  %-20s\n", "ADDRESS", "BANNED UNTIL", "COUNT", "FIRST BANNED");
      for (const auto& b : *bans) {
        std::printf("%-28s  %-20s  %5d  %-20s%s\n", b.ip.c_str(),
                    FormatTime(b.banned_until).c_str(), b.ban_count,
                    FormatTime(b.first_banned_at).c_str(),
                    b.banned_until > now ? "" : "  (expired)");
      }
      return {};
    });
  });
}

void RegisterRemove(CLI::App& group, CommandContext& ctx) {
  auto ip = std::make_shared<std::string>();
  auto* cmd = group.add_subcommand(
      "remove", "lift the ban on an address (or IPv6 /64) and forget its history");
  cmd->add_option("ip", *ip, "the address as `ban list` shows it")->required();
  cmd->footer(
      "Example:\n  sftpctl ban remove 192.0.2.7\n  sftpctl ban remove 2001:db8:1:2::/64\n"
      "Every sftpd node stops enforcing it within 10 seconds.");
  cmd->callback([&ctx, ip] {
    ctx.Run([&]() -> Status {
      auto defender = OpenDefender(ctx);
      if (!defender) {
        return defender.error();
      }
      auto key = auth::Defender::BanKey(*ip);
      if (auto st = (*defender)->RemoveBan(*ip, ctx.Actor().name); !st) {
        return st;
      }
      std::cout << "ban removed: " << key.value_or(*ip) << "\n";
      return {};
    });
  });
}

}  // namespace

void RegisterBanCommands(CLI::App& app, CommandContext& ctx) {
  auto* group = app.add_subcommand("ban", "source addresses banned after failed logins");
  group->require_subcommand(1);
  group->footer(
      "Example:\n  sftpctl ban list\nRun a command with --help for its options and an example.");
  RegisterList(*group, ctx);
  RegisterRemove(*group, ctx);
}

}  // namespace sftplc::admin
