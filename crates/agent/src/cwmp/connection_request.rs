//! ACS-initiated sessions: the HTTP connection-request listener (TR-069 §3.2.2, CR-01..08)
//! and UDP connection requests (Annex G, UCR-01..03) on the same port number.
//!
//! Owns [`CrShared`] (credentials, the Digest verifier, the rate limit and the UDP validator)
//! and [`CrListener`] (the bound sockets and their tasks). The driver binds the listener while
//! CWMP is enabled and `HTTPConnectionRequestEnable` is true, and drops it otherwise (CR-08).
//!
//! HTTP: only `GET` on the connection-request path; Digest authentication against
//! ConnectionRequestUsername/Password with stateless nonces (CR-03); a valid request gets
//! `200 OK` with an empty body, written and flushed *before* the driver is told to start a
//! session (CR-04); more than [`RATE_BURST`] accepted requests in a burst (refilled one per
//! [`RATE_REFILL`]) get `503` without `Retry-After` (CR-05). Requests arriving while a session
//! runs are accepted and make one more session after it (CR-06); the driver starts the session
//! at once (CR-07). Requests are read by hand (bounded head, body ignored, CR-02) so that the
//! order "answer, then start the session" is exact.
//!
//! UDP: each datagram goes through [`UdpRequestValidator`] (signature, replay, timestamp,
//! rate); anything it refuses is dropped silently, nothing is ever sent back (UCR-03).
//! STUN (UCR-04) is not implemented: `UDPConnectionRequestAddress` is the local address.
//!
//! Must not touch: the session, the event queue (a [`Wake`] goes to the driver).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::RngCore;
use tether_cwmp::digest::{DigestVerifier, DigestVerifierConfig, NONCE_RANDOM_LEN};
use tether_cwmp::udp_connection_request::{
    UdpRequestValidator, UdpValidatorConfig, ValidatorClock,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Wake;
use crate::context::now_unix;

/// Realm of the connection-request Digest challenge.
pub const REALM: &str = "tether-cpe";
/// Accepted connection requests in a burst.
pub const RATE_BURST: u32 = 3;
/// Time for one more accepted request to be allowed.
pub const RATE_REFILL: Duration = Duration::from_secs(2);
/// Largest request head read.
const MAX_HEAD: usize = 8 * 1024;
/// Requests served on one connection.
const MAX_REQUESTS_PER_CONNECTION: usize = 8;
/// Idle time before a connection is closed.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once.
const MAX_CONNECTIONS: usize = 16;

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// State shared by the listener tasks and the driver.
pub struct CrShared {
    path: String,
    credentials: Mutex<(String, String)>,
    verifier: Mutex<DigestVerifier>,
    bucket: Mutex<Bucket>,
    udp: Mutex<UdpRequestValidator>,
    wake: mpsc::Sender<Wake>,
    origin: Instant,
    connections: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for CrShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrShared")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl CrShared {
    /// Shared state for requests on `path` (starting with `/`), waking the driver via `wake`.
    pub fn new(path: String, wake: mpsc::Sender<Wake>) -> Arc<CrShared> {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        let verifier = DigestVerifier::new(&secret, DigestVerifierConfig::new(REALM))
            .expect("a 32-byte secret and a plain realm are accepted");
        Arc::new(CrShared {
            path,
            credentials: Mutex::new((String::new(), String::new())),
            verifier: Mutex::new(verifier),
            bucket: Mutex::new(Bucket {
                tokens: f64::from(RATE_BURST),
                at: Instant::now(),
            }),
            udp: Mutex::new(UdpRequestValidator::new(UdpValidatorConfig::new("", ""))),
            wake,
            origin: Instant::now(),
            connections: Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS)),
        })
    }

    /// The connection-request path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Sets ConnectionRequestUsername/Password (empty when unset).
    pub fn set_credentials(&self, username: &str, password: &str) {
        let mut creds = self.credentials.lock().unwrap_or_else(|p| p.into_inner());
        if creds.0 != username || creds.1 != password {
            *creds = (username.to_owned(), password.to_owned());
            self.udp
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .set_credentials(username, password);
        }
    }

    fn take_token(&self) -> bool {
        let mut b = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let refill = now.duration_since(b.at).as_secs_f64() / RATE_REFILL.as_secs_f64();
        b.tokens = (b.tokens + refill).min(f64::from(RATE_BURST));
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn challenge(&self, stale: bool) -> String {
        let mut random = [0u8; NONCE_RANDOM_LEN];
        rand::rng().fill_bytes(&mut random);
        self.verifier
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .challenge_header(unix_u64(), &random, stale)
    }

    /// The answer to one request head, and whether a session must follow.
    fn decide(&self, head: &Head) -> (String, bool) {
        if head.method != "GET" {
            return (status_line(405, "Method Not Allowed", None), false);
        }
        let path = head.target.split('?').next().unwrap_or("");
        if path != self.path {
            return (status_line(404, "Not Found", None), false);
        }
        let Some(auth) = head.header("authorization") else {
            let challenge = self.challenge(false);
            return (status_line(401, "Unauthorized", Some(&challenge)), false);
        };
        let (user, pass) = self
            .credentials
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let verdict = self
            .verifier
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .verify(
                auth,
                "GET",
                &head.target,
                |u| (u == user).then(|| pass.clone()),
                unix_u64(),
            );
        match verdict {
            Ok(_) if self.take_token() => (status_line(200, "OK", None), true),
            Ok(_) => (status_line(503, "Service Unavailable", None), false),
            Err(e) => {
                tracing::info!(error = %e, "connection request refused");
                let challenge = self.challenge(e.is_stale());
                (status_line(401, "Unauthorized", Some(&challenge)), false)
            }
        }
    }

    fn wake(&self) {
        if self.wake.try_send(Wake::ConnectionRequest).is_err() {
            tracing::debug!("driver busy; connection request already pending");
        }
    }
}

fn unix_u64() -> u64 {
    u64::try_from(now_unix()).unwrap_or(0)
}

fn status_line(code: u16, reason: &str, challenge: Option<&str>) -> String {
    let mut out = format!("HTTP/1.1 {code} {reason}\r\nContent-Length: 0\r\n");
    if let Some(c) = challenge {
        out.push_str("WWW-Authenticate: ");
        out.push_str(c);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out
}

/// A parsed request head.
#[derive(Debug)]
struct Head {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn parse(text: &str) -> Option<Head> {
        let mut lines = text.split("\r\n");
        let mut first = lines.next()?.split(' ');
        let method = first.next()?.to_owned();
        let target = first.next()?.to_owned();
        if !first.next()?.starts_with("HTTP/1.") {
            return None;
        }
        let mut headers = Vec::new();
        for line in lines {
            if line.is_empty() {
                continue;
            }
            let (name, value) = line.split_once(':')?;
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
        Some(Head {
            method,
            target,
            headers,
        })
    }
}

/// Reads one request head from `stream`, keeping extra bytes in `buf`. `None` at a clean end.
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Option<Head>> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let text = String::from_utf8_lossy(&buf[..end]).into_owned();
            buf.drain(..end + 4);
            let head = Head::parse(&text)
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "bad head"))?;
            // CR-02: a body is ignored (read and dropped, bounded).
            let length: usize = head
                .header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if length > MAX_HEAD {
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "body"));
            }
            while buf.len() < length {
                let mut chunk = [0u8; 1024];
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Ok(None);
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            buf.drain(..length);
            return Ok(Some(head));
        }
        if buf.len() > MAX_HEAD {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "head too large",
            ));
        }
        let mut chunk = [0u8; 1024];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn serve_connection(mut stream: TcpStream, shared: Arc<CrShared>) {
    let mut buf = Vec::new();
    for _ in 0..MAX_REQUESTS_PER_CONNECTION {
        let head = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream, &mut buf)).await
        {
            Ok(Ok(Some(head))) => head,
            Ok(Err(_)) => {
                let _ = stream
                    .write_all(status_line(400, "Bad Request", None).as_bytes())
                    .await;
                return;
            }
            _ => return,
        };
        let (answer, start_session) = shared.decide(&head);
        if stream.write_all(answer.as_bytes()).await.is_err() || stream.flush().await.is_err() {
            return;
        }
        if start_session {
            // CR-04: the answer is on the wire; only now may the session start.
            shared.wake();
        }
        let close = head
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        if close {
            return;
        }
    }
}

async fn serve_udp(socket: UdpSocket, shared: Arc<CrShared>, stop: CancellationToken) {
    let mut buf = vec![0u8; 2048];
    loop {
        let received = tokio::select! {
            _ = stop.cancelled() => return,
            r = socket.recv_from(&mut buf) => r,
        };
        let Ok((n, from)) = received else { continue };
        let clock = ValidatorClock {
            monotonic: shared.origin.elapsed(),
            unix_secs: Some(unix_u64()),
        };
        let verdict = shared
            .udp
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .validate(&buf[..n], clock);
        match verdict {
            Ok(_) => shared.wake(),
            Err(reason) => tracing::info!(%from, %reason, "UDP connection request dropped"),
        }
    }
}

async fn serve_tcp(
    listener: TcpListener,
    shared: Arc<CrShared>,
    stop: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => return,
            a = listener.accept() => a,
        };
        let Ok((stream, _)) = accepted else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(permit) = Arc::clone(&shared.connections).try_acquire_owned() else {
            continue;
        };
        let shared = Arc::clone(&shared);
        let stop = stop.clone();
        tracker.spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = serve_connection(stream, shared) => {}
            }
            drop(permit);
        });
    }
}

/// The bound listener; dropping it (or [`CrListener::close`]) stops serving.
#[derive(Debug)]
pub struct CrListener {
    /// The bound TCP (and UDP) port.
    pub port: u16,
    stop: CancellationToken,
}

impl CrListener {
    /// Binds TCP and UDP on `address:port` (port 0: a free port, the same number for both)
    /// and starts serving on `tracker`, stopping with `parent`.
    pub async fn bind(
        address: IpAddr,
        port: u16,
        shared: Arc<CrShared>,
        parent: &CancellationToken,
        tracker: &TaskTracker,
    ) -> std::io::Result<CrListener> {
        let mut last_err = None;
        for _ in 0..8 {
            let tcp = match TcpListener::bind(SocketAddr::new(address, port)).await {
                Ok(l) => l,
                Err(e) => return Err(e),
            };
            let bound = tcp.local_addr()?.port();
            match UdpSocket::bind(SocketAddr::new(address, bound)).await {
                Ok(udp) => {
                    let stop = parent.child_token();
                    tracker.spawn(serve_tcp(
                        tcp,
                        Arc::clone(&shared),
                        stop.clone(),
                        tracker.clone(),
                    ));
                    tracker.spawn(serve_udp(udp, shared, stop.clone()));
                    return Ok(CrListener { port: bound, stop });
                }
                Err(e) if port == 0 => last_err = Some(e),
                Err(e) => {
                    tracing::warn!(error = %e, port, "UDP connection requests unavailable");
                    let stop = parent.child_token();
                    tracker.spawn(serve_tcp(tcp, shared, stop.clone(), tracker.clone()));
                    return Ok(CrListener { port: bound, stop });
                }
            }
        }
        Err(last_err.unwrap_or_else(|| std::io::Error::other("no common free port")))
    }

    /// Stops serving.
    pub fn close(&self) {
        self.stop.cancel();
    }
}

impl Drop for CrListener {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_parse_and_unauthenticated_requests_are_challenged() {
        let head =
            Head::parse("GET /cr/x HTTP/1.1\r\nHost: a\r\nAuthorization: Digest x=1").unwrap();
        assert_eq!(head.target, "/cr/x");
        assert_eq!(head.header("AUTHORIZATION"), Some("Digest x=1"));
        assert!(Head::parse("GET /x SIP/2.0").is_none());
        let (tx, _rx) = mpsc::channel(1);
        let shared = CrShared::new("/cr/x".into(), tx);
        let plain = Head::parse("GET /cr/x HTTP/1.1\r\nHost: a").unwrap();
        let (answer, go) = shared.decide(&plain);
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
        assert!(answer.contains("WWW-Authenticate: Digest"));
        assert!(!go);
        let other = Head::parse("GET /elsewhere HTTP/1.1\r\n").unwrap();
        assert!(shared.decide(&other).0.starts_with("HTTP/1.1 404"));
        let post = Head::parse("POST /cr/x HTTP/1.1\r\n").unwrap();
        assert!(shared.decide(&post).0.starts_with("HTTP/1.1 405"));
    }

    #[test]
    fn cr_05_the_rate_limit_refuses_a_burst() {
        let (tx, _rx) = mpsc::channel(1);
        let shared = CrShared::new("/".into(), tx);
        let taken = (0..10).filter(|_| shared.take_token()).count();
        assert_eq!(taken, RATE_BURST as usize);
    }
}
