#include "sftpd/server/host_keys.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "sftpd/core/base/secret.h"

namespace sftplc::server {
namespace {

Status EnsureParent(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) {
    return {};
  }
  std::error_code ec;
  if (std::filesystem::exists(parent, ec)) {
    return {};
  }
  std::filesystem::create_directories(parent, ec);
  if (ec) {
    return Error::Unavailable("cannot create folder " + parent.string() + ": " + ec.message());
  }
  ::chmod(parent.c_str(), 0700);
  return {};
}

// The private key as OpenSSH's text format, for the transports (sent over their control socket,
// never written anywhere else).
Result<std::string> PrivateText(ssh_key key, const std::string& path) {
  char* b64 = nullptr;
  if (ssh_pki_export_privkey_base64(key, nullptr, nullptr, nullptr, &b64) != SSH_OK ||
      b64 == nullptr) {
    return Error::Internal("cannot export host key " + path);
  }
  std::string text(b64);
  SecureZero(b64, text.size());
  ssh_string_free_char(b64);
  return text;
}

Result<HostKey> Generate(const std::string& path) {
  if (auto st = EnsureParent(path); !st) {
    return st.error();
  }
  ssh_key raw = nullptr;
  if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &raw) != SSH_OK) {
    return Error::Internal("cannot generate an ed25519 host key");
  }
  SshKey key(raw);
  // The key file must never exist with looser permissions, even for a moment.
  mode_t old = ::umask(077);
  int rc = ssh_pki_export_privkey_file(key.get(), nullptr, nullptr, nullptr, path.c_str());
  ::umask(old);
  if (rc != SSH_OK) {
    return Error::Unavailable("cannot write host key " + path);
  }
  ::chmod(path.c_str(), 0600);
  HostKey hk;
  hk.path = path;
  hk.type = ssh_key_type_to_char(ssh_key_type(key.get()));
  hk.fingerprint = KeyFingerprint(key.get());
  hk.generated = true;
  auto text = PrivateText(key.get(), path);
  if (!text) {
    return text.error();
  }
  hk.private_key = std::move(*text);
  return hk;
}

}  // namespace

std::string KeyFingerprint(ssh_key key) {
  unsigned char* hash = nullptr;
  size_t len = 0;
  if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &len) != SSH_OK) {
    return "";
  }
  char* fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, len);
  ssh_clean_pubkey_hash(&hash);
  if (fp == nullptr) {
    return "";
  }
  std::string out(fp);
  ssh_string_free_char(fp);
  return out;
}

Result<std::vector<HostKey>> LoadOrCreateHostKeys(const std::vector<std::string>& paths) {
  if (paths.empty()) {
    return Error::InvalidArgument("server.host_keys is empty");
  }
  std::vector<HostKey> out;
  for (const std::string& path : paths) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      if (errno != ENOENT) {
        return Error::Unavailable("cannot read host key " + path + ": " + std::strerror(errno));
      }
      auto generated = Generate(path);
      if (!generated) {
        return generated.error();
      }
      out.push_back(std::move(*generated));
      continue;
    }
    ssh_key raw = nullptr;
    if (ssh_pki_import_privkey_file(path.c_str(), nullptr, nullptr, nullptr, &raw) != SSH_OK) {
      return Error::InvalidArgument("host key " + path + " is not a readable private key");
    }
    SshKey key(raw);
    HostKey hk;
    hk.path = path;
    hk.type = ssh_key_type_to_char(ssh_key_type(key.get()));
    hk.fingerprint = KeyFingerprint(key.get());
    auto text = PrivateText(key.get(), path);
    if (!text) {
      return text.error();
    }
    hk.private_key = std::move(*text);
    out.push_back(std::move(hk));
  }
  return out;
}

}  // namespace sftplc::server
