//! The cloud connection's I/O primitives: name resolution, TCP + TLS, the two HTTPS requests
//! of the handshake, and WebSocket upgrades.
//!
//! Owns: [`resolve`] (the `ip host` table first, then the system resolver), [`connect_tls`],
//! [`post`] (a minimal HTTP/1.1 client: one request per connection, bounded response),
//! [`WsUrl`] and [`open_websocket`] (`wss://` upgrade with the protocol's headers and small
//! buffers). Every failure maps to a [`TransportFailure`] the state machine understands.
//!
//! Must not touch: protocol decisions (the `cloudlink` state machine's), timers beyond the
//! per-step deadline passed in.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tether_cloudlink::SUBPROTOCOL;
use tether_cloudlink::status::TransportFailure;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
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

/// Opens TCP to `address:port` and runs the TLS handshake for `domain` (SNI and the name the
/// certificate must carry), all within `timeout`.
pub async fn connect_tls(
    tls: &Arc<ClientConfig>,
    address: IpAddr,
    port: u16,
    domain: &str,
    timeout: Duration,
) -> Result<Tls, TransportFailure> {
    let name = server_name(domain)?;
    let tcp = tokio::time::timeout(timeout, TcpStream::connect((address, port)))
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

/// Sends `req` and returns the status and body of the answer (any status).
pub async fn post(
    tls: &Arc<ClientConfig>,
    req: &Post<'_>,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), TransportFailure> {
    let mut stream = connect_tls(tls, req.address, req.port, req.domain, timeout).await?;
    let exchange = async {
        let mut head = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
            req.path,
            host_header(req.domain, req.port),
            req.body.len()
        );
        if let Some(token) = req.bearer {
            head.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(req.body.as_bytes()).await?;
        stream.flush().await?;
        read_response(&mut stream).await
    };
    match tokio::time::timeout(timeout, exchange).await {
        Err(_) => Err(TransportFailure::Timeout),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "HTTPS exchange with the cloud failed");
            Err(TransportFailure::Connect)
        }
        Ok(Ok(answer)) => Ok(answer),
    }
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

/// Reads one HTTP/1.1 response: status and a body framed by `Content-Length`, chunked
/// encoding, or the end of the connection.
async fn read_response<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
) -> io::Result<(u16, Vec<u8>)> {
    let mut buf = Vec::with_capacity(1024);
    let header_end = loop {
        if let Some(pos) = find(&buf, b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > MAX_HEADER {
            return Err(invalid("response header too large"));
        }
        let mut chunk = [0u8; 1024];
        let n = read_some(stream, &mut chunk).await?;
        if n == 0 {
            return Err(invalid("connection closed before the response header"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..header_end]).map_err(|_| invalid("header not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("bad status line"))?;
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| invalid("bad length"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
    let mut body = buf.split_off(header_end + 4);
    if let Some(len) = length {
        if len > MAX_BODY {
            return Err(invalid("response body too large"));
        }
        while body.len() < len {
            let mut chunk = [0u8; 1024];
            let n = read_some(stream, &mut chunk).await?;
            if n == 0 {
                return Err(invalid("connection closed inside the body"));
            }
            body.extend_from_slice(&chunk[..n]);
        }
        body.truncate(len);
        return Ok((status, body));
    }
    // Unknown length: read to the end of the connection (we sent `Connection: close`).
    loop {
        if body.len() > MAX_BODY + 64 {
            return Err(invalid("response body too large"));
        }
        let mut chunk = [0u8; 1024];
        let n = read_some(stream, &mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    if chunked {
        body = dechunk(&body).ok_or_else(|| invalid("bad chunked body"))?;
    }
    Ok((status, body))
}

/// A read where a TLS peer that closes without `close_notify` counts as end of data.
async fn read_some<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut [u8],
) -> io::Result<usize> {
    match stream.read(buf).await {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
        other => other,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Decodes a complete chunked body.
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = find(data, b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size_text = size_text.split(';').next()?.trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if data.len() < size + 2 || out.len() + size > MAX_BODY {
            return None;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
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

/// Opens `url` as a WebSocket with the protocol's headers (§6.1), resolving its host through
/// `hosts` and the system resolver.
pub async fn open_websocket(
    tls: &Arc<ClientConfig>,
    hosts: &BTreeMap<String, Ipv4Addr>,
    url: &str,
    serial: &str,
    proof: Option<&str>,
    max_message: usize,
    timeout: Duration,
) -> Result<(Ws, IpAddr), OpenError> {
    let parsed = WsUrl::parse(url).ok_or(OpenError::Rejected(400))?;
    let address = tokio::time::timeout(timeout, resolve(hosts, &parsed.host))
        .await
        .map_err(|_| OpenError::Transport(TransportFailure::Timeout))?
        .map_err(|_| OpenError::Transport(TransportFailure::Connect))?;
    let stream = connect_tls(tls, address, parsed.port, &parsed.host, timeout)
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
    fn chunked_bodies_decode() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n").as_deref(),
            Some(&b"abcde"[..])
        );
        assert_eq!(dechunk(b"5\r\nab"), None);
    }

    #[tokio::test]
    async fn responses_are_read_by_length_and_to_the_end() {
        let mut r: &[u8] = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\n{}extra";
        assert_eq!(read_response(&mut r).await.unwrap(), (403, b"{}".to_vec()));
        let mut r: &[u8] =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
        assert_eq!(read_response(&mut r).await.unwrap(), (200, b"{}".to_vec()));
        let mut r: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 99999\r\n\r\n";
        assert!(read_response(&mut r).await.is_err());
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
