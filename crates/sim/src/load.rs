//! The CWMP session load generator: as many complete periodic-Inform sessions per second as
//! the server gives, each exactly what a CPE does, and nothing a CPE would not do.
//!
//! A session: a new TCP connection (from a source address in 127.0.0.2-65, spread so that
//! ephemeral ports never run out), TLS when the URL is `https` (full handshake unless
//! resumption is asked for), `POST` of an Inform encoded by `tether-cwmp` (`2 PERIODIC`, the
//! forced-inform parameters, about 3 KB), `200` with an InformResponse and a cookie, an empty
//! `POST` with the cookie, `204`, close. The latency is from the start of the connect to the
//! `204`. `concurrency` workers run sessions back to back (a closed loop) over `devices`
//! serial numbers, for `warmup` then `duration`.
//!
//! The same generator runs against the ceiling server and `tether server`, so the ratio of
//! the two is a ratio of servers.
//!
//! Owns [`LoadConfig`], [`run`] and [`LoadReport`]. Must not touch: the agent's state (this is
//! the bench-only fast path; the fleet in `fleet.rs` is the honest device).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use serde::Serialize;
use tether_cwmp::rpc::{Body, Inform};
use tether_cwmp::{
    CwmpNamespace, DateTime, DeviceId, Envelope, Event, EventCode, ParameterValue, Value,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_util::sync::CancellationToken;

use crate::live::Live;
use crate::sampler::{ProcReport, Sampler, load_average};
use crate::serial::SerialPattern;
use crate::stats::{Percentiles, Stats};
use crate::{SimError, tls};

/// Longest a session may take before it counts as an error.
const SESSION_TIMEOUT: Duration = Duration::from_secs(30);

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// `http://host:port/path` or `https://...`.
    pub url: String,
    /// PEM file of the CA to trust for `https`.
    pub ca_file: Option<PathBuf>,
    /// Resume TLS sessions (tickets) instead of full handshakes.
    pub resume: bool,
    /// Sessions in flight at once.
    pub concurrency: usize,
    /// Measured time.
    pub duration: Duration,
    /// Time run before measuring.
    pub warmup: Duration,
    /// Before the warm-up, give every device one session (so that measured sessions are
    /// periodic sessions of known devices, not first contacts).
    pub prime: bool,
    /// Distinct devices the sessions cycle over.
    pub devices: u64,
    /// Their serial numbers.
    pub serials: SerialPattern,
    /// Number of the first device.
    pub first: u64,
    /// Source addresses to spread connections over (empty: the system's choice).
    pub sources: Vec<Ipv4Addr>,
    /// Process to sample (the server) during the measured window.
    pub watch_pid: Option<u32>,
    /// Print a live summary line every second to standard error.
    pub live: bool,
}

impl Default for LoadConfig {
    fn default() -> Self {
        LoadConfig {
            url: "http://127.0.0.1:7547/".into(),
            ca_file: None,
            resume: false,
            concurrency: 32,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(2),
            prime: false,
            devices: 10_000,
            serials: SerialPattern::default(),
            first: 0,
            sources: default_sources(),
            watch_pid: None,
            live: true,
        }
    }
}

/// 127.0.0.2 to 127.0.0.65: 64 source addresses of 28,000 ephemeral ports each.
pub fn default_sources() -> Vec<Ipv4Addr> {
    (2..=65).map(|n| Ipv4Addr::new(127, 0, 0, n)).collect()
}

/// What a run measured (the JSON summary of `tether sim load`).
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// `"load"`.
    pub kind: &'static str,
    /// The URL.
    pub url: String,
    /// TLS in use.
    pub tls: bool,
    /// TLS resumption in use.
    pub resume: bool,
    /// Workers.
    pub concurrency: usize,
    /// Measured seconds.
    pub seconds: f64,
    /// Complete sessions in the measured window.
    pub sessions: u64,
    /// Sessions per second.
    pub sessions_per_second: f64,
    /// Failed sessions.
    pub errors: u64,
    /// Failed sessions by kind.
    pub error_kinds: std::collections::BTreeMap<String, u64>,
    /// Session latency.
    pub latency: Percentiles,
    /// This process.
    pub client: ProcReport,
    /// The watched process.
    pub server: Option<ProcReport>,
    /// Server CPU per session, microseconds.
    pub server_cpu_us_per_session: Option<f64>,
    /// 1-minute load average at the start.
    pub load_average_before: Option<f64>,
    /// 1-minute load average at the end.
    pub load_average_after: Option<f64>,
}

struct Target {
    addr: SocketAddr,
    authority: String,
    path: String,
    tls: Option<(TlsConnector, ServerName<'static>)>,
}

impl Target {
    fn parse(url: &str, ca: Option<&PathBuf>, resume: bool) -> Result<Target, SimError> {
        let uri: Uri = url
            .parse()
            .map_err(|e| SimError::Config(format!("bad URL {url:?}: {e}")))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(SimError::Config(format!("{url:?}: http or https only"))),
        };
        let host = uri
            .host()
            .ok_or_else(|| SimError::Config(format!("{url:?}: no host")))?;
        let ip: IpAddr = host
            .trim_matches(['[', ']'])
            .parse()
            .map_err(|_| SimError::Config(format!("{url:?}: the host must be an IP address")))?;
        if !ip.is_loopback() {
            return Err(SimError::Config(format!(
                "{url:?}: load is only ever sent to loopback addresses"
            )));
        }
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tls = if https {
            let ca = ca.ok_or_else(|| SimError::Config("https needs --ca-file".into()))?;
            let config: Arc<ClientConfig> = tls::client_config(ca, resume)?;
            Some((TlsConnector::from(config), ServerName::IpAddress(ip.into())))
        } else {
            None
        };
        Ok(Target {
            addr: SocketAddr::new(ip, port),
            authority: uri
                .authority()
                .map_or_else(|| host.to_owned(), |a| a.to_string()),
            path: uri
                .path_and_query()
                .map_or_else(|| "/".into(), |p| p.to_string()),
            tls,
        })
    }
}

/// The Inform a simulated CPE sends for a periodic session: the forced-inform parameters of a
/// Device:2 CPE plus the periodic-Inform settings, about 3 KB encoded.
pub fn periodic_inform(serial: &str, index: u64) -> Envelope {
    let p = |name: &str, value: Value| ParameterValue::new(name, value);
    let host = format!(
        "10.{}.{}.{}",
        (index >> 16) & 255,
        (index >> 8) & 255,
        index & 255
    );
    let parameter_list = vec![
        p("Device.RootDataModelVersion", Value::string("2.17")),
        p(
            "Device.DeviceInfo.Manufacturer",
            Value::string("Tether Simulated Devices"),
        ),
        p("Device.DeviceInfo.ManufacturerOUI", Value::string("00A0C9")),
        p("Device.DeviceInfo.ModelName", Value::string("SIM-CPE-1000")),
        p("Device.DeviceInfo.ProductClass", Value::string("SimCPE")),
        p("Device.DeviceInfo.SerialNumber", Value::string(serial)),
        p("Device.DeviceInfo.HardwareVersion", Value::string("Ver.A")),
        p(
            "Device.DeviceInfo.SoftwareVersion",
            Value::string("1.0.0, Release 0001"),
        ),
        p(
            "Device.DeviceInfo.ProvisioningCode",
            Value::string("SIMULATED"),
        ),
        p(
            "Device.DeviceInfo.UpTime",
            Value::unsigned_int(86_400 + (index % 1000) as u32),
        ),
        p(
            "Device.ManagementServer.ConnectionRequestURL",
            Value::string(format!("http://{host}:7547/cwmp-{index:016x}")),
        ),
        p("Device.ManagementServer.ParameterKey", Value::string("")),
        p(
            "Device.ManagementServer.PeriodicInformEnable",
            Value::boolean(true),
        ),
        p(
            "Device.ManagementServer.PeriodicInformInterval",
            Value::unsigned_int(300),
        ),
        p(
            "Device.ManagementServer.UDPConnectionRequestAddress",
            Value::string(format!("{host}:7547")),
        ),
        p(
            "Device.IP.Interface.1.IPv4Address.1.IPAddress",
            Value::string(host),
        ),
        p("Device.IP.Interface.1.Status", Value::string("Up")),
        p(
            "Device.Ethernet.Interface.1.MACAddress",
            Value::string(format!(
                "02:00:{:02x}:{:02x}:{:02x}:{:02x}",
                (index >> 24) & 255,
                (index >> 16) & 255,
                (index >> 8) & 255,
                index & 255
            )),
        ),
        p(
            "Device.DeviceInfo.MemoryStatus.Total",
            Value::unsigned_int(262_144),
        ),
        p(
            "Device.DeviceInfo.MemoryStatus.Free",
            Value::unsigned_int(131_072),
        ),
    ];
    let inform = Inform {
        device_id: DeviceId {
            manufacturer: "Tether Simulated Devices".into(),
            oui: "00A0C9".into(),
            product_class: "SimCPE".into(),
            serial_number: serial.into(),
        },
        events: vec![Event::new(EventCode::Periodic)],
        max_envelopes: 1,
        current_time: DateTime::from_unix(crate::now_unix(), 0),
        retry_count: 0,
        parameter_list,
    };
    Envelope::new(
        CwmpNamespace::V1_0,
        Some(format!("{index}")),
        Body::Inform(inform),
    )
}

/// Runs the load and reports.
pub async fn run(config: LoadConfig) -> Result<LoadReport, SimError> {
    if config.concurrency == 0 || config.devices == 0 {
        return Err(SimError::Config(
            "concurrency and devices must be positive".into(),
        ));
    }
    let target = Arc::new(Target::parse(
        &config.url,
        config.ca_file.as_ref(),
        config.resume,
    )?);
    let stats = Arc::new(Stats::new());
    let load_before = load_average();
    let stop = CancellationToken::new();
    let primed = Arc::new(AtomicU64::new(0));
    let sources = Arc::new(config.sources.clone());
    let mut workers = Vec::with_capacity(config.concurrency);
    stats.recording.store(false, Ordering::Relaxed);
    let stride = config.concurrency as u64;
    for worker in 0..stride {
        let (target, stats, sources, serials, stop, primed) = (
            Arc::clone(&target),
            Arc::clone(&stats),
            Arc::clone(&sources),
            config.serials.clone(),
            stop.clone(),
            Arc::clone(&primed),
        );
        let (devices, first, prime) = (config.devices.max(stride), config.first, config.prime);
        // Worker w serves devices w, w + C, w + 2C, ...: a device is never in two sessions
        // at once, as a real CPE never is.
        let per_worker = devices / stride;
        workers.push(tokio::spawn(async move {
            let mut round = 0u64;
            if !prime {
                primed.fetch_add(1, Ordering::Relaxed);
            }
            while !stop.is_cancelled() {
                if prime && round == per_worker {
                    primed.fetch_add(1, Ordering::Relaxed);
                }
                let n = worker + stride * (round % per_worker);
                round += 1;
                let device = first + n;
                let source = (!sources.is_empty()).then(|| sources[(n as usize) % sources.len()]);
                let serial = serials.render(device);
                let started = Instant::now();
                let outcome = tokio::select! {
                    () = stop.cancelled() => break,
                    o = tokio::time::timeout(SESSION_TIMEOUT, session(&target, source, &serial, device)) => o,
                };
                match outcome {
                    Ok(Ok(())) => stats.ok(started.elapsed()),
                    Ok(Err(kind)) => {
                        stats.error(kind);
                        // Do not spin on a refused connection.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    Err(_) => stats.error("timeout"),
                }
            }
        }));
    }
    // Warm-up: every device has had one session (with --prime), then `warmup` more.
    while primed.load(Ordering::Relaxed) < stride {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(config.warmup).await;
    stats.reset();
    stats.recording.store(true, Ordering::Relaxed);
    let client = Sampler::start(std::process::id(), Duration::from_millis(250));
    let server = config
        .watch_pid
        .map(|pid| Sampler::start(pid, Duration::from_millis(250)));
    let started = Instant::now();
    let live = config
        .live
        .then(|| Live::start("sessions", Arc::clone(&stats), started));
    tokio::time::sleep(config.duration).await;
    // Sessions still in flight at the end are cut and not counted.
    stats.recording.store(false, Ordering::Relaxed);
    stop.cancel();
    let seconds = started.elapsed().as_secs_f64();
    for w in workers {
        let _ = w.await;
    }
    if let Some(live) = live {
        live.stop();
    }
    let sessions = stats.completed.load(Ordering::Relaxed);
    let server = server.map(Sampler::finish);
    let server_cpu_us_per_session = server
        .as_ref()
        .filter(|_| sessions > 0)
        .map(|s| s.cpu_seconds * 1e6 / sessions as f64);
    Ok(LoadReport {
        kind: "load",
        url: config.url.clone(),
        tls: target.tls.is_some(),
        resume: config.resume,
        concurrency: config.concurrency,
        seconds,
        sessions,
        sessions_per_second: sessions as f64 / seconds.max(1e-9),
        errors: stats.errors.load(Ordering::Relaxed),
        error_kinds: stats.error_kinds(),
        latency: stats.overall(),
        client: client.finish(),
        server,
        server_cpu_us_per_session,
        load_average_before: load_before,
        load_average_after: load_average(),
    })
}

/// Connects from `source` (any port) to `target`.
pub async fn connect_from(
    source: Option<Ipv4Addr>,
    target: SocketAddr,
) -> std::io::Result<TcpStream> {
    let stream = match source {
        Some(ip) if target.is_ipv4() => {
            let socket = TcpSocket::new_v4()?;
            socket.bind(SocketAddr::new(IpAddr::V4(ip), 0))?;
            socket.connect(target).await?
        }
        _ => TcpStream::connect(target).await?,
    };
    stream.set_nodelay(true)?;
    Ok(stream)
}

async fn session(
    target: &Target,
    source: Option<Ipv4Addr>,
    serial: &str,
    index: u64,
) -> Result<(), &'static str> {
    let tcp = connect_from(source, target.addr)
        .await
        .map_err(|_| "connect")?;
    match &target.tls {
        None => exchange(tcp, target, serial, index).await,
        Some((connector, name)) => {
            let stream = connector
                .connect(name.clone(), tcp)
                .await
                .map_err(|_| "tls")?;
            exchange(stream, target, serial, index).await
        }
    }
}

async fn exchange<S>(io: S, target: &Target, serial: &str, index: u64) -> Result<(), &'static str>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|_| "http")?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let xml = tether_cwmp::encode(&periodic_inform(serial, index)).map_err(|_| "encode")?;
    let inform = Request::builder()
        .method(Method::POST)
        .uri(target.path.as_str())
        .header(header::HOST, target.authority.as_str())
        .header(header::CONTENT_TYPE, "text/xml; charset=\"utf-8\"")
        .header("SOAPAction", "")
        .body(Full::new(Bytes::from(xml)))
        .map_err(|_| "request")?;
    let response = sender.send_request(inform).await.map_err(|_| "http")?;
    if response.status() != StatusCode::OK {
        return Err(status_kind(response.status()));
    }
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|_| "http")?
        .to_bytes();
    if !contains(&body, b"InformResponse") {
        return Err("not-inform-response");
    }
    let mut empty = Request::builder()
        .method(Method::POST)
        .uri(target.path.as_str())
        .header(header::HOST, target.authority.as_str())
        .header(header::CONTENT_LENGTH, "0")
        .body(Full::new(Bytes::new()))
        .map_err(|_| "request")?;
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        empty.headers_mut().insert(header::COOKIE, c);
    }
    sender.ready().await.map_err(|_| "http")?;
    let response = sender.send_request(empty).await.map_err(|_| "http")?;
    let status = response.status();
    let _ = response.into_body().collect().await;
    drop(sender);
    let _ = driver.await;
    if status != StatusCode::NO_CONTENT {
        return Err(status_kind(status));
    }
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn status_kind(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "status-400",
        401 => "status-401",
        403 => "status-403",
        429 => "status-429",
        500 => "status-500",
        503 => "status-503",
        _ => "status-other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inform_is_cpe_sized_and_decodes() {
        let xml = tether_cwmp::encode(&periodic_inform("SIM00000001", 1)).unwrap();
        assert!((2_000..4_500).contains(&xml.len()), "{}", xml.len());
        let decoded = tether_cwmp::decode(xml.as_bytes()).unwrap();
        assert!(matches!(decoded.envelope.body, Body::Inform(_)));
    }

    #[test]
    fn targets_must_be_loopback() {
        assert!(Target::parse("http://192.0.2.1:7547/", None, false).is_err());
        assert!(Target::parse("http://127.0.0.1:7547/acs", None, false).is_ok());
        assert!(Target::parse("https://127.0.0.1:7547/", None, false).is_err());
    }
}
