//! # tether-server: the cloud side of Tether
//!
//! One process serving the CWMP (TR-069) endpoint and the REST API, on one store (SQLite by
//! default, PostgreSQL for several nodes), configured by one typed [`ServerConfig`].
//!
//! Map: [`config`] (the configuration and its layering), [`tls`] (rustls from files or a kept
//! self-signed certificate), [`tls_stream`] (TLS connections that keep no buffer while idle),
//! [`listen`] (accept loop and graceful shutdown), [`app`] (shared
//! state and the [`AcsControl`](app::AcsControl) seam), [`task_spec`] (validated task
//! payloads), [`task_hub`] (waiting for task outcomes), [`api`] (REST routes), [`acs`] (the
//! CWMP endpoint), [`cloud`] (the cloud-connection endpoint: device tunnels and services),
//! [`bootstrap`] (the first admin).
//!
//! Start with [`run`] (the binary) or [`Server::start`] (tests: bind port 0, get the addresses).

pub mod acs;
pub mod api;
pub mod app;
pub mod bootstrap;
pub mod clock;
pub mod cloud;
pub mod config;
pub mod listen;
pub mod task_hub;
pub mod task_spec;
pub mod tls;
pub mod tls_stream;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tether_store::{RecoveryPolicy, RecoveryScope, Store, StoreError};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

pub use app::{AcsControl, App, ConnectionRequestError};
pub use bootstrap::AdminBootstrap;
pub use config::{ServerArgs, ServerConfig};
use listen::Shutdown;
pub use task_hub::TaskHub;
pub use task_spec::TaskSpec;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

/// Runs the server until `shutdown` completes (the binary passes SIGTERM / Ctrl-C), then shuts
/// down gracefully: stop accepting, let in-flight requests finish within `shutdown_grace`, cut
/// the rest, close the store.
pub async fn run(
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let handle = Server::start(config).await?;
    tracing::info!(
        api = %handle.api_addr,
        cwmp = %handle.cwmp_addr,
        cloud = %handle.cloud_addr,
        "tether server running"
    );
    shutdown.await;
    tracing::info!("shutting down");
    handle.shutdown().await
}

/// Resolves on SIGTERM or Ctrl-C: the `shutdown` argument the binary gives [`run`].
pub async fn termination_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// Starting a server in-process.
pub struct Server;

/// A running server.
pub struct ServerHandle {
    /// Where the REST API listens (the bound address: useful with port 0).
    pub api_addr: SocketAddr,
    /// Where the CWMP endpoint listens.
    pub cwmp_addr: SocketAddr,
    /// Where the cloud-connection endpoint listens (devices' tunnels; `cloud.listen`).
    pub cloud_addr: SocketAddr,
    /// The admin created at this start, if any.
    pub admin_bootstrap: Option<AdminBootstrap>,
    app: Arc<App>,
    shutdown: Shutdown,
    tracker: TaskTracker,
    listeners: Vec<JoinHandle<()>>,
}

impl Server {
    /// Opens the store (running migrations), recovers tasks interrupted by a previous crash,
    /// bootstraps the admin, builds TLS, binds both listeners and starts serving.
    pub async fn start(config: ServerConfig) -> Result<ServerHandle, ServerError> {
        config.validate()?;
        let config = Arc::new(config);
        let store = tether_store::open(&config.database_url()).await?;
        match Self::prepare(&config, &store).await {
            Ok(handle) => Ok(handle),
            Err(e) => {
                let _ = store.close().await;
                Err(e)
            }
        }
    }

    async fn prepare(
        config: &Arc<ServerConfig>,
        store: &Arc<dyn Store>,
    ) -> Result<ServerHandle, ServerError> {
        let started = clock::now();
        // A single node: anything dispatched before this start belongs to a dead session.
        let recovered = store
            .recover_interrupted(
                &RecoveryScope::DispatchedBefore(started),
                &RecoveryPolicy {
                    requeue_kinds: TaskSpec::requeue_kinds(),
                },
                started,
            )
            .await?;
        if recovered.requeued + recovered.faulted > 0 {
            tracing::warn!(
                requeued = recovered.requeued,
                faulted = recovered.faulted,
                "recovered tasks interrupted by the previous run"
            );
        }
        let admin_bootstrap = bootstrap::bootstrap_admin(&**store, &config.admin).await?;

        let api_tls = tls::acceptor(&config.api.tls, &config.data_dir)?;
        let cwmp_tls = tls::acceptor(&config.cwmp.tls, &config.data_dir)?;
        let cloud_tls = tls::acceptor(&config.cloud.tls, &config.data_dir)?;
        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| ServerError::Bind { addr, source })
        };
        let api_listener = bind(config.api.listen).await?;
        let cwmp_listener = bind(config.cwmp.listen).await?;
        let cloud_listener = bind(config.cloud.listen).await?;
        let local = |l: &TcpListener, addr| {
            l.local_addr()
                .map_err(|source| ServerError::Bind { addr, source })
        };
        let api_addr = local(&api_listener, config.api.listen)?;
        let cwmp_addr = local(&cwmp_listener, config.cwmp.listen)?;
        let cloud_addr = local(&cloud_listener, config.cloud.listen)?;

        let shutdown = Shutdown::default();
        let tracker = TaskTracker::new();
        let cloud = cloud::Cloud::new(
            config.clone(),
            store.clone(),
            cloud_addr,
            shutdown.graceful.clone(),
            tracker.clone(),
        );
        // No device is online until it reconnects to this run.
        cloud.reset_presence().await?;
        let hub = Arc::new(TaskHub::new(store.clone(), config.limits.max_waiters));
        let app = Arc::new(App {
            config: config.clone(),
            store: store.clone(),
            hub,
            acs: acs::control(config, store),
            cloud: cloud.clone(),
        });
        let api = tokio::spawn(listen::serve_http(
            api_listener,
            api_tls,
            api::router(app.clone()),
            shutdown.clone(),
            tracker.clone(),
            config.limits.max_connections,
        ));
        let cwmp = tokio::spawn(acs::serve(
            cwmp_listener,
            cwmp_tls,
            app.clone(),
            shutdown.clone(),
            tracker.clone(),
        ));
        let cloud_listener = tokio::spawn(listen::serve_http(
            cloud_listener,
            cloud_tls,
            cloud::http::router(cloud),
            shutdown.clone(),
            tracker.clone(),
            config.limits.max_connections,
        ));
        let sweeper = tokio::spawn(sweep_expired(app.clone(), shutdown.graceful.clone()));
        Ok(ServerHandle {
            api_addr,
            cwmp_addr,
            cloud_addr,
            admin_bootstrap,
            app,
            shutdown,
            tracker,
            listeners: vec![api, cwmp, cloud_listener, sweeper],
        })
    }
}

async fn sweep_expired(app: Arc<App>, stop: tokio_util::sync::CancellationToken) {
    let every = app
        .config
        .tasks
        .expiry_sweep_interval
        .0
        .max(std::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        match app.store.expire_tasks(clock::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "expired pending tasks"),
            Err(e) => tracing::warn!(error = %e, "task expiry sweep failed"),
        }
    }
}

impl ServerHandle {
    /// The shared state (store, hub, config), e.g. for an embedding ACS or tests.
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Stops accepting, waits up to `shutdown_grace` for in-flight requests, cuts the rest and
    /// closes the store.
    pub async fn shutdown(self) -> Result<(), ServerError> {
        self.shutdown.graceful.cancel();
        for listener in self.listeners {
            let _ = listener.await;
        }
        self.tracker.close();
        let grace = self.app.config.shutdown_grace.0;
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("grace period over; cutting the remaining connections");
            self.shutdown.hard.cancel();
            self.tracker.wait().await;
        }
        self.app.store.close().await?;
        Ok(())
    }
}
