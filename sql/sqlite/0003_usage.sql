-- 0003_usage (sqlite): one row per SFTP session and the failed logins of existing accounts.
-- Times are seconds since the epoch (UTC). Rows are deleted with the account's purge.
CREATE TABLE usage_sessions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  account_id TEXT NOT NULL,
  actor TEXT NOT NULL DEFAULT 'client',
  node TEXT NOT NULL DEFAULT '',
  started_at INTEGER NOT NULL,
  ended_at INTEGER,
  remote_ip TEXT NOT NULL DEFAULT '',
  client_version TEXT NOT NULL DEFAULT '',
  auth_method TEXT NOT NULL DEFAULT '',
  bytes_in INTEGER NOT NULL DEFAULT 0,
  bytes_out INTEGER NOT NULL DEFAULT 0,
  files_uploaded INTEGER NOT NULL DEFAULT 0,
  files_downloaded INTEGER NOT NULL DEFAULT 0,
  files_removed INTEGER NOT NULL DEFAULT 0,
  end_reason TEXT
);
CREATE INDEX usage_sessions_account ON usage_sessions (account_id, started_at);
CREATE INDEX usage_sessions_started ON usage_sessions (started_at);
CREATE INDEX usage_sessions_open ON usage_sessions (node) WHERE ended_at IS NULL;
CREATE TABLE usage_failed_logins (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  account_id TEXT NOT NULL,
  at INTEGER NOT NULL,
  remote_ip TEXT NOT NULL DEFAULT '',
  auth_method TEXT NOT NULL DEFAULT ''
);
CREATE INDEX usage_failed_logins_account ON usage_failed_logins (account_id, at);
CREATE INDEX usage_failed_logins_at ON usage_failed_logins (at);
