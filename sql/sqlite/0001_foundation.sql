-- 0001_foundation (sqlite): accounts, their public keys, the marketing-consent ledger and the
-- audit trail of admin actions. Timestamps are BIGINT seconds since the epoch (UTC). Names are
-- identical on PostgreSQL (sql/postgresql/0001_foundation.sql).

CREATE TABLE accounts (
  id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 32),
  username TEXT NOT NULL UNIQUE,
  full_name TEXT NOT NULL,
  company TEXT NOT NULL DEFAULT '',
  email TEXT NOT NULL,
  phone TEXT NOT NULL,
  password_hash TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL CHECK (state IN ('active', 'confirmation_pending', 'closed')),
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  last_login_at BIGINT,
  last_activity_at BIGINT,
  notice_queued_at BIGINT,
  notice_delivered_at BIGINT,
  closed_at BIGINT,
  closed_reason TEXT CHECK (closed_reason IN ('request', 'admin', 'inactivity')),
  marketing_consent INTEGER NOT NULL DEFAULT 0 CHECK (marketing_consent IN (0, 1)),
  consent_withdrawn_at BIGINT,
  last_communication_at BIGINT,
  next_action TEXT NOT NULL DEFAULT '',
  next_action_due BIGINT
);
CREATE INDEX accounts_state ON accounts (state);
CREATE INDEX accounts_last_activity_at ON accounts (last_activity_at);
CREATE INDEX accounts_next_action_due ON accounts (next_action_due);

CREATE TABLE public_keys (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  key_type TEXT NOT NULL,
  key_base64 TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  comment TEXT NOT NULL DEFAULT '',
  added_at BIGINT NOT NULL,
  UNIQUE (account_id, fingerprint)
);

-- No foreign key to accounts: the ledger outlives the account row while a marketing contact
-- stands, and is deleted with the contact.
CREATE TABLE consent_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  account_id TEXT NOT NULL,
  granted INTEGER NOT NULL CHECK (granted IN (0, 1)),
  at BIGINT NOT NULL,
  source TEXT NOT NULL,
  actor TEXT NOT NULL
);
CREATE INDEX consent_events_account ON consent_events (account_id, id);

-- Admin actions. No personal values: field names, fingerprints, states only.
CREATE TABLE audit_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  account_id TEXT NOT NULL DEFAULT '',
  detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_account ON audit_events (account_id, id);
