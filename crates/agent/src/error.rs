//! The agent's typed errors at its public boundary.
//!
//! Owns [`AgentError`]. The binary turns these into messages and exit codes; nothing here maps
//! to CWMP faults (the data model's own errors do that).

use std::io;
use std::path::PathBuf;

/// Why the agent could not start, load, persist or serve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The configuration is invalid or could not be read.
    #[error("configuration: {0}")]
    Config(String),
    /// An I/O operation on a state file or socket failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done (`writing`, `reading`, `binding`).
        action: &'static str,
        /// The file or socket.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A state file exists but cannot be understood: the agent refuses to start rather than
    /// silently fall back to defaults.
    #[error("corrupt state file {}: {reason}", path.display())]
    CorruptState {
        /// The file.
        path: PathBuf,
        /// What is wrong, with a line number where there is one.
        reason: String,
    },
    /// The control socket path is taken by something that is not a socket.
    #[error("{} exists and is not a socket; refusing to replace it", .0.display())]
    NotASocket(PathBuf),
    /// Another agent answers on the control socket.
    #[error("another agent is already listening on {}", .0.display())]
    AlreadyRunning(PathBuf),
}

impl AgentError {
    /// Wraps an I/O error with what was being done and where.
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        AgentError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
