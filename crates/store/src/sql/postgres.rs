//! The PostgreSQL backend: for several server nodes sharing one database.
//!
//! Transactions run at READ COMMITTED; every state change of a task is a single conditional
//! `UPDATE ... WHERE state = ...`, so two nodes can never both move the same task.

use std::str::FromStr;
use std::sync::Arc;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Pool, Transaction};

use crate::error::DbResultExt;
use crate::{BackendKind, StoreError, StoreResult};

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

type Db = sqlx::Postgres;
const KIND: BackendKind = BackendKind::Postgres;

/// A [`Store`](crate::Store) on a PostgreSQL database.
pub(crate) struct Backend {
    pool: Pool<Db>,
    /// The same pool: PostgreSQL has no single-writer lock to queue for.
    writer: Pool<Db>,
    /// The hot path's batched calls (`batcher.rs`).
    batch: engine::Batchers,
}

async fn begin_write(pool: &Pool<Db>) -> Result<Transaction<'static, Db>, sqlx::Error> {
    pool.begin().await
}

pub(crate) async fn open(url: &str, max_connections: Option<u32>) -> StoreResult<Arc<Backend>> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Invalid(format!("bad PostgreSQL URL: {e}")))?;
    let pool = PgPoolOptions::new()
        .max_connections(max_connections.unwrap_or(16))
        .connect_with(options)
        .await
        .db()?;
    sqlx::migrate!("./migrations/postgres")
        .run(&pool)
        .await
        .db()?;
    let batch = engine::Batchers::start(&pool, &pool);
    Ok(Arc::new(Backend {
        writer: pool.clone(),
        pool,
        batch,
    }))
}
