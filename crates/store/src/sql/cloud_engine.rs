//! The cloud-connection queries: inventory, presence, telemetry, unbinding codes, binding moves
//! and configuration history. Compiled once per backend beside `engine.rs` (same `super`
//! items); `engine.rs` delegates its cloud methods here. Nothing here reads the clock.

use sqlx::{Pool, Row};

use super::{Db, KIND, begin_write};
use crate::error::DbResultExt;
use crate::{
    AccountId, BackendKind, BindingChange, CloudDevice, CloudPresence, ConfigChange,
    NewCloudDevice, NewConfigChange, NewUnbindCode, Page, Paged, StoreError, StoreResult,
    Timestamp, TunnelUp, UnbindCodeRecord, UnbindIssue, UnbindIssueLimits, UnbindJudge,
    UnbindRedeem,
};

type DbRow = <Db as sqlx::Database>::Row;

macro_rules! cloud_columns {
    () => {
        "serial, owner_id, name, device_key, created_at, bound_at, online, connected_at, \
         disconnected_at, last_keepalive_at, remote_addr, node_id, tunnel_id, telemetry, \
         telemetry_at"
    };
}

/// `FOR UPDATE` where the backend has row locks; SQLite's `BEGIN IMMEDIATE` already holds the
/// database write lock.
fn for_update() -> &'static str {
    match KIND {
        BackendKind::Postgres => " FOR UPDATE",
        BackendKind::Sqlite => "",
    }
}

fn json_text(text: &str, what: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Backend(format!("stored {what} is not JSON: {e}")))
}

fn device_from_row(row: &DbRow) -> StoreResult<CloudDevice> {
    let key: Vec<u8> = row.try_get("device_key").db()?;
    let device_key: [u8; 32] = key
        .try_into()
        .map_err(|_| StoreError::Backend("stored device key is not 32 bytes".into()))?;
    let telemetry: Option<String> = row.try_get("telemetry").db()?;
    let telemetry_at: Option<i64> = row.try_get("telemetry_at").db()?;
    let telemetry = match (telemetry, telemetry_at) {
        (Some(text), Some(at)) => Some((Timestamp(at), json_text(&text, "telemetry")?)),
        _ => None,
    };
    Ok(CloudDevice {
        serial: row.try_get("serial").db()?,
        owner: AccountId(row.try_get("owner_id").db()?),
        name: row.try_get("name").db()?,
        device_key,
        created_at: Timestamp(row.try_get("created_at").db()?),
        bound_at: Timestamp(row.try_get("bound_at").db()?),
        presence: CloudPresence {
            online: row.try_get("online").db()?,
            connected_at: row
                .try_get::<Option<i64>, _>("connected_at")
                .db()?
                .map(Timestamp),
            disconnected_at: row
                .try_get::<Option<i64>, _>("disconnected_at")
                .db()?
                .map(Timestamp),
            last_keepalive_at: row
                .try_get::<Option<i64>, _>("last_keepalive_at")
                .db()?
                .map(Timestamp),
            remote_addr: row.try_get("remote_addr").db()?,
            node_id: row.try_get("node_id").db()?,
            tunnel_id: row.try_get("tunnel_id").db()?,
        },
        telemetry,
    })
}

fn not_found(serial: &str) -> StoreError {
    StoreError::NotFound(format!("cloud device {serial:?}"))
}

pub(super) async fn add(
    pool: &Pool<Db>,
    d: &NewCloudDevice,
    now: Timestamp,
) -> StoreResult<CloudDevice> {
    if d.serial.is_empty() {
        return Err(StoreError::Invalid("serial must not be empty".into()));
    }
    let row = sqlx::query::<Db>(concat!(
        "INSERT INTO cloud_devices (serial, owner_id, name, device_key, created_at, bound_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING ",
        cloud_columns!()
    ))
    .bind(&d.serial)
    .bind(d.owner.0)
    .bind(&d.name)
    .bind(d.device_key.to_vec())
    .bind(now.0)
    .fetch_one(pool)
    .await
    .db()
    .map_err(|e| match e {
        StoreError::Conflict(_) => {
            StoreError::Conflict(format!("serial {:?} is already bound", d.serial))
        }
        StoreError::NotFound(_) => StoreError::NotFound(format!("account {}", d.owner.0)),
        e => e,
    })?;
    device_from_row(&row)
}

pub(super) async fn get(pool: &Pool<Db>, serial: &str) -> StoreResult<Option<CloudDevice>> {
    let row = sqlx::query::<Db>(concat!(
        "SELECT ",
        cloud_columns!(),
        " FROM cloud_devices WHERE serial = $1"
    ))
    .bind(serial)
    .fetch_optional(pool)
    .await
    .db()?;
    row.as_ref().map(device_from_row).transpose()
}

pub(super) async fn list(
    pool: &Pool<Db>,
    owner: Option<AccountId>,
    page: Page,
) -> StoreResult<Paged<CloudDevice>> {
    // `$1 IS NULL` does not type-check on PostgreSQL for an untyped parameter; use a sentinel.
    let owner = owner.map_or(-1, |o| o.0);
    let total: i64 = sqlx::query_scalar::<Db, i64>(
        "SELECT COUNT(*) FROM cloud_devices WHERE ($1 = -1 OR owner_id = $1)",
    )
    .bind(owner)
    .fetch_one(pool)
    .await
    .db()?;
    let rows = sqlx::query::<Db>(concat!(
        "SELECT ",
        cloud_columns!(),
        " FROM cloud_devices WHERE ($1 = -1 OR owner_id = $1) ORDER BY serial LIMIT $2 OFFSET $3"
    ))
    .bind(owner)
    .bind(page.sql_limit())
    .bind(page.sql_offset())
    .fetch_all(pool)
    .await
    .db()?;
    Ok(Paged {
        items: rows
            .iter()
            .map(device_from_row)
            .collect::<StoreResult<_>>()?,
        total: u64::try_from(total).unwrap_or(0),
    })
}

pub(super) async fn delete(pool: &Pool<Db>, serial: &str) -> StoreResult<()> {
    let mut tx = begin_write(pool).await.db()?;
    let done = sqlx::query::<Db>("DELETE FROM cloud_devices WHERE serial = $1")
        .bind(serial)
        .execute(&mut *tx)
        .await
        .db()?;
    if done.rows_affected() == 0 {
        return Err(not_found(serial));
    }
    sqlx::query::<Db>(
        "UPDATE cloud_unbind_codes SET state = 'void' WHERE serial = $1 AND state = 'outstanding'",
    )
    .bind(serial)
    .execute(&mut *tx)
    .await
    .db()?;
    tx.commit().await.db()
}

pub(super) async fn tunnel_up(
    pool: &Pool<Db>,
    serial: &str,
    t: &TunnelUp,
    now: Timestamp,
) -> StoreResult<()> {
    let done = sqlx::query::<Db>(
        "UPDATE cloud_devices SET online = $2, connected_at = $3, last_keepalive_at = $3, \
         disconnected_at = NULL, remote_addr = $4, node_id = $5, tunnel_id = $6 WHERE serial = $1",
    )
    .bind(serial)
    .bind(true)
    .bind(now.0)
    .bind(&t.remote_addr)
    .bind(&t.node_id)
    .bind(&t.tunnel_id)
    .execute(pool)
    .await
    .db()?;
    if done.rows_affected() == 0 {
        return Err(not_found(serial));
    }
    Ok(())
}

pub(super) async fn keepalive(
    pool: &Pool<Db>,
    serial: &str,
    tunnel_id: &str,
    now: Timestamp,
) -> StoreResult<()> {
    sqlx::query::<Db>(
        "UPDATE cloud_devices SET last_keepalive_at = $3 \
         WHERE serial = $1 AND tunnel_id = $2 AND online = $4",
    )
    .bind(serial)
    .bind(tunnel_id)
    .bind(now.0)
    .bind(true)
    .execute(pool)
    .await
    .db()?;
    Ok(())
}

pub(super) async fn tunnel_down(
    pool: &Pool<Db>,
    serial: &str,
    tunnel_id: &str,
    now: Timestamp,
) -> StoreResult<bool> {
    let done = sqlx::query::<Db>(
        "UPDATE cloud_devices SET online = $3, disconnected_at = $4 \
         WHERE serial = $1 AND tunnel_id = $2 AND online = $5",
    )
    .bind(serial)
    .bind(tunnel_id)
    .bind(false)
    .bind(now.0)
    .bind(true)
    .execute(pool)
    .await
    .db()?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn reset_node(pool: &Pool<Db>, node_id: &str, now: Timestamp) -> StoreResult<u64> {
    let done = sqlx::query::<Db>(
        "UPDATE cloud_devices SET online = $2, disconnected_at = $3 \
         WHERE node_id = $1 AND online = $4",
    )
    .bind(node_id)
    .bind(false)
    .bind(now.0)
    .bind(true)
    .execute(pool)
    .await
    .db()?;
    Ok(done.rows_affected())
}

pub(super) async fn set_telemetry(
    pool: &Pool<Db>,
    serial: &str,
    sample: &serde_json::Value,
    at: Timestamp,
) -> StoreResult<()> {
    let done = sqlx::query::<Db>(
        "UPDATE cloud_devices SET telemetry = $2, telemetry_at = $3 WHERE serial = $1",
    )
    .bind(serial)
    .bind(sample.to_string())
    .bind(at.0)
    .execute(pool)
    .await
    .db()?;
    if done.rows_affected() == 0 {
        return Err(not_found(serial));
    }
    Ok(())
}

pub(super) async fn issue_unbind_code(
    pool: &Pool<Db>,
    code: &NewUnbindCode,
    limits: UnbindIssueLimits,
) -> StoreResult<UnbindIssue> {
    let mut tx = begin_write(pool).await.db()?;
    if KIND == BackendKind::Postgres {
        // Serialise issuance per account so two concurrent requests cannot both pass the count.
        sqlx::query::<Db>("SELECT id FROM accounts WHERE id = $1 FOR UPDATE")
            .bind(code.account.0)
            .execute(&mut *tx)
            .await
            .db()?;
    }
    let by_account: i64 = sqlx::query_scalar::<Db, i64>(
        "SELECT COUNT(*) FROM cloud_unbind_codes WHERE account_id = $1 AND issued_at >= $2",
    )
    .bind(code.account.0)
    .bind(limits.window_start.0)
    .fetch_one(&mut *tx)
    .await
    .db()?;
    if by_account >= i64::from(limits.per_account) {
        return Ok(UnbindIssue::AccountLimited);
    }
    let by_serial: i64 = sqlx::query_scalar::<Db, i64>(
        "SELECT COUNT(*) FROM cloud_unbind_codes WHERE serial = $1 AND issued_at >= $2",
    )
    .bind(&code.serial)
    .bind(limits.window_start.0)
    .fetch_one(&mut *tx)
    .await
    .db()?;
    if by_serial >= i64::from(limits.per_serial) {
        return Ok(UnbindIssue::SerialLimited);
    }
    sqlx::query::<Db>(
        "UPDATE cloud_unbind_codes SET state = 'void' \
         WHERE serial = $1 AND account_id = $2 AND state = 'outstanding'",
    )
    .bind(&code.serial)
    .bind(code.account.0)
    .execute(&mut *tx)
    .await
    .db()?;
    sqlx::query::<Db>(
        "INSERT INTO cloud_unbind_codes (serial, account_id, code, state, issued_at, expires_at) \
         VALUES ($1, $2, $3, 'outstanding', $4, $5)",
    )
    .bind(&code.serial)
    .bind(code.account.0)
    .bind(&code.code)
    .bind(code.issued_at.0)
    .bind(code.expires_at.0)
    .execute(&mut *tx)
    .await
    .db()?;
    tx.commit().await.db()?;
    Ok(UnbindIssue::Issued)
}

pub(super) async fn redeem_unbind_code(
    pool: &Pool<Db>,
    serial: &str,
    judge: UnbindJudge<'_>,
    now: Timestamp,
) -> StoreResult<UnbindRedeem> {
    let mut tx = begin_write(pool).await.db()?;
    let owner: Option<i64> = sqlx::query_scalar::<Db, i64>(sqlx::AssertSqlSafe(format!(
        "SELECT owner_id FROM cloud_devices WHERE serial = $1{}",
        for_update()
    )))
    .bind(serial)
    .fetch_optional(&mut *tx)
    .await
    .db()?;
    let Some(owner) = owner else {
        return Err(not_found(serial));
    };
    let rows = sqlx::query::<Db>(sqlx::AssertSqlSafe(format!(
        "SELECT id, serial, account_id, code, issued_at, expires_at, failed_attempts \
         FROM cloud_unbind_codes WHERE serial = $1 AND state = 'outstanding' ORDER BY id{}",
        for_update()
    )))
    .bind(serial)
    .fetch_all(&mut *tx)
    .await
    .db()?;
    let mut records = rows
        .iter()
        .map(|row| {
            let failed: i64 = row.try_get("failed_attempts").db()?;
            Ok(UnbindCodeRecord {
                id: row.try_get("id").db()?,
                serial: row.try_get("serial").db()?,
                account: AccountId(row.try_get("account_id").db()?),
                code: row.try_get("code").db()?,
                issued_at: Timestamp(row.try_get("issued_at").db()?),
                expires_at: Timestamp(row.try_get("expires_at").db()?),
                failed_attempts: u8::try_from(failed).unwrap_or(u8::MAX),
                used: false,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let before: Vec<u8> = records.iter().map(|r| r.failed_attempts).collect();
    let accepted = judge(&mut records).filter(|&i| i < records.len());
    for (record, old) in records.iter().zip(before) {
        if record.failed_attempts != old {
            sqlx::query::<Db>("UPDATE cloud_unbind_codes SET failed_attempts = $2 WHERE id = $1")
                .bind(record.id)
                .bind(i64::from(record.failed_attempts))
                .execute(&mut *tx)
                .await
                .db()?;
        }
    }
    let outcome = match accepted {
        None => UnbindRedeem::Refused,
        Some(i) => {
            let winner = &records[i];
            sqlx::query::<Db>("UPDATE cloud_unbind_codes SET state = 'used' WHERE id = $1")
                .bind(winner.id)
                .execute(&mut *tx)
                .await
                .db()?;
            sqlx::query::<Db>(
                "UPDATE cloud_unbind_codes SET state = 'void' \
                 WHERE serial = $1 AND state = 'outstanding'",
            )
            .bind(serial)
            .execute(&mut *tx)
            .await
            .db()?;
            sqlx::query::<Db>(
                "UPDATE cloud_devices SET owner_id = $2, bound_at = $3 WHERE serial = $1",
            )
            .bind(serial)
            .bind(winner.account.0)
            .bind(now.0)
            .execute(&mut *tx)
            .await
            .db()?;
            sqlx::query::<Db>(
                "INSERT INTO cloud_binding_changes \
                 (serial, from_account_id, to_account_id, reason, created_at) \
                 VALUES ($1, $2, $3, 'unbinding_code', $4)",
            )
            .bind(serial)
            .bind(owner)
            .bind(winner.account.0)
            .bind(now.0)
            .execute(&mut *tx)
            .await
            .db()?;
            UnbindRedeem::Moved {
                from: AccountId(owner),
                to: winner.account,
            }
        }
    };
    tx.commit().await.db()?;
    Ok(outcome)
}

pub(super) async fn binding_changes(
    pool: &Pool<Db>,
    serial: &str,
) -> StoreResult<Vec<BindingChange>> {
    let rows = sqlx::query::<Db>(
        "SELECT id, serial, from_account_id, to_account_id, reason, created_at \
         FROM cloud_binding_changes WHERE serial = $1 ORDER BY id",
    )
    .bind(serial)
    .fetch_all(pool)
    .await
    .db()?;
    rows.iter()
        .map(|row| {
            Ok(BindingChange {
                id: row.try_get("id").db()?,
                serial: row.try_get("serial").db()?,
                from: row
                    .try_get::<Option<i64>, _>("from_account_id")
                    .db()?
                    .map(AccountId),
                to: AccountId(row.try_get("to_account_id").db()?),
                reason: row.try_get("reason").db()?,
                at: Timestamp(row.try_get("created_at").db()?),
            })
        })
        .collect()
}

pub(super) async fn record_config_change(pool: &Pool<Db>, c: &NewConfigChange) -> StoreResult<i64> {
    let id: Option<i64> = sqlx::query_scalar::<Db, i64>(
        "INSERT INTO cloud_config_changes \
         (device_id, owner_id, account_id, status, commands, results, created_at) \
         SELECT id, owner_id, $2, $3, $4, $5, $6 FROM cloud_devices WHERE serial = $1 \
         RETURNING id",
    )
    .bind(&c.serial)
    .bind(c.account.0)
    .bind(&c.status)
    .bind(c.commands.to_string())
    .bind(c.results.to_string())
    .bind(c.at.0)
    .fetch_optional(pool)
    .await
    .db()?;
    id.ok_or_else(|| not_found(&c.serial))
}

pub(super) async fn list_config_changes(
    pool: &Pool<Db>,
    serial: &str,
    page: Page,
) -> StoreResult<Paged<ConfigChange>> {
    const FROM: &str = " FROM cloud_config_changes c JOIN cloud_devices d \
         ON d.id = c.device_id AND d.owner_id = c.owner_id WHERE d.serial = $1";
    let total: i64 =
        sqlx::query_scalar::<Db, i64>(sqlx::AssertSqlSafe(format!("SELECT COUNT(*){FROM}")))
            .bind(serial)
            .fetch_one(pool)
            .await
            .db()?;
    let rows = sqlx::query::<Db>(sqlx::AssertSqlSafe(format!(
        "SELECT c.id, d.serial, c.account_id, c.status, c.commands, c.results, c.created_at\
         {FROM} ORDER BY c.id DESC LIMIT $2 OFFSET $3"
    )))
    .bind(serial)
    .bind(page.sql_limit())
    .bind(page.sql_offset())
    .fetch_all(pool)
    .await
    .db()?;
    let items = rows
        .iter()
        .map(|row| {
            let commands: String = row.try_get("commands").db()?;
            let results: String = row.try_get("results").db()?;
            Ok(ConfigChange {
                id: row.try_get("id").db()?,
                serial: row.try_get("serial").db()?,
                account: row
                    .try_get::<Option<i64>, _>("account_id")
                    .db()?
                    .map(AccountId),
                at: Timestamp(row.try_get("created_at").db()?),
                status: row.try_get("status").db()?,
                commands: json_text(&commands, "config commands")?,
                results: json_text(&results, "config results")?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Paged {
        items,
        total: u64::try_from(total).unwrap_or(0),
    })
}
