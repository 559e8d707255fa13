//! The agent's state directory and the files in it.
//!
//! Owns [`StateDir`] and the on-disk formats:
//!
//! | file | content | written |
//! |---|---|---|
//! | `running.cfg` | the Comware running configuration as command lines replayed from system view ([`tether_cli::RunningConfig::to_commands`]); passwords only as `cipher` | on every configuration change |
//! | `datamodel.json` | the data model's writable values, attributes and instance counters ([`tether_datamodel::PersistedState`]) | after ACS changes and at shutdown |
//! | `agent.json` | [`AgentFile`]: ACS attribute provenance, last ACS URL (BOOTSTRAP detection) | when those change |
//! | `device.key` | 32 random bytes (hex): the key `cipher` passwords are made with | once, at first boot |
//! | `control.sock` | the `tether cli` socket (see `control/`) | at start |
//!
//! The directory is created with mode 0700 and every file with 0600. Every write is atomic
//! (`atomic.rs`), so a `kill -9` leaves either the old or the new file. A missing file means
//! first boot (defaults); a file that exists but does not parse is reported as
//! [`AgentError::CorruptState`] and the agent does not start: falling back to defaults could
//! point the device at no ACS at all. Losing `device.key` makes the `cipher` passwords in
//! `running.cfg` unreadable, which is reported the same way.
//!
//! [`StateDir::in_memory`] keeps the same files in a map instead (simulated devices: many in
//! one process, none on disk); everything else behaves the same.
//!
//! Must not touch: when to save (the callers decide), the network.

use std::collections::HashMap;
use std::fs::{self, DirBuilder, Permissions};
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tether_cli::{Outcome, RunningConfig, Session, View};
use tether_datamodel::PersistedState;

use crate::acs::AcsSelection;
use crate::atomic::{read_optional, remove_stale_temporaries, write_atomic};
use crate::error::AgentError;

/// File name of the running configuration.
pub const RUNNING_CONFIG_FILE: &str = "running.cfg";
/// File name of the data-model state.
pub const MODEL_STATE_FILE: &str = "datamodel.json";
/// File name of the agent's own small state.
pub const AGENT_FILE: &str = "agent.json";
/// File name of the device key.
pub const DEVICE_KEY_FILE: &str = "device.key";
/// Format tag of `agent.json`.
pub const AGENT_FILE_FORMAT: &str = "tether-agent/1";

const FILE_MODE: u32 = 0o600;
const DIR_MODE: u32 = 0o700;
const KEY_LEN: usize = 32;
const RUNNING_CONFIG_HEADER: &str =
    "# tether-agent running configuration: Comware commands replayed from system view\n";

/// The small state of the agent itself, `agent.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentFile {
    /// [`AGENT_FILE_FORMAT`].
    pub format: String,
    /// The ACS URL of the last session that reached an ACS; a different effective URL at the
    /// next session means `0 BOOTSTRAP`.
    #[serde(default)]
    pub last_acs_url: Option<String>,
    /// Who assigned the preferred ACS attributes and when.
    #[serde(default)]
    pub acs: AcsSelection,
}

impl Default for AgentFile {
    fn default() -> Self {
        AgentFile {
            format: AGENT_FILE_FORMAT.into(),
            last_acs_url: None,
            acs: AcsSelection::new(),
        }
    }
}

/// The device key (see [`tether_cli::password`]). `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceKey(Vec<u8>);

impl DeviceKey {
    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceKey(..)")
    }
}

/// In-memory files by name (see [`StateDir::in_memory`]).
type MemoryFiles = Arc<Mutex<HashMap<String, Vec<u8>>>>;

/// The agent's state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
    /// In-memory files ([`StateDir::in_memory`]), by name.
    memory: Option<MemoryFiles>,
}

impl StateDir {
    /// Opens (creating with mode 0700 if needed) the state directory, tightens its mode to
    /// 0700 and sweeps temporaries an interrupted write left behind.
    pub fn open(root: impl Into<PathBuf>) -> Result<StateDir, AgentError> {
        let root = root.into();
        DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(&root)
            .map_err(|e| AgentError::io("creating", &root, e))?;
        fs::set_permissions(&root, Permissions::from_mode(DIR_MODE))
            .map_err(|e| AgentError::io("setting the mode of", &root, e))?;
        let swept =
            remove_stale_temporaries(&root).map_err(|e| AgentError::io("cleaning", &root, e))?;
        if swept > 0 {
            tracing::warn!(dir = %root.display(), swept, "removed temporaries of interrupted writes");
        }
        Ok(StateDir { root, memory: None })
    }

    /// A state "directory" held in memory, starting with `files` (name, contents): nothing
    /// is read from or written to disk. `label` stands in for the path in messages.
    pub fn in_memory(label: &str, files: &[(&str, &str)]) -> StateDir {
        let map = files
            .iter()
            .map(|(name, text)| ((*name).to_owned(), text.as_bytes().to_vec()))
            .collect();
        StateDir {
            root: PathBuf::from(format!("memory:{label}")),
            memory: Some(Arc::new(Mutex::new(map))),
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Path of a file in the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Writes the file `name` atomically (mode 0600).
    pub fn write(&self, name: &str, contents: &[u8]) -> Result<(), AgentError> {
        if let Some(memory) = &self.memory {
            memory
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(name.to_owned(), contents.to_vec());
            return Ok(());
        }
        let path = self.file(name);
        write_atomic(&path, contents, FILE_MODE).map_err(|e| AgentError::io("writing", path, e))
    }

    /// Reads the file `name`; `None` if it does not exist.
    pub fn read(&self, name: &str) -> Result<Option<String>, AgentError> {
        if let Some(memory) = &self.memory {
            let map = memory.lock().unwrap_or_else(|p| p.into_inner());
            return match map.get(name) {
                None => Ok(None),
                Some(bytes) => String::from_utf8(bytes.clone())
                    .map(Some)
                    .map_err(|_| self.corrupt(name, "not UTF-8")),
            };
        }
        let path = self.file(name);
        read_optional(&path).map_err(|e| AgentError::io("reading", path, e))
    }

    fn corrupt(&self, name: &str, reason: impl Into<String>) -> AgentError {
        AgentError::CorruptState {
            path: self.file(name),
            reason: reason.into(),
        }
    }

    /// The device key, created from the system's random source at first boot.
    pub fn device_key(&self) -> Result<DeviceKey, AgentError> {
        if let Some(text) = self.read(DEVICE_KEY_FILE)? {
            return decode_hex(text.trim())
                .filter(|k| k.len() == KEY_LEN)
                .map(DeviceKey)
                .ok_or_else(|| self.corrupt(DEVICE_KEY_FILE, "expected 64 hex digits"));
        }
        let mut key = vec![0u8; KEY_LEN];
        if self.memory.is_some() {
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
        } else {
            fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(&mut key))
                .map_err(|e| AgentError::io("reading", "/dev/urandom", e))?;
        }
        self.write(
            DEVICE_KEY_FILE,
            format!("{}\n", encode_hex(&key)).as_bytes(),
        )?;
        Ok(DeviceKey(key))
    }

    /// The running configuration; `None` at first boot.
    pub fn load_running_config(
        &self,
        key: &DeviceKey,
    ) -> Result<Option<RunningConfig>, AgentError> {
        match self.read(RUNNING_CONFIG_FILE)? {
            None => Ok(None),
            Some(text) => running_config_from_text(&text, key)
                .map(Some)
                .map_err(|reason| self.corrupt(RUNNING_CONFIG_FILE, reason)),
        }
    }

    /// Saves the running configuration.
    pub fn save_running_config(&self, config: &RunningConfig) -> Result<(), AgentError> {
        self.write(
            RUNNING_CONFIG_FILE,
            running_config_to_text(config).as_bytes(),
        )
    }

    /// The data-model state; `None` at first boot.
    pub fn load_model_state(&self) -> Result<Option<PersistedState>, AgentError> {
        match self.read(MODEL_STATE_FILE)? {
            None => Ok(None),
            Some(text) => PersistedState::from_json(&text)
                .map(Some)
                .map_err(|e| self.corrupt(MODEL_STATE_FILE, e.to_string())),
        }
    }

    /// Saves the data-model state.
    pub fn save_model_state(&self, state: &PersistedState) -> Result<(), AgentError> {
        self.write(MODEL_STATE_FILE, state.to_json().as_bytes())
    }

    /// `agent.json`; `None` at first boot.
    pub fn load_agent_file(&self) -> Result<Option<AgentFile>, AgentError> {
        let Some(text) = self.read(AGENT_FILE)? else {
            return Ok(None);
        };
        let file: AgentFile =
            serde_json::from_str(&text).map_err(|e| self.corrupt(AGENT_FILE, e.to_string()))?;
        if file.format != AGENT_FILE_FORMAT {
            return Err(self.corrupt(
                AGENT_FILE,
                format!("format {:?}, expected {AGENT_FILE_FORMAT:?}", file.format),
            ));
        }
        Ok(Some(file))
    }

    /// Saves `agent.json`.
    pub fn save_agent_file(&self, file: &AgentFile) -> Result<(), AgentError> {
        let text = serde_json::to_string_pretty(file)
            .map_err(|e| AgentError::Config(format!("agent.json: {e}")))?;
        self.write(AGENT_FILE, text.as_bytes())
    }
}

/// `running.cfg` text: a comment header, then [`RunningConfig::to_commands`], one a line.
pub fn running_config_to_text(config: &RunningConfig) -> String {
    let mut text = String::from(RUNNING_CONFIG_HEADER);
    for line in config.to_commands() {
        text.push_str(&line);
        text.push('\n');
    }
    text
}

/// Replays `running.cfg` text from system view. Blank lines and lines starting with `#` are
/// skipped. Errors name the line.
pub fn running_config_from_text(text: &str, key: &DeviceKey) -> Result<RunningConfig, String> {
    let mut session = Session::new("replay", key.as_bytes());
    session.set_view(View::System);
    let mut config = RunningConfig::default();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match session.execute(line) {
            Outcome::Nothing | Outcome::ViewChanged(_) => {}
            Outcome::Run(command) => {
                if let tether_cli::Applied::Refused(why) = config.apply(&command) {
                    return Err(format!("line {number}: {why}"));
                }
            }
            Outcome::Error(e) => {
                return Err(format!("line {number} column {}: {e}", e.column + 1));
            }
            Outcome::Exit | Outcome::Help(_) => {
                return Err(format!("line {number}: not a configuration line"));
            }
        }
    }
    Ok(config)
}

fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_key_is_created_once_with_owner_only_mode() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path().join("s")).unwrap();
        let a = state.device_key().unwrap();
        let b = state.device_key().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_bytes().len(), KEY_LEN);
        let mode = fs::metadata(state.file(DEVICE_KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = fs::metadata(state.path()).unwrap().permissions().mode();
        assert_eq!(dir_mode & 0o777, 0o700);
    }

    #[test]
    fn running_config_text_round_trips_and_errors_name_the_line() {
        let key = DeviceKey(vec![7; KEY_LEN]);
        let mut config = RunningConfig::default();
        config.cwmp.enabled = true;
        config.cwmp.acs_url = Some("http://acs.example:7547/acs".into());
        config.cwmp.acs_password = Some(tether_cli::Password::from_simple("pw", &key.0).unwrap());
        let text = running_config_to_text(&config);
        assert_eq!(running_config_from_text(&text, &key).unwrap(), config);
        let err = running_config_from_text("cwmp\n cwmp enable\n cwmp bogus\n", &key).unwrap_err();
        assert!(err.starts_with("line 3 column"), "{err}");
        let other_key = DeviceKey(vec![8; KEY_LEN]);
        assert!(running_config_from_text(&text, &other_key).is_err());
    }

    #[test]
    fn corrupt_agent_file_is_reported_not_defaulted() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        assert_eq!(state.load_agent_file().unwrap(), None);
        fs::write(state.file(AGENT_FILE), "{ not json").unwrap();
        let err = state.load_agent_file().unwrap_err();
        assert!(matches!(err, AgentError::CorruptState { .. }), "{err}");
    }
}
