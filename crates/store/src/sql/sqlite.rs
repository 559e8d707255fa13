//! The SQLite backend: the embedded default.
//!
//! Connection settings, chosen for "an acknowledged write survives `kill -9`":
//!
//! - `journal_mode=WAL`: readers never block the writer, and a commit is one append to the WAL.
//! - `synchronous=NORMAL` by default ([`SqliteDurability::ProcessCrash`]): in WAL mode a commit
//!   is in the operating system's page cache when it returns, so it survives the process being
//!   killed at any instant; only an OS crash or power loss can roll back the last commits
//!   (never corrupt the file). [`SqliteDurability::PowerLoss`] selects `synchronous=FULL`, which
//!   also fsyncs the WAL at every commit, at a throughput cost.
//! - `busy_timeout` (default 5 s) so concurrent writers wait instead of failing, and every
//!   write transaction starts with `BEGIN IMMEDIATE` so it takes the write lock up front rather
//!   than failing on a read-to-write upgrade.
//! - `foreign_keys=ON` for the cascades the schema declares.
//!
//! Writes go through a pool of one connection, reads through the others. SQLite admits one
//! writer at a time; connections that contend for the lock wait in its busy handler, which
//! sleeps and polls (up to 100 ms a turn), so under many concurrent writers (a fleet's first
//! contact) the lock sat idle while writers slept. Waiting for the one writer connection in
//! the pool's queue instead is first come, first served and wakes the next writer at once.
//!
//! The calls every CWMP session makes (device read, Inform write, next-task read) go to the
//! hot path's own threads and connections (`sqlite_hot_path.rs`) for a database file. Its
//! write thread and the writer pool's connection take turns through one FIFO
//! [`WriteTurn`]: the pool's connection takes the turn when a caller acquires it and gives it
//! back when the caller releases it. An in-memory database (tests) cannot be opened by a
//! second driver, so there the same calls go through the sqlx batchers (`batcher.rs`).

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Transaction};
use tokio::sync::OwnedMutexGuard;

use crate::error::DbResultExt;
use crate::sql::sqlite_hot_path::{ConnectionSpec, HotPath, WriteTurn};
use crate::sql::task_hints::TaskHints;
use crate::{
    BackendKind, Device, InformRecord, ParameterUpdate, SqliteDurability, StoreError, StoreResult,
    Task, Timestamp,
};

// Deliberate: the shared engine is compiled once per backend, against this module's `Db`.
#[allow(
    clippy::duplicate_mod,
    reason = "engine.rs is instantiated once per backend"
)]
#[path = "engine.rs"]
mod engine;

#[allow(
    clippy::duplicate_mod,
    reason = "cloud_engine.rs is instantiated once per backend"
)]
#[path = "cloud_engine.rs"]
mod cloud_engine;

type Db = sqlx::Sqlite;
const KIND: BackendKind = BackendKind::Sqlite;

/// The file created inside a data directory.
pub(crate) const DB_FILE: &str = "tether.db";

/// A [`Store`](crate::Store) on an SQLite file.
pub(crate) struct Backend {
    /// Reads.
    pool: Pool<Db>,
    /// Writes: one connection (see the module notes).
    writer: Pool<Db>,
    /// The calls every CWMP session makes.
    batch: HotCalls,
}

/// Where the calls every CWMP session makes are served.
enum HotCalls {
    /// A database file: the hot path's own threads (`sqlite_hot_path.rs`).
    Threads(HotPath),
    /// An in-memory database: the sqlx batchers (`batcher.rs`).
    Batchers(engine::Batchers),
}

impl HotCalls {
    async fn record_inform(&self, record: InformRecord) -> StoreResult<Device> {
        match self {
            HotCalls::Threads(h) => h.record_inform(record).await,
            HotCalls::Batchers(b) => b.record_inform(record).await,
        }
    }

    async fn device(&self, key: String) -> StoreResult<Option<Device>> {
        match self {
            HotCalls::Threads(h) => h.device(key).await,
            HotCalls::Batchers(b) => b.device(key).await,
        }
    }

    async fn next_task(&self, key: String) -> StoreResult<Option<Task>> {
        match self {
            HotCalls::Threads(h) => h.next_task(key).await,
            HotCalls::Batchers(b) => b.next_task(key).await,
        }
    }

    /// `None`: not served here, the engine writes through the sqlx writer.
    async fn upsert_parameters(
        &self,
        key: &str,
        parameters: &[ParameterUpdate],
        at: Timestamp,
    ) -> Option<StoreResult<()>> {
        match self {
            HotCalls::Threads(h) => Some(
                h.upsert_parameters(key.to_owned(), parameters.to_vec(), at)
                    .await,
            ),
            HotCalls::Batchers(b) => b.upsert_parameters(key, parameters, at).await,
        }
    }
}

/// The turn held by the writer pool's one connection while a caller has it. The pool has one
/// connection, so a guard still here when the connection is acquired again was left by a
/// connection the pool closed without releasing it, and is dropped.
type HeldTurn = Arc<std::sync::Mutex<Option<OwnedMutexGuard<()>>>>;

fn take_held(held: &HeldTurn) -> Option<OwnedMutexGuard<()>> {
    held.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
}

async fn begin_write(pool: &Pool<Db>) -> Result<Transaction<'static, Db>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

/// Where an SQLite store lives.
pub(crate) enum Location<'a> {
    /// An `sqlite:` URL as sqlx understands it (`sqlite://path/file.db`, `sqlite::memory:`).
    Url(&'a str),
    /// A data directory; the database is `<dir>/tether.db`, both created if missing.
    Dir(&'a Path),
}

pub(crate) async fn open(
    location: Location<'_>,
    durability: SqliteDurability,
    busy_timeout: Duration,
    max_connections: Option<u32>,
) -> StoreResult<Arc<Backend>> {
    let in_memory = matches!(location, Location::Url(url) if url.contains(":memory:") || url.contains("mode=memory"));
    let options = match location {
        Location::Url(url) => SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Invalid(format!("bad SQLite URL {url:?}: {e}")))?,
        Location::Dir(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Invalid(format!(
                    "cannot create data directory {}: {e}",
                    dir.display()
                ))
            })?;
            SqliteConnectOptions::new().filename(dir.join(DB_FILE))
        }
    };
    let options = options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(match durability {
            SqliteDurability::ProcessCrash => SqliteSynchronous::Normal,
            SqliteDurability::PowerLoss => SqliteSynchronous::Full,
        })
        .busy_timeout(busy_timeout)
        .foreign_keys(true);
    // No ping before handing out a connection: an SQLite connection is a local file handle
    // that cannot go stale the way a network connection can. (Measured with bench/run.sh
    // cwmp: no change in throughput within the noise; the cost is elsewhere, see
    // BENCHMARKS.md.)
    let pool_options = |max: u32| {
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .test_before_acquire(false);
        if in_memory {
            // A shared in-memory database lives only while a connection holds it open.
            pool.min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            pool
        }
    };
    let turn: WriteTurn = Arc::new(tokio::sync::Mutex::new(()));
    let held: HeldTurn = Arc::new(std::sync::Mutex::new(None));
    let hints = Arc::new(TaskHints::new());
    let writer = pool_options(1)
        // Keep the one connection: a new one would be handed out without `before_acquire`.
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .before_acquire({
            let (turn, held, hints) = (turn.clone(), held.clone(), hints.clone());
            move |_, _| {
                let (turn, held, hints) = (turn.clone(), held.clone(), hints.clone());
                Box::pin(async move {
                    drop(take_held(&held));
                    let guard = turn.lock_owned().await;
                    // Whatever this writer does may queue a task: nothing known holds.
                    hints.void();
                    *held
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(guard);
                    Ok(true)
                })
            }
        })
        .after_release({
            let held = held.clone();
            move |_, _| {
                drop(take_held(&held));
                Box::pin(async { Ok(true) })
            }
        })
        .connect_with(options.clone())
        .await
        .db()?;
    sqlx::migrate!("./migrations/sqlite")
        .run(&writer)
        .await
        .db()?;
    let pool = pool_options(max_connections.unwrap_or(8))
        .connect_with(options.clone())
        .await
        .db()?;
    let batch = if in_memory {
        HotCalls::Batchers(engine::Batchers::start(&pool, &writer))
    } else {
        HotCalls::Threads(HotPath::start(
            &ConnectionSpec {
                file: options.get_filename(),
                durability,
                busy_timeout,
            },
            turn,
            hints,
        )?)
    };
    Ok(Arc::new(Backend {
        pool,
        writer,
        batch,
    }))
}
