//! Starting and stopping the agent.
//!
//! Owns [`Agent::start`] (load state, build the data model with the host and mapping handlers,
//! bind the control socket) and [`AgentHandle`] (the running agent: its shared context for the
//! drivers, its shutdown). The CWMP driver and the cloud client are started by the caller on
//! top of the handle: they take [`AgentHandle::context`], spawn on [`AgentHandle::tracker`]
//! and stop on [`AgentHandle::shutdown_token`], so [`AgentHandle::shutdown`] waits for them.
//!
//! Must not touch: protocol logic.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tether_datamodel::DataModel;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::AgentConfig;
use crate::context::{AgentContext, now_unix};
use crate::control::server;
use crate::error::AgentError;
use crate::host::{HostRoot, Identity, register_host_handlers};
use crate::mapping::ConfigMappingHandler;
use crate::running::Running;
use crate::state::StateDir;

/// The entry point (see [`Agent::start`]).
#[derive(Debug)]
pub struct Agent;

/// A running agent.
#[derive(Debug)]
pub struct AgentHandle {
    ctx: Arc<AgentContext>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    socket: PathBuf,
}

impl Agent {
    /// Starts the agent with host files read under `config.host_root`. Must run inside a
    /// tokio runtime (a current-thread one suffices).
    pub async fn start(config: AgentConfig) -> Result<AgentHandle, AgentError> {
        let host = HostRoot::new(config.host_root.clone());
        Agent::start_with_host(config, host).await
    }

    /// Starts the agent over a prepared [`HostRoot`] (tests, simulators).
    pub async fn start_with_host(
        config: AgentConfig,
        host: HostRoot,
    ) -> Result<AgentHandle, AgentError> {
        config.validate()?;
        let state = StateDir::open(&config.state_dir)?;
        let key = state.device_key()?;
        let running = Arc::new(Running::load(state.clone(), key)?);
        let host = Arc::new(host);
        let identity = Identity::resolve(&config.identity, &host);

        let mut model = build_model(&running, &host, &identity);
        if let Some(saved) = state.load_model_state()? {
            for warning in model.import_state(&saved) {
                tracing::warn!(%warning, "data-model state entry skipped");
            }
        }

        let socket = config.control_socket_path();
        let listener = server::bind(&socket)?;
        let ctx = Arc::new(AgentContext::new(config, running, model, identity, host));
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        tracker.spawn(server::serve(
            listener,
            socket.clone(),
            Arc::clone(&ctx),
            shutdown.clone(),
            tracker.clone(),
        ));
        crate::cloud::spawn(&ctx, &shutdown, &tracker);
        crate::cwmp::spawn(&ctx, &shutdown, &tracker);
        tracing::info!(
            socket = %socket.display(),
            serial = %ctx.identity().serial_number,
            "agent started"
        );
        Ok(AgentHandle {
            ctx,
            shutdown,
            tracker,
            socket,
        })
    }
}

/// A data model with the host and configuration-mapping handlers and no saved state: what
/// the agent starts from, and what a FactoryReset returns to.
pub(crate) fn build_model(
    running: &Arc<Running>,
    host: &Arc<HostRoot>,
    identity: &Identity,
) -> DataModel {
    let mut model = DataModel::new();
    register_host_handlers(&mut model, Arc::clone(host), identity.clone());
    ConfigMappingHandler::new(Arc::clone(running), now_unix).register(&mut model);
    model
}

impl AgentHandle {
    /// The shared state, for the CWMP driver and the cloud client.
    pub fn context(&self) -> &Arc<AgentContext> {
        &self.ctx
    }

    /// The control socket path.
    pub fn socket_path(&self) -> &Path {
        &self.socket
    }

    /// Cancelled when the agent shuts down; drivers stop on it.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Where drivers spawn their tasks so that shutdown waits for them.
    pub fn tracker(&self) -> &TaskTracker {
        &self.tracker
    }

    /// Stops everything: cancels, waits for every task, saves the data model, removes the
    /// control socket.
    pub async fn shutdown(self) -> Result<(), AgentError> {
        self.shutdown.cancel();
        self.tracker.close();
        self.tracker.wait().await;
        self.ctx.save_model()?;
        tracing::info!("agent stopped");
        Ok(())
    }

    /// Runs until SIGINT or SIGTERM, then shuts down.
    pub async fn run_until_signal(self) -> Result<(), AgentError> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())
            .map_err(|e| AgentError::io("installing a handler for", "SIGTERM", e))?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        self.shutdown().await
    }
}
