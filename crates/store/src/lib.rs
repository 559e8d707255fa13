//! Persistence for Tether behind one trait, [`Store`], with two backends: SQLite (the embedded
//! default, one file in a data directory) and PostgreSQL (several server nodes sharing one
//! database). Both run their own migrations at [`open`] and pass the same test suite.
//!
//! The crate owns storage only: no clock (times are arguments), no protocol types (task kinds
//! and payloads are strings and JSON), no password hashing (the server hands in PHC strings and
//! token digests). Nothing of the database driver appears in the public API.

mod account;
mod cloud;
mod device;
mod error;
mod fault;
mod open;
mod page;
mod parameter;
mod sql;
mod store;
mod task;
mod time;

pub use account::{
    Account, AccountId, ApiToken, NewAccount, NewApiToken, TokenHash, TokenId, TokenOwner,
};
pub use cloud::{
    BindingChange, CloudDevice, CloudPresence, ConfigChange, NewCloudDevice, NewConfigChange,
    NewUnbindCode, TunnelUp, UnbindCodeRecord, UnbindIssue, UnbindIssueLimits, UnbindJudge,
    UnbindRedeem,
};
pub use device::{
    Credentials, CredentialsOrigin, Device, DeviceFilter, DeviceIdentity, InformEvent,
    InformRecord, SerialMatch,
};
pub use error::{StoreError, StoreResult};
pub use fault::{Fault, FaultId, NewFault};
pub use open::{OpenOptions, SqliteDurability, open, open_with};
pub use page::{Page, Paged};
pub use parameter::{Parameter, ParameterUpdate};
pub use store::{BackendKind, FaultFilter, Store, StoreFuture};
pub use task::{
    NewTask, RecoveryOutcome, RecoveryPolicy, RecoveryScope, Task, TaskFault, TaskFilter, TaskId,
    TaskState,
};
pub use time::Timestamp;
