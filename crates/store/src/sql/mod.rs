//! The SQL backends. `engine.rs` holds every query and the [`Store`](crate::Store)
//! implementation once; `sqlite.rs` and `postgres.rs` each compile it against their own driver
//! (`#[path] mod engine`), supplying only what differs: the pool, how a write transaction
//! begins, and the migrations.

mod batcher;
mod known_informs;
pub(crate) mod postgres;
pub(crate) mod rows;
pub(crate) mod sqlite;
pub(crate) mod sqlite_hot_path;
mod task_hints;
