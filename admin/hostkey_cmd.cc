#include "admin/hostkey_cmd.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "sftpd/core/accounts/public_key.h"

namespace sftplc::admin {
namespace {

struct HostKeyInfo {
  std::string path;
  bool present = false;
  accounts::PublicKey key;
};

Result<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error::Unavailable("cannot read " + path);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The public half of the key at `path`: from the private key file when it is in OpenSSH format,
// else from "<path>.pub" (PEM keys made by other tools).
Result<accounts::PublicKey> ReadHostKey(const std::string& path) {
  auto text = ReadSmallFile(path);
  if (!text) {
    return std::move(text).error();
  }
  auto key = accounts::PublicKeyOfPrivateKeyFile(*text);
  if (key) {
    return key;
  }
  std::error_code ec;
  if (!std::filesystem::exists(path + ".pub", ec)) {
    return Error::InvalidArgument(path + ": not an OpenSSH private key, and no " + path +
                                  ".pub beside it");
  }
  auto pub = ReadSmallFile(path + ".pub");
  if (!pub) {
    return std::move(pub).error();
  }
  auto parsed = accounts::ParseAuthorizedKey(*pub);
  if (!parsed) {
    return Error::InvalidArgument(path + ".pub: " + parsed.error().message());
  }
  return parsed;
}

}  // namespace

void RegisterHostKeyCommands(CLI::App& app, CommandContext& ctx) {
  auto* group = app.add_subcommand("hostkey", "the server's SSH host keys");
  group->require_subcommand(1);
  group->footer("Example:\n  sftpctl hostkey show\nRun a command with --help for its options.");
  auto json_out = std::make_shared<bool>(false);
  auto* cmd = group->add_subcommand(
      "show", "print the type and SHA256 fingerprint of each key in server.host_keys");
  cmd->add_flag("--json", *json_out, "print JSON");
  cmd->footer(
      "Publish the fingerprints so clients can check their first connection; they match\n"
      "`ssh-keygen -l -f KEY` and the `host key` lines sftpd logs at start. A key that does not\n"
      "exist yet is listed as missing (sftpd creates it at its first start): exit 2.\n"
      "Example:\n  sftpctl --config /etc/sftp-lifecycle/sftpd.toml hostkey show");
  cmd->callback([&ctx, json_out] {
    ctx.Run([&]() -> Status {
      auto cfg = ctx.Config();
      if (!cfg) {
        return cfg.error();
      }
      std::vector<HostKeyInfo> keys;
      bool missing = false;
      for (const std::string& path : (*cfg)->server.host_keys) {
        HostKeyInfo info;
        info.path = path;
        std::error_code ec;
        if (std::filesystem::exists(path, ec)) {
          auto key = ReadHostKey(path);
          if (!key) {
            return key.error();
          }
          info.present = true;
          info.key = std::move(*key);
        } else {
          missing = true;
        }
        keys.push_back(std::move(info));
      }
      if (*json_out) {
        nlohmann::ordered_json arr = nlohmann::ordered_json::array();
        for (const auto& k : keys) {
          arr.push_back(
              {{"path", k.path},
               {"present", k.present},
               {"type", k.present ? nlohmann::ordered_json(k.key.key_type) : nullptr},
               {"fingerprint", k.present ? nlohmann::ordered_json(k.key.fingerprint) : nullptr},
               {"public_key", k.present
                                  ? nlohmann::ordered_json(k.key.key_type + " " + k.key.key_base64)
                                  : nullptr}});
        }
        PrintJson(arr);
      } else {
        for (const auto& k : keys) {
          if (k.present) {
            std::cout << k.key.key_type << " " << k.key.fingerprint << " " << k.path << "\n";
          } else {
            std::cout << "missing " << k.path << " (sftpd creates it at its first start)\n";
          }
        }
      }
      if (missing) {
        ctx.Fail(kExitNotFound);
      }
      return {};
    });
  });
}

}  // namespace sftplc::admin
