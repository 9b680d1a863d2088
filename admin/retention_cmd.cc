#include "admin/retention_cmd.h"

#include <iostream>
#include <memory>

#include "sftpd/core/base/name_text.h"
#include "sftpd/core/base/time_format.h"
#include "sftpd/core/lifecycle/retention.h"

namespace sftplc::admin {

void RegisterRetentionCommands(CLI::App& app, CommandContext& ctx) {
  auto* group = app.add_subcommand("retention", "what is held, until when");
  group->require_subcommand(1);
  group->footer(
      "Example:\n  sftpctl retention report\nRun a command with --help for its options and an "
      "example.");
  auto* cmd = group->add_subcommand(
      "report", "every record with its deadline; exit 6 if anything is past it");
  auto as_json = std::make_shared<bool>(false);
  auto all = std::make_shared<bool>(false);
  cmd->add_flag("--json", *as_json, "print JSON (every record)");
  cmd->add_flag("--all", *all, "text: list every record, not only those needing attention");
  cmd->footer(
      "Example:\n  sftpctl retention report --all\nExit codes: 0 nothing past its deadline, 6 "
      "something is (listed).");
  cmd->callback([&ctx, as_json, all] {
    ctx.Run([&]() -> Status {
      auto cfg = ctx.Config();
      if (!cfg) {
        return cfg.error();
      }
      auto db = ctx.Database();
      if (!db) {
        return db.error();
      }
      auto rep = lifecycle::BuildRetentionReport(**db, **cfg, ctx.clock().Now());
      if (!rep) {
        return rep.error();
      }
      if (*as_json) {
        nlohmann::ordered_json entries = nlohmann::ordered_json::array();
        for (const auto& e : rep->entries) {
          nlohmann::ordered_json entry;
          entry["record"] = e.record;
          entry["account_id"] = e.account_id.str();
          PutName(entry, "name", e.name);
          entry["state"] = e.state;
          entry["rule"] = e.rule;
          entry["deadline"] = TimeJson(e.deadline);
          entry["status"] = e.status;
          entry["note"] = e.note;
          entries.push_back(std::move(entry));
        }
        PrintJson({{"generated_at", FormatTime(rep->generated_at)},
                   {"accounts", rep->accounts},
                   {"marketing_contacts", rep->contacts},
                   {"purge_receipts", rep->receipts},
                   {"overdue", rep->overdue},
                   {"waiting", rep->waiting},
                   {"failed", rep->failed},
                   {"entries", entries}});
      } else {
        std::cout << "accounts " << rep->accounts << ", marketing contacts " << rep->contacts
                  << ", purge receipts " << rep->receipts << "; past deadline " << rep->overdue
                  << ", waiting for mail " << rep->waiting << ", failed notices " << rep->failed
                  << "\n";
        for (const auto& e : rep->entries) {
          if (!*all && e.status == "ok") {
            continue;
          }
          // A storage entry by its name, which is its account id when it has one.
          std::cout << "  " << e.status << "  " << e.record << "  "
                    << (e.record == "files" || e.record == "ip_address" ? EscapeName(e.name)
                                                                        : e.account_id.str())
                    << "  " << e.rule << "  " << FormatTime(e.deadline)
                    << (e.note.empty() ? "" : "  " + e.note) << "\n";
        }
      }
      if (rep->overdue > 0) {
        ctx.Fail(kExitOverdue);
      }
      return {};
    });
  });
}

}  // namespace sftplc::admin
