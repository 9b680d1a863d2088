-- 0007_retention (sqlite): indexes for the sweep's retention phase (docs/privacy-mapping.md):
-- copies of notices older than lifecycle.mail_copy_retention (section 9 of the privacy notice)
-- and IP addresses older than lifecycle.ip_retention. Each reads only the rows still to drop.
-- Same names on the other backend.

-- Notices sent (kept mail_copy_retention after sent_at) and notices given up (after created_at).
CREATE INDEX outbox_sent_at ON outbox (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX outbox_given_up ON outbox (created_at)
  WHERE sent_at IS NULL AND state IN ('failed', 'cancelled');

-- Sessions whose address is still held (UsageStore::ForgetAddresses clears it).
CREATE INDEX usage_sessions_with_ip ON usage_sessions (started_at) WHERE remote_ip <> '';

-- Audit rows that name an address (Defender::ForgetAddresses replaces it).
CREATE INDEX audit_events_ban_remove ON audit_events (at) WHERE action = 'ban.remove';
