//! The CWMP (TR-069) endpoint: the ACS side of every CPE session, and the connection-request
//! client the REST API uses to wake a device.
//!
//! ```text
//!  TCP/TLS ──▶ endpoint.rs  one hyper `serve_connection` per socket (HTTP/1.1, keep-alive),
//!               │           body limits, Content-Encoding, 503 past the connection bound,
//!               │           graceful shutdown that lets running sessions finish
//!               ▼
//!             session.rs   one request = one step of a `tether_cwmp::session::AcsSession`;
//!               │          sessions keyed by cookie and device id (sessions.rs), never by socket
//!               ├─▶ auth.rs      Digest / Basic CPE authentication, failed-auth limiter
//!               ├─▶ inform.rs    the Inform, stored durably before the InformResponse
//!               ├─▶ provision.rs connection-request credentials, set before any task
//!               └─▶ dispatch.rs  queued tasks → RPCs, results → store + TaskHub
//!  API ──────▶ connection_request.rs  (the `AcsControl` the API calls)
//! ```
//!
//! Owns: sockets of the CWMP listener, the session registry, CPE authentication, the
//! connection-request client. Must not: decide what the API shows, or encode CWMP by hand (the
//! `tether-cwmp` codec and session machine do that).

pub mod auth;
pub mod connection_request;
pub mod dispatch;
pub mod endpoint;
pub mod inform;
pub mod provision;
pub mod session;
pub mod sessions;
pub mod task_result;

use std::sync::Arc;
use std::time::Duration;

use tether_cwmp::session::{AcsConfig, Millis};
use tether_store::Store;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::task::TaskTracker;

use crate::app::{AcsControl, App};
use crate::config::ServerConfig;
use crate::listen::Shutdown;

pub use connection_request::ConnectionRequester;

/// The connection-request side the API calls. Built before [`App`], which holds it.
pub fn control(config: &ServerConfig, store: &Arc<dyn Store>) -> Arc<dyn AcsControl> {
    Arc::new(ConnectionRequester::new(
        &config.cwmp.connection_request,
        store.clone(),
    ))
}

/// Serves the CWMP endpoint on `listener` until `shutdown.graceful`; connections and the
/// session reaper run on `tracker`, so the caller's grace period covers running sessions.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Arc<App>,
    shutdown: Shutdown,
    tracker: TaskTracker,
) {
    let acs = Arc::new(Acs::new(app, &shutdown, tracker.clone()));
    tracker.spawn(session::reap(acs.clone(), shutdown.clone()));
    endpoint::accept_loop(listener, tls, acs, shutdown, tracker).await;
}

/// Everything the ACS side shares between connections.
pub struct Acs {
    pub app: Arc<App>,
    pub sessions: sessions::Registry,
    pub auth: auth::CpeAuth,
    /// Settings of every session machine.
    pub machine: AcsConfig,
    /// Cancelled when shutdown begins: new sessions are refused from then on.
    pub closing: tokio_util::sync::CancellationToken,
    /// Where request handlers run, so a dropped connection does not cut a store write.
    pub tracker: TaskTracker,
    origin: tokio::time::Instant,
}

impl Acs {
    pub fn new(app: Arc<App>, shutdown: &Shutdown, tracker: TaskTracker) -> Self {
        let cwmp = &app.config.cwmp;
        let machine = AcsConfig {
            inactivity_timeout: cwmp.session_timeout.0,
            session_limit: cwmp.session_max.0,
            ..AcsConfig::default()
        };
        Acs {
            sessions: sessions::Registry::new(app.config.limits.max_connections.max(16)),
            auth: auth::CpeAuth::new(&app.config),
            machine,
            closing: shutdown.graceful.clone(),
            tracker,
            origin: tokio::time::Instant::now(),
            app,
        }
    }

    /// The session machines' clock: milliseconds since this endpoint started.
    pub fn millis(&self) -> Millis {
        Millis(u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    /// How long until a machine deadline, from now.
    pub fn until(&self, deadline: Millis) -> Duration {
        deadline.saturating_since(self.millis())
    }
}
