//! The agent's HTTP/1.1 client: towards the ACS (one per session) and towards file servers.
//!
//! Owns [`HttpClient`]: one server conversation over one TCP (or TLS) connection kept for its
//! whole life (HTTP-04), reopened only when the server closed it between two exchanges (then
//! the session carries on with its cookies); session-only cookies ([`CookieJar`], HTTP-06);
//! Basic and Digest authentication chosen per `WWW-Authenticate`, with `Authorization` sent on
//! every request once challenged (AUT-02) and Basic sent pre-emptively only over TLS; redirects
//! 301/302/303/307/308 followed for this client only, at most [`MAX_REDIRECTS`] (HTTP-07); a
//! response wait bounded by the configured timeout (HTTP-05); no `Expect: 100-continue`
//! (HTTP-09) and no pipelining (one request at a time). TLS settings come from [`TlsContext`].
//!
//! Must not touch: CWMP semantics (see `driver.rs`), files.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, COOKIE, HOST, LOCATION, SET_COOKIE, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rand::Rng;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tether_cwmp::digest::{BasicCredentials, Challenge, DigestClient, parse_www_authenticate};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::cookies::CookieJar;
use super::tls;

/// Most redirects followed by one client (HTTP-07).
pub const MAX_REDIRECTS: u32 = 5;
/// `User-Agent` of every request.
pub const USER_AGENT_VALUE: &str = concat!("tether-agent/", env!("CARGO_PKG_VERSION"));

/// Why an exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The URL does not parse or has no host.
    #[error("bad URL: {0}")]
    BadUrl(String),
    /// Neither `http` nor `https`.
    #[error("unsupported URL scheme")]
    UnsupportedScheme,
    /// The URL carries `user:password@`.
    #[error("credentials in the URL are not allowed")]
    UserInfo,
    /// TCP connect failed.
    #[error("connect: {0}")]
    Connect(std::io::Error),
    /// TLS set-up or handshake failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// No answer in time.
    #[error("timed out")]
    Timeout,
    /// HTTP protocol error or the connection broke.
    #[error("HTTP: {0}")]
    Http(String),
    /// More than [`MAX_REDIRECTS`] redirects.
    #[error("too many redirects")]
    TooManyRedirects,
    /// The body exceeded its limit.
    #[error("body too large")]
    TooLarge,
}

/// Where a URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `https`.
    pub https: bool,
    /// Host without IPv6 brackets.
    pub host: String,
    /// Port (default 80/443).
    pub port: u16,
    /// `Host` header value.
    pub authority: String,
    /// Request target: path and query.
    pub path: String,
}

impl Target {
    /// Parses an absolute `http://` or `https://` URL without user information.
    pub fn parse(url: &str) -> Result<Target, HttpError> {
        let uri: http::Uri = url.parse().map_err(|_| HttpError::BadUrl(url.into()))?;
        let https = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") => false,
            Some(s) if s.eq_ignore_ascii_case("https") => true,
            Some(_) => return Err(HttpError::UnsupportedScheme),
            None => return Err(HttpError::BadUrl(url.into())),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| HttpError::BadUrl(url.into()))?;
        if authority.as_str().contains('@') {
            return Err(HttpError::UserInfo);
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if host.is_empty() {
            return Err(HttpError::BadUrl(url.into()));
        }
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let path = uri
            .path_and_query()
            .map_or("/".to_owned(), |p| p.as_str().to_owned());
        let path = if path.is_empty() { "/".into() } else { path };
        Ok(Target {
            https,
            host,
            port,
            authority: authority.as_str().to_owned(),
            path,
        })
    }

    /// `Location` resolved against this target.
    fn resolve(&self, location: &str) -> Result<Target, HttpError> {
        if location.starts_with('/') {
            let mut t = self.clone();
            t.path = location.to_owned();
            return Ok(t);
        }
        Target::parse(location)
    }

    fn same_origin(&self, other: &Target) -> bool {
        self.https == other.https && self.host == other.host && self.port == other.port
    }
}

/// The TLS settings shared by every client, built on first use.
#[derive(Debug)]
pub struct TlsContext {
    ca_file: Option<PathBuf>,
    config: OnceLock<Result<Arc<ClientConfig>, String>>,
}

impl TlsContext {
    /// Trusts `ca_file` if given, else the system's roots.
    pub fn new(ca_file: Option<PathBuf>) -> Arc<TlsContext> {
        Arc::new(TlsContext {
            ca_file,
            config: OnceLock::new(),
        })
    }

    fn config(&self) -> Result<Arc<ClientConfig>, HttpError> {
        self.config
            .get_or_init(|| tls::client_config(self.ca_file.as_deref()))
            .clone()
            .map_err(HttpError::Tls)
    }
}

/// A plain or TLS connection.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

struct Connection {
    sender: SendRequest<Full<Bytes>>,
    used: bool,
}

async fn open(
    target: &Target,
    tls: &TlsContext,
    wait: Duration,
) -> Result<(Connection, SocketAddr), HttpError> {
    let tcp = tokio::time::timeout(
        wait,
        TcpStream::connect((target.host.as_str(), target.port)),
    )
    .await
    .map_err(|_| HttpError::Timeout)?
    .map_err(HttpError::Connect)?;
    let _ = tcp.set_nodelay(true);
    let local = tcp.local_addr().map_err(HttpError::Connect)?;
    let stream = if target.https {
        let name =
            ServerName::try_from(target.host.clone()).map_err(|e| HttpError::Tls(e.to_string()))?;
        let connector = TlsConnector::from(tls.config()?);
        let tls_stream = tokio::time::timeout(wait, connector.connect(name, tcp))
            .await
            .map_err(|_| HttpError::Timeout)?
            .map_err(|e| HttpError::Tls(e.to_string()))?;
        Stream::Tls(Box::new(tls_stream))
    } else {
        Stream::Plain(tcp)
    };
    let (sender, conn) = tokio::time::timeout(wait, http1::handshake(TokioIo::new(stream)))
        .await
        .map_err(|_| HttpError::Timeout)?
        .map_err(|e| HttpError::Http(e.to_string()))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok((
        Connection {
            sender,
            used: false,
        },
        local,
    ))
}

/// A request body with its headers.
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    /// The body (empty for an empty POST).
    pub body: Bytes,
    /// Extra headers (`Content-Type`, `SOAPAction`, `Content-Encoding`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// One server conversation (see the module docs).
pub struct HttpClient {
    target: Target,
    conn: Option<Connection>,
    cookies: CookieJar,
    credentials: Option<(String, String)>,
    digest: Option<DigestClient>,
    basic: bool,
    wait: Duration,
    tls: Arc<TlsContext>,
    redirects: u32,
    local_addr: Option<SocketAddr>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client for `url`; `credentials` answer authentication challenges; `wait` bounds the
    /// connect and every response.
    pub fn new(
        url: &str,
        credentials: Option<(String, String)>,
        wait: Duration,
        tls: Arc<TlsContext>,
    ) -> Result<HttpClient, HttpError> {
        let target = Target::parse(url)?;
        // AUT-02: over TLS the CPE sends Basic pre-emptively.
        let basic = target.https && credentials.is_some();
        Ok(HttpClient {
            target,
            conn: None,
            cookies: CookieJar::new(),
            credentials,
            digest: None,
            basic,
            wait,
            tls,
            redirects: 0,
            local_addr: None,
        })
    }

    /// The target now (after redirects).
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The local address of the most recent connection.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// The cookies held.
    pub fn cookies(&self) -> &CookieJar {
        &self.cookies
    }

    /// Opens the connection now (so the local address is known before the first request).
    pub async fn connect(&mut self) -> Result<SocketAddr, HttpError> {
        if self.conn.is_none() {
            let (conn, local) = open(&self.target, &self.tls, self.wait).await?;
            self.conn = Some(conn);
            self.local_addr = Some(local);
        }
        self.local_addr
            .ok_or_else(|| HttpError::Http("no connection".into()))
    }

    fn authorization(&mut self, method: &Method) -> Option<String> {
        let (user, pass) = self.credentials.as_ref()?;
        if let Some(digest) = self.digest.as_mut() {
            let cnonce = format!("{:016x}", rand::rng().random::<u64>());
            return digest
                .authorization(method.as_str(), &self.target.path, &cnonce)
                .ok();
        }
        if self.basic {
            return BasicCredentials {
                username: user.clone(),
                password: pass.clone(),
            }
            .to_header_value()
            .ok();
        }
        None
    }

    fn build(
        &mut self,
        method: &Method,
        out: &Outgoing,
    ) -> Result<Request<Full<Bytes>>, HttpError> {
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(self.target.path.as_str())
            .header(HOST, self.target.authority.as_str())
            .header(USER_AGENT, USER_AGENT_VALUE);
        if method != Method::GET || !out.body.is_empty() {
            builder = builder.header(CONTENT_LENGTH, out.body.len());
        }
        for (name, value) in &out.headers {
            builder = builder.header(name, value);
        }
        if let Some(cookie) =
            self.cookies
                .header(&self.target.host, &self.target.path, self.target.https)
        {
            builder = builder.header(COOKIE, cookie);
        }
        if let Some(auth) = self.authorization(method) {
            builder = builder.header(AUTHORIZATION, auth);
        }
        builder
            .body(Full::new(out.body.clone()))
            .map_err(|e| HttpError::Http(e.to_string()))
    }

    async fn send_once(
        &mut self,
        method: &Method,
        out: &Outgoing,
    ) -> Result<Response<Incoming>, HttpError> {
        for attempt in 0..2 {
            let mut reusable = false;
            if let Some(conn) = self.conn.as_mut() {
                reusable = conn.sender.ready().await.is_ok();
            }
            if !reusable {
                // HTTP-04: the server closed cleanly between exchanges; carry on with a new
                // connection (the cookies go with it).
                self.conn = None;
                self.connect().await?;
            }
            let request = self.build(method, out)?;
            let Some(conn) = self.conn.as_mut() else {
                return Err(HttpError::Http("no connection".into()));
            };
            let was_used = conn.used;
            conn.used = true;
            match tokio::time::timeout(self.wait, conn.sender.send_request(request)).await {
                Err(_) => {
                    self.conn = None;
                    return Err(HttpError::Timeout);
                }
                Ok(Ok(response)) => return Ok(response),
                Ok(Err(e)) => {
                    self.conn = None;
                    // A reused connection the server had just closed: one more try.
                    if !(was_used && attempt == 0) {
                        return Err(HttpError::Http(e.to_string()));
                    }
                }
            }
        }
        Err(HttpError::Http("connection closed".into()))
    }

    /// Sends `out` with `method`, answering challenges and following redirects. The response
    /// body is left to the caller ([`read_body`]).
    pub async fn send(
        &mut self,
        method: Method,
        out: &Outgoing,
    ) -> Result<Response<Incoming>, HttpError> {
        let mut challenges = 0;
        loop {
            let response = self.send_once(&method, out).await?;
            let closing = response
                .headers()
                .get(http::header::CONNECTION)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("close"));
            for value in response.headers().get_all(SET_COOKIE) {
                if let Ok(text) = value.to_str() {
                    self.cookies
                        .store(text, &self.target.host, &self.target.path);
                }
            }
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED
                && challenges < 2
                && self.credentials.is_some()
                && self.take_challenge(response.headers())
            {
                challenges += 1;
                self.finish(response, closing).await;
                continue;
            }
            if matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                if let Some(location) = location {
                    if self.redirects >= MAX_REDIRECTS {
                        return Err(HttpError::TooManyRedirects);
                    }
                    self.redirects += 1;
                    let next = self.target.resolve(&location)?;
                    let same = self.target.same_origin(&next);
                    self.finish(response, closing || !same).await;
                    if !same {
                        // New server: new connection and new authentication state.
                        self.conn = None;
                        self.digest = None;
                        self.basic = next.https && self.credentials.is_some();
                    }
                    self.target = next;
                    continue;
                }
            }
            return Ok(response);
        }
    }

    /// Reads and drops a body so the connection can be reused; drops the connection if the
    /// server is closing it.
    async fn finish(&mut self, response: Response<Incoming>, closing: bool) {
        let ok = read_body(response.into_body(), 64 * 1024, self.wait)
            .await
            .is_ok();
        if closing || !ok {
            self.conn = None;
        }
    }

    /// Takes the challenge of a 401 (Digest preferred). Returns whether it can be answered.
    fn take_challenge(&mut self, headers: &HeaderMap) -> bool {
        let Some((user, pass)) = self.credentials.clone() else {
            return false;
        };
        let mut digest_offered = false;
        let mut basic_offered = false;
        for value in headers.get_all(http::header::WWW_AUTHENTICATE) {
            let Ok(text) = value.to_str() else { continue };
            if let Ok(challenges) = parse_www_authenticate(text) {
                for c in &challenges {
                    match c {
                        Challenge::Digest(_) => digest_offered = true,
                        Challenge::Basic { .. } => basic_offered = true,
                        _ => {}
                    }
                }
                if challenges.iter().any(|c| matches!(c, Challenge::Digest(_))) {
                    let mut client = DigestClient::new(user.clone(), pass.clone());
                    if client.on_www_authenticate(text).is_ok() {
                        self.digest = Some(client);
                        self.basic = false;
                        return true;
                    }
                }
            }
        }
        if basic_offered && !digest_offered {
            if !self.target.https {
                tracing::warn!(host = %self.target.host, "server asks for Basic over plain HTTP");
            }
            self.basic = true;
            self.digest = None;
            return true;
        }
        false
    }
}

/// Collects a body of at most `limit` bytes, waiting at most `wait` in all.
pub async fn read_body(body: Incoming, limit: usize, wait: Duration) -> Result<Bytes, HttpError> {
    let collected = tokio::time::timeout(wait, Limited::new(body, limit).collect())
        .await
        .map_err(|_| HttpError::Timeout)?;
    match collected {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(HttpError::TooLarge),
        Err(e) => Err(HttpError::Http(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_with_defaults_ipv6_and_refuse_userinfo() {
        let t = Target::parse("https://acs.example/cwmp?x=1").unwrap();
        assert!(t.https);
        assert_eq!((t.host.as_str(), t.port), ("acs.example", 443));
        assert_eq!(t.path, "/cwmp?x=1");
        let t = Target::parse("http://[::1]:7547").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("::1", 7547, "/")
        );
        assert_eq!(t.authority, "[::1]:7547");
        assert!(matches!(
            Target::parse("ftp://f/x"),
            Err(HttpError::UnsupportedScheme)
        ));
        assert!(matches!(
            Target::parse("http://u:p@f/x"),
            Err(HttpError::UserInfo)
        ));
        let r = t.resolve("/other").unwrap();
        assert_eq!(r.path, "/other");
        assert!(t.same_origin(&r));
    }
}
