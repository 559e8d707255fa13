//! The extension point through which the agent (or a vendor) backs a subtree with live values.
//!
//! Owns [`Handler`] and [`SetOutcome`]. A handler is registered on a path prefix with
//! [`crate::DataModel::register_handler`]; the tree consults the handler with the longest
//! matching prefix on every read, write and instance listing below it, and keeps plain stored
//! values for everything the handler declines (every method has a "decline" default).
//! Handlers must not do slow I/O on `get`: the agent should cache host data and refresh it on
//! its own schedule.

use crate::fault::DataModelError;
use crate::value::Value;

/// What a handler did with a value it was asked to set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOutcome {
    /// The handler applied the value to the host; the tree does not store it.
    Applied,
    /// The handler has no opinion: the tree stores the value.
    Store,
}

/// Live backing for a subtree. Object-safe; shared as `Arc<dyn Handler>` (one handler may
/// serve many simulated devices), hence `&self` everywhere and `Send + Sync`.
pub trait Handler: Send + Sync {
    /// The current value of the parameter at `path` (a concrete instance path), or `None` to
    /// let the tree answer from its stored value / schema default.
    fn get(&self, path: &str) -> Option<Value> {
        let _ = path;
        None
    }

    /// Checks, before anything is applied, that `value` can be applied to `path`. Errors
    /// become per-parameter SetParameterValues faults (use `InvalidValue` for 9007).
    fn validate(&self, path: &str, value: &Value) -> Result<(), DataModelError> {
        let _ = (path, value);
        Ok(())
    }

    /// Applies a validated value. An error here aborts the request; the tree rolls back what it
    /// stored and calls `set` again with the previous values of what handlers applied.
    fn set(&self, path: &str, value: &Value) -> Result<SetOutcome, DataModelError> {
        let _ = (path, value);
        Ok(SetOutcome::Store)
    }

    /// The instance numbers of the table at `table_path` (`Device.Ethernet.Interface.`), or
    /// `None` if the tree manages that table's instances itself.
    fn instances(&self, table_path: &str) -> Option<Vec<u32>> {
        let _ = table_path;
        None
    }

    /// AddObject on a handler-provided table: create an instance and return its number.
    fn add_instance(&self, table_path: &str) -> Result<u32, DataModelError> {
        Err(DataModelError::RequestDenied(format!(
            "instances of {table_path} are provided by the device"
        )))
    }

    /// DeleteObject on a handler-provided table.
    fn delete_instance(&self, instance_path: &str) -> Result<(), DataModelError> {
        Err(DataModelError::RequestDenied(format!(
            "{instance_path} is provided by the device"
        )))
    }
}
