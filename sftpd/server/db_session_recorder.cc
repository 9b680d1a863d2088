#include "sftpd/server/db_session_recorder.h"

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

Status DbSessionRecorder::End(int64_t usage_id, const AccountId& account,
                              const usage::Counters& c, bool activity, std::string_view reason,
                              TimePoint at) {
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
