#include "sftpd/server/db_session_recorder.h"

#include "sftpd/core/auth/authenticator.h"

namespace sftplc::server {

Result<int64_t> DbSessionRecorder::Begin(const LoginInfo& login) {
  auto account = accounts_.RecordLogin(login.account);
  if (!account) {
    return account.error();
  }
  usage::NewSession s;
  s.account = login.account;
  s.started_at = login.at;
  s.remote_ip = login.remote_ip;
  s.client_version = login.client_version;
  s.auth_method = login.method == auth::AuthMethod::kPublicKey ? "publickey" : "password";
  return usage_.Open(s);
}

Status DbSessionRecorder::StillAuthorized(const AccountId& account, const LoginCredential& login) {
  auto a = accounts_.Get(account);
  if (!a) {
    if (a.error().IsNotFound()) {
      return Error::PermissionDenied("erased");
    }
    return Error::Unavailable(a.error().message());
  }
  if (!auth::MayLogIn(*a)) {
    return Error::PermissionDenied("closed");
  }
  if (login.method == auth::AuthMethod::kPassword) {
    if (a->password_hash != login.password_hash) {
      return Error::PermissionDenied("password changed");
    }
    return {};
  }
  auto keys = accounts_.ListKeys(account);
  if (!keys) {
    return Error::Unavailable(keys.error().message());
  }
  for (const accounts::PublicKey& k : *keys) {
    if (k.key_type == login.key_type && k.key_base64 == login.key_base64) {
      return {};
    }
  }
  return Error::PermissionDenied("key removed");
}

Status DbSessionRecorder::Progress(int64_t usage_id, const AccountId& account,
                                   const usage::Counters& c, bool activity, TimePoint at) {
  Status st = usage_.Update(usage_id, c);
  if (!st) {
    return st;
  }
  if (activity) {
    return accounts_.RecordActivity(account, at);
  }
  return {};
}

Status DbSessionRecorder::End(int64_t usage_id, const AccountId& account, const usage::Counters& c,
                              bool activity, std::string_view reason, TimePoint at) {
  Status st = usage_.Close(usage_id, c, reason, at);
  if (activity) {
    Status a = accounts_.RecordActivity(account, at);
    if (st && !a) {
      return a;
    }
  }
  return st;
}

}  // namespace sftplc::server
