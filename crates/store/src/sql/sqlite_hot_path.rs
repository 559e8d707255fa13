//! The SQLite hot path: the store calls every CWMP session makes (read the device, record the
//! Inform, read the next task, store what the device answered), served by two threads of our
//! own, each owning one rusqlite connection to the database file.
//!
//! Why not sqlx here: sqlx runs each SQLite connection on a worker thread and every statement,
//! `BEGIN`, `COMMIT` and the ping it makes when a connection goes back to its pool is one
//! hand-off to that thread and back. With the calls already batched across sessions
//! (`batcher.rs`), those hand-offs and their context switches were still the largest cost of a
//! periodic session (BENCHMARKS.md, "Fourth round"). Here a caller hands its request to the
//! thread once; the thread takes every request waiting (up to [`MAX_DRAIN`]) and runs them all
//! with cached prepared statements, without leaving the thread.
//!
//! * The write thread group-commits Informs and parameter writes: one `BEGIN IMMEDIATE`
//!   transaction per drain, applied in arrival order, and each caller is answered only after
//!   its commit (durable before acknowledged). A batch that fails is retried one write at a
//!   time, so a bad write fails only itself.
//! * The read thread answers device and next-task reads, each drain in one read transaction
//!   begun after every request in it was made (an answer is never older than its call).
//! * SQLite admits one writer at a time. The sqlx writer connection (every other write) and the
//!   write thread take turns through one FIFO [`WriteTurn`], so neither sleeps in SQLite's busy
//!   handler while the other writes. The turn is an ordering aid only: SQLite's own lock, with
//!   the same busy timeout on both connections, is what keeps writes safe.
//! * Queues are bounded; callers wait for room.

use std::path::Path;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};
use tokio::sync::{mpsc, oneshot};

use crate::error::{HotResultExt, from_rusqlite};
use crate::sql::known_informs::KnownInforms;
use crate::sql::rows::{
    INFORM_DEVICE_UPSERT_SET, ONLY_IF_CHANGED, PARAMETER_UPSERT_SET, RawDevice, RawTask,
    access_list_to_json, device_columns, events_to_json, merge_updates, require_nonempty,
    task_columns,
};
use crate::sql::task_hints::TaskHints;
use crate::{
    Device, InformRecord, ParameterUpdate, SqliteDurability, StoreError, StoreResult, Task,
    Timestamp,
};

/// Whose turn it is to write: held by the sqlx writer connection while a caller has it, and by
/// the write thread for each of its transactions. FIFO, so no writer starves.
pub(crate) type WriteTurn = Arc<tokio::sync::Mutex<()>>;

/// Most requests one thread takes per drain (one transaction).
const MAX_DRAIN: usize = 64;
/// Requests waiting for a thread before callers wait for room.
const QUEUE: usize = 1024;

const DEVICE_BY_KEY: &str = concat!(
    "SELECT ",
    device_columns!(),
    " FROM devices d WHERE d.device_key = ?1"
);

/// Whether the device (by row id) has a pending task, asked after writing its Inform.
const HAS_PENDING_TASK: &str =
    "SELECT EXISTS (SELECT 1 FROM tasks WHERE device_id = ?1 AND state = 'pending')";

const NEXT_TASK: &str = concat!(
    "SELECT ",
    task_columns!(),
    " FROM tasks t JOIN devices d ON d.id = t.device_id \
     WHERE d.device_key = ?1 AND t.state = 'pending' ORDER BY t.id LIMIT 1"
);

/// How the threads open their connections: the settings of the sqlx connections
/// (`sqlite.rs`), which already put the database in WAL mode and migrated it.
pub(crate) struct ConnectionSpec<'a> {
    pub(crate) file: &'a Path,
    pub(crate) durability: SqliteDurability,
    pub(crate) busy_timeout: Duration,
}

impl ConnectionSpec<'_> {
    fn open(&self) -> StoreResult<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(self.file, flags).hot()?;
        let synchronous = match self.durability {
            SqliteDurability::ProcessCrash => "NORMAL",
            SqliteDurability::PowerLoss => "FULL",
        };
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; \
             PRAGMA foreign_keys = ON;"
        ))
        .hot()?;
        conn.busy_timeout(self.busy_timeout).hot()?;
        Ok(conn)
    }
}

enum Read {
    Device(String, oneshot::Sender<StoreResult<Option<Device>>>),
    NextTask(String, oneshot::Sender<StoreResult<Option<Task>>>),
}

/// A write and who waits for it.
struct Write {
    job: WriteJob,
    reply: Reply,
}

enum WriteJob {
    Inform(InformRecord),
    /// Values or attributes learned from the device (`Store::upsert_parameters`).
    Parameters {
        device_key: String,
        updates: Vec<ParameterUpdate>,
        at: Timestamp,
    },
}

enum Reply {
    Device(oneshot::Sender<StoreResult<Device>>),
    Done(oneshot::Sender<StoreResult<()>>),
}

/// The handle: the threads end when it is dropped.
pub(crate) struct HotPath {
    reads: mpsc::Sender<Read>,
    writes: mpsc::Sender<Write>,
    hints: Arc<TaskHints>,
}

impl HotPath {
    /// Opens the two connections and starts their threads.
    /// `hints` must be voided by every other writer of the database (`task_hints.rs`).
    pub(crate) fn start(
        spec: &ConnectionSpec<'_>,
        turn: WriteTurn,
        hints: Arc<TaskHints>,
    ) -> StoreResult<Self> {
        let reader = spec.open()?;
        let writer = spec.open()?;
        let (reads, read_rx) = mpsc::channel(QUEUE);
        let (writes, write_rx) = mpsc::channel(QUEUE);
        spawn("tether-sqlite-r", move || serve_reads(reader, read_rx))?;
        let learned = hints.clone();
        spawn("tether-sqlite-w", move || {
            serve_writes(writer, write_rx, &turn, &learned);
        })?;
        Ok(HotPath {
            reads,
            writes,
            hints,
        })
    }

    /// The stored device `key`, if any.
    pub(crate) async fn device(&self, key: String) -> StoreResult<Option<Device>> {
        let (reply, answer) = oneshot::channel();
        self.send_read(Read::Device(key, reply)).await?;
        answered(answer.await)
    }

    /// The first pending task (lowest id) of device `key`, if any.
    /// Answered without a read when the device is known to have none (`task_hints.rs`).
    pub(crate) async fn next_task(&self, key: String) -> StoreResult<Option<Task>> {
        if self.hints.none_pending(&key) {
            return Ok(None);
        }
        let (reply, answer) = oneshot::channel();
        self.send_read(Read::NextTask(key, reply)).await?;
        answered(answer.await)
    }

    /// Writes the Inform; answers once the transaction holding it committed.
    pub(crate) async fn record_inform(&self, record: InformRecord) -> StoreResult<Device> {
        let (reply, answer) = oneshot::channel();
        self.send_write(WriteJob::Inform(record), Reply::Device(reply))
            .await?;
        answered(answer.await)
    }

    /// Upserts parameters of device `key` (every row, refreshing `learned_at`); answers once
    /// committed.
    pub(crate) async fn upsert_parameters(
        &self,
        key: String,
        updates: Vec<ParameterUpdate>,
        at: Timestamp,
    ) -> StoreResult<()> {
        let (reply, answer) = oneshot::channel();
        let job = WriteJob::Parameters {
            device_key: key,
            updates,
            at,
        };
        self.send_write(job, Reply::Done(reply)).await?;
        answered(answer.await)
    }

    async fn send_write(&self, job: WriteJob, reply: Reply) -> StoreResult<()> {
        self.writes
            .send(Write { job, reply })
            .await
            .map_err(|_| stopped())
    }

    async fn send_read(&self, read: Read) -> StoreResult<()> {
        self.reads.send(read).await.map_err(|_| stopped())
    }
}

fn spawn(name: &str, body: impl FnOnce() + Send + 'static) -> StoreResult<()> {
    thread::Builder::new()
        .name(name.into())
        .spawn(body)
        .map(drop)
        .map_err(|e| StoreError::Unavailable(format!("cannot start the {name} thread: {e}")))
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the store's SQLite thread has stopped".into())
}

fn answered<T>(answer: Result<StoreResult<T>, oneshot::error::RecvError>) -> StoreResult<T> {
    answer.map_err(|_| stopped())?
}

fn serve_reads(mut conn: Connection, mut rx: mpsc::Receiver<Read>) {
    let mut drain = Vec::with_capacity(MAX_DRAIN);
    while rx.blocking_recv_many(&mut drain, MAX_DRAIN) > 0 {
        // One snapshot for the drain, taken after every request in it was made.
        let snapshot = conn.transaction_with_behavior(TransactionBehavior::Deferred);
        let tx = match snapshot {
            Ok(tx) => tx,
            Err(e) => {
                let e = from_rusqlite(e);
                for read in drain.drain(..) {
                    match read {
                        Read::Device(_, reply) => drop(reply.send(Err(e.clone()))),
                        Read::NextTask(_, reply) => drop(reply.send(Err(e.clone()))),
                    }
                }
                continue;
            }
        };
        for read in drain.drain(..) {
            // A caller that went away no longer wants its answer.
            match read {
                Read::Device(key, reply) => drop(reply.send(read_device(&tx, &key))),
                Read::NextTask(key, reply) => drop(reply.send(read_next_task(&tx, &key))),
            }
        }
        // Nothing was written; ending the read transaction cannot lose anything.
        drop(tx.commit());
    }
}

fn read_device(conn: &Connection, key: &str) -> StoreResult<Option<Device>> {
    let mut stmt = conn.prepare_cached(DEVICE_BY_KEY).hot()?;
    let raw = stmt.query_row([key], raw_device).optional().hot()?;
    raw.map(RawDevice::decode).transpose()
}

fn read_next_task(conn: &Connection, key: &str) -> StoreResult<Option<Task>> {
    let mut stmt = conn.prepare_cached(NEXT_TASK).hot()?;
    let raw = stmt.query_row([key], raw_task).optional().hot()?;
    raw.map(RawTask::decode).transpose()
}

fn serve_writes(
    mut conn: Connection,
    mut rx: mpsc::Receiver<Write>,
    turn: &WriteTurn,
    hints: &TaskHints,
) {
    let sql = WriteSql::new();
    let mut known = KnownInforms::new();
    let mut drain = Vec::with_capacity(MAX_DRAIN);
    while rx.blocking_recv_many(&mut drain, MAX_DRAIN) > 0 {
        let jobs: Vec<&WriteJob> = drain.iter().map(|w| &w.job).collect();
        let mut results = {
            let _turn = turn.blocking_lock();
            match write_batch(&mut conn, &sql, &mut known, hints, &jobs) {
                Ok(written) => written.into_iter().map(Ok).collect(),
                Err(_) if jobs.len() > 1 => {
                    // One transaction, so none was written: find out which fail on their own.
                    jobs.iter()
                        .map(|job| write_batch(&mut conn, &sql, &mut known, hints, &[job]).map(one))
                        .collect::<Vec<_>>()
                }
                Err(e) => vec![Err(e)],
            }
        }
        .into_iter();
        for write in drain.drain(..) {
            let result = results.next().unwrap_or_else(|| {
                Err(StoreError::Backend(
                    "a write of the batch was not done".into(),
                ))
            });
            // The caller may have gone (its connection closed): the write stands regardless.
            match (write.reply, result) {
                (Reply::Device(reply), Ok(Written::Device(device))) => drop(reply.send(Ok(device))),
                (Reply::Done(reply), Ok(Written::Parameters)) => drop(reply.send(Ok(()))),
                (Reply::Device(reply), Err(e)) => drop(reply.send(Err(e))),
                (Reply::Done(reply), Err(e)) => drop(reply.send(Err(e))),
                (Reply::Device(reply), Ok(_)) => drop(reply.send(Err(mismatch()))),
                (Reply::Done(reply), Ok(_)) => drop(reply.send(Err(mismatch()))),
            }
        }
    }
}

fn mismatch() -> StoreError {
    StoreError::Backend("a write of the batch got another write's result".into())
}

fn one(mut written: Vec<Written>) -> Written {
    // write_batch returns one result per job, and it was given one job.
    written.swap_remove(0)
}

/// What one write of a batch produced.
enum Written {
    /// An Inform: the device as stored.
    Device(Device),
    /// A parameter upsert.
    Parameters,
}

/// The statements of the write thread, built once (prepared and cached).
struct WriteSql {
    device_upsert: String,
    /// Only rows that change (an Inform's parameters).
    inform_parameter_upsert: String,
    /// Every row, so `learned_at` records the read (answers to the ACS's own requests).
    parameter_upsert: String,
}

impl WriteSql {
    fn new() -> Self {
        let parameter_upsert = format!(
            "INSERT INTO parameters (device_id, name, value, xsi_type, writable, \
             notification, access_list, learned_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8){PARAMETER_UPSERT_SET}"
        );
        WriteSql {
            device_upsert: format!(
                "INSERT INTO devices (device_key, oui, product_class, serial_number, \
                 manufacturer, created_at, last_inform_at, last_inform_events, remote_addr, \
                 online_until, conn_req_url) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8, ?9, ?10){INFORM_DEVICE_UPSERT_SET} \
                 RETURNING {}",
                // `raw_device` reads by position: the same columns as every device read.
                device_columns!().replace("d.", "")
            ),
            inform_parameter_upsert: format!("{parameter_upsert}{ONLY_IF_CHANGED}"),
            parameter_upsert,
        }
    }
}

/// Runs the writes of a batch in one transaction, in order (a device informing twice in one
/// drain gets its later Inform applied last), and returns one result per job. The parameter
/// upsert of an Inform that repeats what is known to be stored is skipped
/// (`known_informs.rs`); on any failure nothing is known any more.
fn write_batch(
    conn: &mut Connection,
    sql: &WriteSql,
    known: &mut KnownInforms,
    hints: &TaskHints,
    jobs: &[&WriteJob],
) -> StoreResult<Vec<Written>> {
    let result = write_batch_once(conn, sql, known, hints, jobs);
    if result.is_err() {
        known.forget();
    }
    result
}

fn write_batch_once(
    conn: &mut Connection,
    sql: &WriteSql,
    known: &mut KnownInforms,
    hints: &TaskHints,
    jobs: &[&WriteJob],
) -> StoreResult<Vec<Written>> {
    let merged = jobs
        .iter()
        .map(|job| match job {
            WriteJob::Inform(r) => {
                require_nonempty(&r.identity.id, "device id")?;
                merge_updates(&r.parameters)
            }
            WriteJob::Parameters { updates, .. } => merge_updates(updates),
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .hot()?;
    let version: i64 = tx
        .prepare_cached("PRAGMA data_version")
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
        .hot()?;
    if known.observe_version(version) {
        // Another connection committed: it may have queued tasks.
        hints.void();
    }
    let epoch = hints.epoch();
    let mut without_tasks = Vec::new();
    let mut results = Vec::with_capacity(jobs.len());
    // Per device written: the digest of its Inform parameters, or None (unknown: other
    // parameters were written).
    let mut written: Vec<(i64, Option<u128>)> = Vec::with_capacity(jobs.len());
    for (job, parameters) in jobs.iter().zip(&merged) {
        match job {
            WriteJob::Inform(r) => {
                let (pk, raw) = tx
                    .prepare_cached(&sql.device_upsert)
                    .and_then(|mut stmt| {
                        stmt.query_row(
                            params![
                                r.identity.id,
                                r.identity.oui,
                                r.identity.product_class,
                                r.identity.serial_number,
                                r.identity.manufacturer,
                                r.at.0,
                                events_to_json(&r.events),
                                r.remote_addr,
                                r.online_until.map(|t| t.0),
                                r.connection_request_url,
                            ],
                            |row| Ok((row.get::<_, i64>(0)?, raw_device(row)?)),
                        )
                    })
                    .hot()?;
                let digest = known.digest(parameters);
                // The same device earlier in this transaction, else what the last commits left.
                let unchanged = match written.iter().rev().find(|(d, _)| *d == pk) {
                    Some((_, earlier)) => *earlier == Some(digest),
                    None => known.holds(pk, digest),
                };
                written.push((pk, Some(digest)));
                if !unchanged {
                    upsert_parameters(&tx, &sql.inform_parameter_upsert, pk, parameters, r.at)?;
                }
                let pending: bool = tx
                    .prepare_cached(HAS_PENDING_TASK)
                    .and_then(|mut stmt| stmt.query_row([pk], |row| row.get(0)))
                    .hot()?;
                if !pending {
                    without_tasks.push(r.identity.id.clone());
                }
                results.push(Written::Device(raw.decode()?));
            }
            WriteJob::Parameters { device_key, at, .. } => {
                let pk: i64 = tx
                    .prepare_cached("SELECT id FROM devices WHERE device_key = ?1")
                    .and_then(|mut stmt| stmt.query_row([device_key], |row| row.get(0)))
                    .optional()
                    .hot()?
                    .ok_or_else(|| StoreError::NotFound(format!("device {device_key:?}")))?;
                upsert_parameters(&tx, &sql.parameter_upsert, pk, parameters, *at)?;
                written.push((pk, None));
                results.push(Written::Parameters);
            }
        }
    }
    tx.commit().hot()?;
    known.remember(written);
    hints.remember(epoch, without_tasks);
    Ok(results)
}

fn upsert_parameters(
    conn: &Connection,
    sql: &str,
    device_pk: i64,
    parameters: &[ParameterUpdate],
    at: Timestamp,
) -> StoreResult<()> {
    let mut stmt = conn.prepare_cached(sql).hot()?;
    for p in parameters {
        stmt.execute(params![
            device_pk,
            p.name,
            p.value,
            p.xsi_type,
            p.writable,
            p.notification.map(i64::from),
            access_list_to_json(&p.access_list),
            at.0,
        ])
        .hot()?;
    }
    Ok(())
}

/// Reads the columns of `device_columns!()` by position (column 0 is the row id): looking each
/// up by name cost a scan of every column name per column, on every session. A test checks
/// every statement read here against the names.
fn raw_device(row: &Row<'_>) -> rusqlite::Result<RawDevice> {
    Ok(RawDevice {
        device_key: row.get(1)?,
        oui: row.get(2)?,
        product_class: row.get(3)?,
        serial_number: row.get(4)?,
        manufacturer: row.get(5)?,
        owner_id: row.get(6)?,
        created_at: row.get(7)?,
        last_inform_at: row.get(8)?,
        last_inform_events: row.get(9)?,
        remote_addr: row.get(10)?,
        online_until: row.get(11)?,
        conn_req_url: row.get(12)?,
        conn_req_username: row.get(13)?,
        conn_req_password: row.get(14)?,
        conn_req_source: row.get(15)?,
        cpe_username: row.get(16)?,
        cpe_password: row.get(17)?,
    })
}

/// Reads the columns of `task_columns!()` by position (see `raw_device`).
fn raw_task(row: &Row<'_>) -> rusqlite::Result<RawTask> {
    Ok(RawTask {
        id: row.get(0)?,
        device_key: row.get(1)?,
        kind: row.get(2)?,
        payload: row.get(3)?,
        state: row.get(4)?,
        created_at: row.get(5)?,
        updated_at: row.get(6)?,
        expires_at: row.get(7)?,
        attempts: row.get(8)?,
        session_id: row.get(9)?,
        dispatched_at: row.get(10)?,
        result: row.get(11)?,
        fault_code: row.get(12)?,
        fault_message: row.get(13)?,
        fault_detail: row.get(14)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DeviceIdentity, ParameterUpdate, Timestamp};

    fn record(value: &str, at: i64) -> InformRecord {
        InformRecord {
            identity: DeviceIdentity {
                id: "00D09E-HGW-HOT".into(),
                oui: "00D09E".into(),
                product_class: "HGW".into(),
                serial_number: "HOT".into(),
                manufacturer: "Acme".into(),
            },
            at: Timestamp(at),
            events: Vec::new(),
            remote_addr: None,
            connection_request_url: None,
            online_until: None,
            parameters: vec![ParameterUpdate::value("Device.X", value, "xsd:string")],
        }
    }

    fn stored_x(conn: &Connection) -> String {
        conn.query_row(
            "SELECT value FROM parameters WHERE name = 'Device.X'",
            [],
            |row| row.get(0),
        )
        .unwrap()
    }

    /// A migrated database file (the store that made it is kept open) and how the hot path
    /// opens connections to it.
    struct Database {
        _tmp: tempfile::TempDir,
        _store: std::sync::Arc<dyn crate::Store>,
        file: std::path::PathBuf,
    }

    impl Database {
        async fn new() -> Self {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("data");
            let store = crate::open(dir.to_str().unwrap()).await.unwrap();
            Database {
                file: dir.join(crate::sql::sqlite::DB_FILE),
                _tmp: tmp,
                _store: store,
            }
        }

        fn spec(&self) -> ConnectionSpec<'_> {
            ConnectionSpec {
                file: &self.file,
                durability: SqliteDurability::ProcessCrash,
                busy_timeout: Duration::from_secs(5),
            }
        }
    }

    /// A device informing twice in one transaction, back to what the last commit left: the
    /// second Inform is compared with the first, not with the stale digest, and is written.
    #[tokio::test]
    async fn a_device_informing_twice_in_one_drain_ends_with_its_later_parameters() {
        let db = Database::new().await;
        let spec = db.spec();
        let mut conn = spec.open().unwrap();
        let sql = WriteSql::new();
        let mut known = KnownInforms::new();
        let hints = TaskHints::new();
        let (a, b) = (record("a", 1), record("b", 2));
        let (a, b) = (WriteJob::Inform(a), WriteJob::Inform(b));
        write_batch(&mut conn, &sql, &mut known, &hints, &[&a]).unwrap();
        assert_eq!(stored_x(&conn), "a");
        write_batch(&mut conn, &sql, &mut known, &hints, &[&b, &a]).unwrap();
        assert_eq!(stored_x(&conn), "a");
        write_batch(&mut conn, &sql, &mut known, &hints, &[&a, &b]).unwrap();
        assert_eq!(stored_x(&conn), "b");
        // A parameter write in the same transaction makes the next Inform's list unknown.
        let learned = WriteJob::Parameters {
            device_key: "00D09E-HGW-HOT".into(),
            updates: vec![ParameterUpdate::value("Device.X", "c", "xsd:string")],
            at: Timestamp(3),
        };
        write_batch(&mut conn, &sql, &mut known, &hints, &[&learned, &b]).unwrap();
        assert_eq!(stored_x(&conn), "b");
    }

    /// What `raw_device` reads, in order.
    const DEVICE_COLUMN_NAMES: [&str; 18] = [
        "id",
        "device_key",
        "oui",
        "product_class",
        "serial_number",
        "manufacturer",
        "owner_id",
        "created_at",
        "last_inform_at",
        "last_inform_events",
        "remote_addr",
        "online_until",
        "conn_req_url",
        "conn_req_username",
        "conn_req_password",
        "conn_req_source",
        "cpe_username",
        "cpe_password",
    ];

    /// What `raw_task` reads, in order.
    const TASK_COLUMN_NAMES: [&str; 15] = [
        "id",
        "device_key",
        "kind",
        "payload",
        "state",
        "created_at",
        "updated_at",
        "expires_at",
        "attempts",
        "session_id",
        "dispatched_at",
        "result",
        "fault_code",
        "fault_message",
        "fault_detail",
    ];

    /// `raw_device` and `raw_task` read by position: every statement they read must have
    /// exactly those columns in that order.
    #[tokio::test]
    async fn statements_read_by_position_have_the_expected_columns() {
        let db = Database::new().await;
        let spec = db.spec();
        let conn = spec.open().unwrap();
        let sql = WriteSql::new();
        for (statement, expected) in [
            (DEVICE_BY_KEY, &DEVICE_COLUMN_NAMES[..]),
            (sql.device_upsert.as_str(), &DEVICE_COLUMN_NAMES[..]),
            (NEXT_TASK, &TASK_COLUMN_NAMES[..]),
        ] {
            let stmt = conn.prepare(statement).unwrap();
            assert_eq!(stmt.column_names(), expected, "{statement}");
        }
    }

    /// A task written by another process (another connection) is noticed through
    /// `PRAGMA data_version` at the write thread's next transaction.
    #[tokio::test]
    async fn another_connections_commit_voids_what_is_known_about_tasks() {
        let db = Database::new().await;
        let spec = db.spec();
        let mut conn = spec.open().unwrap();
        let other = spec.open().unwrap();
        let sql = WriteSql::new();
        let mut known = KnownInforms::new();
        let hints = TaskHints::new();
        let a = WriteJob::Inform(record("a", 1));
        write_batch(&mut conn, &sql, &mut known, &hints, &[&a]).unwrap();
        assert!(hints.none_pending("00D09E-HGW-HOT"));
        other
            .execute(
                "INSERT INTO tasks (device_id, kind, payload, state, created_at, updated_at) \
                 SELECT id, 'Reboot', '{}', 'pending', 0, 0 FROM devices",
                [],
            )
            .unwrap();
        let mut second = record("b", 2);
        second.identity.id = "00D09E-HGW-OTHER".into();
        write_batch(
            &mut conn,
            &sql,
            &mut known,
            &hints,
            &[&WriteJob::Inform(second)],
        )
        .unwrap();
        assert!(!hints.none_pending("00D09E-HGW-HOT"));
        // What that transaction itself found still stands: the other device has none.
        assert!(hints.none_pending("00D09E-HGW-OTHER"));
    }
}
