//! The CWMP listener: accepts TCP (and TLS) itself and serves each connection with hyper's
//! HTTP/1.1 `serve_connection` (keep-alive), so the ACS sees connection boundaries.
//!
//! * Bodies: at most `cwmp.max_body` (default 1 MiB). A larger `Content-Length` is answered
//!   413 before any of the body is read (and without `100 Continue`); a chunked body is cut at
//!   the limit while streaming. `Content-Encoding` gzip / deflate is decoded (bounded by the
//!   same limit); any other coding is 415 (HTTP-08). An empty body (Content-Length 0 or an
//!   empty chunked body, with or without Content-Type) is the empty POST (HTTP-03).
//!   `Expect: 100-continue` is answered by hyper when the body is first read (HTTP-09).
//! * Slow clients: 30 s to send the request headers, `cwmp.session_timeout` to send a body,
//!   10 s for the TLS handshake.
//! * Connection bound (`limits.max_connections`): past it, up to an eighth more connections
//!   (at least 64) are accepted in overflow mode, where only requests carrying the cookie of a
//!   live session are served and new sessions get 503 with Retry-After (HTTP-10); beyond that,
//!   sockets are closed at once.
//! * Shutdown: stop accepting; connections whose session is still running keep serving it
//!   until it ends or the grace period is over; idle ones close at once.
//!
//! Owns sockets and HTTP framing. Must not: interpret CWMP (that is `session.rs`).

use std::borrow::Cow;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tether_cwmp::compression::{CompressionError, decode_content_encoding, parse_content_encoding};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::task::TaskTracker;

use super::Acs;
use super::session::{self, Answer, ConnInfo, SessionRequest};
use super::sessions::{COOKIE, find_cookie};
use crate::listen::Shutdown;

/// Time allowed for the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Retry-After of a 503 for a new session past the connection bound.
const OVERLOAD_RETRY_AFTER: &str = "60";

/// Accepts connections until `shutdown.graceful`.
pub async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    acs: Arc<Acs>,
    shutdown: Shutdown,
    tracker: TaskTracker,
) {
    let max = acs.app.config.limits.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(max));
    let overflow = Arc::new(Semaphore::new((max / 8).max(64)));
    loop {
        let (tcp, peer) = tokio::select! {
            () = shutdown.graceful.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "CWMP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let (permit, is_overflow) = match slots.clone().try_acquire_owned() {
            Ok(p) => (p, false),
            Err(_) => match overflow.clone().try_acquire_owned() {
                Ok(p) => (p, true),
                Err(_) => {
                    metrics::counter!("tether_cwmp_connections_refused_total").increment(1);
                    drop(tcp);
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let conn = Arc::new(ConnInfo {
            peer,
            tls: tls.is_some(),
            overflow: is_overflow,
            session: Mutex::new(None),
        });
        let acs = acs.clone();
        let shutdown = shutdown.clone();
        let tls = tls.clone();
        tracker.spawn(async move {
            let _permit = permit;
            match tls {
                None => serve(tcp, conn, acs, shutdown).await,
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp));
                    let stream = tokio::select! {
                        () = shutdown.hard.cancelled() => return,
                        r = handshake => r,
                    };
                    match stream {
                        Ok(Ok(stream)) => serve(stream, conn, acs, shutdown).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

async fn serve<S>(io: S, conn: Arc<ConnInfo>, acs: Arc<Acs>, shutdown: Shutdown)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let peer: SocketAddr = conn.peer;
    let service = {
        let conn = conn.clone();
        let acs = acs.clone();
        hyper::service::service_fn(move |request: Request<Incoming>| {
            let acs = acs.clone();
            let conn = conn.clone();
            async move { Ok::<_, Infallible>(handle_http(acs, conn, request).await) }
        })
    };
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "CWMP connection ended with an error");
            }
            return;
        }
        () = shutdown.graceful.cancelled() => {}
    }
    // Shutting down: let a running session finish on this connection, then close.
    loop {
        let live = conn
            .last_session()
            .is_some_and(|id| acs.sessions.get(&id).is_some());
        if !live {
            connection.as_mut().graceful_shutdown();
            break;
        }
        tokio::select! {
            _ = connection.as_mut() => return,
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
            () = shutdown.hard.cancelled() => return,
        }
    }
    tokio::select! {
        _ = connection.as_mut() => {}
        () = shutdown.hard.cancelled() => {}
    }
}

fn plain(status: StatusCode, reason: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(format!("{reason}\n"))));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// An error answered before the body was read: the connection cannot be reused.
fn closing(status: StatusCode, reason: &str) -> Response<Full<Bytes>> {
    let mut r = plain(status, reason);
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

enum BodyError {
    TooLarge,
    Timeout,
    Broken(String),
}

async fn read_body(body: Incoming, limit: usize, timeout: Duration) -> Result<Vec<u8>, BodyError> {
    let read = async {
        let mut body = body;
        let mut out = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| BodyError::Broken(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                if out.len() + data.len() > limit {
                    return Err(BodyError::TooLarge);
                }
                out.extend_from_slice(&data);
            }
        }
        Ok(out)
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or(Err(BodyError::Timeout))
}

fn header_str(request: &Request<Incoming>, name: header::HeaderName) -> Option<String> {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn handle_http(
    acs: Arc<Acs>,
    conn: Arc<ConnInfo>,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    if request.method() != Method::POST {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "CWMP messages are POSTed");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return r;
    }
    let cookie = find_cookie(
        request
            .headers()
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    );
    let continuing = cookie
        .as_deref()
        .is_some_and(|c| acs.sessions.get(c).is_some());
    if conn.overflow && !continuing {
        let mut r = closing(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many connections; retry later",
        );
        r.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(OVERLOAD_RETRY_AFTER),
        );
        return r;
    }
    let limit = usize::try_from(acs.app.config.cwmp.max_body.0).unwrap_or(usize::MAX);
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return closing(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the body exceeds {limit} bytes"),
        );
    }
    let encoding = header_str(&request, header::CONTENT_ENCODING);
    if let Err(CompressionError::Unsupported(c)) = parse_content_encoding(encoding.as_deref()) {
        return closing(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &format!("unsupported Content-Encoding {c:?} (gzip, deflate and identity are)"),
        );
    }
    let content_type = header_str(&request, header::CONTENT_TYPE);
    let authorization = header_str(&request, header::AUTHORIZATION);
    let uri = request.uri().to_string();
    let raw = match read_body(
        request.into_body(),
        limit,
        acs.app.config.cwmp.session_timeout.0,
    )
    .await
    {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            return closing(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the body exceeds {limit} bytes"),
            );
        }
        Err(BodyError::Timeout) => {
            return closing(StatusCode::REQUEST_TIMEOUT, "the body was not sent in time");
        }
        Err(BodyError::Broken(e)) => return closing(StatusCode::BAD_REQUEST, &e),
    };
    let body = if raw.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match decode_content_encoding(encoding.as_deref(), &raw, limit) {
            // Identity: the bytes as read, not a copy (a session holds its request body until
            // its store writes are done; with a thousand discoveries in flight that counts).
            Ok(Cow::Borrowed(_)) => Some(raw),
            Ok(Cow::Owned(b)) => Some(b),
            Err(CompressionError::TooLarge { limit }) => {
                return plain(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!("the decoded body exceeds {limit} bytes"),
                );
            }
            Err(CompressionError::Unsupported(c)) => {
                return plain(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    &format!("unsupported Content-Encoding {c:?}"),
                );
            }
            Err(e) => return plain(StatusCode::BAD_REQUEST, &e.to_string()),
        }
    };
    let req = SessionRequest {
        cookie,
        body,
        content_type,
        authorization,
        uri,
        conn,
    };
    // On its own task: a client that disconnects mid-request cannot cut a store write short.
    // Boxed: the session's state machine is large, and tokio would otherwise copy all of it
    // into the task and again when it finishes (measured: BENCHMARKS.md, "Fifth round").
    let handling = Box::pin(session::handle(acs.clone(), req));
    let answer = match acs.tracker.spawn(handling).await {
        Ok(a) => a,
        Err(e) => Answer::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    to_response(answer)
}

fn to_response(answer: Answer) -> Response<Full<Bytes>> {
    match answer {
        Answer::Cwmp { body: None, .. } => {
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = StatusCode::NO_CONTENT;
            r
        }
        Answer::Cwmp {
            body: Some(text),
            cookie,
        } => {
            let mut r = Response::new(Full::new(Bytes::from(text)));
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/xml; charset=\"utf-8\""),
            );
            if let Some(c) = cookie
                && let Ok(v) = HeaderValue::from_str(&format!("{COOKIE}={c}; Path=/; HttpOnly"))
            {
                h.insert(header::SET_COOKIE, v);
            }
            r
        }
        Answer::Http {
            status,
            reason,
            headers,
        } => {
            let mut r = plain(status, &reason);
            for (name, value) in headers {
                if let Ok(v) = HeaderValue::from_str(&value) {
                    r.headers_mut().append(name, v);
                }
            }
            r
        }
    }
}
