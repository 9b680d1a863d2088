-- 0005_sweep_indexes (sqlite): the sweep's two state-based claims read an index of exactly
-- the rows they want, not every closed or pending account (at 1M accounts ten thousand or more
-- wait in each state). Keyed by state like accounts_state, so that both planners, with or
-- without statistics, prefer these smaller indexes for the claims.
-- Same names on PostgreSQL (sql/postgresql/0005_sweep_indexes.sql).

-- Closed accounts whose purge is not scheduled yet (closed by the store, which clears the
-- schedule): runner.cc LoadDueAccounts.
CREATE INDEX accounts_closed_unscheduled ON accounts (state)
  WHERE state = 'closed' AND next_action <> 'purge';

-- Pending accounts with activity since their notice was queued (a transfer, which does not
-- reactivate the account by itself): the sweep reactivates them.
CREATE INDEX accounts_pending_with_activity ON accounts (state)
  WHERE state = 'confirmation_pending' AND last_activity_at > notice_queued_at;
