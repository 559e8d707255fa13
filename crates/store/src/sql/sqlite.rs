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

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Transaction};

use crate::error::DbResultExt;
use crate::{BackendKind, SqliteDurability, StoreError, StoreResult};

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
    /// The hot path's batched calls (`batcher.rs`).
    batch: engine::Batchers,
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
    let writer = pool_options(1).connect_with(options.clone()).await.db()?;
    sqlx::migrate!("./migrations/sqlite")
        .run(&writer)
        .await
        .db()?;
    let pool = pool_options(max_connections.unwrap_or(8))
        .connect_with(options)
        .await
        .db()?;
    let batch = engine::Batchers::start(&pool, &writer);
    Ok(Arc::new(Backend {
        pool,
        writer,
        batch,
    }))
}
