#include "admin/consent_commands.h"

#include <cstdio>
#include <iostream>

#include "sftpd/core/accounts/validation.h"
#include "sftpd/core/base/time_format.h"
#include "sftpd/core/lifecycle/configured_runner.h"
#include "sftpd/core/lifecycle/runner.h"

namespace sftplc::admin {
namespace {

using json = nlohmann::ordered_json;

// A withdrawal for a purged account: its marketing contact (kept while consent stood) is
// deleted within lifecycle.withdrawal_purge. kNotFound when no contact is held for `id`.
Status WithdrawFromContact(CommandContext& ctx, const AccountId& id, const std::string& source) {
  if (auto st = accounts::ValidateConsentSource(source); !st) {
    return st;
  }
  auto cfg = ctx.Config();
  if (!cfg) {
    return cfg.error();
  }
  auto db = ctx.Database();
  if (!db) {
    return db.error();
  }
  auto b = lifecycle::MakeConfiguredRunner(**db, **cfg, /*with_mailer=*/false);
  if (!b) {
    return b.error();
  }
  Status st = b->runner->WithdrawContactConsent(id, ctx.clock().Now(), source, ctx.Actor().name);
  if (!st) {
    return st;
  }
  auto contact = b->runner->GetContact(id);
  if (!contact || !*contact) {
    return Error::Internal("the marketing contact vanished after the withdrawal");
  }
  std::cout << "marketing consent withdrawn for the marketing contact of purged account "
            << id.str() << "; it will be deleted by " << FormatTime((*contact)->delete_due) << "\n";
  return {};
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
                  grant ? "the account: its username or its 32-hex-digit id"
                        : "the account: its username or its 32-hex-digit id (the id also for "
                          "the marketing contact a purged account left)")
      ->required();
  cmd->add_option("--source", o->source,
                  "how the client said so (\"web form\", \"email 2026-11-02\")")
      ->required();
  cmd->footer(grant
                  ? "Example:\n  sftpctl consent grant acme-ftp --source \"signed form\""
                  : "Example:\n  sftpctl consent withdraw acme-ftp --source \"email 2026-11-30\"");
  cmd->callback([&ctx, o, grant] {
    ctx.Run([&]() -> Status {
      auto store = ctx.Accounts();
      if (!store) {
        return store.error();
      }
      auto a = (*store)->Resolve(o->account);
      if (!a && !grant && a.error().IsNotFound() && AccountId::LooksLikeId(o->account)) {
        // The account was purged; its marketing contact may remain while consent stands.
        return WithdrawFromContact(ctx, *AccountId::Parse(o->account), o->source);
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
  cmd->add_option("account", o->account, "the account: its username or its 32-hex-digit id")
      ->required();
  cmd->add_flag("--json", o->json, "print JSON");
  cmd->footer("Example:\n  sftpctl consent show acme-ftp --json");
  cmd->callback([&ctx, o] {
    ctx.Run([&]() -> Status {
      auto store = ctx.Accounts();
      if (!store) {
        return store.error();
      }
      auto a = (*store)->Resolve(o->account);
      if (!a) {
        return a.error();
      }
      auto events = (*store)->ListConsent(a->id);
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
        PrintJson({{"account_id", a->id.str()},
                   {"username", a->username},
                   {"marketing_consent", a->marketing_consent},
                   {"consent_withdrawn_at", TimeJson(a->consent_withdrawn_at)},
                   {"events", arr}});
        return {};
      }
      std::printf("marketing consent: %s\n", a->marketing_consent ? "granted" : "not granted");
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
