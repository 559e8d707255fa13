//! The store's error type, and the one place where database driver errors are mapped onto it.
//!
//! Callers see only [`StoreError`]; no driver type crosses the crate boundary.

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The thing the operation names does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The operation contradicts what is stored: a duplicate name, or a task in the wrong state.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The arguments are unacceptable before the database is even asked (bad URL, empty name).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The database could not be reached in time (connection refused, pool exhausted, closed).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Any other database failure, with the driver's message.
    #[error("database error: {0}")]
    Backend(String),
}

/// Shorthand for results of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// Maps a driver error onto [`StoreError`]. The only place that inspects `sqlx::Error`.
pub(crate) fn from_sqlx(err: sqlx::Error) -> StoreError {
    use sqlx::error::ErrorKind;
    match err {
        sqlx::Error::RowNotFound => StoreError::NotFound("row not found".into()),
        sqlx::Error::Database(db) if is_sqlite_busy(db.as_ref()) => {
            StoreError::Unavailable(db.message().to_owned())
        }
        sqlx::Error::Database(db) => match db.kind() {
            ErrorKind::UniqueViolation => StoreError::Conflict(db.message().to_owned()),
            ErrorKind::ForeignKeyViolation => StoreError::NotFound(db.message().to_owned()),
            ErrorKind::NotNullViolation | ErrorKind::CheckViolation => {
                StoreError::Invalid(db.message().to_owned())
            }
            _ => StoreError::Backend(db.message().to_owned()),
        },
        e @ (sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed) => StoreError::Unavailable(e.to_string()),
        sqlx::Error::Migrate(e) => StoreError::Backend(format!("migration failed: {e}")),
        other => StoreError::Backend(other.to_string()),
    }
}

/// SQLITE_BUSY / SQLITE_LOCKED (and their extended codes): another writer held the lock for
/// longer than the busy timeout. Reported as [`StoreError::Unavailable`] so callers can retry.
fn is_sqlite_busy(db: &dyn sqlx::error::DatabaseError) -> bool {
    use sqlx::error::DatabaseError as _;
    db.try_downcast_ref::<sqlx::sqlite::SqliteError>()
        .and_then(|e| e.code())
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| matches!(code & 0xff, 5 | 6))
}

/// `.db()` on driver results: `query.execute(&pool).await.db()?`.
pub(crate) trait DbResultExt<T> {
    fn db(self) -> StoreResult<T>;
}

impl<T> DbResultExt<T> for Result<T, sqlx::Error> {
    fn db(self) -> StoreResult<T> {
        self.map_err(from_sqlx)
    }
}

impl<T> DbResultExt<T> for Result<T, sqlx::migrate::MigrateError> {
    fn db(self) -> StoreResult<T> {
        self.map_err(|e| StoreError::Backend(format!("migration failed: {e}")))
    }
}

/// Maps a rusqlite error (the SQLite hot path, `sql/sqlite_hot_path.rs`) onto [`StoreError`]
/// by the same rules as [`from_sqlx`]. The only place that inspects `rusqlite::Error`.
pub(crate) fn from_rusqlite(err: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    match err {
        rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound("row not found".into()),
        rusqlite::Error::SqliteFailure(code, message) => {
            let message = message.unwrap_or_else(|| code.to_string());
            match code.code {
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                    StoreError::Unavailable(message)
                }
                // SQLITE_CONSTRAINT_UNIQUE (2067), _PRIMARYKEY (1555), _FOREIGNKEY (787),
                // _NOTNULL (1299), _CHECK (275).
                ErrorCode::ConstraintViolation => match code.extended_code {
                    2067 | 1555 => StoreError::Conflict(message),
                    787 => StoreError::NotFound(message),
                    _ => StoreError::Invalid(message),
                },
                ErrorCode::CannotOpen | ErrorCode::NotADatabase | ErrorCode::SystemIoFailure => {
                    StoreError::Unavailable(message)
                }
                _ => StoreError::Backend(message),
            }
        }
        other => StoreError::Backend(other.to_string()),
    }
}

/// `.hot()` on rusqlite results, as `.db()` on sqlx ones.
pub(crate) trait HotResultExt<T> {
    fn hot(self) -> StoreResult<T>;
}

impl<T> HotResultExt<T> for Result<T, rusqlite::Error> {
    fn hot(self) -> StoreResult<T> {
        self.map_err(from_rusqlite)
    }
}
