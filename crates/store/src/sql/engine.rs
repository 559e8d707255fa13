//! Every query of the store and the [`Store`] implementation, written once.
//!
//! This file is compiled twice, as a child module of `sqlite.rs` and of `postgres.rs`; `super`
//! supplies `Db` (the sqlx database), `Backend` (the struct holding the pool), `KIND` and
//! `begin_write`. The SQL text is shared: `$n` placeholders, `ON CONFLICT ... DO UPDATE`,
//! `RETURNING`, integers for times and booleans, TEXT for JSON. Dynamic SQL (filters, batches)
//! goes through `QueryBuilder`, which writes each backend's placeholders. Nothing here may read
//! the clock or hold a lock across calls.

use std::collections::HashMap;

use sqlx::{QueryBuilder, Row};

use super::cloud_engine as cloud;
use super::{Backend, Db, KIND, begin_write};
use crate::error::DbResultExt;
use crate::sql::batcher::Batcher;
use crate::sql::rows::{
    INFORM_DEVICE_UPSERT_SET, ONLY_IF_CHANGED, PARAMETER_UPSERT_SET, RawDevice, RawTask,
    access_list_to_json, credentials, device_columns, events_to_json, merge_updates, parse_json,
    require_nonempty, task_columns,
};
use crate::store::{BackendKind, FaultFilter, Store, StoreFuture};
use crate::{
    Account, AccountId, ApiToken, Credentials, CredentialsOrigin, Device, DeviceFilter,
    DeviceIdentity, Fault, FaultId, InformRecord, NewAccount, NewApiToken, NewFault, NewTask, Page,
    Paged, Parameter, ParameterUpdate, RecoveryOutcome, RecoveryPolicy, RecoveryScope, SerialMatch,
    StoreError, StoreResult, Task, TaskFault, TaskFilter, TaskId, TaskState, Timestamp, TokenHash,
    TokenId, TokenOwner,
};
use crate::{
    BindingChange, CloudDevice, ConfigChange, NewCloudDevice, NewConfigChange, NewUnbindCode,
    TunnelUp, UnbindIssue, UnbindIssueLimits, UnbindJudge, UnbindRedeem,
};

type DbRow = <Db as sqlx::Database>::Row;

/// Rows per multi-row `INSERT` of parameters: 8 binds each, well under SQLite's 32,766 and
/// PostgreSQL's 65,535 bind limits.
const PARAMETER_CHUNK: usize = 500;

macro_rules! account_columns {
    () => {
        "id, name, password_hash, is_admin, created_at"
    };
}

macro_rules! token_columns {
    () => {
        "t.id AS token_id, t.account_id, t.name AS token_name, t.token_hash, \
         t.created_at AS token_created_at, t.expires_at"
    };
}

macro_rules! fault_columns {
    () => {
        "f.id, d.device_key, f.task_id, f.code, f.message, f.detail, f.created_at"
    };
}

// ----- row decoding -----

fn ts(ms: i64) -> Timestamp {
    Timestamp(ms)
}

fn opt_ts(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(Timestamp)
}

fn account_from_row(row: &DbRow) -> StoreResult<Account> {
    Ok(Account {
        id: AccountId(row.try_get("id").db()?),
        name: row.try_get("name").db()?,
        password_hash: row.try_get("password_hash").db()?,
        is_admin: row.try_get("is_admin").db()?,
        created_at: ts(row.try_get("created_at").db()?),
    })
}

fn token_from_row(row: &DbRow) -> StoreResult<ApiToken> {
    let hash: Vec<u8> = row.try_get("token_hash").db()?;
    let hash: [u8; 32] = hash
        .try_into()
        .map_err(|_| StoreError::Backend("stored token hash is not 32 bytes".into()))?;
    Ok(ApiToken {
        id: TokenId(row.try_get("token_id").db()?),
        account_id: AccountId(row.try_get("account_id").db()?),
        name: row.try_get("token_name").db()?,
        hash: TokenHash(hash),
        created_at: ts(row.try_get("token_created_at").db()?),
        expires_at: opt_ts(row.try_get("expires_at").db()?),
    })
}

fn device_from_row(row: &DbRow) -> StoreResult<Device> {
    RawDevice {
        device_key: row.try_get("device_key").db()?,
        oui: row.try_get("oui").db()?,
        product_class: row.try_get("product_class").db()?,
        serial_number: row.try_get("serial_number").db()?,
        manufacturer: row.try_get("manufacturer").db()?,
        owner_id: row.try_get("owner_id").db()?,
        created_at: row.try_get("created_at").db()?,
        last_inform_at: row.try_get("last_inform_at").db()?,
        last_inform_events: row.try_get("last_inform_events").db()?,
        remote_addr: row.try_get("remote_addr").db()?,
        online_until: row.try_get("online_until").db()?,
        conn_req_url: row.try_get("conn_req_url").db()?,
        conn_req_username: row.try_get("conn_req_username").db()?,
        conn_req_password: row.try_get("conn_req_password").db()?,
        conn_req_source: row.try_get("conn_req_source").db()?,
        cpe_username: row.try_get("cpe_username").db()?,
        cpe_password: row.try_get("cpe_password").db()?,
    }
    .decode()
}

fn parameter_from_row(row: &DbRow) -> StoreResult<Parameter> {
    let access_list: Option<String> = row.try_get("access_list").db()?;
    let access_list = match access_list {
        None => None,
        Some(text) => Some(serde_json::from_str::<Vec<String>>(&text).map_err(|e| {
            StoreError::Backend(format!(
                "stored access list is not a JSON string array: {e}"
            ))
        })?),
    };
    let notification: Option<i64> = row.try_get("notification").db()?;
    Ok(Parameter {
        name: row.try_get("name").db()?,
        value: row.try_get("value").db()?,
        xsi_type: row.try_get("xsi_type").db()?,
        writable: row.try_get("writable").db()?,
        notification: notification.map(|n| i32::try_from(n).unwrap_or(i32::MAX)),
        access_list,
        learned_at: ts(row.try_get("learned_at").db()?),
    })
}

fn task_from_row(row: &DbRow) -> StoreResult<Task> {
    RawTask {
        id: row.try_get("id").db()?,
        device_key: row.try_get("device_key").db()?,
        kind: row.try_get("kind").db()?,
        payload: row.try_get("payload").db()?,
        state: row.try_get("state").db()?,
        created_at: row.try_get("created_at").db()?,
        updated_at: row.try_get("updated_at").db()?,
        expires_at: row.try_get("expires_at").db()?,
        attempts: row.try_get("attempts").db()?,
        session_id: row.try_get("session_id").db()?,
        dispatched_at: row.try_get("dispatched_at").db()?,
        result: row.try_get("result").db()?,
        fault_code: row.try_get("fault_code").db()?,
        fault_message: row.try_get("fault_message").db()?,
        fault_detail: row.try_get("fault_detail").db()?,
    }
    .decode()
}

fn fault_from_row(row: &DbRow) -> StoreResult<Fault> {
    let detail: String = row.try_get("detail").db()?;
    Ok(Fault {
        id: FaultId(row.try_get("id").db()?),
        device_id: row.try_get("device_key").db()?,
        task_id: row.try_get::<Option<i64>, _>("task_id").db()?.map(TaskId),
        code: row.try_get("code").db()?,
        message: row.try_get("message").db()?,
        detail: parse_json(&detail, "fault detail")?,
        at: ts(row.try_get("created_at").db()?),
    })
}

// ----- helpers -----

/// Escapes `\`, `%` and `_` for a `LIKE ... ESCAPE '\'` pattern.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The smallest string greater than every string starting with `prefix` (in code point order,
/// which is byte order for UTF-8), or `None` if there is none. `name >= prefix AND name < bound`
/// selects a subtree with an index range scan in both backends.
fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

async fn device_pk<'e>(
    ex: impl sqlx::Executor<'e, Database = Db>,
    device_id: &str,
) -> StoreResult<i64> {
    sqlx::query_scalar::<Db, i64>("SELECT id FROM devices WHERE device_key = $1")
        .bind(device_id)
        .fetch_optional(ex)
        .await
        .db()?
        .ok_or_else(|| StoreError::NotFound(format!("device {device_id:?}")))
}

async fn write_parameters(
    tx: &mut sqlx::Transaction<'static, Db>,
    device_pk: i64,
    parameters: &[ParameterUpdate],
    at: Timestamp,
) -> StoreResult<()> {
    let merged = merge_updates(parameters)?;
    let rows: Vec<(i64, i64, &ParameterUpdate)> =
        merged.iter().map(|p| (device_pk, at.0, p)).collect();
    write_parameter_rows(tx, &rows, Refresh::Always).await
}

/// When an upsert of an existing parameter row rewrites it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refresh {
    /// Always, so `learned_at` records the read (answers to explicit requests).
    Always,
    /// Only when something stored would change: the parameters an Inform carries come every
    /// session, mostly unchanged, and rewriting their rows was most of the SQLite work of a
    /// periodic session (BENCHMARKS.md, "Where the CWMP time goes"). The device's
    /// `last_inform_at` says when they were last confirmed.
    OnChange,
}

/// Upserts parameter rows `(device pk, learned_at, update)`, several devices at once; a
/// `(device, name)` pair may appear only once.
async fn write_parameter_rows(
    tx: &mut sqlx::Transaction<'static, Db>,
    rows: &[(i64, i64, &ParameterUpdate)],
    refresh: Refresh,
) -> StoreResult<()> {
    for chunk in rows.chunks(PARAMETER_CHUNK) {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO parameters \
             (device_id, name, value, xsi_type, writable, notification, access_list, learned_at) ",
        );
        qb.push_values(chunk, |mut row, (device_pk, at, p)| {
            row.push_bind(*device_pk)
                .push_bind(p.name.clone())
                .push_bind(p.value.clone())
                .push_bind(p.xsi_type.clone())
                .push_bind(p.writable)
                .push_bind(p.notification.map(i64::from))
                .push_bind(access_list_to_json(&p.access_list))
                .push_bind(*at);
        });
        qb.push(PARAMETER_UPSERT_SET);
        if refresh == Refresh::OnChange {
            qb.push(ONLY_IF_CHANGED);
        }
        qb.build().execute(&mut **tx).await.db()?;
    }
    Ok(())
}

/// Most Informs written in one transaction by the group-commit writer.
const INFORM_BATCH: usize = 64;
/// Informs waiting for the writer before callers wait for room.
const INFORM_QUEUE: usize = 1024;

/// The batched calls of the CWMP hot path (`batcher.rs`).
pub(crate) struct Batchers {
    /// Group-commits Informs.
    informs: Batcher<InformRecord, Device>,
    /// Reads devices by key (`Store::device`: every session's authentication).
    devices: Batcher<String, Option<Device>>,
    /// Reads each device's first pending task (`Store::next_task`: every session's end).
    next_tasks: Batcher<String, Option<Task>>,
}

impl Batchers {
    /// `writer`: the pool writes go through (one connection with SQLite).
    pub(super) fn start(pool: &sqlx::Pool<Db>, writer: &sqlx::Pool<Db>) -> Self {
        Batchers {
            informs: inform_writer(writer),
            devices: {
                let pool = pool.clone();
                Batcher::start(READ_BATCH, READ_QUEUE, move |keys: Vec<String>| {
                    let pool = pool.clone();
                    async move { each(&keys, read_devices(&pool, &keys).await) }
                })
            },
            next_tasks: {
                let pool = pool.clone();
                Batcher::start(READ_BATCH, READ_QUEUE, move |keys: Vec<String>| {
                    let pool = pool.clone();
                    async move { each(&keys, read_next_tasks(&pool, &keys).await) }
                })
            },
        }
    }
}

impl Batchers {
    pub(super) async fn record_inform(&self, record: InformRecord) -> StoreResult<Device> {
        self.informs.submit(record).await
    }

    pub(super) async fn device(&self, key: String) -> StoreResult<Option<Device>> {
        self.devices.submit(key).await
    }

    pub(super) async fn next_task(&self, key: String) -> StoreResult<Option<Task>> {
        self.next_tasks.submit(key).await
    }

    /// Parameter writes are not batched here: `None` sends them through the writer pool.
    #[allow(
        clippy::unused_async,
        reason = "the same call as the SQLite hot path's, which waits for its thread"
    )]
    pub(super) async fn upsert_parameters(
        &self,
        _key: &str,
        _parameters: &[ParameterUpdate],
        _at: Timestamp,
    ) -> Option<StoreResult<()>> {
        None
    }
}

/// Most keys per batched read (one bind each).
const READ_BATCH: usize = 64;
/// Reads waiting before callers wait for room.
const READ_QUEUE: usize = 1024;

/// Spreads a batch's outcome over its requests: each key's own answer, or the batch's error.
fn each<T: Clone>(
    keys: &[String],
    found: StoreResult<HashMap<String, T>>,
) -> Vec<StoreResult<Option<T>>> {
    match found {
        Ok(map) => keys.iter().map(|k| Ok(map.get(k).cloned())).collect(),
        Err(e) => keys.iter().map(|_| Err(e.clone())).collect(),
    }
}

/// Appends `keys` as a comma-separated list of binds (the inside of an `IN (...)`).
fn push_key_list(qb: &mut QueryBuilder<Db>, keys: &[String]) {
    let mut list = qb.separated(", ");
    for key in keys {
        list.push_bind(key.clone());
    }
}

/// The stored devices among `keys`.
async fn read_devices(
    pool: &sqlx::Pool<Db>,
    keys: &[String],
) -> StoreResult<HashMap<String, Device>> {
    let mut qb = QueryBuilder::<Db>::new(concat!(
        "SELECT ",
        device_columns!(),
        " FROM devices d WHERE d.device_key IN ("
    ));
    push_key_list(&mut qb, keys);
    qb.push(")");
    let rows = qb.build().fetch_all(pool).await.db()?;
    rows.iter()
        .map(|row| device_from_row(row).map(|d| (d.identity.id.clone(), d)))
        .collect()
}

/// The first pending task (lowest id) of each device among `keys` that has one.
async fn read_next_tasks(
    pool: &sqlx::Pool<Db>,
    keys: &[String],
) -> StoreResult<HashMap<String, Task>> {
    let mut qb = QueryBuilder::<Db>::new(concat!(
        "SELECT ",
        task_columns!(),
        " FROM tasks t JOIN devices d ON d.id = t.device_id WHERE t.id IN \
         (SELECT MIN(t2.id) FROM tasks t2 JOIN devices d2 ON d2.id = t2.device_id \
         WHERE t2.state = 'pending' AND d2.device_key IN ("
    ));
    push_key_list(&mut qb, keys);
    qb.push(") GROUP BY t2.device_id)");
    let rows = qb.build().fetch_all(pool).await.db()?;
    let mut found = HashMap::with_capacity(rows.len());
    for row in &rows {
        let key: String = row.try_get("device_key").db()?;
        found.insert(key, task_from_row(row)?);
    }
    Ok(found)
}

/// Starts the writer that group-commits Informs on `pool`.
fn inform_writer(pool: &sqlx::Pool<Db>) -> Batcher<InformRecord, Device> {
    let pool = pool.clone();
    Batcher::start(INFORM_BATCH, INFORM_QUEUE, move |records| {
        let pool = pool.clone();
        async move {
            match write_informs(&pool, &records).await {
                Ok(devices) => devices.into_iter().map(Ok).collect(),
                Err(e) => records.iter().map(|_| Err(e.clone())).collect(),
            }
        }
    })
}

/// Writes a batch of Informs in one transaction: per round, one multi-row device upsert that
/// returns the stored rows (no re-read) and one multi-row parameter upsert. A device informing
/// twice in one batch (a new session replacing a live one) goes to a later round, in order,
/// because one statement may not update the same row twice.
async fn write_informs(
    pool: &sqlx::Pool<Db>,
    records: &[InformRecord],
) -> StoreResult<Vec<Device>> {
    let merged = records
        .iter()
        .map(|r| merge_updates(&r.parameters))
        .collect::<StoreResult<Vec<_>>>()?;
    let mut devices: Vec<Option<Device>> = vec![None; records.len()];
    let mut tx = begin_write(pool).await.db()?;
    let mut remaining: Vec<usize> = (0..records.len()).collect();
    while !remaining.is_empty() {
        let mut keys = std::collections::HashSet::new();
        let (round, later): (Vec<usize>, Vec<usize>) = remaining
            .into_iter()
            .partition(|&i| keys.insert(records[i].identity.id.as_str()));
        remaining = later;
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO devices (device_key, oui, product_class, serial_number, manufacturer, \
             created_at, last_inform_at, last_inform_events, remote_addr, online_until, \
             conn_req_url) ",
        );
        qb.push_values(&round, |mut row, &i| {
            let r = &records[i];
            row.push_bind(r.identity.id.clone())
                .push_bind(r.identity.oui.clone())
                .push_bind(r.identity.product_class.clone())
                .push_bind(r.identity.serial_number.clone())
                .push_bind(r.identity.manufacturer.clone())
                .push_bind(r.at.0)
                .push_bind(r.at.0)
                .push_bind(events_to_json(&r.events))
                .push_bind(r.remote_addr.clone())
                .push_bind(r.online_until.map(|t| t.0))
                .push_bind(r.connection_request_url.clone());
        });
        qb.push(INFORM_DEVICE_UPSERT_SET).push(" RETURNING *");
        let rows = qb.build().fetch_all(&mut *tx).await.db()?;
        let mut pks: HashMap<String, i64> = HashMap::with_capacity(rows.len());
        for row in &rows {
            let device = device_from_row(row)?;
            pks.insert(device.identity.id.clone(), row.try_get("id").db()?);
            if let Some(&i) = round
                .iter()
                .find(|&&i| records[i].identity.id == device.identity.id)
            {
                devices[i] = Some(device);
            }
        }
        let mut params: Vec<(i64, i64, &ParameterUpdate)> = Vec::new();
        for &i in &round {
            let pk = *pks.get(&records[i].identity.id).ok_or_else(|| {
                StoreError::Backend("the device upsert returned no row for a device".into())
            })?;
            params.extend(merged[i].iter().map(|p| (pk, records[i].at.0, p)));
        }
        write_parameter_rows(&mut tx, &params, Refresh::OnChange).await?;
    }
    tx.commit().await.db()?;
    devices
        .into_iter()
        .map(|d| {
            d.ok_or_else(|| StoreError::Backend("an Inform of the batch was not written".into()))
        })
        .collect()
}

async fn device_by_pk<'e>(
    ex: impl sqlx::Executor<'e, Database = Db>,
    pk: i64,
) -> StoreResult<Device> {
    let row = sqlx::query::<Db>(concat!(
        "SELECT ",
        device_columns!(),
        " FROM devices d WHERE d.id = $1"
    ))
    .bind(pk)
    .fetch_one(ex)
    .await
    .db()?;
    device_from_row(&row)
}

fn push_device_filter(qb: &mut QueryBuilder<Db>, filter: &DeviceFilter) {
    qb.push(" WHERE 1 = 1");
    match &filter.serial {
        None => {}
        Some(SerialMatch::Exact(serial)) => {
            qb.push(" AND d.serial_number = ").push_bind(serial.clone());
        }
        Some(SerialMatch::Contains(part)) => {
            let pattern = format!("%{}%", like_escape(&part.to_ascii_lowercase()));
            qb.push(" AND lower(d.serial_number) LIKE ")
                .push_bind(pattern)
                .push(" ESCAPE '\\'");
        }
    }
    if let Some(class) = &filter.product_class {
        qb.push(" AND d.product_class = ").push_bind(class.clone());
    }
    if let Some(before) = filter.last_inform_before {
        qb.push(" AND d.last_inform_at < ").push_bind(before.0);
    }
    if let Some(after) = filter.last_inform_after {
        qb.push(" AND d.last_inform_at >= ").push_bind(after.0);
    }
    match filter.online {
        None => {}
        Some((true, now)) => {
            qb.push(" AND d.online_until >= ").push_bind(now.0);
        }
        Some((false, now)) => {
            qb.push(" AND (d.online_until IS NULL OR d.online_until < ")
                .push_bind(now.0)
                .push(")");
        }
    }
    if let Some(owner) = filter.owner {
        qb.push(" AND d.owner_id = ").push_bind(owner.0);
    }
}

fn push_task_filter(qb: &mut QueryBuilder<Db>, filter: &TaskFilter) {
    qb.push(" WHERE 1 = 1");
    if let Some(device) = &filter.device_id {
        qb.push(" AND d.device_key = ").push_bind(device.clone());
    }
    if let Some(state) = filter.state {
        qb.push(" AND t.state = ").push_bind(state.as_str());
    }
    if let Some(owner) = filter.owner {
        qb.push(" AND d.owner_id = ").push_bind(owner.0);
    }
}

fn push_fault_filter(qb: &mut QueryBuilder<Db>, filter: &FaultFilter) {
    qb.push(" WHERE 1 = 1");
    if let Some(device) = &filter.device_id {
        qb.push(" AND d.device_key = ").push_bind(device.clone());
    }
    if let Some(owner) = filter.owner {
        qb.push(" AND d.owner_id = ").push_bind(owner.0);
    }
}

/// The stored spelling of a task's state, if the task exists.
async fn task_state(pool: &sqlx::Pool<Db>, id: TaskId) -> StoreResult<Option<String>> {
    sqlx::query_scalar::<Db, String>("SELECT state FROM tasks WHERE id = $1")
        .bind(id.0)
        .fetch_optional(pool)
        .await
        .db()
}

/// Builds the error for a task transition that matched no row: the task is missing, or in a
/// state the transition does not start from.
async fn transition_error(pool: &sqlx::Pool<Db>, id: TaskId, transition: &str) -> StoreError {
    match task_state(pool, id).await {
        Err(e) => e,
        Ok(None) => StoreError::NotFound(format!("task {}", id.0)),
        Ok(Some(state)) => {
            StoreError::Conflict(format!("task {} is {state}: cannot {transition}", id.0))
        }
    }
}

impl Backend {
    async fn fetch_task(&self, id: TaskId) -> StoreResult<Option<Task>> {
        let row = sqlx::query::<Db>(concat!(
            "SELECT ",
            task_columns!(),
            " FROM tasks t JOIN devices d ON d.id = t.device_id WHERE t.id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .db()?;
        row.as_ref().map(task_from_row).transpose()
    }

    /// Sets the CPE credentials (`origin` None) or the connection-request credentials (with
    /// where they came from).
    async fn set_device_credentials(
        &self,
        device_id: &str,
        credentials: Option<&Credentials>,
        origin: Option<CredentialsOrigin>,
    ) -> StoreResult<()> {
        let sql = match origin {
            None => "UPDATE devices SET cpe_username = $2, cpe_password = $3 WHERE device_key = $1",
            Some(_) => {
                "UPDATE devices SET conn_req_username = $2, conn_req_password = $3, \
                 conn_req_source = $4 WHERE device_key = $1"
            }
        };
        let mut query = sqlx::query::<Db>(sql)
            .bind(device_id)
            .bind(credentials.map(|c| c.username.clone()))
            .bind(credentials.map(|c| c.password.clone()));
        if let Some(origin) = origin {
            query = query.bind(credentials.map(|_| origin.as_str()));
        }
        let done = query.execute(&self.writer).await.db()?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("device {device_id:?}")));
        }
        Ok(())
    }

    async fn recover(
        &self,
        scope: &RecoveryScope,
        policy: &RecoveryPolicy,
        now: Timestamp,
    ) -> StoreResult<RecoveryOutcome> {
        let push_scope = |qb: &mut QueryBuilder<Db>| {
            // A dispatched task with a result was accepted by the device (`mark_accepted`):
            // its outcome arrives later, so it is not interrupted.
            qb.push(" WHERE state = 'dispatched' AND result IS NULL AND ");
            match scope {
                RecoveryScope::Session(session) => {
                    qb.push("session_id = ").push_bind(session.clone());
                }
                RecoveryScope::DispatchedBefore(cutoff) => {
                    qb.push("dispatched_at < ").push_bind(cutoff.0);
                }
            }
        };
        let push_kinds = |qb: &mut QueryBuilder<Db>, negate: bool| {
            qb.push(if negate {
                " AND kind NOT IN ("
            } else {
                " AND kind IN ("
            });
            let mut list = qb.separated(", ");
            for kind in &policy.requeue_kinds {
                list.push_bind(kind.clone());
            }
            list.push_unseparated(")");
        };

        let mut tx = begin_write(&self.writer).await.db()?;
        let mut outcome = RecoveryOutcome::default();
        if !policy.requeue_kinds.is_empty() {
            let mut qb =
                QueryBuilder::<Db>::new("UPDATE tasks SET state = 'pending', session_id = NULL, ");
            qb.push("dispatched_at = NULL, updated_at = ")
                .push_bind(now.0);
            push_scope(&mut qb);
            push_kinds(&mut qb, false);
            outcome.requeued = qb.build().execute(&mut *tx).await.db()?.rows_affected();
        }
        let mut qb = QueryBuilder::<Db>::new("UPDATE tasks SET state = 'faulted', fault_code = ");
        qb.push_bind(TaskFault::INTERRUPTED)
            .push(", fault_message = ")
            .push_bind("the session ended before the device answered; not retried because this kind is not safe to repeat")
            .push(", fault_detail = '{}', updated_at = ")
            .push_bind(now.0);
        push_scope(&mut qb);
        if !policy.requeue_kinds.is_empty() {
            push_kinds(&mut qb, true);
        }
        outcome.faulted = qb.build().execute(&mut *tx).await.db()?.rows_affected();
        tx.commit().await.db()?;
        Ok(outcome)
    }
}

impl Store for Backend {
    fn backend(&self) -> BackendKind {
        KIND
    }

    fn close(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.pool.close().await;
            Ok(())
        })
    }

    // ----- accounts -----

    fn create_account<'a>(
        &'a self,
        account: &'a NewAccount,
        now: Timestamp,
    ) -> StoreFuture<'a, Account> {
        Box::pin(async move {
            require_nonempty(&account.name, "account name")?;
            require_nonempty(&account.password_hash, "password hash")?;
            let row = sqlx::query::<Db>(concat!(
                "INSERT INTO accounts (name, password_hash, is_admin, created_at) VALUES ($1, $2, $3, $4) RETURNING ",
                account_columns!()
            ))
            .bind(&account.name)
            .bind(&account.password_hash)
            .bind(account.is_admin)
            .bind(now.0)
            .fetch_one(&self.writer)
            .await
            .db()
            .map_err(|e| match e {
                StoreError::Conflict(_) => StoreError::Conflict(format!("account {:?} exists", account.name)),
                e => e,
            })?;
            account_from_row(&row)
        })
    }

    fn account(&self, id: AccountId) -> StoreFuture<'_, Option<Account>> {
        Box::pin(async move {
            let row = sqlx::query::<Db>(concat!(
                "SELECT ",
                account_columns!(),
                " FROM accounts WHERE id = $1"
            ))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .db()?;
            row.as_ref().map(account_from_row).transpose()
        })
    }

    fn account_by_name<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<Account>> {
        Box::pin(async move {
            let row = sqlx::query::<Db>(concat!(
                "SELECT ",
                account_columns!(),
                " FROM accounts WHERE name = $1"
            ))
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .db()?;
            row.as_ref().map(account_from_row).transpose()
        })
    }

    fn list_accounts(&self) -> StoreFuture<'_, Vec<Account>> {
        Box::pin(async move {
            let rows = sqlx::query::<Db>(concat!(
                "SELECT ",
                account_columns!(),
                " FROM accounts ORDER BY name"
            ))
            .fetch_all(&self.pool)
            .await
            .db()?;
            rows.iter().map(account_from_row).collect()
        })
    }

    fn set_password_hash<'a>(
        &'a self,
        id: AccountId,
        password_hash: &'a str,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            require_nonempty(password_hash, "password hash")?;
            let done = sqlx::query::<Db>("UPDATE accounts SET password_hash = $2 WHERE id = $1")
                .bind(id.0)
                .bind(password_hash)
                .execute(&self.writer)
                .await
                .db()?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!("account {}", id.0)));
            }
            Ok(())
        })
    }

    fn delete_account(&self, id: AccountId) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let done = sqlx::query::<Db>("DELETE FROM accounts WHERE id = $1")
                .bind(id.0)
                .execute(&self.writer)
                .await
                .db()?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!("account {}", id.0)));
            }
            Ok(())
        })
    }

    fn account_cpe_credentials(&self, id: AccountId) -> StoreFuture<'_, Option<Credentials>> {
        Box::pin(async move {
            let row =
                sqlx::query::<Db>("SELECT cpe_username, cpe_password FROM accounts WHERE id = $1")
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .db()?
                    .ok_or_else(|| StoreError::NotFound(format!("account {}", id.0)))?;
            Ok(credentials(
                row.try_get("cpe_username").db()?,
                row.try_get("cpe_password").db()?,
            ))
        })
    }

    fn set_account_cpe_credentials<'a>(
        &'a self,
        id: AccountId,
        credentials: Option<&'a Credentials>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            if let Some(c) = credentials {
                require_nonempty(&c.username, "CPE username")?;
            }
            let done = sqlx::query::<Db>(
                "UPDATE accounts SET cpe_username = $2, cpe_password = $3 WHERE id = $1",
            )
            .bind(id.0)
            .bind(credentials.map(|c| c.username.clone()))
            .bind(credentials.map(|c| c.password.clone()))
            .execute(&self.writer)
            .await
            .db()?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!("account {}", id.0)));
            }
            Ok(())
        })
    }

    // ----- API tokens -----

    fn create_token<'a>(
        &'a self,
        token: &'a NewApiToken,
        now: Timestamp,
    ) -> StoreFuture<'a, ApiToken> {
        Box::pin(async move {
            require_nonempty(&token.name, "token name")?;
            let id = sqlx::query_scalar::<Db, i64>(
                "INSERT INTO api_tokens (account_id, name, token_hash, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(token.account_id.0)
            .bind(&token.name)
            .bind(token.hash.0.to_vec())
            .bind(now.0)
            .bind(token.expires_at.map(|t| t.0))
            .fetch_one(&self.writer)
            .await
            .db()
            .map_err(|e| match e {
                StoreError::NotFound(_) => {
                    StoreError::NotFound(format!("account {}", token.account_id.0))
                }
                StoreError::Conflict(_) => StoreError::Conflict(format!(
                    "account {} already has a token named {:?}, or the hash is in use",
                    token.account_id.0, token.name
                )),
                e => e,
            })?;
            let row = sqlx::query::<Db>(concat!(
                "SELECT ",
                token_columns!(),
                " FROM api_tokens t WHERE t.id = $1"
            ))
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .db()?;
            token_from_row(&row)
        })
    }

    fn token_owner(&self, hash: TokenHash, now: Timestamp) -> StoreFuture<'_, Option<TokenOwner>> {
        Box::pin(async move {
            let row = sqlx::query::<Db>(concat!(
                "SELECT ",
                token_columns!(),
                ", a.id, a.name, a.password_hash, a.is_admin, a.created_at \
                 FROM api_tokens t JOIN accounts a ON a.id = t.account_id \
                 WHERE t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > $2)"
            ))
            .bind(hash.0.to_vec())
            .bind(now.0)
            .fetch_optional(&self.pool)
            .await
            .db()?;
            match row {
                None => Ok(None),
                Some(row) => Ok(Some(TokenOwner {
                    token: token_from_row(&row)?,
                    account: account_from_row(&row)?,
                })),
            }
        })
    }

    fn list_tokens(&self, account: AccountId) -> StoreFuture<'_, Vec<ApiToken>> {
        Box::pin(async move {
            let rows = sqlx::query::<Db>(concat!(
                "SELECT ",
                token_columns!(),
                " FROM api_tokens t WHERE t.account_id = $1 ORDER BY t.name"
            ))
            .bind(account.0)
            .fetch_all(&self.pool)
            .await
            .db()?;
            rows.iter().map(token_from_row).collect()
        })
    }

    fn revoke_token(&self, id: TokenId) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let done = sqlx::query::<Db>("DELETE FROM api_tokens WHERE id = $1")
                .bind(id.0)
                .execute(&self.writer)
                .await
                .db()?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!("token {}", id.0)));
            }
            Ok(())
        })
    }

    // ----- devices -----

    fn record_inform<'a>(&'a self, inform: &'a InformRecord) -> StoreFuture<'a, Device> {
        Box::pin(async move {
            require_nonempty(&inform.identity.id, "device id")?;
            // Group commit (`batcher.rs`): answered once the batch holding it committed.
            self.batch.record_inform(inform.clone()).await
        })
    }

    fn register_device<'a>(
        &'a self,
        identity: &'a DeviceIdentity,
        owner: Option<AccountId>,
        cpe_credentials: Option<&'a Credentials>,
        now: Timestamp,
    ) -> StoreFuture<'a, Device> {
        Box::pin(async move {
            require_nonempty(&identity.id, "device id")?;
            if let Some(c) = cpe_credentials {
                require_nonempty(&c.username, "CPE username")?;
            }
            let mut tx = begin_write(&self.writer).await.db()?;
            let pk: i64 = sqlx::query_scalar::<Db, i64>(
                "INSERT INTO devices (device_key, oui, product_class, serial_number, manufacturer, \
                 owner_id, created_at, cpe_username, cpe_password) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(&identity.id)
            .bind(&identity.oui)
            .bind(&identity.product_class)
            .bind(&identity.serial_number)
            .bind(&identity.manufacturer)
            .bind(owner.map(|o| o.0))
            .bind(now.0)
            .bind(cpe_credentials.map(|c| c.username.clone()))
            .bind(cpe_credentials.map(|c| c.password.clone()))
            .fetch_one(&mut *tx)
            .await
            .db()
            .map_err(|e| match e {
                StoreError::Conflict(_) => StoreError::Conflict(format!(
                    "device {:?} or its CPE username is already registered",
                    identity.id
                )),
                e => e,
            })?;
            let device = device_by_pk(&mut *tx, pk).await?;
            tx.commit().await.db()?;
            Ok(device)
        })
    }

    fn device<'a>(&'a self, device_id: &'a str) -> StoreFuture<'a, Option<Device>> {
        Box::pin(async move { self.batch.device(device_id.to_owned()).await })
    }

    fn device_by_cpe_username<'a>(&'a self, username: &'a str) -> StoreFuture<'a, Option<Device>> {
        Box::pin(async move {
            let row = sqlx::query::<Db>(concat!(
                "SELECT ",
                device_columns!(),
                " FROM devices d WHERE d.cpe_username = $1"
            ))
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .db()?;
            row.as_ref().map(device_from_row).transpose()
        })
    }

    fn list_devices<'a>(
        &'a self,
        filter: &'a DeviceFilter,
        page: Page,
    ) -> StoreFuture<'a, Paged<Device>> {
        Box::pin(async move {
            let mut qb = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM devices d");
            push_device_filter(&mut qb, filter);
            let total: i64 = qb.build_query_scalar().fetch_one(&self.pool).await.db()?;

            let mut qb =
                QueryBuilder::<Db>::new(concat!("SELECT ", device_columns!(), " FROM devices d"));
            push_device_filter(&mut qb, filter);
            qb.push(" ORDER BY d.device_key LIMIT ")
                .push_bind(page.sql_limit())
                .push(" OFFSET ")
                .push_bind(page.sql_offset());
            let rows = qb.build().fetch_all(&self.pool).await.db()?;
            let items = rows
                .iter()
                .map(device_from_row)
                .collect::<StoreResult<_>>()?;
            Ok(Paged {
                items,
                total: count(total),
            })
        })
    }

    fn delete_device<'a>(&'a self, device_id: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let done = sqlx::query::<Db>("DELETE FROM devices WHERE device_key = $1")
                .bind(device_id)
                .execute(&self.writer)
                .await
                .db()?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!("device {device_id:?}")));
            }
            Ok(())
        })
    }

    fn set_device_owner<'a>(
        &'a self,
        device_id: &'a str,
        owner: Option<AccountId>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let done = sqlx::query::<Db>("UPDATE devices SET owner_id = $2 WHERE device_key = $1")
                .bind(device_id)
                .bind(owner.map(|o| o.0))
                .execute(&self.writer)
                .await
                .db()?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!("device {device_id:?}")));
            }
            Ok(())
        })
    }

    fn set_cpe_credentials<'a>(
        &'a self,
        device_id: &'a str,
        credentials: Option<&'a Credentials>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.set_device_credentials(device_id, credentials, None)
                .await
                .map_err(|e| match e {
                    StoreError::Conflict(_) => {
                        StoreError::Conflict("another device uses this CPE username".into())
                    }
                    e => e,
                })
        })
    }

    fn set_connection_request_credentials<'a>(
        &'a self,
        device_id: &'a str,
        credentials: Option<&'a Credentials>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(self.set_device_credentials(
            device_id,
            credentials,
            Some(CredentialsOrigin::Configured),
        ))
    }

    fn set_provisioned_connection_request_credentials<'a>(
        &'a self,
        device_id: &'a str,
        credentials: &'a Credentials,
    ) -> StoreFuture<'a, ()> {
        Box::pin(self.set_device_credentials(
            device_id,
            Some(credentials),
            Some(CredentialsOrigin::Provisioned),
        ))
    }

    // ----- parameters -----

    fn upsert_parameters<'a>(
        &'a self,
        device_id: &'a str,
        parameters: &'a [ParameterUpdate],
        at: Timestamp,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            // SQLite: the hot path's write thread, in its group commit.
            if let Some(done) = self
                .batch
                .upsert_parameters(device_id, parameters, at)
                .await
            {
                return done;
            }
            let mut tx = begin_write(&self.writer).await.db()?;
            let pk = device_pk(&mut *tx, device_id).await?;
            write_parameters(&mut tx, pk, parameters, at).await?;
            tx.commit().await.db()
        })
    }

    fn list_parameters<'a>(
        &'a self,
        device_id: &'a str,
        prefix: Option<&'a str>,
    ) -> StoreFuture<'a, Vec<Parameter>> {
        Box::pin(async move {
            let pk = device_pk(&self.pool, device_id).await?;
            let mut qb = QueryBuilder::<Db>::new(
                "SELECT name, value, xsi_type, writable, notification, access_list, learned_at \
                 FROM parameters WHERE device_id = ",
            );
            qb.push_bind(pk);
            if let Some(prefix) = prefix.filter(|p| !p.is_empty()) {
                qb.push(" AND name >= ").push_bind(prefix.to_owned());
                if let Some(bound) = prefix_upper_bound(prefix) {
                    qb.push(" AND name < ").push_bind(bound);
                }
            }
            qb.push(" ORDER BY name");
            let rows = qb.build().fetch_all(&self.pool).await.db()?;
            rows.iter().map(parameter_from_row).collect()
        })
    }

    fn delete_parameter_subtree<'a>(
        &'a self,
        device_id: &'a str,
        prefix: &'a str,
    ) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            require_nonempty(prefix, "parameter prefix")?;
            let pk = device_pk(&self.pool, device_id).await?;
            let mut qb = QueryBuilder::<Db>::new("DELETE FROM parameters WHERE device_id = ");
            qb.push_bind(pk)
                .push(" AND name >= ")
                .push_bind(prefix.to_owned());
            if let Some(bound) = prefix_upper_bound(prefix) {
                qb.push(" AND name < ").push_bind(bound);
            }
            Ok(qb.build().execute(&self.writer).await.db()?.rows_affected())
        })
    }

    // ----- tasks -----

    fn create_task<'a>(&'a self, task: &'a NewTask) -> StoreFuture<'a, TaskId> {
        Box::pin(async move {
            require_nonempty(&task.kind, "task kind")?;
            let id = sqlx::query_scalar::<Db, i64>(
                "INSERT INTO tasks (device_id, kind, payload, state, created_at, updated_at, expires_at) \
                 SELECT id, $2, $3, 'pending', $4, $4, $5 FROM devices WHERE device_key = $1 \
                 RETURNING id",
            )
            .bind(&task.device_id)
            .bind(&task.kind)
            .bind(task.payload.to_string())
            .bind(task.created_at.0)
            .bind(task.expires_at.map(|t| t.0))
            .fetch_optional(&self.writer)
            .await
            .db()?;
            id.map(TaskId)
                .ok_or_else(|| StoreError::NotFound(format!("device {:?}", task.device_id)))
        })
    }

    fn task(&self, id: TaskId) -> StoreFuture<'_, Option<Task>> {
        Box::pin(self.fetch_task(id))
    }

    fn list_tasks<'a>(
        &'a self,
        filter: &'a TaskFilter,
        page: Page,
    ) -> StoreFuture<'a, Paged<Task>> {
        Box::pin(async move {
            let mut qb = QueryBuilder::<Db>::new(
                "SELECT COUNT(*) FROM tasks t JOIN devices d ON d.id = t.device_id",
            );
            push_task_filter(&mut qb, filter);
            let total: i64 = qb.build_query_scalar().fetch_one(&self.pool).await.db()?;

            let mut qb = QueryBuilder::<Db>::new(concat!(
                "SELECT ",
                task_columns!(),
                " FROM tasks t JOIN devices d ON d.id = t.device_id"
            ));
            push_task_filter(&mut qb, filter);
            qb.push(" ORDER BY t.id LIMIT ")
                .push_bind(page.sql_limit())
                .push(" OFFSET ")
                .push_bind(page.sql_offset());
            let rows = qb.build().fetch_all(&self.pool).await.db()?;
            let items = rows.iter().map(task_from_row).collect::<StoreResult<_>>()?;
            Ok(Paged {
                items,
                total: count(total),
            })
        })
    }

    fn next_task<'a>(
        &'a self,
        device_id: &'a str,
        now: Timestamp,
    ) -> StoreFuture<'a, Option<Task>> {
        Box::pin(async move {
            // Most sessions find nothing queued, or a live task: a plain read answers those
            // without the write lock. Only an expired task at the head needs the write.
            match self.batch.next_task(device_id.to_owned()).await? {
                None => return Ok(None),
                Some(task) if task.expires_at.is_none_or(|at| at > now) => return Ok(Some(task)),
                Some(_) => {}
            }
            let mut tx = begin_write(&self.writer).await.db()?;
            sqlx::query::<Db>(
                "UPDATE tasks SET state = 'expired', updated_at = $2 \
                 WHERE device_id = (SELECT id FROM devices WHERE device_key = $1) \
                 AND state = 'pending' AND expires_at IS NOT NULL AND expires_at <= $2",
            )
            .bind(device_id)
            .bind(now.0)
            .execute(&mut *tx)
            .await
            .db()?;
            let row = sqlx::query::<Db>(concat!(
                "SELECT ",
                task_columns!(),
                " FROM tasks t JOIN devices d ON d.id = t.device_id \
                 WHERE d.device_key = $1 AND t.state = 'pending' ORDER BY t.id LIMIT 1"
            ))
            .bind(device_id)
            .fetch_optional(&mut *tx)
            .await
            .db()?;
            tx.commit().await.db()?;
            row.as_ref().map(task_from_row).transpose()
        })
    }

    fn mark_dispatched<'a>(
        &'a self,
        id: TaskId,
        session_id: &'a str,
        now: Timestamp,
    ) -> StoreFuture<'a, Task> {
        Box::pin(async move {
            require_nonempty(session_id, "session id")?;
            let done = sqlx::query::<Db>(
                "UPDATE tasks SET state = 'dispatched', session_id = $2, dispatched_at = $3, \
                 updated_at = $3, attempts = attempts + 1 WHERE id = $1 AND state = 'pending'",
            )
            .bind(id.0)
            .bind(session_id)
            .bind(now.0)
            .execute(&self.writer)
            .await
            .db()?;
            if done.rows_affected() == 0 {
                return Err(transition_error(&self.pool, id, "dispatch").await);
            }
            self.fetch_task(id)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("task {}", id.0)))
        })
    }

    fn mark_accepted<'a>(
        &'a self,
        id: TaskId,
        progress: &'a serde_json::Value,
        now: Timestamp,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let done = sqlx::query::<Db>(
                "UPDATE tasks SET result = $2, session_id = NULL, updated_at = $3 \
                 WHERE id = $1 AND state = 'dispatched'",
            )
            .bind(id.0)
            .bind(progress.to_string())
            .bind(now.0)
            .execute(&self.writer)
            .await
            .db()?;
            if done.rows_affected() == 0 {
                return Err(transition_error(&self.pool, id, "accept").await);
            }
            Ok(())
        })
    }

    fn complete_task<'a>(
        &'a self,
        id: TaskId,
        result: &'a serde_json::value::RawValue,
        now: Timestamp,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let done = sqlx::query::<Db>(
                "UPDATE tasks SET state = 'done', result = $2, updated_at = $3 \
                 WHERE id = $1 AND state = 'dispatched'",
            )
            .bind(id.0)
            .bind(result.get())
            .bind(now.0)
            .execute(&self.writer)
            .await
            .db()?;
            if done.rows_affected() == 0 {
                return Err(transition_error(&self.pool, id, "complete").await);
            }
            Ok(())
        })
    }

    fn fail_task<'a>(
        &'a self,
        id: TaskId,
        fault: &'a TaskFault,
        now: Timestamp,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let done = sqlx::query::<Db>(
                "UPDATE tasks SET state = 'faulted', fault_code = $2, fault_message = $3, \
                 fault_detail = $4, updated_at = $5 WHERE id = $1 AND state = 'dispatched'",
            )
            .bind(id.0)
            .bind(&fault.code)
            .bind(&fault.message)
            .bind(fault.detail.to_string())
            .bind(now.0)
            .execute(&self.writer)
            .await
            .db()?;
            if done.rows_affected() == 0 {
                return Err(transition_error(&self.pool, id, "record a fault").await);
            }
            Ok(())
        })
    }

    fn cancel_task(&self, id: TaskId, now: Timestamp) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let done = sqlx::query::<Db>(
                "UPDATE tasks SET state = 'cancelled', updated_at = $2 \
                 WHERE id = $1 AND state NOT IN ('done', 'cancelled')",
            )
            .bind(id.0)
            .bind(now.0)
            .execute(&self.writer)
            .await
            .db()?;
            if done.rows_affected() == 0 {
                if task_state(&self.pool, id).await?.as_deref()
                    == Some(TaskState::Cancelled.as_str())
                {
                    return Ok(());
                }
                return Err(transition_error(&self.pool, id, "cancel").await);
            }
            Ok(())
        })
    }

    fn retry_task(
        &self,
        id: TaskId,
        expires_at: Option<Timestamp>,
        now: Timestamp,
    ) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let done = sqlx::query::<Db>(
                "UPDATE tasks SET state = 'pending', expires_at = $2, updated_at = $3, \
                 session_id = NULL, dispatched_at = NULL, result = NULL, fault_code = NULL, \
                 fault_message = NULL, fault_detail = NULL \
                 WHERE id = $1 AND state IN ('faulted', 'expired', 'cancelled')",
            )
            .bind(id.0)
            .bind(expires_at.map(|t| t.0))
            .bind(now.0)
            .execute(&self.writer)
            .await
            .db()?;
            if done.rows_affected() == 0 {
                return Err(transition_error(&self.pool, id, "retry").await);
            }
            Ok(())
        })
    }

    fn expire_tasks(&self, now: Timestamp) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let done = sqlx::query::<Db>(
                "UPDATE tasks SET state = 'expired', updated_at = $1 \
                 WHERE state = 'pending' AND expires_at IS NOT NULL AND expires_at <= $1",
            )
            .bind(now.0)
            .execute(&self.writer)
            .await
            .db()?;
            Ok(done.rows_affected())
        })
    }

    fn recover_interrupted<'a>(
        &'a self,
        scope: &'a RecoveryScope,
        policy: &'a RecoveryPolicy,
        now: Timestamp,
    ) -> StoreFuture<'a, RecoveryOutcome> {
        Box::pin(self.recover(scope, policy, now))
    }

    // ----- faults -----

    fn record_fault<'a>(&'a self, fault: &'a NewFault) -> StoreFuture<'a, FaultId> {
        Box::pin(async move {
            require_nonempty(&fault.code, "fault code")?;
            let id = sqlx::query_scalar::<Db, i64>(
                "INSERT INTO faults (device_id, task_id, code, message, detail, created_at) \
                 SELECT id, $2, $3, $4, $5, $6 FROM devices WHERE device_key = $1 RETURNING id",
            )
            .bind(&fault.device_id)
            .bind(fault.task_id.map(|t| t.0))
            .bind(&fault.code)
            .bind(&fault.message)
            .bind(fault.detail.to_string())
            .bind(fault.at.0)
            .fetch_optional(&self.writer)
            .await
            .db()?;
            id.map(FaultId)
                .ok_or_else(|| StoreError::NotFound(format!("device {:?}", fault.device_id)))
        })
    }

    fn list_faults<'a>(
        &'a self,
        filter: &'a FaultFilter,
        page: Page,
    ) -> StoreFuture<'a, Paged<Fault>> {
        Box::pin(async move {
            let mut qb = QueryBuilder::<Db>::new(
                "SELECT COUNT(*) FROM faults f JOIN devices d ON d.id = f.device_id",
            );
            push_fault_filter(&mut qb, filter);
            let total: i64 = qb.build_query_scalar().fetch_one(&self.pool).await.db()?;

            let mut qb = QueryBuilder::<Db>::new(concat!(
                "SELECT ",
                fault_columns!(),
                " FROM faults f JOIN devices d ON d.id = f.device_id"
            ));
            push_fault_filter(&mut qb, filter);
            qb.push(" ORDER BY f.id DESC LIMIT ")
                .push_bind(page.sql_limit())
                .push(" OFFSET ")
                .push_bind(page.sql_offset());
            let rows = qb.build().fetch_all(&self.pool).await.db()?;
            let items = rows
                .iter()
                .map(fault_from_row)
                .collect::<StoreResult<_>>()?;
            Ok(Paged {
                items,
                total: count(total),
            })
        })
    }

    fn fault(&self, id: FaultId) -> StoreFuture<'_, Option<Fault>> {
        Box::pin(async move {
            let row = sqlx::query::<Db>(concat!(
                "SELECT ",
                fault_columns!(),
                " FROM faults f JOIN devices d ON d.id = f.device_id WHERE f.id = $1"
            ))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .db()?;
            row.as_ref().map(fault_from_row).transpose()
        })
    }

    fn clear_fault(&self, id: FaultId) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let done = sqlx::query::<Db>("DELETE FROM faults WHERE id = $1")
                .bind(id.0)
                .execute(&self.writer)
                .await
                .db()?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!("fault {}", id.0)));
            }
            Ok(())
        })
    }

    fn clear_device_faults<'a>(&'a self, device_id: &'a str) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            let pk = device_pk(&self.pool, device_id).await?;
            let done = sqlx::query::<Db>("DELETE FROM faults WHERE device_id = $1")
                .bind(pk)
                .execute(&self.writer)
                .await
                .db()?;
            Ok(done.rows_affected())
        })
    }

    // ----- cloud connection (queries in cloud_engine.rs) -----

    fn add_cloud_device<'a>(
        &'a self,
        device: &'a NewCloudDevice,
        now: Timestamp,
    ) -> StoreFuture<'a, CloudDevice> {
        Box::pin(cloud::add(&self.writer, device, now))
    }

    fn cloud_device<'a>(&'a self, serial: &'a str) -> StoreFuture<'a, Option<CloudDevice>> {
        Box::pin(cloud::get(&self.pool, serial))
    }

    fn list_cloud_devices(
        &self,
        owner: Option<AccountId>,
        page: Page,
    ) -> StoreFuture<'_, Paged<CloudDevice>> {
        Box::pin(cloud::list(&self.pool, owner, page))
    }

    fn delete_cloud_device<'a>(&'a self, serial: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(cloud::delete(&self.writer, serial))
    }

    fn cloud_tunnel_up<'a>(
        &'a self,
        serial: &'a str,
        tunnel: &'a TunnelUp,
        now: Timestamp,
    ) -> StoreFuture<'a, ()> {
        Box::pin(cloud::tunnel_up(&self.writer, serial, tunnel, now))
    }

    fn cloud_keepalive<'a>(
        &'a self,
        serial: &'a str,
        tunnel_id: &'a str,
        now: Timestamp,
    ) -> StoreFuture<'a, ()> {
        Box::pin(cloud::keepalive(&self.writer, serial, tunnel_id, now))
    }

    fn cloud_tunnel_down<'a>(
        &'a self,
        serial: &'a str,
        tunnel_id: &'a str,
        now: Timestamp,
    ) -> StoreFuture<'a, bool> {
        Box::pin(cloud::tunnel_down(&self.writer, serial, tunnel_id, now))
    }

    fn cloud_reset_node<'a>(&'a self, node_id: &'a str, now: Timestamp) -> StoreFuture<'a, u64> {
        Box::pin(cloud::reset_node(&self.writer, node_id, now))
    }

    fn set_cloud_telemetry<'a>(
        &'a self,
        serial: &'a str,
        sample: &'a serde_json::Value,
        at: Timestamp,
    ) -> StoreFuture<'a, ()> {
        Box::pin(cloud::set_telemetry(&self.writer, serial, sample, at))
    }

    fn issue_unbind_code<'a>(
        &'a self,
        code: &'a NewUnbindCode,
        limits: UnbindIssueLimits,
    ) -> StoreFuture<'a, UnbindIssue> {
        Box::pin(cloud::issue_unbind_code(&self.writer, code, limits))
    }

    fn redeem_unbind_code<'a>(
        &'a self,
        serial: &'a str,
        judge: UnbindJudge<'a>,
        now: Timestamp,
    ) -> StoreFuture<'a, UnbindRedeem> {
        Box::pin(cloud::redeem_unbind_code(&self.writer, serial, judge, now))
    }

    fn binding_changes<'a>(&'a self, serial: &'a str) -> StoreFuture<'a, Vec<BindingChange>> {
        Box::pin(cloud::binding_changes(&self.pool, serial))
    }

    fn record_config_change<'a>(&'a self, change: &'a NewConfigChange) -> StoreFuture<'a, i64> {
        Box::pin(cloud::record_config_change(&self.writer, change))
    }

    fn list_config_changes<'a>(
        &'a self,
        serial: &'a str,
        page: Page,
    ) -> StoreFuture<'a, Paged<ConfigChange>> {
        Box::pin(cloud::list_config_changes(&self.pool, serial, page))
    }
}
