//! The device-side cloud-connection manager: a state machine driven by events and `now`.
//!
//! Owns: the order of the steps (resolve, authenticate, register, upgrade, welcome,
//! subconnection URLs), keepalive and ping timers, read deadlines, back-off with jitter,
//! backup-server rotation, `reset cloud-management tunnel`, DHCP overrides and the fields of
//! `display cloud-management state`. Must not touch: sockets, DNS, TLS, clocks or randomness;
//! the driver performs each [`Action`] and feeds back an [`Event`] tagged with the action's
//! `attempt`, so late answers to an abandoned attempt are ignored.
//!
//! ```text
//!  Idle ─start─▶ Resolving ─▶ Authenticating ─▶ Registering ─▶ Handshaking ─welcome─▶ Established
//!                   ▲   (any failure: rotate server, back-off)                           │
//!                   └──────────────────────── Reconnecting ◀── loss / close / timeout ───┘
//! ```

use crate::auth::{self, DeviceKey};
use crate::backoff::{Backoff, BackoffConfig, Jitter};
use crate::close::{CloseCode, Reaction};
use crate::message::{
    self, AuthMethod, AuthProof, AuthRequest, CommandKind, DecodeError, ErrorBody, ErrorCode,
    Handshake, PROTOCOL_VERSION, RegisterFailureReason, RegisterRequest, Role, Tunnel,
    UnbindFailureReason,
};
use crate::status::{
    ConnectionState, DeviceState, FailureReason, ProcessState, Status, TransportFailure,
};
use crate::unbind::Code;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Duration;

/// HTTP path of steps 1-2.
pub const AUTH_PATH: &str = "/cloudlink/v1/auth";
/// HTTP path of steps 3-4.
pub const REGISTER_PATH: &str = "/cloudlink/v1/register";

/// A backup server (`cloud-management backup-server domain NAME [port P]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupServer {
    /// Domain name.
    pub domain: String,
    /// Port; the main `server port` when `None`.
    pub port: Option<u16>,
}

/// Device configuration (CLI values; DHCP overrides are applied with [`Device::apply_dhcp`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConfig {
    /// Serial number.
    pub serial: String,
    /// `cloud-management server domain`.
    pub server_domain: Option<String>,
    /// `cloud-management server port` (default 443).
    pub server_port: u16,
    /// `cloud-management backup-server ...`, in order of preference.
    pub backups: Vec<BackupServer>,
    /// `cloud-management server password`; `None` derives the key from the empty string.
    pub password: Option<String>,
    /// Proof method.
    pub auth_method: AuthMethod,
    /// `cloud-management keepalive` (default 180 s), proposed to the server at registration.
    pub keepalive: Duration,
    /// Missed keepalive intervals before re-registering (3).
    pub missed_keepalives: u32,
    /// WebSocket ping interval until the server's `welcome` says otherwise (30 s).
    pub ping_interval: Duration,
    /// Read deadline until the server's `welcome` says otherwise (75 s).
    pub read_timeout: Duration,
    /// Deadline for each DNS, HTTP and upgrade step (30 s).
    pub request_timeout: Duration,
    /// Reconnect back-off.
    pub backoff: BackoffConfig,
    /// Service modules on this device (requested in step 7).
    pub services: Vec<String>,
}

impl DeviceConfig {
    /// Defaults for a serial number.
    pub fn new(serial: impl Into<String>) -> Self {
        DeviceConfig {
            serial: serial.into(),
            server_domain: None,
            server_port: 443,
            backups: Vec::new(),
            password: None,
            auth_method: AuthMethod::HmacSha256,
            keepalive: Duration::from_secs(180),
            missed_keepalives: 3,
            ping_interval: Duration::from_secs(30),
            read_timeout: Duration::from_secs(75),
            request_timeout: Duration::from_secs(30),
            backoff: BackoffConfig::default(),
            services: vec!["terminal".into(), "config".into(), "telemetry".into()],
        }
    }
}

/// An HTTPS request to perform: `POST https://{domain}:{port}{path}` sent to `address`, with
/// TLS SNI and certificate name `domain`, body `encode(body)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Server domain (SNI, `Host`).
    pub domain: String,
    /// Resolved address to connect to.
    pub address: IpAddr,
    /// TCP port.
    pub port: u16,
    /// Path.
    pub path: &'static str,
    /// `Authorization: Bearer` value, if any.
    pub bearer: Option<String>,
    /// JSON body.
    pub body: Handshake,
}

/// A URL handed to a service module (steps 9-10), with the proof header it must send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceGrant {
    /// Service name.
    pub name: String,
    /// `wss://` URL.
    pub url: String,
    /// `Cloudlink-Proof` header value (`None` with certificate authentication).
    pub proof: Option<String>,
}

/// Something for the agent to know (not an I/O instruction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The verdict on a submitted unbinding code.
    UnbindResult {
        /// Request id returned by [`Device::submit_unbinding_code`].
        id: u32,
        /// Binding moved?
        ok: bool,
        /// Why not.
        reason: Option<UnbindFailureReason>,
    },
    /// The server announced a configuration change.
    ConfigChanged,
}

/// What the driver must do. Every I/O action carries the attempt its answer belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Resolve `domain`; answer [`Event::Resolved`] or [`Event::ResolveFailed`].
    Resolve {
        /// Attempt id.
        attempt: u64,
        /// Domain name.
        domain: String,
    },
    /// Send an HTTPS request; answer [`Event::HttpResponse`] or [`Event::TransportFailed`].
    Post {
        /// Attempt id.
        attempt: u64,
        /// The request.
        request: HttpRequest,
    },
    /// Open the main WebSocket with subprotocol `tether-cloudlink.v1` and headers
    /// `Cloudlink-Serial` and `Cloudlink-Proof`; answer [`Event::TunnelOpened`] or
    /// [`Event::TunnelRejected`] / [`Event::TransportFailed`].
    OpenTunnel {
        /// Attempt id.
        attempt: u64,
        /// `wss://` URL.
        url: String,
        /// `Cloudlink-Serial` header.
        serial: String,
        /// `Cloudlink-Proof` header (`None` with certificate authentication).
        proof: Option<String>,
    },
    /// Send a text frame on the main tunnel.
    Send {
        /// Attempt id.
        attempt: u64,
        /// The message (`message::encode`).
        message: Tunnel,
    },
    /// Send a WebSocket ping on the main tunnel.
    Ping {
        /// Attempt id.
        attempt: u64,
    },
    /// Close the main tunnel with this code, then drop it.
    Close {
        /// Attempt id of the tunnel to close.
        attempt: u64,
        /// Close code.
        code: CloseCode,
    },
    /// Hand URLs to service modules; each opens its own subconnection.
    StartServices {
        /// Attempt id.
        attempt: u64,
        /// One grant per service.
        grants: Vec<ServiceGrant>,
    },
    /// Close every subconnection (the main tunnel is going).
    StopServices,
    /// Tell the agent something.
    Notify(Notice),
}

/// What happened, as reported by the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// DNS answered.
    Resolved(IpAddr),
    /// DNS failed.
    ResolveFailed,
    /// An HTTPS response arrived (any status).
    HttpResponse {
        /// HTTP status.
        status: u16,
        /// Body bytes.
        body: Vec<u8>,
    },
    /// TCP, TLS or timeout failure on an HTTPS request or the upgrade.
    TransportFailed(TransportFailure),
    /// The upgrade answered 101.
    TunnelOpened,
    /// The upgrade answered another status.
    TunnelRejected(u16),
    /// A text frame on the main tunnel.
    Text(Vec<u8>),
    /// A binary frame on the main tunnel (not used by version 1).
    Binary,
    /// A ping or pong frame arrived (keeps the read deadline alive).
    Frame,
    /// The tunnel closed; the close code if a close frame arrived.
    Closed(Option<u16>),
}

/// Why an unbinding code could not be submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// Not 8 symbols of the code alphabet.
    #[error("not a valid unbinding code")]
    Malformed,
    /// The cloud connection is not established.
    #[error("cloud connection not established")]
    NotConnected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Resolving,
    AuthChallenge,
    AuthProof,
    Registering,
    Upgrading,
    AwaitWelcome,
    Established,
    Waiting,
}

#[derive(Debug, Clone, Copy)]
enum Retry {
    /// Back off; optionally move on to the next server.
    Backoff { rotate: bool },
    /// Start again at once.
    Now,
}

/// The device-side connection manager.
#[derive(Debug)]
pub struct Device {
    cfg: DeviceConfig,
    dhcp_domain: Option<String>,
    dhcp_password: Option<String>,
    started: bool,
    phase: Phase,
    attempt: u64,
    actions: VecDeque<Action>,
    server_idx: usize,
    address: Option<IpAddr>,
    session: Option<(String, Duration)>,
    reused_session: bool,
    deadline: Duration,
    backoff: Backoff,
    tunnel_open: bool,
    services_started: bool,
    connected_at: Option<Duration>,
    keepalive: Duration,
    ping_interval: Duration,
    read_timeout: Duration,
    next_keepalive: Duration,
    unacked_since: Option<Duration>,
    seq: u32,
    next_ping: Duration,
    last_rx: Duration,
    next_id: u32,
    device_state: DeviceState,
    process_state: ProcessState,
    failure: Option<FailureReason>,
}

impl Device {
    /// A stopped manager.
    pub fn new(cfg: DeviceConfig) -> Self {
        let backoff = Backoff::new(cfg.backoff);
        Device {
            keepalive: cfg.keepalive,
            ping_interval: cfg.ping_interval,
            read_timeout: cfg.read_timeout,
            cfg,
            dhcp_domain: None,
            dhcp_password: None,
            started: false,
            phase: Phase::Idle,
            attempt: 0,
            actions: VecDeque::new(),
            server_idx: 0,
            address: None,
            session: None,
            reused_session: false,
            deadline: Duration::ZERO,
            backoff,
            tunnel_open: false,
            services_started: false,
            connected_at: None,
            next_keepalive: Duration::ZERO,
            unacked_since: None,
            seq: 0,
            next_ping: Duration::ZERO,
            last_rx: Duration::ZERO,
            next_id: 0,
            device_state: DeviceState::None,
            process_state: ProcessState::Idle,
            failure: None,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &DeviceConfig {
        &self.cfg
    }

    /// Starts connecting.
    pub fn start(&mut self, now: Duration) {
        self.started = true;
        self.server_idx = 0;
        self.begin(now);
    }

    /// The next action for the driver, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`Device::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Duration> {
        match self.phase {
            Phase::Idle => None,
            Phase::Established => {
                let mut t = self
                    .next_keepalive
                    .min(self.next_ping)
                    .min(self.last_rx + self.read_timeout);
                if let Some(u) = self.unacked_since {
                    t = t.min(u + self.loss_after());
                }
                Some(t)
            }
            _ => Some(self.deadline),
        }
    }

    /// The id of the attempt in progress.
    pub fn attempt(&self) -> u64 {
        self.attempt
    }

    /// The fields of `display cloud-management state`.
    pub fn status(&self, now: Duration) -> Status {
        let (domain, port) = match self.endpoint() {
            Some((d, p)) => (Some(d.to_owned()), p),
            None => (None, self.cfg.server_port),
        };
        Status {
            connection_state: self.connection_state(),
            device_state: self.device_state,
            server_address: self.address,
            server_domain: domain,
            server_port: port,
            connected_at: self.connected_at,
            duration: self.connected_at.map(|c| now.saturating_sub(c)),
            process_state: self.process_state,
            failure_reason: self.failure,
            server_index: self.server_idx,
        }
    }

    /// `Cloud connection state`.
    pub fn connection_state(&self) -> ConnectionState {
        match self.phase {
            Phase::Idle => ConnectionState::Idle,
            Phase::Resolving => ConnectionState::Resolving,
            Phase::AuthChallenge | Phase::AuthProof => ConnectionState::Authenticating,
            Phase::Registering => ConnectionState::Registering,
            Phase::Upgrading | Phase::AwaitWelcome => ConnectionState::Handshaking,
            Phase::Established => ConnectionState::Established,
            Phase::Waiting => ConnectionState::Reconnecting,
        }
    }

    // ----- configuration and operator commands ------------------------------------------------

    /// `reset cloud-management tunnel`: tear down and start again from the main server, now.
    pub fn reset_tunnel(&mut self, now: Duration) {
        self.restart(now, FailureReason::Reset, CloseCode::ResetRequested);
    }

    /// DHCP option 253 (domain) and 252 (password). DHCP wins over the CLI; a change of the
    /// effective value rebuilds the connection, an identical value keeps it.
    pub fn apply_dhcp(&mut self, now: Duration, domain: Option<String>, password: Option<String>) {
        let before = self.effective();
        self.dhcp_domain = domain;
        self.dhcp_password = password;
        self.rebuild_if_changed(now, before);
    }

    /// `cloud-management server domain` / `undo`.
    pub fn set_server_domain(&mut self, now: Duration, domain: Option<String>) {
        let before = self.effective();
        self.cfg.server_domain = domain;
        self.rebuild_if_changed(now, before);
    }

    /// `cloud-management server port`.
    pub fn set_server_port(&mut self, now: Duration, port: u16) {
        let before = self.effective();
        self.cfg.server_port = port;
        self.rebuild_if_changed(now, before);
    }

    /// `cloud-management server password`.
    pub fn set_password(&mut self, now: Duration, password: Option<String>) {
        let before = self.effective();
        self.cfg.password = password;
        self.rebuild_if_changed(now, before);
    }

    /// `cloud-management backup-server ...`: takes effect at the next rotation.
    pub fn set_backups(&mut self, backups: Vec<BackupServer>) {
        self.cfg.backups = backups;
        if self.server_idx >= self.server_count() {
            self.server_idx = 0;
        }
    }

    /// `cloud-management keepalive`: proposed to the server at the next registration.
    pub fn set_keepalive(&mut self, keepalive: Duration) {
        self.cfg.keepalive = keepalive;
    }

    /// The network link came back: skip the rest of a back-off wait.
    pub fn link_up(&mut self, now: Duration) {
        if self.phase == Phase::Waiting {
            self.backoff.reset();
            self.begin(now);
        }
    }

    /// `cloud-management unbinding-code CODE`: sends the code over the tunnel. Returns the
    /// request id that the later [`Notice::UnbindResult`] carries.
    pub fn submit_unbinding_code(&mut self, code: &str) -> Result<u32, SubmitError> {
        let code = Code::parse(code).ok_or(SubmitError::Malformed)?;
        if self.phase != Phase::Established {
            return Err(SubmitError::NotConnected);
        }
        let id = self.next_id();
        self.send(Tunnel::UnbindCode {
            id,
            code: code.as_str().to_owned(),
        });
        Ok(id)
    }

    /// A service module lost (or could not open) its subconnection: ask the server for fresh
    /// URLs for `services` (step 7 again). The answer arrives as [`Action::StartServices`].
    pub fn request_subconnections(&mut self, services: &[String]) -> Result<u32, SubmitError> {
        if self.phase != Phase::Established {
            return Err(SubmitError::NotConnected);
        }
        let id = self.next_id();
        self.send(Tunnel::SubconnRequest {
            id,
            services: services.to_vec(),
        });
        Ok(id)
    }

    // ----- events -----------------------------------------------------------------------------

    /// Feeds the outcome of an action of `attempt`; stale attempts are ignored.
    pub fn handle(&mut self, now: Duration, jitter: Jitter, attempt: u64, event: Event) {
        if attempt != self.attempt || !self.started {
            return;
        }
        match (self.phase, event) {
            (Phase::Resolving, Event::Resolved(addr)) => {
                self.address = Some(addr);
                if self.session_valid(now) {
                    self.reused_session = true;
                    self.register(now);
                } else {
                    self.reused_session = false;
                    self.session = None;
                    self.authenticate(now);
                }
            }
            (Phase::Resolving, Event::ResolveFailed) => {
                self.fail(
                    now,
                    jitter,
                    FailureReason::DnsFailed,
                    Retry::Backoff { rotate: true },
                    None,
                );
            }
            (
                Phase::AuthChallenge | Phase::AuthProof | Phase::Registering,
                Event::HttpResponse { status, body },
            ) => self.on_http(now, jitter, status, &body),
            (
                Phase::AuthChallenge
                | Phase::AuthProof
                | Phase::Registering
                | Phase::Upgrading
                | Phase::AwaitWelcome,
                Event::TransportFailed(t),
            ) => {
                self.fail(
                    now,
                    jitter,
                    FailureReason::Transport(t),
                    Retry::Backoff { rotate: true },
                    None,
                );
            }
            (Phase::Upgrading, Event::TunnelOpened) => {
                self.tunnel_open = true;
                self.last_rx = now;
                self.phase = Phase::AwaitWelcome;
                self.deadline = now + self.cfg.request_timeout;
            }
            (Phase::Upgrading, Event::TunnelRejected(status)) => {
                self.device_state = DeviceState::RegisterFailed;
                self.fail(
                    now,
                    jitter,
                    FailureReason::UpgradeRejected(status),
                    Retry::Backoff { rotate: true },
                    None,
                );
            }
            (Phase::AwaitWelcome | Phase::Established, Event::Text(bytes)) => {
                self.last_rx = now;
                self.process_state = ProcessState::MessageReceived;
                self.on_text(now, jitter, &bytes);
            }
            (Phase::AwaitWelcome | Phase::Established, Event::Binary) => {
                self.fail(
                    now,
                    jitter,
                    FailureReason::ProtocolError,
                    Retry::Backoff { rotate: false },
                    Some(CloseCode::ProtocolError),
                );
            }
            (Phase::AwaitWelcome | Phase::Established, Event::Frame) => self.last_rx = now,
            (Phase::AwaitWelcome | Phase::Established, Event::Closed(code)) => {
                self.tunnel_open = false;
                self.on_closed(now, jitter, code);
            }
            // Anything else does not belong to the current step: ignore it.
            _ => {}
        }
    }

    /// Runs timers that are due at `now`.
    pub fn handle_timeout(&mut self, now: Duration, jitter: Jitter) {
        match self.phase {
            Phase::Idle => {}
            Phase::Waiting => {
                if now >= self.deadline {
                    self.begin(now);
                }
            }
            Phase::Established => self.established_timers(now, jitter),
            _ => {
                if now >= self.deadline {
                    self.fail(
                        now,
                        jitter,
                        FailureReason::Transport(TransportFailure::Timeout),
                        Retry::Backoff { rotate: true },
                        self.tunnel_open.then_some(CloseCode::ReadTimeout),
                    );
                }
            }
        }
    }

    // ----- internals --------------------------------------------------------------------------

    fn effective(&self) -> (Option<String>, u16, Option<String>) {
        (
            self.dhcp_domain
                .clone()
                .or_else(|| self.cfg.server_domain.clone()),
            self.cfg.server_port,
            self.dhcp_password
                .clone()
                .or_else(|| self.cfg.password.clone()),
        )
    }

    fn rebuild_if_changed(&mut self, now: Duration, before: (Option<String>, u16, Option<String>)) {
        if self.started && self.effective() != before {
            self.restart(now, FailureReason::ConfigChanged, CloseCode::Normal);
        }
    }

    fn restart(&mut self, now: Duration, why: FailureReason, code: CloseCode) {
        if !self.started {
            return;
        }
        self.teardown(Some(code));
        self.failure = Some(why);
        self.session = None;
        self.server_idx = 0;
        self.address = None;
        self.backoff.reset();
        self.begin(now);
    }

    fn server_count(&self) -> usize {
        1 + self.cfg.backups.len()
    }

    fn endpoint(&self) -> Option<(&str, u16)> {
        if self.server_idx == 0 {
            let d = self
                .dhcp_domain
                .as_deref()
                .or(self.cfg.server_domain.as_deref())?;
            Some((d, self.cfg.server_port))
        } else {
            let b = self.cfg.backups.get(self.server_idx - 1)?;
            Some((&b.domain, b.port.unwrap_or(self.cfg.server_port)))
        }
    }

    fn key(&self) -> DeviceKey {
        let pw = self
            .dhcp_password
            .as_deref()
            .or(self.cfg.password.as_deref())
            .unwrap_or("");
        DeviceKey::derive(pw, &self.cfg.serial)
    }

    fn loss_after(&self) -> Duration {
        self.keepalive * self.cfg.missed_keepalives.max(1)
    }

    fn session_valid(&self, now: Duration) -> bool {
        self.session.as_ref().is_some_and(|(_, exp)| now < *exp)
    }

    fn next_id(&mut self) -> u32 {
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
    }

    fn send(&mut self, message: Tunnel) {
        self.process_state = ProcessState::MessageSent;
        self.actions.push_back(Action::Send {
            attempt: self.attempt,
            message,
        });
    }

    fn post(&mut self, now: Duration, path: &'static str, bearer: Option<String>, body: Handshake) {
        let (Some((domain, port)), Some(address)) = (self.endpoint(), self.address) else {
            return;
        };
        let request = HttpRequest {
            domain: domain.to_owned(),
            address,
            port,
            path,
            bearer,
            body,
        };
        self.actions.push_back(Action::Post {
            attempt: self.attempt,
            request,
        });
        self.process_state = ProcessState::WaitingResponse;
        self.deadline = now + self.cfg.request_timeout;
    }

    /// Starts an attempt on the current server: resolve, then authenticate or register.
    fn begin(&mut self, now: Duration) {
        self.attempt += 1;
        self.tunnel_open = false;
        let Some((domain, _)) = self.endpoint() else {
            if self.server_idx != 0 {
                self.server_idx = 0;
                return self.begin(now);
            }
            self.phase = Phase::Idle;
            self.failure = Some(FailureReason::NoServer);
            self.process_state = ProcessState::Idle;
            return;
        };
        let domain = domain.to_owned();
        self.phase = Phase::Resolving;
        self.process_state = ProcessState::Resolving;
        self.deadline = now + self.cfg.request_timeout;
        self.actions.push_back(Action::Resolve {
            attempt: self.attempt,
            domain,
        });
    }

    fn authenticate(&mut self, now: Duration) {
        self.phase = Phase::AuthChallenge;
        let body = Handshake::AuthRequest(AuthRequest {
            version: PROTOCOL_VERSION,
            serial: self.cfg.serial.clone(),
            method: self.cfg.auth_method,
            model: None,
            software: None,
        });
        self.post(now, AUTH_PATH, None, body);
    }

    fn register(&mut self, now: Duration) {
        self.phase = Phase::Registering;
        let token = self.session.as_ref().map(|(t, _)| t.clone());
        let body = Handshake::RegisterRequest(RegisterRequest {
            version: PROTOCOL_VERSION,
            serial: self.cfg.serial.clone(),
            keepalive: u32::try_from(self.cfg.keepalive.as_secs()).unwrap_or(u32::MAX),
            services: self.cfg.services.clone(),
        });
        self.post(now, REGISTER_PATH, token, body);
    }

    fn on_http(&mut self, now: Duration, jitter: Jitter, status: u16, body: &[u8]) {
        let msg = match message::decode::<Handshake>(body, Role::Server) {
            Ok(m) => m,
            Err(_) => {
                let reason = if status == 200 {
                    FailureReason::ProtocolError
                } else {
                    FailureReason::Transport(TransportFailure::HttpStatus(status))
                };
                return self.fail(now, jitter, reason, Retry::Backoff { rotate: true }, None);
            }
        };
        match (self.phase, msg) {
            (Phase::AuthChallenge, Handshake::AuthChallenge(c))
                if c.version == PROTOCOL_VERSION =>
            {
                self.phase = Phase::AuthProof;
                let proof = auth::auth_proof(&self.key(), &c.nonce, &self.cfg.serial, c.ts);
                let body = Handshake::AuthProof(AuthProof {
                    version: PROTOCOL_VERSION,
                    serial: self.cfg.serial.clone(),
                    nonce: c.nonce,
                    ts: c.ts,
                    proof,
                });
                self.post(now, AUTH_PATH, None, body);
            }
            (Phase::AuthChallenge | Phase::AuthProof, Handshake::AuthSuccess(s))
                if s.version == PROTOCOL_VERSION =>
            {
                let life = Duration::from_secs(u64::from(s.expires_in));
                self.session = Some((s.session, now + life));
                self.reused_session = false;
                self.register(now);
            }
            (Phase::AuthChallenge | Phase::AuthProof, Handshake::AuthFailure(f)) => {
                self.device_state = DeviceState::AuthFailed;
                self.fail_after(
                    now,
                    jitter,
                    FailureReason::AuthRejected(f.reason),
                    f.retry_after,
                );
            }
            (Phase::Registering, Handshake::RegisterResponse(r))
                if r.version == PROTOCOL_VERSION =>
            {
                self.phase = Phase::Upgrading;
                self.deadline = now + self.cfg.request_timeout;
                self.process_state = ProcessState::WaitingResponse;
                let proof = self.proof_for(&r.tunnel_url);
                self.actions.push_back(Action::OpenTunnel {
                    attempt: self.attempt,
                    url: r.tunnel_url,
                    serial: self.cfg.serial.clone(),
                    proof,
                });
            }
            (Phase::Registering, Handshake::RegisterFailure(f)) => {
                self.session = None;
                if f.reason == RegisterFailureReason::SessionInvalid && self.reused_session {
                    // The remembered session lapsed on the server: authenticate at once.
                    self.reused_session = false;
                    self.authenticate(now);
                } else {
                    self.device_state = DeviceState::RegisterFailed;
                    self.fail_after(
                        now,
                        jitter,
                        FailureReason::RegisterRejected(f.reason),
                        f.retry_after,
                    );
                }
            }
            _ => self.fail(
                now,
                jitter,
                FailureReason::ProtocolError,
                Retry::Backoff { rotate: true },
                None,
            ),
        }
    }

    fn fail_after(
        &mut self,
        now: Duration,
        jitter: Jitter,
        why: FailureReason,
        retry_after: Option<u32>,
    ) {
        self.fail(now, jitter, why, Retry::Backoff { rotate: true }, None);
        if let Some(secs) = retry_after {
            let floor = now + Duration::from_secs(u64::from(secs.min(3600)));
            self.deadline = self.deadline.max(floor);
        }
    }

    fn proof_for(&self, url: &str) -> Option<String> {
        match self.cfg.auth_method {
            AuthMethod::Certificate => None,
            AuthMethod::HmacSha256 => Some(auth::url_proof(
                &self.key(),
                token_from_url(url).unwrap_or(""),
            )),
        }
    }

    fn on_text(&mut self, now: Duration, jitter: Jitter, bytes: &[u8]) {
        let msg = match message::decode::<Tunnel>(bytes, Role::Server) {
            Ok(m) => m,
            Err(DecodeError::UnknownType(t)) => {
                return self.send(Tunnel::Error(ErrorBody {
                    code: ErrorCode::UnknownType,
                    message: String::from("unknown message type"),
                    ref_type: Some(t),
                    ref_id: None,
                }));
            }
            Err(e) => {
                let code = CloseCode::for_decode_error(&e).unwrap_or(CloseCode::ProtocolError);
                return self.fail(
                    now,
                    jitter,
                    FailureReason::ProtocolError,
                    Retry::Backoff { rotate: false },
                    Some(code),
                );
            }
        };
        match (self.phase, msg) {
            (
                Phase::AwaitWelcome,
                Tunnel::Welcome {
                    version,
                    keepalive,
                    ping_interval,
                    read_timeout,
                    ..
                },
            ) => {
                if version != PROTOCOL_VERSION {
                    return self.fail(
                        now,
                        jitter,
                        FailureReason::ProtocolError,
                        Retry::Backoff { rotate: true },
                        Some(CloseCode::UnsupportedVersion),
                    );
                }
                let secs = |v: u32, dflt: Duration| {
                    if v == 0 {
                        dflt
                    } else {
                        Duration::from_secs(u64::from(v))
                    }
                };
                self.keepalive = secs(keepalive, self.cfg.keepalive);
                self.ping_interval = secs(ping_interval, self.cfg.ping_interval);
                self.read_timeout = secs(read_timeout, self.cfg.read_timeout);
                self.phase = Phase::Established;
                self.connected_at = Some(now);
                self.backoff.reset();
                self.device_state = DeviceState::RequestSuccess;
                self.failure = None;
                // Fresh counters for every connection.
                self.unacked_since = None;
                self.next_keepalive = now + self.keepalive;
                self.next_ping = now + self.ping_interval;
                self.last_rx = now;
                self.request_services();
            }
            (Phase::Established, Tunnel::KeepaliveAck { .. }) => self.unacked_since = None,
            (Phase::Established, Tunnel::SubconnResponse { services, .. }) => {
                let grants = services
                    .into_iter()
                    .map(|s| ServiceGrant {
                        proof: self.proof_for(&s.url),
                        name: s.name,
                        url: s.url,
                    })
                    .collect();
                self.services_started = true;
                self.actions.push_back(Action::StartServices {
                    attempt: self.attempt,
                    grants,
                });
            }
            (Phase::Established, Tunnel::UnbindResult { id, ok, reason }) => {
                self.actions
                    .push_back(Action::Notify(Notice::UnbindResult { id, ok, reason }));
            }
            (Phase::Established, Tunnel::Command { id, command }) => {
                let ok = !matches!(command, CommandKind::Other);
                self.send(Tunnel::CommandAck {
                    id,
                    ok,
                    message: (!ok).then(|| String::from("unknown command")),
                });
                match command {
                    CommandKind::ResetTunnel => self.reset_tunnel(now),
                    CommandKind::ConfigChanged => {
                        self.actions
                            .push_back(Action::Notify(Notice::ConfigChanged));
                    }
                    CommandKind::RefreshServices => self.request_services(),
                    _ => {}
                }
            }
            (Phase::Established, Tunnel::Error(_)) => {}
            _ => self.fail(
                now,
                jitter,
                FailureReason::ProtocolError,
                Retry::Backoff { rotate: false },
                Some(CloseCode::ProtocolError),
            ),
        }
    }

    fn request_services(&mut self) {
        let id = self.next_id();
        let services = self.cfg.services.clone();
        self.send(Tunnel::SubconnRequest { id, services });
    }

    fn on_closed(&mut self, now: Duration, jitter: Jitter, code: Option<u16>) {
        let Some(code) = code.map(CloseCode::from_code) else {
            return self.fail(
                now,
                jitter,
                FailureReason::ConnectionLost,
                Retry::Backoff { rotate: false },
                None,
            );
        };
        if code == CloseCode::Unbound {
            self.device_state = DeviceState::Unbound;
        }
        if matches!(code, CloseCode::AuthExpired | CloseCode::ResetRequested) {
            self.session = None;
        }
        let retry = match code.reaction() {
            Reaction::ReconnectNow => Retry::Now,
            Reaction::ReconnectWithBackoff => Retry::Backoff { rotate: false },
        };
        self.fail(
            now,
            jitter,
            FailureReason::ClosedByServer(code),
            retry,
            None,
        );
    }

    fn established_timers(&mut self, now: Duration, jitter: Jitter) {
        if let Some(u) = self.unacked_since
            && now >= u + self.loss_after()
        {
            // The guide: no response within three intervals ⇒ register again, at once.
            return self.fail(
                now,
                jitter,
                FailureReason::KeepaliveLost,
                Retry::Now,
                Some(CloseCode::KeepaliveTimeout),
            );
        }
        if now >= self.last_rx + self.read_timeout {
            return self.fail(
                now,
                jitter,
                FailureReason::ReadTimeout,
                Retry::Backoff { rotate: false },
                Some(CloseCode::ReadTimeout),
            );
        }
        if now >= self.next_keepalive {
            self.seq = self.seq.wrapping_add(1);
            let seq = self.seq;
            self.send(Tunnel::Keepalive { seq });
            self.unacked_since.get_or_insert(now);
            self.next_keepalive += self.keepalive;
            if self.next_keepalive <= now {
                self.next_keepalive = now + self.keepalive;
            }
        }
        if now >= self.next_ping {
            self.actions.push_back(Action::Ping {
                attempt: self.attempt,
            });
            self.next_ping = now + self.ping_interval;
        }
    }

    fn teardown(&mut self, close: Option<CloseCode>) {
        if self.tunnel_open
            && let Some(code) = close
        {
            self.actions.push_back(Action::Close {
                attempt: self.attempt,
                code,
            });
        }
        self.tunnel_open = false;
        if self.services_started {
            self.actions.push_back(Action::StopServices);
            self.services_started = false;
        }
        self.connected_at = None;
        self.unacked_since = None;
    }

    fn fail(
        &mut self,
        now: Duration,
        jitter: Jitter,
        why: FailureReason,
        retry: Retry,
        close: Option<CloseCode>,
    ) {
        self.teardown(close);
        self.failure = Some(why);
        match retry {
            Retry::Now => self.begin(now),
            Retry::Backoff { rotate } => {
                if rotate {
                    self.server_idx = (self.server_idx + 1) % self.server_count();
                    self.session = None;
                    self.address = None;
                }
                self.attempt += 1;
                self.phase = Phase::Waiting;
                self.process_state = ProcessState::WaitingRetry;
                self.deadline = now + self.backoff.next_delay(jitter);
            }
        }
    }
}

/// The value of the `token` query parameter of a URL handed out by the server; the
/// `Cloudlink-Proof` header is computed over exactly these characters.
pub fn token_from_url(url: &str) -> Option<&str> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{AuthChallenge, AuthFailure, AuthFailureReason, AuthSuccess, encode};
    use std::net::Ipv4Addr;

    const ADDR: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 1, 1, 1));

    fn device() -> Device {
        let mut cfg = DeviceConfig::new("SN1");
        cfg.server_domain = Some("cloud.com".into());
        cfg.password = Some("pw".into());
        Device::new(cfg)
    }

    fn http(m: Handshake) -> Event {
        Event::HttpResponse {
            status: 200,
            body: encode(&m).into_bytes(),
        }
    }

    fn drain(d: &mut Device) -> Vec<Action> {
        std::iter::from_fn(|| d.poll_action()).collect()
    }

    #[test]
    fn start_without_domain_stays_idle_with_reason() {
        let mut d = Device::new(DeviceConfig::new("SN1"));
        d.start(Duration::ZERO);
        let s = d.status(Duration::ZERO);
        assert_eq!(s.connection_state, ConnectionState::Idle);
        assert_eq!(s.failure_reason, Some(FailureReason::NoServer));
        assert_eq!(s.server_port, 443);
    }

    #[test]
    fn steps_run_in_order_up_to_the_upgrade() {
        let mut d = device();
        let t = Duration::ZERO;
        d.start(t);
        assert!(
            matches!(&drain(&mut d)[..], [Action::Resolve { domain, .. }] if domain == "cloud.com")
        );
        assert_eq!(d.connection_state(), ConnectionState::Resolving);
        d.handle(t, Jitter(0), d.attempt(), Event::Resolved(ADDR));
        assert_eq!(d.connection_state(), ConnectionState::Authenticating);
        let a = drain(&mut d);
        assert!(matches!(&a[..], [Action::Post { request, .. }]
            if request.path == AUTH_PATH && matches!(request.body, Handshake::AuthRequest(_))));
        let ch = Handshake::AuthChallenge(AuthChallenge {
            version: 1,
            nonce: "n".into(),
            ts: 5,
            expires_in: 30,
        });
        d.handle(t, Jitter(0), d.attempt(), http(ch));
        let a = drain(&mut d);
        let expected = auth::auth_proof(&DeviceKey::derive("pw", "SN1"), "n", "SN1", 5);
        assert!(matches!(&a[..], [Action::Post { request, .. }]
            if matches!(&request.body, Handshake::AuthProof(p) if p.proof == expected)));
        let ok = Handshake::AuthSuccess(AuthSuccess {
            version: 1,
            session: "S".into(),
            expires_in: 300,
        });
        d.handle(t, Jitter(0), d.attempt(), http(ok));
        assert_eq!(d.connection_state(), ConnectionState::Registering);
        let a = drain(&mut d);
        assert!(matches!(&a[..], [Action::Post { request, .. }]
            if request.path == REGISTER_PATH && request.bearer.as_deref() == Some("S")));
    }

    #[test]
    fn stale_events_are_ignored() {
        let mut d = device();
        d.start(Duration::ZERO);
        let old = d.attempt();
        d.handle(Duration::ZERO, Jitter(0), old, Event::ResolveFailed);
        assert_eq!(d.connection_state(), ConnectionState::Reconnecting);
        d.handle(Duration::ZERO, Jitter(0), old, Event::Resolved(ADDR));
        assert_eq!(d.connection_state(), ConnectionState::Reconnecting);
    }

    #[test]
    fn auth_failure_sets_device_state_and_reason_and_honours_retry_after() {
        let mut d = device();
        let t = Duration::ZERO;
        d.start(t);
        d.handle(t, Jitter(0), d.attempt(), Event::Resolved(ADDR));
        let f = Handshake::AuthFailure(AuthFailure {
            version: 1,
            reason: AuthFailureReason::RateLimited,
            message: String::new(),
            supported: vec![],
            retry_after: Some(60),
        });
        d.handle(
            t,
            Jitter(0),
            d.attempt(),
            Event::HttpResponse {
                status: 429,
                body: encode(&f).into_bytes(),
            },
        );
        let s = d.status(t);
        assert_eq!(s.device_state, DeviceState::AuthFailed);
        assert_eq!(
            s.failure_reason,
            Some(FailureReason::AuthRejected(AuthFailureReason::RateLimited))
        );
        assert_eq!(d.poll_timeout(), Some(Duration::from_secs(60)));
    }

    #[test]
    fn identical_dhcp_value_keeps_connection_and_a_new_one_rebuilds() {
        let mut d = device();
        d.start(Duration::ZERO);
        drain(&mut d);
        let a = d.attempt();
        d.apply_dhcp(Duration::ZERO, Some("cloud.com".into()), Some("pw".into()));
        assert_eq!(d.attempt(), a);
        d.apply_dhcp(Duration::ZERO, Some("other.com".into()), None);
        assert_ne!(d.attempt(), a);
        assert_eq!(
            d.status(Duration::ZERO).server_domain.as_deref(),
            Some("other.com")
        );
        assert!(
            matches!(&drain(&mut d)[..], [Action::Resolve { domain, .. }] if domain == "other.com")
        );
    }

    #[test]
    fn unbinding_code_needs_a_connection_and_a_valid_code() {
        let mut d = device();
        assert_eq!(d.submit_unbinding_code("bad"), Err(SubmitError::Malformed));
        assert_eq!(
            d.submit_unbinding_code("ABCD-EFGH"),
            Err(SubmitError::NotConnected)
        );
    }

    #[test]
    fn token_is_found_in_url_query() {
        assert_eq!(
            token_from_url("wss://h/cloudlink/v1/tunnel?token=ct1.a.b"),
            Some("ct1.a.b")
        );
        assert_eq!(token_from_url("wss://h/x?a=1&token=t#f"), Some("t"));
        assert_eq!(token_from_url("wss://h/x"), None);
    }
}
