-- Tether store, SQLite schema 2: what the REST API adds. Keep in step with
-- ../postgres/0002_server_api.sql.
--
-- Per-account default CPE credentials: a CPE owned by the account (and without credentials of
-- its own) authenticates with these.

ALTER TABLE accounts ADD COLUMN cpe_username TEXT;
ALTER TABLE accounts ADD COLUMN cpe_password TEXT;

-- Expiry sweeps look for pending tasks by expiry.
CREATE INDEX tasks_pending_expiry ON tasks (expires_at) WHERE state = 'pending' AND expires_at IS NOT NULL;
