-- 0002_auth (postgresql): the defender's shared state. Every node (and sftpctl) reads and writes it,
-- so a ban made by one node holds on all of them. Times are seconds since the epoch (UTC).
-- No username is ever stored here (an attempted name may be a mistyped password); failed logins
-- of existing accounts are recorded by the usage store (usage_failed_logins, 0003_usage).

-- Recent failed logins per source IP with their score; rows older than the observation window
-- are deleted as new ones arrive, and an IP's rows are deleted when it is banned.
CREATE TABLE auth_failures (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ip TEXT NOT NULL,
  at BIGINT NOT NULL,
  score BIGINT NOT NULL
);
CREATE INDEX auth_failures_ip ON auth_failures (ip, at);
CREATE INDEX auth_failures_at ON auth_failures (at);

-- One row per banned (or recently banned) IP. ban_count drives the growth of repeat bans; the
-- row is forgotten once the ban has been over for max_ban_time.
CREATE TABLE auth_bans (
  ip TEXT PRIMARY KEY,
  banned_until BIGINT NOT NULL,
  ban_count BIGINT NOT NULL,
  first_banned_at BIGINT NOT NULL,
  last_banned_at BIGINT NOT NULL
);
CREATE INDEX auth_bans_until ON auth_bans (banned_until);
