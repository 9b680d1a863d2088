-- 0006_sweep_failures (postgresql): what the sweep could not do for one account, so that it is retried
-- with backoff while the sweep goes on for every other account, and shown by
-- `sftpctl retention report` with its reason until it is fixed. Written only by the lifecycle
-- module (sftpd/core/lifecycle/failure_log.cc). No personal data: an account id, an action and
-- an error text that names the operation, never a client path.
--   action: 'account' (a notice, a closure or a schedule), 'purge' (the account's folder could
--   not be moved out of reach, or the purge transaction failed), 'trash' (the files of a purged
--   or erased account could not all be removed; the account's rows are already gone).
CREATE TABLE sweep_failures (
  account_id TEXT NOT NULL,
  action TEXT NOT NULL,
  failures INTEGER NOT NULL,
  first_failed_at BIGINT NOT NULL,
  last_failed_at BIGINT NOT NULL,
  retry_after BIGINT NOT NULL,
  last_error TEXT NOT NULL,
  PRIMARY KEY (account_id, action)
);
