//! The live running configuration, shared by every part of the agent.
//!
//! Owns [`Running`]: the Comware [`RunningConfig`] with the ACS attribute provenance
//! ([`AcsSelection`], in `agent.json`), behind one lock; applying a [`Command`] from the CLI
//! or the ACS (durable before it is acknowledged: saved first, rolled back if the save fails);
//! and the [`watch`] channel through which the CWMP driver and the cloud client learn of
//! changes ([`Running::subscribe`]).
//!
//! Lock discipline: the lock here is a leaf. Nothing is locked, awaited or called back while
//! it is held, so it may be taken while the data model's lock is held (the data-model mapping
//! handler does), never the other way round.
//!
//! Must not touch: the data model (see `mapping.rs`), sockets.

use std::sync::{Arc, Mutex, MutexGuard};

use tether_cli::{Applied, Command, RunningConfig};
use tokio::sync::watch;

use crate::acs::{AcsSelection, DhcpAcs, EffectiveAcs, Setter};
use crate::error::AgentError;
use crate::state::{AgentFile, DeviceKey, StateDir};

/// What subscribers see after every change: the configuration, the ACS to use under it, and
/// who caused the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSnapshot {
    /// Increases by one with every change (0 for the configuration loaded at start).
    pub generation: u64,
    /// The running configuration.
    pub config: RunningConfig,
    /// The ACS to use now (H3C-01/H3C-02), `None` if no source names one.
    pub acs: Option<EffectiveAcs>,
    /// Who made the change: `None` for the start-up load and DHCP updates.
    pub origin: Option<Setter>,
}

struct Inner {
    config: RunningConfig,
    agent: AgentFile,
    generation: u64,
}

/// The shared running configuration (see the module docs).
pub struct Running {
    inner: Mutex<Inner>,
    state: StateDir,
    key: DeviceKey,
    changes: watch::Sender<Arc<ConfigSnapshot>>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Running {
    /// Loads `running.cfg` and `agent.json` from `state` (defaults at first boot).
    pub fn load(state: StateDir, key: DeviceKey) -> Result<Running, AgentError> {
        let config = state.load_running_config(&key)?.unwrap_or_default();
        let agent = state.load_agent_file()?.unwrap_or_default();
        let inner = Inner {
            config,
            agent,
            generation: 0,
        };
        let (changes, _) = watch::channel(Arc::new(snapshot_of(&inner, None)));
        Ok(Running {
            inner: Mutex::new(inner),
            state,
            key,
            changes,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The device key passwords are encrypted with.
    pub fn key(&self) -> &DeviceKey {
        &self.key
    }

    /// The state directory.
    pub fn state_dir(&self) -> &StateDir {
        &self.state
    }

    /// Applies a configuration command issued by `setter` at `now_unix`. A change is saved
    /// (and, for an ACS attribute, its provenance) before this returns; if saving fails the
    /// configuration is left as it was and the error returned.
    pub fn apply(
        &self,
        command: &Command,
        setter: Setter,
        now_unix: i64,
    ) -> Result<Applied, AgentError> {
        let mut inner = self.lock();
        let before = inner.config.clone();
        let applied = inner.config.apply(command);
        if applied != Applied::Changed {
            return Ok(applied);
        }
        let before_acs = inner.agent.acs.clone();
        let noted = inner.agent.acs.note(command, setter, now_unix).is_some();
        let saved = self
            .state
            .save_running_config(&inner.config)
            .and_then(|()| {
                if noted {
                    self.state.save_agent_file(&inner.agent)
                } else {
                    Ok(())
                }
            });
        if let Err(e) = saved {
            inner.config = before;
            inner.agent.acs = before_acs;
            return Err(e);
        }
        self.publish(&mut inner, Some(setter));
        Ok(applied)
    }

    fn publish(&self, inner: &mut Inner, origin: Option<Setter>) {
        inner.generation += 1;
        self.changes
            .send_replace(Arc::new(snapshot_of(inner, origin)));
    }

    /// FactoryReset (RPC-15): every setting back to its default except the ACS connection
    /// (`cwmp enable`, the preferred and default ACS URLs and credentials), so the device can
    /// reach its ACS again; the last contacted ACS URL is forgotten, so the next session is a
    /// `0 BOOTSTRAP`. Saved before subscribers are told.
    pub fn factory_reset(&self) -> Result<(), AgentError> {
        let mut inner = self.lock();
        let old = inner.config.cwmp.clone();
        let mut config = RunningConfig::default();
        config.cwmp.enabled = old.enabled;
        config.cwmp.acs_url = old.acs_url;
        config.cwmp.acs_username = old.acs_username;
        config.cwmp.acs_password = old.acs_password;
        config.cwmp.acs_default_url = old.acs_default_url;
        config.cwmp.acs_default_username = old.acs_default_username;
        config.cwmp.acs_default_password = old.acs_default_password;
        let before = std::mem::replace(&mut inner.config, config);
        let before_url = inner.agent.last_acs_url.take();
        let saved = self
            .state
            .save_running_config(&inner.config)
            .and_then(|()| self.state.save_agent_file(&inner.agent));
        if let Err(e) = saved {
            inner.config = before;
            inner.agent.last_acs_url = before_url;
            return Err(e);
        }
        self.publish(&mut inner, Some(Setter::Acs));
        Ok(())
    }

    /// A copy of the running configuration.
    pub fn config(&self) -> RunningConfig {
        self.lock().config.clone()
    }

    /// Reads the configuration and the provenance under the lock.
    pub fn with<R>(&self, f: impl FnOnce(&RunningConfig, &AcsSelection) -> R) -> R {
        let inner = self.lock();
        f(&inner.config, &inner.agent.acs)
    }

    /// The ACS to use now.
    pub fn effective_acs(&self) -> Option<EffectiveAcs> {
        let inner = self.lock();
        inner.agent.acs.effective(&inner.config.cwmp)
    }

    /// Replaces what DHCP offers (the CWMP driver calls this after reading the lease).
    /// Subscribers are told if the offered URL changed. Not persisted.
    pub fn set_dhcp(&self, dhcp: Option<DhcpAcs>) -> bool {
        let mut inner = self.lock();
        let changed = inner.agent.acs.set_dhcp(dhcp);
        if changed {
            self.publish(&mut inner, None);
        }
        changed
    }

    /// The ACS URL of the last session that reached an ACS.
    pub fn last_acs_url(&self) -> Option<String> {
        self.lock().agent.last_acs_url.clone()
    }

    /// Records the ACS URL of a session that reached an ACS (saved at once).
    pub fn set_last_acs_url(&self, url: Option<String>) -> Result<(), AgentError> {
        let mut inner = self.lock();
        if inner.agent.last_acs_url == url {
            return Ok(());
        }
        let before = std::mem::replace(&mut inner.agent.last_acs_url, url);
        if let Err(e) = self.state.save_agent_file(&inner.agent) {
            inner.agent.last_acs_url = before;
            return Err(e);
        }
        Ok(())
    }

    /// Changes from now on; the receiver starts with the current snapshot marked seen.
    pub fn subscribe(&self) -> watch::Receiver<Arc<ConfigSnapshot>> {
        self.changes.subscribe()
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<ConfigSnapshot> {
        self.changes.borrow().clone()
    }
}

fn snapshot_of(inner: &Inner, origin: Option<Setter>) -> ConfigSnapshot {
    ConfigSnapshot {
        generation: inner.generation,
        config: inner.config.clone(),
        acs: inner.agent.acs.effective(&inner.config.cwmp),
        origin,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_save_leaves_configuration_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path().join("s")).unwrap();
        let key = state.device_key().unwrap();
        let running = Running::load(state.clone(), key).unwrap();
        // Make the save fail: a directory where running.cfg should go.
        std::fs::create_dir(state.file(crate::state::RUNNING_CONFIG_FILE)).unwrap();
        let err = running.apply(&Command::CwmpEnable(true), Setter::Cli, 1);
        assert!(err.is_err());
        assert!(!running.config().cwmp.enabled);
        assert_eq!(running.snapshot().generation, 0);
    }

    #[test]
    fn subscribers_see_each_change_with_its_origin() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        let key = state.device_key().unwrap();
        let running = Running::load(state, key).unwrap();
        let mut rx = running.subscribe();
        running
            .apply(
                &Command::CwmpAcsUrl(Some("http://acs.example/acs".into())),
                Setter::Acs,
                5,
            )
            .unwrap();
        assert!(rx.has_changed().unwrap());
        let snap = rx.borrow_and_update().clone();
        assert_eq!(snap.generation, 1);
        assert_eq!(snap.origin, Some(Setter::Acs));
        assert_eq!(snap.acs.as_ref().unwrap().url, "http://acs.example/acs");
        // Unchanged values publish nothing.
        running
            .apply(
                &Command::CwmpAcsUrl(Some("http://acs.example/acs".into())),
                Setter::Cli,
                6,
            )
            .unwrap();
        assert!(!rx.has_changed().unwrap());
    }
}
