#include "admin/notices_cmd.h"

#include <iostream>
#include <memory>

#include "sftpd/core/base/time_format.h"
#include "sftpd/core/lifecycle/notice_queue.h"

namespace sftplc::admin {
namespace {

using json = nlohmann::ordered_json;

json NoticeJson(const lifecycle::Notice& n) {
  return json{{"id", n.id},
              {"account_id", n.account_id.str()},
              {"kind", n.kind},
              {"state", n.state},
              {"created_at", FormatTime(n.created_at)},
              {"next_attempt_at", TimeJson(n.next_attempt_at)},
              {"attempts", n.attempts},
              {"last_error", n.last_error},
              {"sent_at", TimeJson(n.sent_at)}};
}

}  // namespace

void RegisterNoticesCommands(CLI::App& app, CommandContext& ctx) {
  auto* group = app.add_subcommand("notices", "the outbox of lifecycle notices");
  group->require_subcommand(1);
  group->footer(
      "Example:\n  sftpctl notices list --failed\nRun a command with --help for its options and "
      "an example.");
  {
    auto* cmd = group->add_subcommand("list", "list notices, newest first");
    auto failed = std::make_shared<bool>(false);
    auto as_json = std::make_shared<bool>(false);
    auto limit = std::make_shared<int>(1000);
    cmd->add_flag("--failed", *failed, "only notices that could not be delivered");
    cmd->add_flag("--json", *as_json, "print JSON");
    cmd->add_option("--limit", *limit, "at most this many (default 1000)")
        ->check(CLI::Range(1, 1000000));
    cmd->footer("Example:\n  sftpctl notices list --failed --json");
    cmd->callback([&ctx, failed, as_json, limit] {
      ctx.Run([&]() -> Status {
        auto db = ctx.Database();
        if (!db) {
          return db.error();
        }
        lifecycle::NoticeQueue outbox(**db);
        auto list = outbox.List(*failed, std::nullopt, *limit);
        if (!list) {
          return list.error();
        }
        if (*as_json) {
          json out = json::array();
          for (const auto& n : *list) {
            out.push_back(NoticeJson(n));
          }
          PrintJson(out);
          return {};
        }
        for (const auto& n : *list) {
          std::cout << n.id << "  " << n.account_id.str() << "  " << n.kind << "  " << n.state
                    << "  attempts=" << n.attempts << "  "
                    << (n.sent_at ? "sent " + FormatTime(*n.sent_at)
                                  : "next " + FormatTime(n.next_attempt_at))
                    << (n.last_error.empty() ? "" : "  error: " + n.last_error) << "\n";
        }
        if (list->empty()) {
          std::cout << (*failed ? "no failed notices\n" : "no notices\n");
        }
        return {};
      });
    });
  }
  {
    auto* cmd = group->add_subcommand(
        "retry", "queue failed notices again (all, or the ids given); the next sweep sends them");
    auto ids = std::make_shared<std::vector<int64_t>>();
    cmd->add_option("ids", *ids, "notice ids (default: every failed notice)");
    cmd->footer(
        "Example:\n  sftpctl notices retry 12 14\n  sftpctl notices retry          (every failed "
        "notice)");
    cmd->callback([&ctx, ids] {
      ctx.Run([&]() -> Status {
        auto db = ctx.Database();
        if (!db) {
          return db.error();
        }
        lifecycle::NoticeQueue outbox(**db);
        auto n = outbox.RetryFailed(*ids, ctx.clock().Now(), ctx.Actor().name);
        if (!n) {
          return n.error();
        }
        std::cout << *n << " notice(s) queued again\n";
        return {};
      });
    });
  }
}

}  // namespace sftplc::admin
