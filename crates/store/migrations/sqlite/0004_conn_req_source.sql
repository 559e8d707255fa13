-- Tether store, SQLite schema 4: where a device's connection-request credentials came from.
-- Keep in step with ../postgres/0004_conn_req_source.sql.
--
-- 'configured': an operator set them (the device must be configured to match);
-- 'provisioned': the ACS set them on the device itself and the device acknowledged.
-- NULL exactly when the device has no connection-request credentials. Credentials stored
-- before this column existed were set by an operator.

ALTER TABLE devices ADD COLUMN conn_req_source TEXT
    CHECK (conn_req_source IN ('configured', 'provisioned'));

UPDATE devices SET conn_req_source = 'configured'
    WHERE conn_req_username IS NOT NULL AND conn_req_password IS NOT NULL;
