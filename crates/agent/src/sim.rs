//! Simulated devices: the agent itself, many times in one process, for `tether sim`.
//!
//! Owns [`SimDevice`]: the same [`AgentContext`], CWMP driver and cloud manager as
//! [`crate::Agent::start`], but over an in-memory state directory ([`StateDir::in_memory`],
//! seeded with a `running.cfg` text), without a control socket, with extra data-model
//! handlers (synthetic parameters) and a TLS client configuration shared by every device (its
//! trust only: each device keeps its own TLS sessions, as `cloud::spawn_with_tls` arranges).
//! The data model's schema is the process-wide built-in `Arc`, and the host files the devices
//! read are shared for a second ([`SharedReads`]): every device runs on this one host.
//!
//! Must not touch: protocol logic (the drivers are the agent's own), the disk.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::ClientConfig;
use tether_datamodel::Handler;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::AgentConfig;
use crate::context::AgentContext;
use crate::error::AgentError;
use crate::host::{HostRoot, Identity, SharedReads};
use crate::running::Running;
use crate::state::{RUNNING_CONFIG_FILE, StateDir};

/// What one simulated device is made of.
pub struct SimDeviceSpec {
    /// The agent configuration (identity, connection-request address and port, timers).
    pub config: AgentConfig,
    /// The `running.cfg` text it starts with (Comware commands from system view).
    pub running_config: String,
    /// Extra data-model handlers, by path prefix (may be shared between devices).
    pub handlers: Vec<(String, Arc<dyn Handler>)>,
    /// The cloud TLS client configuration (may be shared: the device adds its own session
    /// store); `None` builds one from `config`.
    pub cloud_tls: Option<Arc<ClientConfig>>,
}

/// A running simulated device.
#[derive(Debug)]
pub struct SimDevice {
    ctx: Arc<AgentContext>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

/// How long the devices of a simulator share a host file's text: they all run on this one
/// host, and a second is well under any telemetry or Inform interval.
const HOST_READ_TTL: Duration = Duration::from_secs(1);

/// The host reads shared by every simulated device of this process.
fn host_reads() -> &'static Arc<SharedReads> {
    static READS: OnceLock<Arc<SharedReads>> = OnceLock::new();
    READS.get_or_init(|| SharedReads::new(HOST_READ_TTL))
}

impl SimDevice {
    /// Builds the device and starts its CWMP driver and cloud client (as configured). Must
    /// run inside a tokio runtime.
    pub fn start(spec: SimDeviceSpec) -> Result<SimDevice, AgentError> {
        let SimDeviceSpec {
            config,
            running_config,
            handlers,
            cloud_tls,
        } = spec;
        config.validate()?;
        let serial = config.identity.serial_number.clone().unwrap_or_default();
        let state = StateDir::in_memory(&serial, &[(RUNNING_CONFIG_FILE, &running_config)]);
        let key = state.device_key()?;
        let running = Arc::new(Running::load(state, key)?);
        let host = Arc::new(
            HostRoot::new(config.host_root.clone()).with_shared_reads(Arc::clone(host_reads())),
        );
        let identity = Identity::resolve(&config.identity, &host);
        let mut model = crate::agent::build_model(&running, &host, &identity);
        for (prefix, handler) in handlers {
            model.register_handler(&prefix, handler);
        }
        let ctx = Arc::new(AgentContext::new(config, running, model, identity, host));
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        crate::cloud::spawn_with_tls(&ctx, cloud_tls, &shutdown, &tracker);
        crate::cwmp::spawn(&ctx, &shutdown, &tracker);
        Ok(SimDevice {
            ctx,
            shutdown,
            tracker,
        })
    }

    /// The device's shared state (live CWMP and cloud status, data model).
    pub fn context(&self) -> &Arc<AgentContext> {
        &self.ctx
    }

    /// Stops the device's tasks and waits for them.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}
