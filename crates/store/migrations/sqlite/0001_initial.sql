-- Tether store, SQLite schema 1. Keep in step with ../postgres/0001_initial.sql: same tables,
-- same column names and meanings. Times are unix milliseconds; JSON is stored as TEXT.

CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    is_admin      INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE api_tokens (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    token_hash BLOB    NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    UNIQUE (account_id, name)
) STRICT;

CREATE TABLE devices (
    id                      INTEGER PRIMARY KEY,
    device_key              TEXT    NOT NULL UNIQUE,
    oui                     TEXT    NOT NULL,
    product_class           TEXT    NOT NULL,
    serial_number           TEXT    NOT NULL,
    manufacturer            TEXT    NOT NULL,
    owner_id                INTEGER REFERENCES accounts (id) ON DELETE SET NULL,
    created_at              INTEGER NOT NULL,
    last_inform_at          INTEGER,
    last_inform_events      TEXT    NOT NULL DEFAULT '[]',
    remote_addr             TEXT,
    online_until            INTEGER,
    conn_req_url            TEXT,
    conn_req_username       TEXT,
    conn_req_password       TEXT,
    cpe_username            TEXT UNIQUE,
    cpe_password            TEXT
) STRICT;

CREATE INDEX devices_serial_number ON devices (serial_number);
CREATE INDEX devices_owner ON devices (owner_id, device_key);
CREATE INDEX devices_last_inform ON devices (last_inform_at);

CREATE TABLE parameters (
    device_id    INTEGER NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    value        TEXT,
    xsi_type     TEXT,
    writable     INTEGER CHECK (writable IN (0, 1)),
    notification INTEGER,
    access_list  TEXT,
    learned_at   INTEGER NOT NULL,
    PRIMARY KEY (device_id, name)
) STRICT, WITHOUT ROWID;

CREATE TABLE tasks (
    id            INTEGER PRIMARY KEY,
    device_id     INTEGER NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    kind          TEXT    NOT NULL,
    payload       TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN
                      ('pending', 'dispatched', 'done', 'faulted', 'expired', 'cancelled')),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    attempts      INTEGER NOT NULL DEFAULT 0,
    session_id    TEXT,
    dispatched_at INTEGER,
    result        TEXT,
    fault_code    TEXT,
    fault_message TEXT,
    fault_detail  TEXT
) STRICT;

CREATE INDEX tasks_device_state ON tasks (device_id, state, id);
CREATE INDEX tasks_state ON tasks (state, id);
CREATE INDEX tasks_session ON tasks (session_id) WHERE session_id IS NOT NULL;

CREATE TABLE faults (
    id         INTEGER PRIMARY KEY,
    device_id  INTEGER NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    task_id    INTEGER REFERENCES tasks (id) ON DELETE SET NULL,
    code       TEXT    NOT NULL,
    message    TEXT    NOT NULL,
    detail     TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX faults_device ON faults (device_id, id);
CREATE INDEX faults_task ON faults (task_id) WHERE task_id IS NOT NULL;
