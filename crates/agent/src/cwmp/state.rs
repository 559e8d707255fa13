//! The CWMP driver's durable state: `cwmp.json` in the state directory.
//!
//! Owns [`CwmpState`] and its load/save. It holds what must survive a restart (EVT-04):
//! the [`EventQueue`] (undelivered events, `M` events with their CommandKeys, pending
//! TransferCompletes), the queued file transfers, pending ScheduleInforms, the random
//! periodic-Inform phase, the connection-request path and URL, and the last `cwmp cpe inform
//! time` already served. Saved atomically (`atomic.rs`) after every change; mode 0600, since
//! transfer credentials from the ACS are kept in it until the transfer ran.
//!
//! Must not touch: sockets, the data model.

use serde::{Deserialize, Serialize};
use tether_cwmp::session::EventQueue;

use crate::error::AgentError;
use crate::state::StateDir;

/// File name in the state directory.
pub const CWMP_STATE_FILE: &str = "cwmp.json";
/// Format tag.
pub const CWMP_STATE_FORMAT: &str = "tether-agent-cwmp/1";
/// Most transfers queued at once (the XSD allows 16 in a GetAllQueuedTransfers answer).
pub const MAX_TRANSFERS: usize = 16;
/// Most ScheduleInforms pending at once.
pub const MAX_SCHEDULED: usize = 16;

/// Which RPC queued a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransferKind {
    /// `Download`.
    Download,
    /// `Upload`.
    Upload,
    /// `ScheduleDownload`.
    ScheduleDownload,
}

impl TransferKind {
    /// The `M` event method name.
    pub fn method(self) -> &'static str {
        match self {
            TransferKind::Download => "Download",
            TransferKind::Upload => "Upload",
            TransferKind::ScheduleDownload => "ScheduleDownload",
        }
    }

    /// Whether the file comes to the device.
    pub fn is_download(self) -> bool {
        !matches!(self, TransferKind::Upload)
    }
}

/// A transfer the ACS asked for, waiting for its start time or running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferJob {
    /// The RPC.
    pub kind: TransferKind,
    /// `CommandKey`.
    pub command_key: String,
    /// `FileType`.
    pub file_type: String,
    /// `URL`.
    pub url: String,
    /// `Username`.
    pub username: String,
    /// `Password`.
    pub password: String,
    /// `FileSize` (0 = unknown).
    pub file_size: u32,
    /// `TargetFileName`.
    pub target_file_name: String,
    /// When to start (Unix seconds).
    pub start_at_unix: i64,
    /// ScheduleDownload: the end of the last time window (Unix seconds).
    pub deadline_unix: Option<i64>,
    /// Running now (state 2 of GetQueuedTransfers) rather than waiting (state 1).
    #[serde(default)]
    pub in_progress: bool,
}

/// A pending ScheduleInform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledInform {
    /// When it is due (Unix seconds).
    pub at_unix: i64,
    /// Its CommandKey.
    pub command_key: String,
}

/// The durable state (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CwmpState {
    /// [`CWMP_STATE_FORMAT`].
    pub format: String,
    /// Undelivered events and CPE requests.
    #[serde(default)]
    pub queue: EventQueue,
    /// Queued and running transfers.
    #[serde(default)]
    pub transfers: Vec<TransferJob>,
    /// Pending ScheduleInforms.
    #[serde(default)]
    pub scheduled: Vec<ScheduledInform>,
    /// The periodic-Inform phase chosen when PeriodicInformTime is Unknown Time (PER-02).
    #[serde(default)]
    pub periodic_phase_unix: Option<i64>,
    /// The random connection-request path, chosen once.
    #[serde(default)]
    pub cr_path: Option<String>,
    /// The ConnectionRequestURL last published.
    #[serde(default)]
    pub cr_url: Option<String>,
    /// The `cwmp cpe inform time` (Unix seconds) already served.
    #[serde(default)]
    pub cli_inform_time_done: Option<i64>,
}

impl Default for CwmpState {
    fn default() -> Self {
        CwmpState {
            format: CWMP_STATE_FORMAT.into(),
            queue: EventQueue::new(),
            transfers: Vec::new(),
            scheduled: Vec::new(),
            periodic_phase_unix: None,
            cr_path: None,
            cr_url: None,
            cli_inform_time_done: None,
        }
    }
}

impl CwmpState {
    /// Loads `cwmp.json`; a missing file is a first boot. A file that does not parse is
    /// reported, not replaced.
    pub fn load(dir: &StateDir) -> Result<CwmpState, AgentError> {
        let path = dir.file(CWMP_STATE_FILE);
        let Some(text) = dir.read(CWMP_STATE_FILE)? else {
            return Ok(CwmpState::default());
        };
        let state: CwmpState =
            serde_json::from_str(&text).map_err(|e| AgentError::CorruptState {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        if state.format != CWMP_STATE_FORMAT {
            return Err(AgentError::CorruptState {
                path,
                reason: format!("format {:?}", state.format),
            });
        }
        Ok(state)
    }

    /// Saves `cwmp.json` atomically.
    pub fn save(&self, dir: &StateDir) -> Result<(), AgentError> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| AgentError::Config(format!("cwmp.json: {e}")))?;
        dir.write(CWMP_STATE_FILE, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tether_cwmp::{Event, EventCode};

    #[test]
    fn state_round_trips_with_m_events_and_transfers() {
        let dir = tempfile::tempdir().unwrap();
        let sd = StateDir::open(dir.path()).unwrap();
        assert_eq!(CwmpState::load(&sd).unwrap(), CwmpState::default());
        let mut s = CwmpState::default();
        s.queue
            .push(Event::with_key(EventCode::m_reboot(), "rb1"))
            .unwrap();
        s.transfers.push(TransferJob {
            kind: TransferKind::Download,
            command_key: "d1".into(),
            file_type: "3 Vendor Configuration File".into(),
            url: "http://f/x".into(),
            username: String::new(),
            password: String::new(),
            file_size: 0,
            target_file_name: String::new(),
            start_at_unix: 5,
            deadline_unix: None,
            in_progress: false,
        });
        s.save(&sd).unwrap();
        assert_eq!(CwmpState::load(&sd).unwrap(), s);
    }
}
