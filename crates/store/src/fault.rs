//! Faults recorded per device: what the CPE answered when something went wrong, kept until an
//! operator clears them.

use crate::{TaskId, Timestamp};

/// The identifier of a stored fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FaultId(pub i64);

/// What is needed to record a fault.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFault {
    pub device_id: String,
    /// The task that caused it, if any.
    pub task_id: Option<TaskId>,
    /// The CPE's fault code (`"9002"`) or an ACS-side code.
    pub code: String,
    pub message: String,
    pub detail: serde_json::Value,
    pub at: Timestamp,
}

/// A stored fault.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub id: FaultId,
    pub device_id: String,
    pub task_id: Option<TaskId>,
    pub code: String,
    pub message: String,
    pub detail: serde_json::Value,
    pub at: Timestamp,
}
