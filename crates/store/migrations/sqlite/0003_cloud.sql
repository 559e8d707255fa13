-- Tether store, SQLite schema 3: the cloud connection. Keep in step with
-- ../postgres/0003_cloud.sql.
--
-- cloud_devices: the cloud inventory. A serial is bound to exactly one account (UNIQUE
-- serial); only the device key derived from the server password is kept, never the password.
-- Presence columns are written by the node holding the tunnel; a node marks its own devices
-- offline when it starts.

CREATE TABLE cloud_devices (
    id                INTEGER PRIMARY KEY,
    serial            TEXT    NOT NULL UNIQUE,
    owner_id          INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name              TEXT    NOT NULL DEFAULT '',
    device_key        BLOB    NOT NULL CHECK (length(device_key) = 32),
    created_at        INTEGER NOT NULL,
    bound_at          INTEGER NOT NULL,
    online            INTEGER NOT NULL DEFAULT 0 CHECK (online IN (0, 1)),
    connected_at      INTEGER,
    disconnected_at   INTEGER,
    last_keepalive_at INTEGER,
    remote_addr       TEXT,
    node_id           TEXT,
    tunnel_id         TEXT,
    telemetry         TEXT,
    telemetry_at      INTEGER
) STRICT;

CREATE INDEX cloud_devices_owner ON cloud_devices (owner_id, serial);
CREATE INDEX cloud_devices_online_node ON cloud_devices (node_id) WHERE online = 1;

-- Unbinding codes: one outstanding per (serial, account); rows are kept (used or void) so
-- issuance can be rate limited per account and per serial.
CREATE TABLE cloud_unbind_codes (
    id              INTEGER PRIMARY KEY,
    serial          TEXT    NOT NULL,
    account_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    code            TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('outstanding', 'used', 'void')),
    issued_at       INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX cloud_unbind_codes_serial ON cloud_unbind_codes (serial, state, id);
CREATE INDEX cloud_unbind_codes_account ON cloud_unbind_codes (account_id, issued_at);

-- Every move of a binding (audit; kept when the device is deleted).
CREATE TABLE cloud_binding_changes (
    id              INTEGER PRIMARY KEY,
    serial          TEXT    NOT NULL,
    from_account_id INTEGER,
    to_account_id   INTEGER NOT NULL,
    reason          TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
) STRICT;

CREATE INDEX cloud_binding_changes_serial ON cloud_binding_changes (serial, id);

-- Configuration pushed through the config service. owner_id is the owner at the time, so a
-- new owner does not see the previous owner's history.
CREATE TABLE cloud_config_changes (
    id         INTEGER PRIMARY KEY,
    device_id  INTEGER NOT NULL REFERENCES cloud_devices (id) ON DELETE CASCADE,
    owner_id   INTEGER NOT NULL,
    account_id INTEGER REFERENCES accounts (id) ON DELETE SET NULL,
    status     TEXT    NOT NULL,
    commands   TEXT    NOT NULL,
    results    TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX cloud_config_changes_device ON cloud_config_changes (device_id, owner_id, id);
