//! Opening a store from a URL or a data directory, and the options that go with it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::sql::{postgres, sqlite};
use crate::{Store, StoreError, StoreResult};

/// How much an acknowledged SQLite write survives. See the `sqlite` backend module docs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SqliteDurability {
    /// `synchronous=NORMAL` in WAL mode: survives the process being killed (`kill -9`) at any
    /// instant; an OS crash or power loss may roll back the last commits. The default.
    #[default]
    ProcessCrash,
    /// `synchronous=FULL`: also survives power loss, at the cost of an fsync per commit.
    PowerLoss,
}

/// Everything [`open_with`] accepts. Defaults match [`open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOptions {
    /// `postgres://...` / `postgresql://...`, `sqlite:...` (a file, or `sqlite::memory:`), or a
    /// directory path in which `tether.db` is created.
    pub url: String,
    /// SQLite only.
    pub sqlite_durability: SqliteDurability,
    /// SQLite only: how long a writer waits for the lock before giving up. Default 5 s.
    pub sqlite_busy_timeout: Duration,
    /// Pool size; default 8 for SQLite, 16 for PostgreSQL.
    pub max_connections: Option<u32>,
}

impl OpenOptions {
    /// Default options for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        OpenOptions {
            url: url.into(),
            sqlite_durability: SqliteDurability::default(),
            sqlite_busy_timeout: Duration::from_secs(5),
            max_connections: None,
        }
    }
}

/// Opens the store at `url` with default options and brings its schema up to date.
///
/// `url` is `postgres://...` (or `postgresql://...`), `sqlite://path/to/file.db`,
/// `sqlite::memory:`, or a directory (created if missing) holding `tether.db`.
pub async fn open(url: &str) -> StoreResult<Arc<dyn Store>> {
    open_with(&OpenOptions::new(url)).await
}

/// Opens the store described by `options` and brings its schema up to date.
pub async fn open_with(options: &OpenOptions) -> StoreResult<Arc<dyn Store>> {
    let url = options.url.as_str();
    if url.is_empty() {
        return Err(StoreError::Invalid("empty database URL".into()));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store: Arc<dyn Store> = postgres::open(url, options.max_connections).await?;
        return Ok(store);
    }
    let location = if url.starts_with("sqlite:") {
        sqlite::Location::Url(url)
    } else if url.contains("://") {
        return Err(StoreError::Invalid(format!(
            "unsupported database URL {url:?}"
        )));
    } else {
        sqlite::Location::Dir(Path::new(url))
    };
    let store: Arc<dyn Store> = sqlite::open(
        location,
        options.sqlite_durability,
        options.sqlite_busy_timeout,
        options.max_connections,
    )
    .await?;
    Ok(store)
}
