#include "admin/consent_commands.h"

#include <cstdio>
#include <iostream>
#include <optional>

#include "sftpd/core/base/time_format.h"
#include "sftpd/core/lifecycle/configured_runner.h"

namespace sftplc::admin {
namespace {

using json = nlohmann::ordered_json;

constexpr const char* kAccountArgHelp =
    "the account: its username or its 32-hex-digit id (a purged account: its id)";

// The marketing contact kept after the purge of account `key`, when `key` is an id and no
// account has it. `not_found` (the error of the account lookup) otherwise.
Result<std::optional<lifecycle::MarketingContact>> PurgedContact(lifecycle::LifecycleRunner& runner,
                                                                 const std::string& key,
                                                                 const Error& not_found) {
  auto id = AccountId::Parse(key);
  if (!id) {
    return not_found;
  }
  auto c = runner.GetContact(*id);
  if (!c) {
    return c.error();
  }
  if (!*c) {
    return Error::NotFound(
        "no account with that username or id, and no marketing contact kept for that id");
  }
  return c;
}

struct ChangeOpts {
  std::string account, source;
};

void RegisterChange(CLI::App& group, CommandContext& ctx, bool grant) {
  auto o = std::make_shared<ChangeOpts>();
  auto* cmd = group.add_subcommand(grant ? "grant" : "withdraw",
                                   grant ? "record that the client agreed to marketing"
                                         : "record that the client withdrew marketing consent");
  cmd->add_option("account", o->account,
                  grant ? "the account: its username or its 32-hex-digit id" : kAccountArgHelp)
      ->required();
  cmd->add_option("--source", o->source,
                  "how the client said so (\"web form\", \"email 2026-11-02\")")
      ->required();
  cmd->footer(grant
                  ? "Example:\n  sftpctl consent grant acme-ftp --source \"signed form\""
                  : "Example:\n  sftpctl consent withdraw acme-ftp --source \"email 2026-11-30\"\n"
                    "  sftpctl consent withdraw 9b2e61c04d7f4a1e8c3b5d6f7a8e9c0d --source \"phone "
                    "2026-12-02\"   (a purged account's marketing contact)");
  cmd->callback([&ctx, o, grant] {
    ctx.Run([&]() -> Status {
      auto store = ctx.Accounts();
      if (!store) {
        return store.error();
      }
      auto a = (*store)->Resolve(o->account);
      if (!a && !grant && a.error().IsNotFound() && AccountId::LooksLikeId(o->account)) {
        // A purged account: its marketing contact, kept while consent stands, goes within
        // withdrawal_purge of the withdrawal (the sweep deletes it).
        auto runner = ctx.Runner(/*with_mailer=*/false);
        if (!runner) {
          return runner.error();
        }
        auto c = PurgedContact(*runner->runner, o->account, a.error());
        if (!c) {
          return c.error();
        }
        if (auto st = runner->runner->WithdrawContactConsent((*c)->account_id, ctx.clock().Now(),
                                                             o->source, ctx.Actor().name);
            !st) {
          return st;
        }
        auto after = runner->runner->GetContact((*c)->account_id);
        std::cout << "marketing consent withdrawn for the marketing contact of purged account "
                  << (*c)->account_id.str();
        if (after && *after) {
          std::cout << "; it is deleted by " << FormatTime((*after)->delete_due);
        }
        std::cout << "\n";
        return {};
      }
      if (!a) {
        return a.error();
      }
      Status st = grant ? (*store)->GrantConsent(a->id, o->source, ctx.Actor())
                        : (*store)->WithdrawConsent(a->id, o->source, ctx.Actor());
      if (!st) {
        return st;
      }
      std::cout << "marketing consent " << (grant ? "granted" : "withdrawn") << " for account "
                << a->username << "\n";
      return {};
    });
  });
}

void RegisterShow(CLI::App& group, CommandContext& ctx) {
  struct Opts {
    std::string account;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = group.add_subcommand("show", "show the consent state and its ledger");
  cmd->add_option("account", o->account, kAccountArgHelp)->required();
  cmd->add_flag("--json", o->json, "print JSON");
  cmd->footer("Example:\n  sftpctl consent show acme-ftp --json");
  cmd->callback([&ctx, o] {
    ctx.Run([&]() -> Status {
      auto store = ctx.Accounts();
      if (!store) {
        return store.error();
      }
      auto a = (*store)->Resolve(o->account);
      // A purged account (by id): the consent of the marketing contact kept after the purge.
      std::optional<lifecycle::MarketingContact> contact;
      if (!a && a.error().IsNotFound() && AccountId::LooksLikeId(o->account)) {
        auto runner = ctx.Runner(/*with_mailer=*/false);
        if (!runner) {
          return runner.error();
        }
        auto c = PurgedContact(*runner->runner, o->account, a.error());
        if (!c) {
          return c.error();
        }
        contact = **c;
      } else if (!a) {
        return a.error();
      }
      const AccountId id = contact ? contact->account_id : a->id;
      const bool consent = contact ? contact->consent : a->marketing_consent;
      const std::optional<TimePoint> withdrawn_at =
          contact ? contact->consent_withdrawn_at : a->consent_withdrawn_at;
      auto events = (*store)->ListConsent(id);
      if (!events) {
        return events.error();
      }
      if (o->json) {
        json arr = json::array();
        for (const auto& e : *events) {
          arr.push_back({{"granted", e.granted},
                         {"at", FormatTime(e.at)},
                         {"source", e.source},
                         {"actor", e.actor}});
        }
        json out = {{"account_id", id.str()},
                    {"username", contact ? json(nullptr) : json(a->username)},
                    {"marketing_consent", consent},
                    {"consent_withdrawn_at", TimeJson(withdrawn_at)},
                    {"events", arr}};
        if (contact) {
          out["contact_delete_due"] = FormatTime(contact->delete_due);
        }
        PrintJson(out);
        return {};
      }
      if (contact) {
        std::printf("account purged; its marketing contact is deleted by %s\n",
                    FormatTime(contact->delete_due).c_str());
      }
      std::printf("marketing consent: %s\n", consent ? "granted" : "not granted");
      std::printf("%-20s  %-9s  %-20s  %s\n", "AT", "EVENT", "ACTOR", "SOURCE");
      for (const auto& e : *events) {
        std::printf("%-20s  %-9s  %-20s  %s\n", FormatTime(e.at).c_str(),
                    e.granted ? "granted" : "withdrawn", e.actor.c_str(), e.source.c_str());
      }
      return {};
    });
  });
}

}  // namespace

void RegisterConsentCommands(CLI::App& app, CommandContext& ctx) {
  auto* group = app.add_subcommand("consent", "the marketing-consent ledger");
  group->require_subcommand(1);
  group->footer(
      "Example:\n  sftpctl consent show acme-ftp\nRun a command with --help for its options and an "
      "example.");
  RegisterChange(*group, ctx, true);
  RegisterChange(*group, ctx, false);
  RegisterShow(*group, ctx);
}

}  // namespace sftplc::admin
