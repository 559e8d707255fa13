//! The REST API client of `tether ctl`: one HTTP/1.1 connection per request over plain TCP or
//! rustls, the credentials of the command line in `Authorization`, and the API's JSON error
//! body turned into a [`CtlError`]. Also opens the terminal WebSocket over the same transport.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use http::{Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// How long connecting (TCP and TLS) may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything that can go wrong in `tether ctl`, each with its exit code.
#[derive(Debug)]
pub enum CtlError {
    /// The server answered with an error (`{"error":{"code","message"}}`). Exit 1.
    Api { code: String, message: String },
    /// The server could not be reached (DNS, TCP, TLS). Exit 2.
    Connect { addr: String, reason: String },
    /// Bad command-line input found before anything was sent. Exit 2.
    Usage(String),
    /// Anything else (a broken answer, a local I/O failure). Exit 1.
    Other(String),
}

impl CtlError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CtlError::Api { .. } | CtlError::Other(_) => 1,
            CtlError::Connect { .. } | CtlError::Usage(_) => 2,
        }
    }

    pub fn other(message: impl Into<String>) -> Self {
        CtlError::Other(message.into())
    }
}

impl fmt::Display for CtlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CtlError::Api { code, message, .. } => write!(f, "{code}: {message}"),
            CtlError::Connect { addr, reason } => write!(f, "cannot connect to {addr}: {reason}"),
            CtlError::Usage(m) | CtlError::Other(m) => f.write_str(m),
        }
    }
}

/// What goes into `Authorization`.
#[derive(Debug, Clone)]
pub enum Credentials {
    None,
    Bearer(String),
    Basic { user: String, password: String },
}

impl Credentials {
    fn header(&self) -> Option<String> {
        match self {
            Credentials::None => None,
            Credentials::Bearer(t) => Some(format!("Bearer {t}")),
            Credentials::Basic { user, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )),
        }
    }
}

/// How to verify an `https` server.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// PEM CA certificates to trust instead of the bundled Mozilla roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// Accept any certificate (labs only).
    pub insecure_skip_verify: bool,
}

/// Anything a request or a WebSocket can run over.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A server to talk to.
pub struct Client {
    /// `http` or `https`.
    tls: Option<TlsConnector>,
    host: String,
    port: u16,
    /// The path prefix of `--server` (usually empty), without a trailing `/`.
    base_path: String,
    credentials: Credentials,
}

impl Client {
    pub fn new(server: &str, credentials: Credentials, tls: &TlsOptions) -> Result<Self, CtlError> {
        let uri: Uri = server
            .parse()
            .map_err(|e| CtlError::Usage(format!("--server {server:?}: {e}")))?;
        let secure = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => {
                return Err(CtlError::Usage(format!(
                    "--server {server:?}: the URL must start with http:// or https://"
                )));
            }
        };
        let host = uri
            .host()
            .ok_or_else(|| CtlError::Usage(format!("--server {server:?}: no host")))?;
        // `[::1]` in a URL is `::1` to connect to.
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        let base_path = uri.path().trim_end_matches('/').to_owned();
        let tls = if secure {
            Some(tls_connector(tls)?)
        } else {
            None
        };
        Ok(Client {
            tls,
            host,
            port,
            base_path,
            credentials,
        })
    }

    /// `host:port` as the user would recognise it.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    fn connect_error(&self, reason: impl fmt::Display) -> CtlError {
        CtlError::Connect {
            addr: self.address(),
            reason: reason.to_string(),
        }
    }

    /// The `Host` header value.
    fn authority(&self) -> String {
        let default = if self.tls.is_some() { 443 } else { 80 };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// The request target for an API path such as `/api/v1/devices`.
    pub fn target(&self, path: &str) -> String {
        format!("{}{path}", self.base_path)
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    pub fn host_header(&self) -> String {
        self.authority()
    }

    pub fn authorization(&self) -> Option<String> {
        self.credentials.header()
    }

    /// A connected transport (TCP, then TLS for `https`).
    pub async fn connect(&self) -> Result<Box<dyn Io>, CtlError> {
        let attempt = async {
            let tcp = TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|e| self.connect_error(e))?;
            let _ = tcp.set_nodelay(true);
            match &self.tls {
                None => Ok::<Box<dyn Io>, CtlError>(Box::new(tcp)),
                Some(connector) => {
                    let name = ServerName::try_from(self.host.clone())
                        .map_err(|e| self.connect_error(format!("bad server name: {e}")))?;
                    let stream = connector
                        .connect(name, tcp)
                        .await
                        .map_err(|e| self.connect_error(format!("TLS: {e}")))?;
                    Ok(Box::new(stream) as Box<dyn Io>)
                }
            }
        };
        tokio::time::timeout(CONNECT_TIMEOUT, attempt)
            .await
            .map_err(|_| self.connect_error("timed out"))?
    }

    /// Sends one request and returns the JSON answer (`Null` when empty); an error status
    /// becomes [`CtlError::Api`].
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CtlError> {
        let io = self.connect().await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| self.connect_error(e))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut req = Request::builder()
            .method(method)
            .uri(self.target(path))
            .header(header::HOST, self.authority())
            .header(header::ACCEPT, "application/json")
            .header(
                header::USER_AGENT,
                concat!("tether-ctl/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(auth) = self.credentials.header() {
            req = req.header(header::AUTHORIZATION, auth);
        }
        let payload = match body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Bytes::from(v.to_string())
            }
            None => Bytes::new(),
        };
        let req = req
            .body(Full::new(payload))
            .map_err(|e| CtlError::Usage(format!("cannot build the request: {e}")))?;
        let res = sender
            .send_request(req)
            .await
            .map_err(|e| self.connect_error(e))?;
        let status = res.status();
        let bytes = res
            .into_body()
            .collect()
            .await
            .map_err(|e| CtlError::other(format!("reading the answer: {e}")))?
            .to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(v) => v,
                Err(_) if !status.is_success() => Value::Null,
                Err(e) => {
                    return Err(CtlError::other(format!(
                        "the server answered {status} with a body that is not JSON: {e}"
                    )));
                }
            }
        };
        if status.is_success() {
            Ok(body)
        } else {
            Err(api_error(status, &body, &bytes))
        }
    }

    pub async fn get(&self, path: &str) -> Result<Value, CtlError> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Option<&Value>) -> Result<Value, CtlError> {
        self.call(Method::POST, path, body).await
    }

    pub async fn delete(&self, path: &str) -> Result<Value, CtlError> {
        self.call(Method::DELETE, path, None).await
    }
}

/// The API's error body, or the status alone when the body is not one.
pub fn api_error(status: StatusCode, body: &Value, raw: &[u8]) -> CtlError {
    let err = &body["error"];
    match (err["code"].as_str(), err["message"].as_str()) {
        (Some(code), Some(message)) => CtlError::Api {
            code: code.to_owned(),
            message: message.to_owned(),
        },
        _ => {
            let text = String::from_utf8_lossy(raw);
            let text = text.trim();
            CtlError::Api {
                code: format!("http_{}", status.as_u16()),
                message: if text.is_empty() {
                    status.canonical_reason().unwrap_or("error").to_owned()
                } else {
                    text.chars().take(300).collect()
                },
            }
        }
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_connector(options: &TlsOptions) -> Result<TlsConnector, CtlError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| CtlError::other(format!("TLS setup: {e}")))?;
    let config = if options.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider())))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        match &options.ca_file {
            Some(path) => load_ca_file(&mut roots, path)?,
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(TlsConnector::from(Arc::new(config)))
}

fn load_ca_file(roots: &mut rustls::RootCertStore, path: &Path) -> Result<(), CtlError> {
    let shown = path.display();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| CtlError::Usage(format!("--ca-file {shown}: {e}")))?;
    let mut added = 0;
    for cert in certs {
        let cert = cert.map_err(|e| CtlError::Usage(format!("--ca-file {shown}: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| CtlError::Usage(format!("--ca-file {shown}: {e}")))?;
        added += 1;
    }
    if added == 0 {
        return Err(CtlError::Usage(format!(
            "--ca-file {shown}: no PEM certificate in the file"
        )));
    }
    Ok(())
}

/// `--insecure-skip-verify`: the handshake still happens, the certificate is not checked.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Percent-encodes one path segment or query value (RFC 3986 unreserved characters pass).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
