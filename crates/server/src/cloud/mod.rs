//! The cloud-connection endpoint: the server side of `docs/cloud-connection-protocol.md`.
//!
//! Devices dial out to this listener (`cloud.listen`, TLS by default): HTTPS handshake
//! ([`http`]: `/cloudlink/v1/auth`, `/register`), then the main tunnel ([`tunnel`]) and one
//! WebSocket per service ([`subconn`]: `terminal`, `config`, `telemetry`). Protocol rules come
//! from the pure `tether-cloudlink` crate (`Handshaker`, `TunnelSession`, `TunnelRegistry`,
//! `DeviceServices`); this module drives them with sockets, the clock and the store.
//!
//! [`Cloud`] is the shared state: the handshaker and its replay set, which tunnel and which
//! subconnections of each device live on this node ([`registry`]), telemetry history
//! ([`telemetry`]), terminal tickets ([`terminal`]) and the `/auth` rate limiter
//! ([`ratelimit`]). The REST API reaches devices only through [`Cloud`]'s methods.
//!
//! Memory per idle WebSocket is kept small on purpose (the goal is 8 KiB; BENCHMARKS.md has the
//! heap profile): TLS keeps no buffer while idle (`crate::tls_stream`), tungstenite starts with
//! a 128-byte read buffer ([`upgrade::READ_BUFFER`]), each connection is one task holding exactly
//! its future ([`upgrade::spawn`]) and a command queue that allocates only while a command waits
//! ([`mailbox`]), and telemetry history is kept as text ([`telemetry`]).

pub mod config_service;
pub mod http;
pub mod mailbox;
pub mod ratelimit;
pub mod registry;
pub mod subconn;
pub mod telemetry;
pub mod terminal;
pub mod tunnel;
pub mod unbind;
pub mod upgrade;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::RngCore as _;
use tether_cloudlink::handshake::{HandshakeConfig, Handshaker};
use tether_cloudlink::server::SessionConfig;
use tether_cloudlink::token::{ReplaySet, TokenKey, TokenSigner};
use tether_store::Store;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock;
use crate::config::{ServerConfig, TlsMode};

pub use registry::{ServiceCmd, ServiceError, TunnelCmd};

/// The microservices this server offers on subconnections.
pub const SERVICES: &[&str] = &["terminal", "config", "telemetry"];

/// Single-use token nonces remembered until they expire (challenges, tunnel and service URLs).
const REPLAY_CAPACITY: usize = 200_000;

/// The shared state of the cloud-connection endpoint on this node.
pub struct Cloud {
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) handshaker: Handshaker,
    replay: Mutex<ReplaySet>,
    pub(crate) registry: registry::Registry,
    pub(crate) telemetry: telemetry::Histories,
    pub(crate) tickets: terminal::Tickets,
    pub(crate) limiter: ratelimit::AuthLimiter,
    epoch: tokio::time::Instant,
    /// Graceful shutdown: every tunnel closes with 4009.
    pub(crate) shutdown: CancellationToken,
    pub(crate) tracker: TaskTracker,
    sockets: Arc<Semaphore>,
}

impl Cloud {
    /// The state for a listener bound at `bound` (used for the default public host).
    pub fn new(
        config: Arc<ServerConfig>,
        store: Arc<dyn Store>,
        bound: SocketAddr,
        shutdown: CancellationToken,
        tracker: TaskTracker,
    ) -> Arc<Cloud> {
        let c = &config.cloud;
        let scheme = if c.tls.mode == TlsMode::Off {
            "ws"
        } else {
            "wss"
        };
        let host = c
            .public_host
            .clone()
            .unwrap_or_else(|| format!("localhost:{}", bound.port()));
        let mut hs = HandshakeConfig::new(format!("{scheme}://{host}"));
        hs.keepalive_min = 30;
        hs.keepalive_max = 3600;
        let url_ttl = u32::try_from(c.url_lifetime.0.as_secs()).unwrap_or(60);
        hs.tunnel_ttl = url_ttl;
        hs.subconn_ttl = url_ttl;
        let secret = c
            .token_secret
            .as_deref()
            .and_then(|h| hex::decode(h).ok())
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .unwrap_or_else(|| {
                let mut s = [0u8; 32];
                rand::rng().fill_bytes(&mut s);
                s
            });
        let signer = TokenSigner::new(TokenKey { id: 1, secret });
        Arc::new(Cloud {
            handshaker: Handshaker::new(hs, signer),
            replay: Mutex::new(ReplaySet::new(REPLAY_CAPACITY)),
            registry: registry::Registry::default(),
            telemetry: telemetry::Histories::new(
                c.telemetry_history,
                usize::try_from(c.telemetry_history_bytes.0).unwrap_or(usize::MAX),
            ),
            tickets: terminal::Tickets::default(),
            limiter: ratelimit::AuthLimiter::new(c.auth_per_address, c.auth_per_serial),
            epoch: tokio::time::Instant::now(),
            sockets: Arc::new(Semaphore::new(c.max_websockets)),
            shutdown,
            tracker,
            store,
            config,
        })
    }

    /// Monotonic time since this node's cloud endpoint started: the `now` of the pure machines.
    pub(crate) fn mono(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// The instant at monotonic time `at`.
    pub(crate) fn instant(&self, at: Duration) -> tokio::time::Instant {
        self.epoch + at
    }

    /// Unix seconds (tokens, `server_time`).
    pub(crate) fn unix_secs() -> u64 {
        u64::try_from(clock::now().unix_millis() / 1000).unwrap_or(0)
    }

    pub(crate) fn nonce() -> [u8; 16] {
        let mut n = [0u8; 16];
        rand::rng().fill_bytes(&mut n);
        n
    }

    /// Runs `f` with the replay set.
    pub(crate) fn with_replay<T>(&self, f: impl FnOnce(&mut ReplaySet) -> T) -> T {
        let mut replay = self.replay.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut replay)
    }

    /// One WebSocket slot, or `None` when `cloud.max_websockets` are open.
    pub(crate) fn socket_slot(&self) -> Option<OwnedSemaphorePermit> {
        self.sockets.clone().try_acquire_owned().ok()
    }

    /// Per-tunnel rules for a negotiated keepalive.
    pub(crate) fn session_config(&self, keepalive: u32) -> SessionConfig {
        let c = &self.config.cloud;
        SessionConfig {
            keepalive: Duration::from_secs(u64::from(keepalive.max(1))),
            ping_interval: c.ping_interval.0,
            device_read_timeout: c.device_read_timeout.0,
            read_timeout: c.read_timeout.0,
            ..SessionConfig::default()
        }
    }

    /// Marks every device this node showed online as offline: the tunnels of a previous run
    /// are gone. Called once at start, before the listener accepts.
    pub async fn reset_presence(&self) -> Result<u64, tether_store::StoreError> {
        let n = self
            .store
            .cloud_reset_node(&self.config.cloud.node_id, clock::now())
            .await?;
        if n > 0 {
            tracing::info!(devices = n, "marked devices of the previous run offline");
        }
        Ok(n)
    }

    /// True if `serial` has a main tunnel on this node.
    pub fn is_connected(&self, serial: &str) -> bool {
        self.registry.tunnel(serial).is_some()
    }

    /// Main tunnels open on this node.
    pub fn tunnel_count(&self) -> usize {
        self.registry.tunnels()
    }

    /// Services with a live subconnection, as shown by the API.
    pub fn connected_services(&self, serial: &str) -> Vec<String> {
        self.registry.services(serial)
    }

    /// Closes the device's tunnel (and so its subconnections) with `code`, if it has one.
    pub fn close_tunnel(&self, serial: &str, code: tether_cloudlink::CloseCode) -> bool {
        self.registry
            .tunnel(serial)
            .is_some_and(|tx| tx.try_send(TunnelCmd::Close(code)).is_ok())
    }

    /// Sends `reset_tunnel` on the device's tunnel; the tunnel closes with 4010 if the device
    /// has not gone by itself within 10 s.
    pub fn reset_tunnel(&self, serial: &str) -> Result<(), ServiceError> {
        let tx = self
            .registry
            .tunnel(serial)
            .ok_or(ServiceError::NotConnected)?;
        tx.try_send(TunnelCmd::Reset)
            .map_err(|_| ServiceError::Busy)
    }

    /// Forgets what is kept in memory for a device removed from the inventory.
    pub fn forget(&self, serial: &str) {
        self.telemetry.forget(serial);
    }
}
