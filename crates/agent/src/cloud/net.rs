//! The cloud connection's I/O primitives: name resolution, TCP + TLS, the HTTPS requests of
//! the handshake, and WebSocket upgrades.
//!
//! Owns: [`resolve`] (the `ip host` table first, then the system resolver), [`connect_tls`],
//! [`post`] (a minimal HTTP/1.1 client: bounded response, the connection kept alive between
//! the handshake's requests in a device's one-slot [`KeepAlive`], one retry on a new
//! connection when the server closed the idle one), [`WsUrl`] and [`open_websocket`]
//! (`wss://` upgrade with the protocol's headers and small buffers). Every failure maps to a
//! [`TransportFailure`] the state machine understands.
//!
//! Must not touch: protocol decisions (the `cloudlink` state machine's), timers beyond the
//! per-step deadline passed in.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tether_cloudlink::SUBPROTOCOL;
use tether_cloudlink::status::TransportFailure;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// The TLS stream every cloud connection runs on.
pub type Tls = TlsStream<TcpStream>;
/// A WebSocket over [`Tls`].
pub type Ws = WebSocketStream<Tls>;

/// Largest HTTP response header block accepted.
const MAX_HEADER: usize = 8 * 1024;
/// Largest HTTP response body accepted (protocol §4.3: 8 KiB, with room for framing).
const MAX_BODY: usize = 8 * 1024;
/// Largest chunked body on the wire: the body and room for chunk sizes and trailer fields.
const MAX_CHUNKED: usize = MAX_BODY + 2 * 1024;
/// Longest a kept-alive connection waits for the next request of the handshake before it is
/// no longer reused (the next request normally follows at once).
const MAX_IDLE: Duration = Duration::from_secs(5);

/// Resolves `name`: an address literal as is, then the `ip host` table (case-insensitive),
/// then the system resolver (IPv4 answers first).
pub async fn resolve(hosts: &BTreeMap<String, Ipv4Addr>, name: &str) -> io::Result<IpAddr> {
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(ip);
    }
    if let Some(ip) = hosts.get(&name.to_ascii_lowercase()) {
        return Ok(IpAddr::V4(*ip));
    }
    let mut answers: Vec<SocketAddr> = tokio::net::lookup_host((name, 0)).await?.collect();
    answers.sort_by_key(SocketAddr::is_ipv6);
    answers
        .first()
        .map(SocketAddr::ip)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))
}

/// Opens TCP to `address:port` (from `source` if given) and runs the TLS handshake for
/// `domain` (SNI and the name the certificate must carry), all within `timeout`.
pub async fn connect_tls(
    tls: &Arc<ClientConfig>,
    source: Option<IpAddr>,
    address: IpAddr,
    port: u16,
    domain: &str,
    timeout: Duration,
) -> Result<Tls, TransportFailure> {
    let name = server_name(domain)?;
    let tcp = tokio::time::timeout(timeout, connect_tcp(source, SocketAddr::new(address, port)))
        .await
        .map_err(|_| TransportFailure::Timeout)?
        .map_err(|_| TransportFailure::Connect)?;
    let _ = tcp.set_nodelay(true);
    let connector = TlsConnector::from(Arc::clone(tls));
    tokio::time::timeout(timeout, connector.connect(name, tcp))
        .await
        .map_err(|_| TransportFailure::Timeout)?
        .map_err(|e| {
            tracing::debug!(error = %e, domain, "TLS handshake with the cloud failed");
            TransportFailure::Tls
        })
}

/// TCP to `to`, bound first to `source` (any port) when one is configured.
async fn connect_tcp(source: Option<IpAddr>, to: SocketAddr) -> io::Result<TcpStream> {
    let Some(source) = source else {
        return TcpStream::connect(to).await;
    };
    let socket = match source {
        IpAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        IpAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    if let Err(e) = socket.bind(SocketAddr::new(source, 0)) {
        // A configuration mistake rather than a network failure: say which.
        tracing::warn!(%source, error = %e, "cannot open a cloud connection from cloud.source_address");
        return Err(e);
    }
    socket.connect(to).await
}

fn server_name(domain: &str) -> Result<ServerName<'static>, TransportFailure> {
    let bare = domain.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(ServerName::IpAddress(ip.into()));
    }
    ServerName::try_from(bare.to_owned()).map_err(|_| TransportFailure::Tls)
}

/// An HTTPS `POST` of a JSON body.
#[derive(Debug, Clone)]
pub struct Post<'a> {
    /// Host name (SNI, certificate, `Host`).
    pub domain: &'a str,
    /// Local address to connect from, if configured.
    pub source: Option<IpAddr>,
    /// Address to connect to.
    pub address: IpAddr,
    /// Port.
    pub port: u16,
    /// Request path.
    pub path: &'a str,
    /// `Authorization: Bearer` token.
    pub bearer: Option<&'a str>,
    /// JSON body.
    pub body: &'a str,
}

/// The server a kept-alive connection leads to; it carries requests for that server only.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    address: IpAddr,
    port: u16,
    domain: String,
}

impl Origin {
    fn of(req: &Post<'_>) -> Origin {
        Origin {
            address: req.address,
            port: req.port,
            domain: req.domain.to_owned(),
        }
    }
}

/// A connection waiting for the next request.
struct Idle {
    origin: Origin,
    stream: Tls,
    since: Instant,
}

/// One device's slot for the idle HTTPS connection between the requests of a handshake
/// (auth request, auth proof, register): at most one connection, reused only for the same
/// address, port and domain, and only within [`MAX_IDLE`] of its last answer. Clones share the
/// slot. The lock is held only to take or put, never across I/O.
#[derive(Clone, Default)]
pub struct KeepAlive(Arc<Mutex<Option<Idle>>>);

impl fmt::Debug for KeepAlive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeepAlive")
            .field("holding", &self.is_holding())
            .finish()
    }
}

impl KeepAlive {
    /// An empty slot.
    pub fn new() -> KeepAlive {
        KeepAlive::default()
    }

    /// Closes the waiting connection, if any.
    pub fn clear(&self) {
        let idle = self.slot().take();
        drop(idle);
    }

    /// Whether a connection is waiting.
    pub fn is_holding(&self) -> bool {
        self.slot().is_some()
    }

    fn slot(&self) -> MutexGuard<'_, Option<Idle>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The waiting connection if it leads to `origin` and is fresh enough; the slot is empty
    /// afterwards either way.
    fn take(&self, origin: &Origin) -> Option<Tls> {
        let idle = self.slot().take()?;
        (idle.origin == *origin && idle.since.elapsed() <= MAX_IDLE).then_some(idle.stream)
    }

    /// Parks `stream` (a connection already waiting is closed).
    fn put(&self, origin: Origin, stream: Tls) {
        let idle = Idle {
            origin,
            stream,
            since: Instant::now(),
        };
        let old = self.slot().replace(idle);
        drop(old);
    }
}

/// Sends `req` and returns the status and body of the answer (any status).
///
/// The request goes on `kept`'s connection when it leads to the same server, else on a new
/// one. A reused connection that ends before the first byte of an answer (the server closed
/// it while it was idle) is replaced by a new connection once; a new connection is never
/// retried. After a complete answer that leaves the connection open (framed by length or
/// chunks, no `Connection: close`), the connection waits in `kept` for the next request.
pub async fn post(
    tls: &Arc<ClientConfig>,
    req: &Post<'_>,
    timeout: Duration,
    kept: &KeepAlive,
) -> Result<(u16, Vec<u8>), TransportFailure> {
    let origin = Origin::of(req);
    if let Some(stream) = kept.take(&origin) {
        match exchange(stream, req, timeout).await {
            Ok(answer) => return Ok(answer.keep(kept, origin)),
            Err(Failed::Unanswered) => {
                tracing::debug!("the kept-alive cloud connection was closed; reconnecting");
            }
            Err(failed) => return Err(failed.into()),
        }
    }
    let stream = connect_tls(tls, req.source, req.address, req.port, req.domain, timeout).await?;
    match exchange(stream, req, timeout).await {
        Ok(answer) => Ok(answer.keep(kept, origin)),
        Err(failed) => Err(failed.into()),
    }
}

/// A complete answer, with its connection if that may carry another request.
struct Answer {
    status: u16,
    body: Vec<u8>,
    reusable: Option<Tls>,
}

impl Answer {
    fn keep(self, kept: &KeepAlive, origin: Origin) -> (u16, Vec<u8>) {
        if let Some(stream) = self.reusable {
            kept.put(origin, stream);
        }
        (self.status, self.body)
    }
}

/// Why an exchange gave no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failed {
    /// The request could not be sent, or the connection ended before the first byte of an
    /// answer.
    Unanswered,
    /// The answer was cut short, malformed or too large.
    Broken,
    /// The deadline passed.
    Timeout,
}

impl From<Failed> for TransportFailure {
    fn from(failed: Failed) -> TransportFailure {
        match failed {
            Failed::Timeout => TransportFailure::Timeout,
            Failed::Unanswered | Failed::Broken => TransportFailure::Connect,
        }
    }
}

/// One request and its answer on `stream`, within `timeout`.
async fn exchange(mut stream: Tls, req: &Post<'_>, timeout: Duration) -> Result<Answer, Failed> {
    let run = async {
        let request = request_bytes(req);
        let sent = async {
            stream.write_all(&request).await?;
            stream.flush().await
        };
        if let Err(e) = sent.await {
            tracing::debug!(error = %e, "HTTPS request to the cloud not sent");
            return Err(Failed::Unanswered);
        }
        read_response(&mut stream).await.map_err(|e| match e {
            ReadError::Unanswered(e) => {
                tracing::debug!(error = %e, "the cloud did not answer an HTTPS request");
                Failed::Unanswered
            }
            ReadError::Broken(e) => {
                tracing::debug!(error = %e, "HTTPS exchange with the cloud failed");
                Failed::Broken
            }
        })
    };
    let response = tokio::time::timeout(timeout, run)
        .await
        .map_err(|_| Failed::Timeout)??;
    Ok(Answer {
        status: response.status,
        body: response.body,
        reusable: response.keep_alive.then_some(stream),
    })
}

/// The request head and body in one buffer (one TLS record for a small request). HTTP/1.1
/// keeps the connection open by default, so no `Connection` header.
fn request_bytes(req: &Post<'_>) -> Vec<u8> {
    let mut head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: {}\r\n",
        req.path,
        host_header(req.domain, req.port),
        req.body.len()
    );
    if let Some(token) = req.bearer {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(req.body.as_bytes());
    bytes
}

fn host_header(domain: &str, port: u16) -> String {
    let host = if domain.contains(':') && !domain.starts_with('[') {
        format!("[{domain}]")
    } else {
        domain.to_owned()
    };
    if port == 443 {
        host
    } else {
        format!("{host}:{port}")
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// A response as read.
#[derive(Debug, PartialEq, Eq)]
struct Response {
    status: u16,
    body: Vec<u8>,
    /// The connection may carry another request: the body was framed, nothing followed it,
    /// and the server did not announce a close.
    keep_alive: bool,
}

/// Why no response was read.
#[derive(Debug)]
enum ReadError {
    /// Not one byte arrived.
    Unanswered(io::Error),
    /// Something arrived, but not a whole, valid, bounded response.
    Broken(io::Error),
}

/// How a response body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

/// What the status line and header fields say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    status: u16,
    framing: Framing,
    /// The server leaves the connection open after this response.
    persistent: bool,
}

/// Parses a header block (without the blank line that ends it).
fn parse_head(bytes: &[u8]) -> io::Result<Head> {
    let text = std::str::from_utf8(bytes).map_err(|_| invalid("header not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let mut status_line = lines.next().unwrap_or("").split_whitespace();
    let version = status_line.next().unwrap_or("");
    let status: u16 = status_line
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("bad status line"))?;
    let mut length = None;
    let mut coded = false;
    let mut chunked = false;
    let mut close = false;
    let mut keep_alive = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let n = value.parse::<usize>().map_err(|_| invalid("bad length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(invalid("conflicting lengths"));
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            coded = true;
            chunked |= value
                .split(',')
                .any(|c| c.trim().eq_ignore_ascii_case("chunked"));
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                close |= token.eq_ignore_ascii_case("close");
                keep_alive |= token.eq_ignore_ascii_case("keep-alive");
            }
        }
    }
    let framing = match (status, coded, chunked, length) {
        // Interim, no-content and not-modified answers have no body whatever they say.
        (100..=199 | 204 | 304, ..) => Framing::Length(0),
        (_, true, true, _) => Framing::Chunked,
        (_, true, false, _) => Framing::UntilClose,
        (_, false, _, Some(n)) => Framing::Length(n),
        (_, false, _, None) => Framing::UntilClose,
    };
    let version_persists = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => keep_alive,
        _ => false,
    };
    let persistent = version_persists
        && !close
        && status >= 200
        && framing != Framing::UntilClose
        // Both a length and a coding: ambiguous framing, never reuse (RFC 9112 §6.3).
        && !(coded && length.is_some());
    Ok(Head {
        status,
        framing,
        persistent,
    })
}

/// Reads one HTTP/1.1 response: status and a body framed by `Content-Length`, chunked
/// encoding, or the end of the connection; whether the connection may be reused.
async fn read_response<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<Response, ReadError> {
    let broken = |what: &str| ReadError::Broken(invalid(what));
    let mut buf = Vec::with_capacity(1024);
    let header_end = loop {
        if let Some(pos) = find(&buf, b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > MAX_HEADER {
            return Err(broken("response header too large"));
        }
        let n = read_more(stream, &mut buf).await.map_err(|e| {
            if buf.is_empty() {
                ReadError::Unanswered(e)
            } else {
                ReadError::Broken(e)
            }
        })?;
        if n == 0 {
            return Err(if buf.is_empty() {
                ReadError::Unanswered(invalid("connection closed before an answer"))
            } else {
                broken("connection closed inside the response header")
            });
        }
    };
    let head = parse_head(&buf[..header_end]).map_err(ReadError::Broken)?;
    let mut rest = buf.split_off(header_end + 4);
    let (body, exact) = match head.framing {
        Framing::Length(len) => {
            if len > MAX_BODY {
                return Err(broken("response body too large"));
            }
            while rest.len() < len {
                if read_more(stream, &mut rest)
                    .await
                    .map_err(ReadError::Broken)?
                    == 0
                {
                    return Err(broken("connection closed inside the body"));
                }
            }
            let exact = rest.len() == len;
            rest.truncate(len);
            (rest, exact)
        }
        Framing::Chunked => loop {
            match dechunk(&rest) {
                Chunked::Done { body, used } => break (body, used == rest.len()),
                Chunked::Bad => return Err(broken("bad chunked body")),
                Chunked::More => {}
            }
            if rest.len() > MAX_CHUNKED {
                return Err(broken("response body too large"));
            }
            if read_more(stream, &mut rest)
                .await
                .map_err(ReadError::Broken)?
                == 0
            {
                return Err(broken("connection closed inside the body"));
            }
        },
        Framing::UntilClose => {
            loop {
                if rest.len() > MAX_BODY {
                    return Err(broken("response body too large"));
                }
                if read_more(stream, &mut rest)
                    .await
                    .map_err(ReadError::Broken)?
                    == 0
                {
                    break;
                }
            }
            (rest, false)
        }
    };
    Ok(Response {
        status: head.status,
        body,
        keep_alive: head.persistent && exact,
    })
}

/// Appends what one read gives to `buf`; 0 at the end of the connection, where a TLS peer
/// that closes without `close_notify` counts as an end too.
async fn read_more<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> io::Result<usize> {
    let mut chunk = [0u8; 1024];
    let n = match stream.read(&mut chunk).await {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => 0,
        other => other?,
    };
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Progress of decoding a chunked body from the bytes received so far.
#[derive(Debug, PartialEq, Eq)]
enum Chunked {
    /// Complete: the body, and how many bytes (trailer included) it took.
    Done { body: Vec<u8>, used: usize },
    /// Not complete yet.
    More,
    /// Malformed, or decoding to more than [`MAX_BODY`].
    Bad,
}

/// Decodes a chunked body from its start.
fn dechunk(data: &[u8]) -> Chunked {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let Some(line_end) = find(&data[at..], b"\r\n") else {
            return Chunked::More;
        };
        let size = std::str::from_utf8(&data[at..at + line_end])
            .ok()
            .and_then(|line| line.split(';').next())
            .and_then(|hex| usize::from_str_radix(hex.trim(), 16).ok());
        let Some(size) = size else {
            return Chunked::Bad;
        };
        at += line_end + 2;
        if size == 0 {
            break;
        }
        if out.len().saturating_add(size) > MAX_BODY {
            return Chunked::Bad;
        }
        if data.len() - at < size + 2 {
            return Chunked::More;
        }
        if &data[at + size..at + size + 2] != b"\r\n" {
            return Chunked::Bad;
        }
        out.extend_from_slice(&data[at..at + size]);
        at += size + 2;
    }
    // Trailer fields, if any, then the empty line.
    loop {
        let Some(line_end) = find(&data[at..], b"\r\n") else {
            return Chunked::More;
        };
        at += line_end + 2;
        if line_end == 0 {
            return Chunked::Done {
                body: out,
                used: at,
            };
        }
    }
}

/// A `wss://host[:port]/path?query` URL handed out by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUrl {
    /// Host (domain or address literal, brackets removed).
    pub host: String,
    /// Port (443 when absent).
    pub port: u16,
}

impl WsUrl {
    /// Parses the parts a connection needs; `None` for anything but a `wss://` URL.
    pub fn parse(url: &str) -> Option<WsUrl> {
        let rest = url.strip_prefix("wss://")?;
        let authority = rest.split(['/', '?', '#']).next()?;
        if authority.is_empty() || authority.contains('@') {
            return None;
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, tail) = v6.split_once(']')?;
            let port = match tail.strip_prefix(':') {
                Some(p) => p.parse().ok()?,
                None if tail.is_empty() => 443,
                None => return None,
            };
            (h.to_owned(), port)
        } else {
            match authority.split_once(':') {
                Some((h, p)) => (h.to_owned(), p.parse().ok()?),
                None => (authority.to_owned(), 443),
            }
        };
        (!host.is_empty()).then_some(WsUrl { host, port })
    }
}

/// Why an upgrade did not produce a WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// Below HTTP: DNS, TCP, TLS, timeout.
    Transport(TransportFailure),
    /// The server answered with this status instead of 101.
    Rejected(u16),
}

/// WebSocket settings with buffers sized for an idle tunnel and the channel's message limit.
pub fn ws_config(max_message: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(max_message + 64 * 1024)
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message))
}

/// How a WebSocket is reached: trust, local address, the `ip host` table.
#[derive(Debug, Clone, Copy)]
pub struct Dial<'a> {
    /// The TLS client configuration.
    pub tls: &'a Arc<ClientConfig>,
    /// Local address to connect from, if configured.
    pub source: Option<IpAddr>,
    /// Names resolved before the system resolver.
    pub hosts: &'a BTreeMap<String, Ipv4Addr>,
}

/// Opens `url` as a WebSocket with the protocol's headers (§6.1), resolving its host through
/// `hosts` and the system resolver.
pub async fn open_websocket(
    dial: &Dial<'_>,
    url: &str,
    serial: &str,
    proof: Option<&str>,
    max_message: usize,
    timeout: Duration,
) -> Result<(Ws, IpAddr), OpenError> {
    let parsed = WsUrl::parse(url).ok_or(OpenError::Rejected(400))?;
    let address = tokio::time::timeout(timeout, resolve(dial.hosts, &parsed.host))
        .await
        .map_err(|_| OpenError::Transport(TransportFailure::Timeout))?
        .map_err(|_| OpenError::Transport(TransportFailure::Connect))?;
    let stream = connect_tls(
        dial.tls,
        dial.source,
        address,
        parsed.port,
        &parsed.host,
        timeout,
    )
    .await
    .map_err(OpenError::Transport)?;
    let mut request = url
        .into_client_request()
        .map_err(|_| OpenError::Rejected(400))?;
    let headers = request.headers_mut();
    let value = |v: &str| HeaderValue::from_str(v).map_err(|_| OpenError::Rejected(400));
    headers.insert("Sec-WebSocket-Protocol", value(SUBPROTOCOL)?);
    headers.insert("Cloudlink-Serial", value(serial)?);
    if let Some(p) = proof {
        headers.insert("Cloudlink-Proof", value(p)?);
    }
    let upgrade =
        tokio_tungstenite::client_async_with_config(request, stream, Some(ws_config(max_message)));
    match tokio::time::timeout(timeout, upgrade).await {
        Err(_) => Err(OpenError::Transport(TransportFailure::Timeout)),
        Ok(Ok((ws, _response))) => Ok((ws, address)),
        Ok(Err(tokio_tungstenite::tungstenite::Error::Http(response))) => {
            Err(OpenError::Rejected(response.status().as_u16()))
        }
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "WebSocket upgrade failed");
            Err(OpenError::Transport(TransportFailure::Connect))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures_util::FutureExt as _;

    use super::*;

    #[test]
    fn ws_urls_parse_host_and_port() {
        assert_eq!(
            WsUrl::parse("wss://cloud.test:8443/cloudlink/v1/tunnel?token=t"),
            Some(WsUrl {
                host: "cloud.test".into(),
                port: 8443
            })
        );
        assert_eq!(WsUrl::parse("wss://c.test/x").map(|u| u.port), Some(443));
        assert_eq!(
            WsUrl::parse("wss://[::1]:9/x").map(|u| u.host),
            Some("::1".into())
        );
        assert_eq!(WsUrl::parse("http://c.test/x"), None);
        assert_eq!(WsUrl::parse("wss://u@c.test/x"), None);
    }

    #[test]
    fn chunked_bodies_decode_with_their_trailer() {
        let whole = b"3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n";
        assert_eq!(
            dechunk(whole),
            Chunked::Done {
                body: b"abcde".to_vec(),
                used: whole.len()
            }
        );
        let trailer = b"2\r\nab\r\n0\r\nX-Sum: 1\r\n\r\n";
        assert_eq!(
            dechunk(&[&trailer[..], b"next"].concat()),
            Chunked::Done {
                body: b"ab".to_vec(),
                used: trailer.len()
            }
        );
        // Not complete until the empty line after the last chunk.
        assert_eq!(dechunk(b"5\r\nab"), Chunked::More);
        assert_eq!(dechunk(b"2\r\nab\r\n0\r\n"), Chunked::More);
        assert_eq!(dechunk(b"2\r\nab\r\n0\r\nX-Sum: 1\r\n"), Chunked::More);
        assert_eq!(dechunk(b"zz\r\n"), Chunked::Bad);
        assert_eq!(dechunk(b"2\r\nabc\r\n"), Chunked::Bad);
        assert_eq!(dechunk(b"FFFF\r\n"), Chunked::Bad);
    }

    fn head(text: &str) -> Head {
        parse_head(text.as_bytes()).unwrap()
    }

    #[test]
    fn only_framed_answers_without_a_close_keep_the_connection() {
        let kept = |text: &str| head(text).persistent;
        assert!(kept("HTTP/1.1 200 OK\r\nContent-Length: 2"));
        assert!(kept("HTTP/1.1 403 Forbidden\r\ncontent-length: 2"));
        assert!(kept("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"));
        assert!(kept("HTTP/1.1 204 No Content"));
        assert!(kept(
            "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2"
        ));
        assert!(!kept(
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close"
        ));
        assert!(!kept(
            "HTTP/1.1 200 OK\r\nConnection: upgrade, Close\r\nContent-Length: 2"
        ));
        assert!(!kept("HTTP/1.0 200 OK\r\nContent-Length: 2"));
        assert!(!kept("HTTP/1.1 200 OK"));
        assert!(!kept("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip"));
        assert!(!kept(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2"
        ));
        assert!(!kept("HTTP/1.1 100 Continue"));
        assert_eq!(
            head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked").framing,
            Framing::Chunked
        );
        assert_eq!(
            head("HTTP/1.1 304 Not Modified\r\nContent-Length: 9").framing,
            Framing::Length(0)
        );
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3").is_err());
        assert!(parse_head(b"HTTP/1.1 OK").is_err());
    }

    async fn read(bytes: &[u8]) -> Result<Response, ReadError> {
        let mut r = bytes;
        read_response(&mut r).await
    }

    fn answer(status: u16, body: &[u8], keep_alive: bool) -> Response {
        Response {
            status,
            body: body.to_vec(),
            keep_alive,
        }
    }

    #[tokio::test]
    async fn responses_are_read_by_length_by_chunks_and_to_the_end() {
        let r = read(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\n{}").await;
        assert_eq!(r.unwrap(), answer(403, b"{}", true));
        // Bytes after the body: the connection is out of step and not reused.
        let r = read(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\n{}extra").await;
        assert_eq!(r.unwrap(), answer(403, b"{}", false));
        let r = read(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
        assert_eq!(r.await.unwrap(), answer(200, b"{}", true));
        let r = read(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"a\":1}").await;
        assert_eq!(r.unwrap(), answer(200, b"{\"a\":1}", false));
        let r = read(b"HTTP/1.1 200 OK\r\nContent-Length: 99999\r\n\r\n").await;
        assert!(matches!(r, Err(ReadError::Broken(_))));
        let r = read(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n{}").await;
        assert!(matches!(r, Err(ReadError::Broken(_))));
        let r = read(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n").await;
        assert!(matches!(r, Err(ReadError::Broken(_))));
    }

    #[tokio::test]
    async fn an_end_before_the_first_byte_is_told_apart_from_a_cut_answer() {
        assert!(matches!(read(b"").await, Err(ReadError::Unanswered(_))));
        assert!(matches!(
            read(b"HTTP/1.1 2").await,
            Err(ReadError::Broken(_))
        ));
    }

    #[tokio::test]
    async fn a_framed_answer_is_complete_without_waiting_for_the_end_of_the_connection() {
        // The writer stays open, as a kept-alive server's does: reading past the answer would
        // wait forever, so the answer must be complete from the bytes already there.
        for bytes in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"[..],
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
        ] {
            let (mut client, mut server) = tokio::io::duplex(4096);
            server.write_all(bytes).await.unwrap();
            let read = read_response(&mut client).now_or_never();
            let response = read.expect("complete at once").unwrap();
            assert!(response.keep_alive);
        }
    }

    // ----- against a TLS server -------------------------------------------------------------

    /// What the test server does with one request.
    #[derive(Debug, Clone, Copy)]
    enum Reply {
        /// Answer and keep the connection open.
        Keep,
        /// Answer with `Connection: close`, then close.
        Close,
        /// Answer, then close without saying so (a server closing an idle connection).
        Drop,
        /// Close without answering.
        Silent,
        /// Send part of a header, then close.
        Cut,
    }

    struct TestServer {
        addr: SocketAddr,
        /// TCP connections accepted so far.
        accepted: Arc<AtomicUsize>,
        client: Arc<ClientConfig>,
    }

    impl TestServer {
        /// An HTTPS server for `a.test` and `b.test` that treats request `r` (from 0) of
        /// connection `c` (from 0) as `script(c, r)` says, answering `{"c":c,"r":r}`.
        async fn start(script: fn(usize, usize) -> Reply) -> TestServer {
            let provider = || Arc::new(rustls::crypto::ring::default_provider());
            let key = rcgen::KeyPair::generate().unwrap();
            let cert = rcgen::CertificateParams::new(vec!["a.test".into(), "b.test".into()])
                .unwrap()
                .self_signed(&key)
                .unwrap();
            let der = rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der());
            let server = rustls::ServerConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![cert.der().clone()], der.into())
                .unwrap();
            let mut roots = rustls::RootCertStore::empty();
            roots.add(cert.der().clone()).unwrap();
            let client = ClientConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let accepted = Arc::new(AtomicUsize::new(0));
            let count = Arc::clone(&accepted);
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
            tokio::spawn(async move {
                while let Ok((tcp, _)) = listener.accept().await {
                    let c = count.fetch_add(1, Ordering::SeqCst);
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        let Ok(mut tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        for r in 0.. {
                            if !read_request(&mut tls).await {
                                return;
                            }
                            let body = format!("{{\"c\":{c},\"r\":{r}}}");
                            let answer = |extra: &str| {
                                format!(
                                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n{extra}\r\n{body}",
                                    body.len()
                                )
                            };
                            let (bytes, then_close) = match script(c, r) {
                                Reply::Keep => (answer(""), false),
                                Reply::Close => (answer("Connection: close\r\n"), true),
                                Reply::Drop => (answer(""), true),
                                Reply::Silent => return,
                                Reply::Cut => ("HTTP/1.1 200 OK\r\nContent-Le".to_owned(), true),
                            };
                            if tls.write_all(bytes.as_bytes()).await.is_err()
                                || tls.flush().await.is_err()
                                || then_close
                            {
                                return;
                            }
                        }
                    });
                }
            });
            TestServer {
                addr,
                accepted,
                client: Arc::new(client),
            }
        }

        fn accepted(&self) -> usize {
            self.accepted.load(Ordering::SeqCst)
        }

        /// A `POST` to `domain` on this server.
        async fn post(&self, domain: &str, kept: &KeepAlive) -> Result<String, TransportFailure> {
            let req = Post {
                source: None,
                domain,
                address: self.addr.ip(),
                port: self.addr.port(),
                path: "/cloudlink/v1/auth",
                bearer: None,
                body: "{}",
            };
            // The deadline only turns a hang into a failure.
            let (status, body) = post(&self.client, &req, Duration::from_secs(10), kept).await?;
            assert_eq!(status, 200);
            Ok(String::from_utf8(body).unwrap())
        }
    }

    /// Reads one request (header, then a body of its `Content-Length`); false at the end.
    async fn read_request<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> bool {
        let mut buf = Vec::new();
        let end = loop {
            if let Some(end) = find(&buf, b"\r\n\r\n") {
                break end;
            }
            if !matches!(read_more(stream, &mut buf).await, Ok(1..)) {
                return false;
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < end + 4 + length {
            if !matches!(read_more(stream, &mut buf).await, Ok(1..)) {
                return false;
            }
        }
        true
    }

    #[tokio::test]
    async fn requests_to_one_server_share_one_kept_alive_connection() {
        let server = TestServer::start(|_, _| Reply::Keep).await;
        let kept = KeepAlive::new();
        for r in 0..3 {
            let body = server.post("a.test", &kept).await.unwrap();
            assert_eq!(body, format!("{{\"c\":0,\"r\":{r}}}"));
            assert!(kept.is_holding());
        }
        assert_eq!(server.accepted(), 1);
        kept.clear();
        assert!(!kept.is_holding());
        server.post("a.test", &kept).await.unwrap();
        assert_eq!(
            server.accepted(),
            2,
            "a cleared slot means a new connection"
        );
    }

    #[tokio::test]
    async fn a_kept_connection_carries_requests_for_its_own_server_only() {
        let server = TestServer::start(|_, _| Reply::Keep).await;
        let kept = KeepAlive::new();
        server.post("a.test", &kept).await.unwrap();
        let body = server.post("b.test", &kept).await.unwrap();
        assert_eq!(body, "{\"c\":1,\"r\":0}");
        assert_eq!(server.accepted(), 2);
        // The slot now holds b.test's connection; a.test's was closed when it was passed over.
        let body = server.post("a.test", &kept).await.unwrap();
        assert_eq!(body, "{\"c\":2,\"r\":0}");
        assert_eq!(server.accepted(), 3);
    }

    #[tokio::test]
    async fn an_answer_announcing_a_close_is_not_kept() {
        let server = TestServer::start(|_, _| Reply::Close).await;
        let kept = KeepAlive::new();
        for c in 0..2 {
            let body = server.post("a.test", &kept).await.unwrap();
            assert_eq!(body, format!("{{\"c\":{c},\"r\":0}}"));
            assert!(!kept.is_holding());
        }
        assert_eq!(server.accepted(), 2);
    }

    #[tokio::test]
    async fn a_kept_connection_the_server_closed_is_replaced_by_a_new_one() {
        let server = TestServer::start(|_, _| Reply::Drop).await;
        let kept = KeepAlive::new();
        for c in 0..3 {
            // Kept after each answer (nothing said it would close); the next request finds it
            // closed and goes on a new connection.
            let body = server.post("a.test", &kept).await.unwrap();
            assert_eq!(body, format!("{{\"c\":{c},\"r\":0}}"));
            assert!(kept.is_holding());
        }
        assert_eq!(server.accepted(), 3);
    }

    #[tokio::test]
    async fn a_new_connection_is_never_retried() {
        let server = TestServer::start(|_, _| Reply::Silent).await;
        let kept = KeepAlive::new();
        assert_eq!(
            server.post("a.test", &kept).await,
            Err(TransportFailure::Connect)
        );
        assert_eq!(server.accepted(), 1);
        assert!(!kept.is_holding());
    }

    #[tokio::test]
    async fn a_closed_kept_connection_is_retried_once_only() {
        let server = TestServer::start(|c, r| {
            if (c, r) == (0, 0) {
                Reply::Keep
            } else {
                Reply::Silent
            }
        })
        .await;
        let kept = KeepAlive::new();
        server.post("a.test", &kept).await.unwrap();
        assert_eq!(
            server.post("a.test", &kept).await,
            Err(TransportFailure::Connect)
        );
        // The kept connection, then one new one: no third.
        assert_eq!(server.accepted(), 2);
        assert!(!kept.is_holding());
    }

    #[tokio::test]
    async fn a_kept_connection_cut_inside_an_answer_is_not_retried() {
        let server = TestServer::start(|_, r| if r == 0 { Reply::Keep } else { Reply::Cut }).await;
        let kept = KeepAlive::new();
        server.post("a.test", &kept).await.unwrap();
        assert_eq!(
            server.post("a.test", &kept).await,
            Err(TransportFailure::Connect)
        );
        assert_eq!(server.accepted(), 1);
        assert!(!kept.is_holding());
    }

    #[tokio::test]
    async fn a_source_address_not_on_this_host_fails_before_connecting() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let to = listener.local_addr().unwrap();
        let foreign = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)); // TEST-NET-1
        let err = connect_tcp(Some(foreign), to).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrNotAvailable);
        let local = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
        let tcp = connect_tcp(Some(local), to).await.unwrap();
        assert_eq!(tcp.local_addr().unwrap().ip(), local);
    }

    #[tokio::test]
    async fn ip_host_table_wins_over_the_system_resolver() {
        let mut hosts = BTreeMap::new();
        hosts.insert("localhost".to_owned(), Ipv4Addr::new(10, 1, 1, 1));
        assert_eq!(
            resolve(&hosts, "LOCALHOST").await.unwrap(),
            IpAddr::V4(Ipv4Addr::new(10, 1, 1, 1))
        );
        assert_eq!(
            resolve(&BTreeMap::new(), "127.0.0.7").await.unwrap(),
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 7))
        );
    }
}
