#include "admin/usage_cmd.h"

#include <fmt/format.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>

#include "sftpd/core/base/name_text.h"
#include "sftpd/core/base/time_format.h"
#include "sftpd/core/usage/usage_store.h"

namespace sftplc::admin {
namespace {

using json = nlohmann::ordered_json;

Result<std::optional<TimePoint>> ParseSince(const std::string& text) {
  if (text.empty()) {
    return std::optional<TimePoint>();
  }
  auto t = ParseTime(text);
  if (!t) {
    return Error::InvalidArgument("--since: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
  }
  return std::optional<TimePoint>(*t);
}

json CountersJson(const usage::Counters& c) {
  return {{"bytes_in", c.bytes_in},
          {"bytes_out", c.bytes_out},
          {"files_uploaded", c.files_uploaded},
          {"files_downloaded", c.files_downloaded},
          {"files_removed", c.files_removed}};
}

// 1536 -> "1.5 KiB".
std::string Bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", n) : fmt::format("{:.1f} {}", v, units[u]);
}

void RegisterShow(CLI::App& group, CommandContext& ctx) {
  struct Opts {
    std::string account, since;
    int limit = 100;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = group.add_subcommand("show", "list the sessions and failed logins of one account");
  cmd->add_option("account", o->account, "the account: its username or its 32-hex-digit id")
      ->required();
  cmd->add_option("--since", o->since,
                  "only from this time: YYYY-MM-DD (midnight UTC) or YYYY-MM-DDTHH:MM:SSZ");
  cmd->add_option("--limit", o->limit, "at most this many sessions (newest first; default 100)")
      ->check(CLI::Range(1, 1000000));
  cmd->add_flag("--json", o->json, "print JSON");
  cmd->footer("Example:\n  sftpctl usage show acme-ftp --since 2026-01-01");
  cmd->callback([&ctx, o] {
    ctx.Run([&]() -> Status {
      auto since = ParseSince(o->since);
      if (!since) {
        return since.error();
      }
      auto store = ctx.Accounts();
      if (!store) {
        return store.error();
      }
      auto a = (*store)->Resolve(o->account);
      if (!a) {
        return a.error();
      }
      auto db = ctx.Database();
      if (!db) {
        return db.error();
      }
      usage::UsageStore usage(**db, ctx.clock());
      auto sessions = usage.ListSessions(a->id, *since, o->limit);
      if (!sessions) {
        return sessions.error();
      }
      auto failures = usage.ListFailedLogins(a->id, *since, o->limit);
      if (!failures) {
        return failures.error();
      }
      if (o->json) {
        json s = json::array();
        for (const auto& r : *sessions) {
          json row = {{"id", r.id},
                      {"started_at", FormatTime(r.started_at)},
                      {"ended_at", TimeJson(r.ended_at)},
                      {"actor", r.actor},
                      {"remote_ip", r.remote_ip}};
          // The SSH banner is the client's text, any bytes: the same encoding as file names.
          PutName(row, "client_version", r.client_version);
          row["auth_method"] = r.auth_method;
          row["counters"] = CountersJson(r.counters);
          row["end_reason"] = r.ended_at ? json(r.end_reason) : json(nullptr);
          s.push_back(std::move(row));
        }
        json f = json::array();
        for (const auto& x : *failures) {
          f.push_back({{"at", FormatTime(x.at)},
                       {"remote_ip", x.remote_ip},
                       {"auth_method", x.auth_method}});
        }
        PrintJson({{"account_id", a->id.str()},
                   {"username", a->username},
                   {"since", TimeJson(*since)},
                   {"sessions", s},
                   {"failed_logins", f}});
        return {};
      }
      std::cout << "account " << a->username << " (" << a->id.str() << ")\n";
      std::cout << "sessions: " << sessions->size() << "\n";
      for (const auto& r : *sessions) {
        std::cout << fmt::format(
            "  {}  {}  {:<15} {:<9} in {:>10}  out {:>10}  files +{} v{} -{}  {}  {}\n",
            FormatTime(r.started_at), FormatTime(r.ended_at), r.remote_ip, r.auth_method,
            Bytes(r.counters.bytes_in), Bytes(r.counters.bytes_out), r.counters.files_uploaded,
            r.counters.files_downloaded, r.counters.files_removed,
            r.ended_at ? r.end_reason : "running", EscapeName(r.client_version));
      }
      std::cout << "failed logins: " << failures->size() << "\n";
      for (const auto& x : *failures) {
        std::cout << fmt::format("  {}  {:<15} {}\n", FormatTime(x.at), x.remote_ip, x.auth_method);
      }
      return {};
    });
  });
}

void RegisterReport(CLI::App& group, CommandContext& ctx) {
  struct Opts {
    std::string since;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = group.add_subcommand("report", "totals per account (sessions, bytes, files)");
  cmd->add_option("--since", o->since,
                  "only sessions started from this time: YYYY-MM-DD (midnight UTC) or "
                  "YYYY-MM-DDTHH:MM:SSZ");
  cmd->add_flag("--json", o->json, "print JSON");
  cmd->footer("Example:\n  sftpctl usage report --since 2026-01-01 --json");
  cmd->callback([&ctx, o] {
    ctx.Run([&]() -> Status {
      auto since = ParseSince(o->since);
      if (!since) {
        return since.error();
      }
      auto store = ctx.Accounts();
      if (!store) {
        return store.error();
      }
      auto db = ctx.Database();
      if (!db) {
        return db.error();
      }
      usage::UsageStore usage(**db, ctx.clock());
      auto rows = usage.Report(*since);
      if (!rows) {
        return rows.error();
      }
      auto name_of = [&](const AccountId& id) -> std::string {
        auto a = (*store)->Get(id);
        return a ? a->username : std::string("-");  // purged meanwhile
      };
      if (o->json) {
        json arr = json::array();
        for (const auto& r : *rows) {
          arr.push_back({{"account_id", r.account.str()},
                         {"username", name_of(r.account)},
                         {"sessions", r.sessions},
                         {"failed_logins", r.failed_logins},
                         {"last_session_at", TimeJson(r.last_session_at)},
                         {"totals", CountersJson(r.totals)}});
        }
        PrintJson({{"since", TimeJson(*since)}, {"accounts", arr}});
        return {};
      }
      std::cout << fmt::format("{:<32} {:>8} {:>7} {:>12} {:>12} {:>6} {:>6} {:>6}  {}\n",
                               "username", "sessions", "failed", "in", "out", "up", "down", "rm",
                               "last session");
      for (const auto& r : *rows) {
        std::cout << fmt::format("{:<32} {:>8} {:>7} {:>12} {:>12} {:>6} {:>6} {:>6}  {}\n",
                                 name_of(r.account), r.sessions, r.failed_logins,
                                 Bytes(r.totals.bytes_in), Bytes(r.totals.bytes_out),
                                 r.totals.files_uploaded, r.totals.files_downloaded,
                                 r.totals.files_removed, FormatTime(r.last_session_at));
      }
      return {};
    });
  });
}

}  // namespace

void RegisterUsageCommands(CLI::App& app, CommandContext& ctx) {
  auto* group = app.add_subcommand("usage", "usage records of SFTP sessions");
  group->require_subcommand(1);
  group->footer(
      "Example:\n  sftpctl usage show acme-ftp --since 2026-11-01\nRun a command with --help for "
      "its options and an example.");
  RegisterShow(*group, ctx);
  RegisterReport(*group, ctx);
}

}  // namespace sftplc::admin
