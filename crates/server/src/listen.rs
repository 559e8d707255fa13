//! Accepting connections and serving HTTP/1.1 on them, with optional TLS, a connection bound,
//! and a two-step shutdown: on `graceful`, stop accepting and let each connection finish the
//! request in flight (idle keep-alive connections close at once); on `hard`, drop whatever is
//! still open.
//!
//! TLS connections run on [`tls_stream`] (the acceptor's rustls configuration, no buffer kept
//! while a connection is idle): the API's and the cloud listener's, where devices keep four
//! WebSockets open each.
//!
//! Owns sockets and connection tasks; knows nothing of routes (it serves any axum `Router`).
//! The CWMP endpoint may use it or accept sockets itself.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

use crate::tls_stream;

/// Time allowed for a client to complete the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for a client to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The peer address of the connection a request came on, as a request extension.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// The two shutdown signals every connection watches.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    /// Stop accepting; finish in-flight requests.
    pub graceful: CancellationToken,
    /// Cut every connection now.
    pub hard: CancellationToken,
}

/// Serves `router` on `listener` until `shutdown.graceful`; connection tasks are spawned on
/// `tracker` so the caller can wait for them.
pub async fn serve_http(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    shutdown: Shutdown,
    tracker: TaskTracker,
    max_connections: usize,
) {
    let slots = Arc::new(Semaphore::new(max_connections.max(1)));
    loop {
        let permit = tokio::select! {
            () = shutdown.graceful.cancelled() => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (tcp, peer) = tokio::select! {
            () = shutdown.graceful.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let router = router.clone();
        let shutdown = shutdown.clone();
        let tls = tls.clone();
        tracker.spawn(async move {
            let _permit = permit;
            match tls {
                None => serve_connection(tcp, peer, router, shutdown).await,
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(
                        TLS_HANDSHAKE_TIMEOUT,
                        tls_stream::accept(acceptor.config().clone(), tcp),
                    );
                    let stream = tokio::select! {
                        () = shutdown.hard.cancelled() => return,
                        r = handshake => r,
                    };
                    match stream {
                        Ok(Ok(stream)) => serve_connection(stream, peer, router, shutdown).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

async fn serve_connection<S>(io: S, peer: SocketAddr, router: Router, shutdown: Shutdown)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
        request.extensions_mut().insert(PeerAddr(peer));
        router.clone().oneshot(request)
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(io), service)
        // WebSocket routes (cloud tunnels, operator terminals) take the connection over.
        .with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        }
        () = shutdown.graceful.cancelled() => {
            connection.as_mut().graceful_shutdown();
            tokio::select! {
                _ = connection.as_mut() => {}
                () = shutdown.hard.cancelled() => {}
            }
        }
    }
}
