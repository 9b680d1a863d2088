#include "admin/account_commands.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "admin/password_source.h"
#include "sftpd/core/accounts/validation.h"
#include "sftpd/core/base/time_format.h"
#include "sftpd/core/files/storage_root.h"

namespace sftplc::admin {
namespace {

using accounts::Account;
using accounts::AccountStore;
using json = nlohmann::ordered_json;

constexpr const char* kAccountArgHelp = "the account: its username or its 32-hex-digit id";

std::string OrDash(const std::string& s) { return s.empty() ? "-" : s; }

json AccountJson(const Account& a) {
  return json{
      {"id", a.id.str()},
      {"username", a.username},
      {"full_name", a.full_name},
      {"company", a.company},
      {"email", a.email},
      {"phone", a.phone},
      {"state", std::string(accounts::StateName(a.state))},
      {"has_password", !a.password_hash.empty()},
      {"created_at", FormatTime(a.created_at)},
      {"updated_at", FormatTime(a.updated_at)},
      {"last_login_at", TimeJson(a.last_login_at)},
      {"last_activity_at", TimeJson(a.last_activity_at)},
      {"notice_queued_at", TimeJson(a.notice_queued_at)},
      {"notice_delivered_at", TimeJson(a.notice_delivered_at)},
      {"closed_at", TimeJson(a.closed_at)},
      {"closed_reason", a.closed_reason
                            ? json(std::string(accounts::CloseReasonName(*a.closed_reason)))
                            : json(nullptr)},
      {"marketing_consent", a.marketing_consent},
      {"consent_withdrawn_at", TimeJson(a.consent_withdrawn_at)},
      {"last_communication_at", TimeJson(a.last_communication_at)},
      {"next_action", a.next_action.empty() ? json(nullptr) : json(a.next_action)},
      {"next_action_due", TimeJson(a.next_action_due)},
  };
}

json KeyJson(const accounts::PublicKey& k) {
  return json{{"id", k.id},
              {"type", k.key_type},
              {"fingerprint", k.fingerprint},
              {"comment", k.comment},
              {"added_at", FormatTime(k.added_at)},
              {"key", k.key_type + " " + k.key_base64}};
}

void PrintAccount(const Account& a, const std::vector<accounts::PublicKey>& keys) {
  auto line = [](const char* label, const std::string& value) {
    std::printf("%-22s %s\n", label, value.c_str());
  };
  line("id:", a.id.str());
  line("username:", a.username);
  line("state:", std::string(accounts::StateName(a.state)));
  line("name:", a.full_name);
  line("company:", OrDash(a.company));
  line("email:", a.email);
  line("phone:", a.phone);
  line("password:", a.password_hash.empty() ? "not set" : "set");
  line("public keys:", std::to_string(keys.size()));
  line("marketing consent:", a.marketing_consent ? "yes" : "no");
  line("consent withdrawn:", FormatTime(a.consent_withdrawn_at));
  line("created:", FormatTime(a.created_at));
  line("updated:", FormatTime(a.updated_at));
  line("last login:", FormatTime(a.last_login_at));
  line("last activity:", FormatTime(a.last_activity_at));
  line("notice queued:", FormatTime(a.notice_queued_at));
  line("notice delivered:", FormatTime(a.notice_delivered_at));
  line("closed:", FormatTime(a.closed_at));
  line("closed reason:",
       a.closed_reason ? std::string(accounts::CloseReasonName(*a.closed_reason)) : "-");
  line("last communication:", FormatTime(a.last_communication_at));
  line("next action:",
       a.next_action.empty() ? "-" : a.next_action + " at " + FormatTime(a.next_action_due));
}

// Reads one authorized_keys line from FILE or "-" (stdin): the only line that is neither empty
// nor a comment. At most 64 KiB.
Result<std::string> ReadKeyLine(const std::string& source) {
  std::string text;
  if (source == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    text = ss.str();
  } else {
    std::ifstream in(source, std::ios::binary);
    if (!in) {
      return Error::NotFound("cannot read the key file " + source);
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  if (text.size() > 65536) {
    return Error::InvalidArgument("key: the input is larger than 64 KiB");
  }
  std::string found;
  int count = 0;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') {
      continue;
    }
    ++count;
    found = line;
  }
  if (count == 0) {
    return Error::InvalidArgument("key: no key found (expected one authorized_keys line)");
  }
  if (count > 1) {
    return Error::InvalidArgument("key: give one key per call (the input holds " +
                                  std::to_string(count) + ")");
  }
  return found;
}

struct CreateOpts {
  accounts::NewAccount account;
  PasswordFlags password;
};

void RegisterCreate(CLI::App& group, CommandContext& ctx) {
  auto o = std::make_shared<CreateOpts>();
  auto* cmd = group.add_subcommand("create", "register a client account");
  cmd->add_option("--username", o->account.username,
                  "login name: 3-32 of a-z 0-9 . _ - (starting with a letter or digit)")
      ->required();
  cmd->add_option("--name", o->account.full_name, "the client's full name")->required();
  cmd->add_option("--email", o->account.email, "contact email address")->required();
  cmd->add_option("--phone", o->account.phone, "phone with country code (+44 151 357 7700)")
      ->required();
  cmd->add_option("--company", o->account.company, "company (optional)");
  cmd->add_flag("--marketing-consent", o->account.marketing_consent,
                "the client agreed to marketing communication (needs --consent-source)");
  cmd->add_option("--consent-source", o->account.consent_source,
                  "how the client agreed (\"web form\", \"email 2026-11-02\")");
  AddPasswordFlags(*cmd, o->password, true);
  cmd->footer(
      "Example:\n  sftpctl account create --username acme-ftp --name \"Ada Lovelace\" "
      "--email ada@acme.example --phone \"+44 151 357 7700\" --company \"Acme Ltd\" "
      "--generate-password");
  cmd->callback([&ctx, o] {
    ctx.Run([&]() -> Status {
      // Every field is checked before anything is asked or written.
      auto valid = accounts::ValidateNewAccount(o->account);
      if (!valid) {
        return valid.error();
      }
      auto cfg = ctx.Config();
      if (!cfg) {
        return cfg.error();
      }
      auto store = ctx.Accounts();
      if (!store) {
        return store.error();
      }
      auto existing = (*store)->FindByUsername(valid->username);
      if (existing) {
        return Error::AlreadyExists("username " + valid->username + " is already taken");
      }
      if (!existing.error().IsNotFound()) {
        return existing.error();
      }
      auto password = ObtainPassword(o->password, (*cfg)->auth.argon2);
      if (!password) {
        return password.error();
      }
      valid->password_hash = password->phc.value_or("");
      auto created = (*store)->Create(*valid, ctx.Actor());
      if (!created) {
        return created.error();
      }
      std::cout << "created account " << created->username << " id=" << created->id.str() << "\n";
      PrintGeneratedPassword(password->generated);
      auto folder = files::StorageRoot((*cfg)->storage.root).CreateAccountFolder(created->id);
      if (!folder) {
        return Error(folder.error().code(), "account " + created->username + " was created, but " +
                                                folder.error().message());
      }
      return {};
    });
  });
}

void RegisterList(CLI::App& group, CommandContext& ctx) {
  struct Opts {
    std::string state;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = group.add_subcommand("list", "list accounts (ordered by username)");
  cmd->add_option("--state", o->state,
                  "only accounts in this state: active, "
                  "confirmation_pending or closed");
  cmd->add_flag("--json", o->json, "print JSON (an array of accounts)");
  cmd->footer("Example:\n  sftpctl account list --state confirmation_pending --json");
  cmd->callback([&ctx, o] {
    ctx.Run([&]() -> Status {
      std::optional<accounts::AccountState> state;
      if (!o->state.empty()) {
        auto s = accounts::ParseState(o->state);
        if (!s) {
          return s.error();
        }
        state = *s;
      }
      auto store = ctx.Accounts();
      if (!store) {
        return store.error();
      }
      auto list = (*store)->List(state);
      if (!list) {
        return list.error();
      }
      if (o->json) {
        json arr = json::array();
        for (const auto& a : *list) {
          arr.push_back(AccountJson(a));
        }
        PrintJson(arr);
        return {};
      }
      std::printf("%-32s  %-32s  %-20s  %-20s  %s\n", "USERNAME", "ID", "STATE", "CREATED",
                  "LAST ACTIVITY");
      for (const auto& a : *list) {
        std::printf("%-32s  %-32s  %-20s  %-20s  %s\n", a.username.c_str(), a.id.str().c_str(),
                    std::string(accounts::StateName(a.state)).c_str(),
                    FormatTime(a.created_at).c_str(), FormatTime(a.last_activity_at).c_str());
      }
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
  auto* cmd = group.add_subcommand("show", "show one account");
  cmd->add_option("account", o->account, kAccountArgHelp)->required();
  cmd->add_flag("--json", o->json, "print JSON (one account, with its keys)");
  cmd->footer("Example:\n  sftpctl account show acme-ftp --json");
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
      auto keys = (*store)->ListKeys(a->id);
      if (!keys) {
        return keys.error();
      }
      if (o->json) {
        json j = AccountJson(*a);
        j["keys"] = json::array();
        for (const auto& k : *keys) {
          j["keys"].push_back(KeyJson(k));
        }
        PrintJson(j);
      } else {
        PrintAccount(*a, *keys);
      }
      return {};
    });
  });
}

void RegisterUpdate(CLI::App& group, CommandContext& ctx) {
  struct Opts {
    std::string account, name, email, phone, company;
    CLI::Option *name_opt = nullptr, *email_opt = nullptr, *phone_opt = nullptr,
                *company_opt = nullptr;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = group.add_subcommand("update", "change an account's contact details");
  cmd->add_option("account", o->account, kAccountArgHelp)->required();
  o->name_opt = cmd->add_option("--name", o->name, "new full name");
  o->email_opt = cmd->add_option("--email", o->email, "new email address");
  o->phone_opt = cmd->add_option("--phone", o->phone, "new phone, with country code");
  o->company_opt = cmd->add_option("--company", o->company, "new company (\"\" to clear)");
  cmd->footer(
      "Example:\n  sftpctl account update acme-ftp --email ada@new.example "
      "--phone \"+44 20 7946 0000\"");
  cmd->callback([&ctx, o] {
    ctx.Run([&]() -> Status {
      accounts::AccountUpdate u;
      if (o->name_opt->count() > 0) {
        u.full_name = o->name;
      }
      if (o->email_opt->count() > 0) {
        u.email = o->email;
      }
      if (o->phone_opt->count() > 0) {
        u.phone = o->phone;
      }
      if (o->company_opt->count() > 0) {
        u.company = o->company;
      }
      if (!u.full_name && !u.email && !u.phone && !u.company) {
        return Error::InvalidArgument(
            "nothing to update: give --name, --email, --phone or --company");
      }
      auto store = ctx.Accounts();
      if (!store) {
        return store.error();
      }
      auto a = (*store)->Resolve(o->account);
      if (!a) {
        return a.error();
      }
      auto r = (*store)->Update(a->id, u, ctx.Actor());
      if (!r) {
        return r.error();
      }
      std::cout << "updated account " << r->username << "\n";
      return {};
    });
  });
}

void RegisterSetPassword(CLI::App& group, CommandContext& ctx) {
  struct Opts {
    std::string account;
    PasswordFlags password;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = group.add_subcommand("set-password", "set a new password for an account");
  cmd->add_option("account", o->account, kAccountArgHelp)->required();
  AddPasswordFlags(*cmd, o->password, false);
  cmd->footer(
      "Example:\n  sftpctl account set-password acme-ftp            (asks twice)\n"
      "  printf '%s\\n' \"$PW\" | sftpctl account set-password acme-ftp --password-stdin");
  cmd->callback([&ctx, o] {
    ctx.Run([&]() -> Status {
      auto cfg = ctx.Config();
      if (!cfg) {
        return cfg.error();
      }
      auto store = ctx.Accounts();
      if (!store) {
        return store.error();
      }
      auto a = (*store)->Resolve(o->account);
      if (!a) {
        return a.error();
      }
      auto password = ObtainPassword(o->password, (*cfg)->auth.argon2);
      if (!password) {
        return password.error();
      }
      if (auto st = (*store)->SetPasswordHash(a->id, password->phc.value_or(""), ctx.Actor());
          !st) {
        return st;
      }
      std::cout << "password set for account " << a->username << "\n";
      PrintGeneratedPassword(password->generated);
      return {};
    });
  });
}

void RegisterAddKey(CLI::App& group, CommandContext& ctx) {
  struct Opts {
    std::string account;
    std::string file = "-";
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = group.add_subcommand("add-key", "add a public key (one authorized_keys line)");
  cmd->add_option("account", o->account, kAccountArgHelp)->required();
  cmd->add_option("file", o->file, "a .pub file, or - for standard input (the default)");
  cmd->footer(
      "Example:\n  sftpctl account add-key acme-ftp ada_ed25519.pub\n"
      "  cat ada_ed25519.pub | sftpctl account add-key acme-ftp -");
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
      auto line = ReadKeyLine(o->file);
      if (!line) {
        return line.error();
      }
      auto k = (*store)->AddKey(a->id, *line, ctx.Actor());
      if (!k) {
        return k.error();
      }
      std::cout << "added key " << k->fingerprint << " (" << k->key_type << ") to account "
                << a->username << "\n";
      return {};
    });
  });
}

void RegisterRemoveKey(CLI::App& group, CommandContext& ctx) {
  struct Opts {
    std::string account, fingerprint;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = group.add_subcommand("remove-key", "remove a public key by its fingerprint");
  cmd->add_option("account", o->account, kAccountArgHelp)->required();
  cmd->add_option("fingerprint", o->fingerprint,
                  "SHA256:... as list-keys or ssh-keygen -l prints it")
      ->required();
  cmd->footer(
      "Example:\n  sftpctl account remove-key acme-ftp "
      "SHA256:i2dwbLAyAJwEDyKfyP1BkJQSJQVsrsZl0n5BM9NBtmk");
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
      if (auto st = (*store)->RemoveKey(a->id, o->fingerprint, ctx.Actor()); !st) {
        return st;
      }
      std::cout << "removed key from account " << a->username << "\n";
      return {};
    });
  });
}

void RegisterListKeys(CLI::App& group, CommandContext& ctx) {
  struct Opts {
    std::string account;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = group.add_subcommand("list-keys", "list an account's public keys");
  cmd->add_option("account", o->account, kAccountArgHelp)->required();
  cmd->add_flag("--json", o->json, "print JSON (an array of keys)");
  cmd->footer("Example:\n  sftpctl account list-keys acme-ftp --json");
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
      auto keys = (*store)->ListKeys(a->id);
      if (!keys) {
        return keys.error();
      }
      if (o->json) {
        json arr = json::array();
        for (const auto& k : *keys) {
          arr.push_back(KeyJson(k));
        }
        PrintJson(arr);
        return {};
      }
      std::printf("%-51s  %-20s  %-20s  %s\n", "FINGERPRINT", "TYPE", "ADDED", "COMMENT");
      for (const auto& k : *keys) {
        std::printf("%-51s  %-20s  %-20s  %s\n", k.fingerprint.c_str(), k.key_type.c_str(),
                    FormatTime(k.added_at).c_str(), k.comment.c_str());
      }
      return {};
    });
  });
}

void RegisterClose(CLI::App& group, CommandContext& ctx) {
  struct Opts {
    std::string account;
    std::string reason = "admin";
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = group.add_subcommand("close",
                                   "close an account: login is refused at once, the purge follows");
  cmd->add_option("account", o->account, kAccountArgHelp)->required();
  cmd->add_option("--reason", o->reason, "request (the client asked) or admin (the default)");
  cmd->footer("Example:\n  sftpctl account close acme-ftp --reason request");
  cmd->callback([&ctx, o] {
    ctx.Run([&]() -> Status {
      auto reason = accounts::ParseCloseReason(o->reason);
      if (!reason || *reason == accounts::CloseReason::kInactivity) {
        return Error::InvalidArgument("--reason must be request or admin");
      }
      auto store = ctx.Accounts();
      if (!store) {
        return store.error();
      }
      auto a = (*store)->Resolve(o->account);
      if (!a) {
        return a.error();
      }
      auto r = (*store)->Close(a->id, *reason, ctx.Actor());
      if (!r) {
        return r.error();
      }
      std::cout << "closed account " << r->username << " at " << FormatTime(r->closed_at)
                << " (reason " << o->reason << ")\n";
      return {};
    });
  });
}

void RegisterReopen(CLI::App& group, CommandContext& ctx) {
  auto account = std::make_shared<std::string>();
  auto* cmd = group.add_subcommand("reopen", "reopen a closed account (before its purge)");
  cmd->add_option("account", *account, kAccountArgHelp)->required();
  cmd->footer("Example:\n  sftpctl account reopen acme-ftp");
  cmd->callback([&ctx, account] {
    ctx.Run([&]() -> Status {
      auto store = ctx.Accounts();
      if (!store) {
        return store.error();
      }
      auto a = (*store)->Resolve(*account);
      if (!a) {
        return a.error();
      }
      auto r = (*store)->Reopen(a->id, ctx.Actor());
      if (!r) {
        return r.error();
      }
      std::cout << "reopened account " << r->username << "\n";
      return {};
    });
  });
}

}  // namespace

void RegisterAccountCommands(CLI::App& app, CommandContext& ctx) {
  auto* group = app.add_subcommand(
      "account",
      "client accounts: register, change, close, confirm; erase and export (erasure "
      "and access requests)");
  group->require_subcommand(1);
  group->footer(
      "Example:\n  sftpctl account show acme-ftp\nRun a command with --help for its options and an "
      "example.");
  RegisterCreate(*group, ctx);
  RegisterList(*group, ctx);
  RegisterShow(*group, ctx);
  RegisterUpdate(*group, ctx);
  RegisterSetPassword(*group, ctx);
  RegisterAddKey(*group, ctx);
  RegisterRemoveKey(*group, ctx);
  RegisterListKeys(*group, ctx);
  RegisterClose(*group, ctx);
  RegisterReopen(*group, ctx);
}

}  // namespace sftplc::admin
