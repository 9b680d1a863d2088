-- 0004_lifecycle (postgresql): the notice outbox, purge receipts and the marketing contacts that
-- remain after a purge while consent stands. Times are BIGINT seconds since the epoch (UTC).
-- Same names on SQLite (sql/sqlite/0004_lifecycle.sql).

-- One row per notice. Written in the same transaction as the state change that causes it;
-- UNIQUE (account_id, event_key) keeps a notice from ever being queued twice. The recipient and
-- the text are taken from the account when the notice is sent; rows go with the purge.
CREATE TABLE outbox (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('inactivity_notice', 'closure_notice', 'files_waiting')),
  event_key TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
  created_at BIGINT NOT NULL,
  next_attempt_at BIGINT,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  sent_at BIGINT,
  subject TEXT NOT NULL DEFAULT '',
  detail TEXT NOT NULL DEFAULT '',
  UNIQUE (account_id, event_key)
);
CREATE INDEX outbox_due ON outbox (next_attempt_at);
CREATE INDEX outbox_state ON outbox (state);

-- What remains of a purged account: no personal data.
CREATE TABLE purge_receipts (
  account_id TEXT PRIMARY KEY NOT NULL,
  purged_at BIGINT NOT NULL,
  reason TEXT NOT NULL,
  closed_at BIGINT,
  files_deleted BIGINT NOT NULL DEFAULT 0,
  bytes_deleted BIGINT NOT NULL DEFAULT 0,
  keys_deleted BIGINT NOT NULL DEFAULT 0,
  usage_rows_deleted BIGINT NOT NULL DEFAULT 0,
  notices_deleted BIGINT NOT NULL DEFAULT 0,
  consent_events_deleted BIGINT NOT NULL DEFAULT 0,
  contact_kept INTEGER NOT NULL DEFAULT 0,
  contact_deleted_at BIGINT,
  contact_deleted_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX purge_receipts_purged_at ON purge_receipts (purged_at);

-- The marketing contact kept while consent stands (name, company, email, phone; the ledger
-- stays in consent_events). delete_due = min(last_communication_at + marketing_retention,
-- consent_withdrawn_at + withdrawal_purge), indexed for the sweep.
CREATE TABLE marketing_contacts (
  account_id TEXT PRIMARY KEY NOT NULL,
  full_name TEXT NOT NULL,
  company TEXT NOT NULL DEFAULT '',
  email TEXT NOT NULL,
  phone TEXT NOT NULL,
  consent INTEGER NOT NULL CHECK (consent IN (0, 1)),
  consent_withdrawn_at BIGINT,
  last_communication_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  delete_due BIGINT NOT NULL
);
CREATE INDEX marketing_contacts_delete_due ON marketing_contacts (delete_due);
