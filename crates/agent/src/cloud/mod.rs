//! The device side of the cloud connection (`cloud-management ...`, protocol in
//! `docs/cloud-connection-protocol.md`).
//!
//! ```text
//!  Running (cloud-management, ip host) ─┐      AgentAction (reset, unbinding-code)
//!  DHCP lease (options 253/252) ────────┤      │
//!                                       ▼      ▼
//!                    manager: cloudlink::Device ──Action──▶ net: DNS, HTTPS, WebSocket (tls)
//!                          │    ▲ Event                                   │
//!                          │    └─────────────────────────────────────────┘
//!                          ├──▶ AgentContext::update_cloud (display cloud-management state)
//!                          └──▶ services: terminal, config, telemetry (own subconnections)
//! ```
//!
//! * [`manager`]: drives the pure state machine with real I/O and tokio time.
//! * [`net`]: resolution (`ip host` first), TLS, the handshake's HTTPS requests (on one
//!   kept-alive connection), WebSocket upgrades.
//! * [`tls`]: trust anchors: system roots, a CA file, or pinned SPKI fingerprints; the
//!   device's own TLS session store.
//! * [`dhcp`]: options 253/252 from the lease file.
//! * [`status`]: the state machine's status as the CLI's [`tether_cli::display::CloudState`].
//! * [`services`]: the service modules and their subconnections.
//!
//! Must not touch: protocol rules (all in `tether-cloudlink`), the CLI grammar.

pub mod dhcp;
pub mod manager;
pub mod net;
pub mod services;
pub mod status;
pub mod tls;

use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::context::AgentContext;

/// What every connection of this device shares: TLS trust, identity, timers.
#[derive(Debug)]
pub struct Link {
    /// The rustls client configuration (one trust model for the tunnel and subconnections),
    /// built on first use for the system trust store.
    pub tls: tls::LazyConfig,
    /// The device serial number.
    pub serial: String,
    /// Deadline of each DNS, HTTPS and upgrade step.
    pub request_timeout: Duration,
    /// WebSocket ping interval on subconnections.
    pub service_ping: Duration,
    /// Read deadline on subconnections.
    pub service_read_timeout: Duration,
    /// First wait before a service asks for a fresh URL.
    pub service_retry: Duration,
    /// Local address of every connection, if configured.
    pub source: Option<std::net::IpAddr>,
}

/// Starts the cloud client on `tracker` if `cloud.enabled`; it stops on `shutdown`. A bad
/// trust configuration is logged and leaves the client off (the agent keeps running).
pub fn spawn(ctx: &Arc<AgentContext>, shutdown: &CancellationToken, tracker: &TaskTracker) {
    spawn_with_tls(ctx, None, shutdown, tracker);
}

/// As [`spawn`], with a prepared TLS client configuration (simulated devices share one);
/// `None` builds it from the agent configuration. A prepared configuration is used with a
/// session store of this device's own ([`tls::with_own_sessions`]): devices share trust,
/// never TLS sessions.
pub fn spawn_with_tls(
    ctx: &Arc<AgentContext>,
    tls: Option<Arc<ClientConfig>>,
    shutdown: &CancellationToken,
    tracker: &TaskTracker,
) {
    let cfg = &ctx.config().cloud;
    if !cfg.enabled {
        return;
    }
    let own = |shared: Arc<ClientConfig>| Ok(tls::with_own_sessions(&shared).into());
    let tls = match tls.map_or_else(|| tls::LazyConfig::new(cfg), own) {
        Ok(tls) => tls,
        Err(e) => {
            tracing::error!(error = %e, "cloud connection disabled");
            return;
        }
    };
    let link = Arc::new(Link {
        tls,
        serial: ctx.identity().serial_number.clone(),
        request_timeout: Duration::from_secs(cfg.request_timeout_secs),
        service_ping: Duration::from_secs(cfg.service_ping_secs.max(1)),
        service_read_timeout: Duration::from_secs(cfg.service_read_timeout_secs.max(1)),
        service_retry: Duration::from_secs(cfg.service_retry_secs.max(1)),
        source: cfg.source_address,
    });
    tracker.spawn(manager::run(
        Arc::clone(ctx),
        link,
        shutdown.clone(),
        tracker.clone(),
    ));
}
