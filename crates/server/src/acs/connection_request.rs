//! HTTP connection requests (TR-069 §3.2.2, CR-01..09, pitfall #10): the [`AcsControl`] the
//! REST API calls to make a device open a session now.
//!
//! A GET to the device's stored ConnectionRequestURL (plain HTTP: CR-01; `https` is refused)
//! with its connection-request credentials from the store (provisioned by the ACS, see
//! `provision.rs`, or configured through the API):
//!
//! * first without credentials; on 401, answer the challenge: Digest (MD5/SHA-256, `qop=auth`
//!   only when the challenge offers it, RFC 2069 style otherwise, AUT-04) via
//!   `tether_cwmp::digest::DigestClient`; Basic only if `cwmp.connection_request.allow_basic`;
//! * 200 / 204: sent (the device then informs with `6 CONNECTION REQUEST`); 401 after our
//!   credentials: [`ConnectionRequestError::AuthFailed`]; 503: busy (CR-05); refused, reset or
//!   unreachable: offline; no answer within `cwmp.connection_request.timeout` (default 5 s):
//!   [`ConnectionRequestError::Timeout`];
//! * at most one request per device per `per_device_min_interval` (default 10 s), and at most
//!   [`MAX_CONCURRENT`] in flight server-wide.
//!
//! Owns the outgoing HTTP; must not touch sessions (the device's Inform starts one as usual).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{Request, StatusCode, Uri, header};
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rand::RngCore as _;
use tether_cwmp::digest::{BasicCredentials, Challenge, DigestClient, parse_www_authenticate};
use tether_store::{Credentials, Store};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::app::{AcsControl, AcsFuture, ConnectionRequestError};
use crate::config::ConnectionRequestConfig;

/// Connection requests in flight at once, server-wide.
pub const MAX_CONCURRENT: usize = 64;
/// Devices remembered by the per-device rate limit.
const TRACKED_DEVICES: usize = 100_000;

/// The connection-request client.
pub struct ConnectionRequester {
    store: Arc<dyn Store>,
    timeout: Duration,
    min_interval: Duration,
    allow_basic: bool,
    last: Mutex<HashMap<String, Instant>>,
    slots: Semaphore,
}

type Crr<T> = Result<T, ConnectionRequestError>;

impl ConnectionRequester {
    pub fn new(config: &ConnectionRequestConfig, store: Arc<dyn Store>) -> Self {
        ConnectionRequester {
            store,
            timeout: config.timeout.0,
            min_interval: config.per_device_min_interval.0,
            allow_basic: config.allow_basic,
            last: Mutex::new(HashMap::new()),
            slots: Semaphore::new(MAX_CONCURRENT),
        }
    }

    /// Claims the device's rate-limit slot, or says how long to wait.
    fn claim(&self, device_id: &str) -> Crr<()> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = last.get(device_id) {
            let since = at.elapsed();
            if since < self.min_interval {
                return Err(ConnectionRequestError::RateLimited(
                    self.min_interval - since,
                ));
            }
        }
        if last.len() >= TRACKED_DEVICES {
            let window = self.min_interval;
            last.retain(|_, at| at.elapsed() < window);
        }
        if last.len() < TRACKED_DEVICES {
            last.insert(device_id.to_owned(), Instant::now());
        }
        Ok(())
    }

    async fn run(&self, device_id: &str) -> Crr<()> {
        let device = self
            .store
            .device(device_id)
            .await
            .map_err(|e| ConnectionRequestError::Failed(format!("store: {e}")))?
            .ok_or_else(|| ConnectionRequestError::Failed("no such device".into()))?;
        let url = device
            .connection_request_url
            .filter(|u| !u.is_empty())
            .ok_or(ConnectionRequestError::NoUrl)?;
        self.claim(device_id)?;
        let _slot = tokio::time::timeout(self.timeout, self.slots.acquire())
            .await
            .map_err(|_| {
                ConnectionRequestError::Failed("too many connection requests in flight".into())
            })?
            .map_err(|_| ConnectionRequestError::NotAvailable)?;
        metrics::counter!("tether_cwmp_connection_requests_total").increment(1);
        let creds = device.connection_request_credentials;
        let outcome = tokio::time::timeout(self.timeout, self.request(&url, creds.as_ref())).await;
        let outcome = outcome.unwrap_or(Err(ConnectionRequestError::Timeout));
        if let Err(e) = &outcome {
            metrics::counter!("tether_cwmp_connection_request_failures_total", "reason" => e.code())
                .increment(1);
            tracing::info!(device = device_id, error = %e, "connection request failed");
        }
        outcome
    }

    async fn request(&self, url: &str, creds: Option<&Credentials>) -> Crr<()> {
        let uri: Uri = url
            .parse()
            .map_err(|_| ConnectionRequestError::Failed(format!("bad URL {url:?}")))?;
        match uri.scheme_str() {
            Some("http") => {}
            other => {
                return Err(ConnectionRequestError::Failed(format!(
                    "unsupported scheme {other:?}: connection requests use plain HTTP (CR-01)"
                )));
            }
        }
        let host = uri
            .host()
            .ok_or_else(|| ConnectionRequestError::Failed(format!("no host in {url:?}")))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(80);
        let target = uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        let authority = uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default();

        let (status, challenge) = get(&host, port, &authority, &target, None).await?;
        match status {
            StatusCode::OK | StatusCode::NO_CONTENT => return Ok(()),
            StatusCode::UNAUTHORIZED => {}
            other => return Err(status_error(other)),
        }
        let creds = creds.ok_or(ConnectionRequestError::AuthFailed)?;
        let challenges = challenge
            .as_deref()
            .map(parse_www_authenticate)
            .transpose()
            .map_err(|_| ConnectionRequestError::Failed("unreadable WWW-Authenticate".into()))?
            .unwrap_or_default();
        let authorization = self.answer(&challenges, creds, &target)?;
        let (status, _) = get(&host, port, &authority, &target, Some(&authorization)).await?;
        match status {
            StatusCode::OK | StatusCode::NO_CONTENT => Ok(()),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Err(ConnectionRequestError::AuthFailed)
            }
            other => Err(status_error(other)),
        }
    }

    /// The `Authorization` answering the device's challenges.
    fn answer(&self, challenges: &[Challenge], creds: &Credentials, uri: &str) -> Crr<String> {
        let mut client = DigestClient::new(&creds.username, &creds.password);
        if let Some(d) = tether_cwmp::digest::preferred_digest(challenges) {
            client.set_challenge(d.clone());
            let mut raw = [0u8; 8];
            rand::rng().fill_bytes(&mut raw);
            return client
                .authorization("GET", uri, &hex::encode(raw))
                .map_err(|e| ConnectionRequestError::Failed(format!("digest: {e}")));
        }
        let offers_basic = challenges
            .iter()
            .any(|c| matches!(c, Challenge::Basic { .. }));
        if offers_basic && self.allow_basic {
            return BasicCredentials {
                username: creds.username.clone(),
                password: creds.password.clone(),
            }
            .to_header_value()
            .map_err(|e| ConnectionRequestError::Failed(format!("basic: {e}")));
        }
        Err(ConnectionRequestError::Failed(if offers_basic {
            "the device offers only Basic authentication (cwmp.connection_request.allow_basic is off)".into()
        } else {
            "the device sent no usable challenge".into()
        }))
    }
}

fn status_error(status: StatusCode) -> ConnectionRequestError {
    if status == StatusCode::SERVICE_UNAVAILABLE {
        ConnectionRequestError::Failed("the device is busy (503)".into())
    } else {
        ConnectionRequestError::Failed(format!("the device answered {status}"))
    }
}

/// One GET on a fresh connection; returns the status and any `WWW-Authenticate` value.
async fn get(
    host: &str,
    port: u16,
    authority: &str,
    target: &str,
    authorization: Option<&str>,
) -> Crr<(StatusCode, Option<String>)> {
    let offline =
        |e: std::io::Error| ConnectionRequestError::Failed(format!("device offline: {e}"));
    let tcp = TcpStream::connect((host, port)).await.map_err(offline)?;
    let _ = tcp.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| ConnectionRequestError::Failed(format!("device offline: {e}")))?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut builder = Request::get(target)
        .header(header::HOST, authority)
        .header(header::CONNECTION, "close");
    if let Some(a) = authorization {
        builder = builder.header(header::AUTHORIZATION, a);
    }
    let request = builder
        .body(Empty::<Bytes>::new())
        .map_err(|e| ConnectionRequestError::Failed(e.to_string()))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| ConnectionRequestError::Failed(format!("device offline: {e}")));
    let response = match response {
        Ok(r) => r,
        Err(e) => {
            driver.abort();
            return Err(e);
        }
    };
    let status = response.status();
    let challenge = response
        .headers()
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(", ");
    // CR-02: any body is ignored, but read (bounded by the timeout) so the exchange completes.
    let _ = response.into_body().collect().await;
    driver.abort();
    Ok((status, (!challenge.is_empty()).then_some(challenge)))
}

impl AcsControl for ConnectionRequester {
    fn connection_request<'a>(
        &'a self,
        device_id: &'a str,
    ) -> AcsFuture<'a, Result<(), ConnectionRequestError>> {
        Box::pin(self.run(device_id))
    }
}
