//! The agent's shared state: what the control socket, the CWMP driver and the cloud client all
//! hold (as `Arc<AgentContext>`).
//!
//! Owns [`AgentContext`]: the agent configuration, the running configuration ([`Running`]),
//! the data model behind its lock, the device identity, the live CWMP and cloud status
//! ([`watch`] channels the drivers fill and the CLI reads), and the broadcast of operator
//! actions that are not configuration ([`AgentAction`]).
//!
//! Lock order: the data model's lock, then (inside handlers) the running configuration's.
//! Never take the data model's lock while holding the running configuration's; never hold
//! either across an `.await`.
//!
//! Must not touch: sockets (see `control/`), protocol state machines (the drivers').

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use tether_cli::display::CloudState;
use tether_cli::{Applied, Command};
use tether_datamodel::{DataModel, Value};
use tokio::sync::{broadcast, watch};

use crate::acs::Setter;
use crate::config::AgentConfig;
use crate::error::AgentError;
use crate::host::{HostRoot, Identity};
use crate::mapping::MAPPED;
use crate::running::Running;
use crate::status::CwmpLive;

/// Operator actions from the CLI that are not configuration; the cloud client subscribes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentAction {
    /// `reset cloud-management tunnel`.
    ResetCloudTunnel,
    /// `cloud-management unbinding-code CODE`.
    CloudUnbindingCode(String),
}

/// The cloud's verdict on an unbinding code (or why it could not be sent), published by the
/// cloud client for the CLI line that announced [`AgentAction::CloudUnbindingCode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnbindReport {
    /// The code exactly as announced.
    pub code: String,
    /// True if the cloud moved the binding.
    pub ok: bool,
    /// Operator text, one line without the trailing newline.
    pub message: String,
}

/// Capacity of the action broadcast (slow subscribers lose the oldest actions).
const ACTION_CAPACITY: usize = 16;

/// The wall clock as Unix seconds (the agent's one place that reads it for state records).
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The agent's shared state (see the module docs).
pub struct AgentContext {
    config: AgentConfig,
    running: Arc<Running>,
    model: Mutex<DataModel>,
    identity: Identity,
    host: Arc<HostRoot>,
    cwmp: watch::Sender<CwmpLive>,
    cloud: watch::Sender<CloudState>,
    actions: broadcast::Sender<AgentAction>,
    unbind: broadcast::Sender<UnbindReport>,
}

impl std::fmt::Debug for AgentContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentContext")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl AgentContext {
    /// Assembles the context (see `agent.rs` for how the parts are built).
    pub fn new(
        config: AgentConfig,
        running: Arc<Running>,
        model: DataModel,
        identity: Identity,
        host: Arc<HostRoot>,
    ) -> AgentContext {
        let (cwmp, _) = watch::channel(CwmpLive::default());
        let (cloud, _) = watch::channel(CloudState::default());
        let (actions, _) = broadcast::channel(ACTION_CAPACITY);
        let (unbind, _) = broadcast::channel(ACTION_CAPACITY);
        AgentContext {
            config,
            running,
            model: Mutex::new(model),
            identity,
            host,
            cwmp,
            cloud,
            actions,
            unbind,
        }
    }

    /// The agent configuration it was started with.
    pub fn config(&self) -> &AgentConfig {
        &self.config
    }

    /// The running configuration.
    pub fn running(&self) -> &Arc<Running> {
        &self.running
    }

    /// The device identity.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The host file root.
    pub fn host(&self) -> &Arc<HostRoot> {
        &self.host
    }

    /// The data model, locked. Keep the guard short and never across an `.await`.
    pub fn model(&self) -> MutexGuard<'_, DataModel> {
        self.model.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Saves the data model's persistent part (`datamodel.json`). The export happens under
    /// the lock, the write after it is released.
    pub fn save_model(&self) -> Result<(), AgentError> {
        let state = self.model().export_state();
        self.running.state_dir().save_model_state(&state)
    }

    /// Applies a configuration command as `setter`, and records value changes of the
    /// data-model parameters it mirrors (so they are notified to the ACS per their
    /// attributes). See [`Running::apply`].
    pub fn apply_config(
        &self,
        command: &Command,
        setter: Setter,
        now_unix: i64,
    ) -> Result<Applied, AgentError> {
        let before = self.mapped_values();
        let applied = self.running.apply(command, setter, now_unix)?;
        if applied == Applied::Changed && setter == Setter::Cli {
            let mut model = self.model();
            for ((path, _), old) in MAPPED.iter().zip(before) {
                if model.get(path).ok() != old {
                    let _ = model.note_value_change(path);
                }
            }
        }
        Ok(applied)
    }

    fn mapped_values(&self) -> Vec<Option<Value>> {
        let model = self.model();
        MAPPED.iter().map(|(p, _)| model.get(p).ok()).collect()
    }

    /// FactoryReset (RPC-15): the running configuration back to defaults except the ACS
    /// connection settings (see [`Running::factory_reset`]), the data model back to a fresh
    /// one (values, attributes, instances, ParameterKey), both saved.
    pub fn factory_reset(&self, now_unix: i64) -> Result<(), AgentError> {
        let _ = now_unix;
        self.running.factory_reset()?;
        let fresh = crate::agent::build_model(&self.running, &self.host, &self.identity);
        *self.model() = fresh;
        self.save_model()
    }

    /// The CWMP driver's live status.
    pub fn cwmp_live(&self) -> CwmpLive {
        self.cwmp.borrow().clone()
    }

    /// Lets the CWMP driver update its live status.
    pub fn update_cwmp(&self, f: impl FnOnce(&mut CwmpLive)) {
        self.cwmp.send_modify(f);
    }

    /// Changes of the CWMP live status.
    pub fn subscribe_cwmp(&self) -> watch::Receiver<CwmpLive> {
        self.cwmp.subscribe()
    }

    /// The cloud client's live state.
    pub fn cloud_state(&self) -> CloudState {
        self.cloud.borrow().clone()
    }

    /// Changes of the cloud client's live state.
    pub fn subscribe_cloud(&self) -> watch::Receiver<CloudState> {
        self.cloud.subscribe()
    }

    /// Lets the cloud client update its live state.
    pub fn update_cloud(&self, f: impl FnOnce(&mut CloudState)) {
        self.cloud.send_modify(f);
    }

    /// Operator actions from now on.
    pub fn subscribe_actions(&self) -> broadcast::Receiver<AgentAction> {
        self.actions.subscribe()
    }

    /// Verdicts on unbinding codes from now on.
    pub fn subscribe_unbind(&self) -> broadcast::Receiver<UnbindReport> {
        self.unbind.subscribe()
    }

    /// Lets the cloud client publish a verdict on an unbinding code.
    pub fn report_unbind(&self, report: UnbindReport) {
        let _ = self.unbind.send(report);
    }

    /// Announces an operator action; returns how many subscribers got it.
    pub fn announce(&self, action: AgentAction) -> usize {
        self.actions.send(action).unwrap_or(0)
    }
}
