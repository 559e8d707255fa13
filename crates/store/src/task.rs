//! Tasks: work queued for a device, durable from the moment it is accepted.
//!
//! Life of a task:
//!
//! ```text
//! pending --mark_dispatched--> dispatched --complete--> done
//!    |  \                          |  \----fail_task--> faulted
//!    |   \--(expires_at passed)--> expired
//!    \--cancel--> cancelled        \--recover_interrupted--> pending (requeue) | faulted
//! faulted | expired | cancelled --retry--> pending
//! ```
//!
//! `attempts` counts dispatches. Kinds and payloads are opaque to the store (a kind string and
//! a JSON value), so it does not depend on the protocol crate.

use crate::Timestamp;

/// The identifier of a task. Ids grow with creation order, which is the order tasks run in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(pub i64);

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskState {
    /// Waiting for the device's next session.
    Pending,
    /// Sent to the device in a session; the outcome is not known yet.
    Dispatched,
    /// Finished successfully; `result` holds the outcome.
    Done,
    /// The CPE (or the ACS) reported a fault; see `fault`.
    Faulted,
    /// Its `expires_at` passed before it could be dispatched.
    Expired,
    /// Cancelled by an operator.
    Cancelled,
}

impl TaskState {
    /// Every state, in lifecycle order.
    pub const ALL: [TaskState; 6] = [
        TaskState::Pending,
        TaskState::Dispatched,
        TaskState::Done,
        TaskState::Faulted,
        TaskState::Expired,
        TaskState::Cancelled,
    ];

    /// The stored spelling of this state.
    pub const fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::Dispatched => "dispatched",
            TaskState::Done => "done",
            TaskState::Faulted => "faulted",
            TaskState::Expired => "expired",
            TaskState::Cancelled => "cancelled",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        TaskState::ALL.into_iter().find(|state| state.as_str() == s)
    }
}

/// A fault recorded against a task: the CPE's fault code and string, or an ACS-side reason
/// (such as [`TaskFault::INTERRUPTED`]), with free-form JSON detail.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskFault {
    /// A CWMP fault code (`"9002"`) or an ACS-side code.
    pub code: String,
    pub message: String,
    pub detail: serde_json::Value,
}

impl TaskFault {
    /// The code given to a non-idempotent task whose session broke while it was dispatched.
    pub const INTERRUPTED: &'static str = "interrupted";
}

/// What is needed to queue a task.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    /// The canonical id of the device the task is for.
    pub device_id: String,
    /// The task kind (`"GetParameterValues"`, `"Reboot"`, ...).
    pub kind: String,
    /// Kind-specific arguments.
    pub payload: serde_json::Value,
    /// If still pending at this instant, the task expires instead of running.
    pub expires_at: Option<Timestamp>,
    /// When the API accepted the task.
    pub created_at: Timestamp,
}

/// A stored task.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: TaskId,
    pub device_id: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub state: TaskState,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    /// How many times the task was dispatched.
    pub attempts: u32,
    /// The session it was last dispatched in (kept after it finishes; cleared by retry).
    pub session_id: Option<String>,
    pub dispatched_at: Option<Timestamp>,
    /// Set when done.
    pub result: Option<serde_json::Value>,
    /// Set when faulted.
    pub fault: Option<TaskFault>,
}

/// Which tasks a listing returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    pub device_id: Option<String>,
    pub state: Option<TaskState>,
    /// Only tasks of devices owned by this account.
    pub owner: Option<crate::AccountId>,
}

/// Which dispatched tasks [`recover_interrupted`](crate::Store::recover_interrupted) treats as
/// interrupted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecoveryScope {
    /// Tasks dispatched in this session (the session broke).
    Session(String),
    /// Tasks dispatched before this instant, in any session (after a crash: pass the start time
    /// of the process, or `now - session hard cap` when several nodes share the database).
    DispatchedBefore(Timestamp),
}

/// How interrupted tasks are recovered: kinds listed as safe to repeat go back to pending;
/// every other kind is faulted with [`TaskFault::INTERRUPTED`], since running it twice could do
/// harm (a second FactoryReset, a second Download).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryPolicy {
    pub requeue_kinds: Vec<String>,
}

/// What a recovery did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecoveryOutcome {
    /// Tasks put back to pending.
    pub requeued: u64,
    /// Tasks faulted as interrupted.
    pub faulted: u64,
}
