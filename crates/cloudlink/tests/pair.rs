//! A device and a server wired together in memory with a fake clock: every step of the
//! protocol runs through the real state machines, with no sockets and no sleeping.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use tether_cloudlink::auth::{self, DeviceKey};
use tether_cloudlink::backoff::Jitter;
use tether_cloudlink::close::CloseCode;
use tether_cloudlink::device::{
    Action, BackupServer, Device, DeviceConfig, Event, ServiceGrant, token_from_url,
};
use tether_cloudlink::handshake::{
    DeviceRecord, HandshakeConfig, Handshaker, Presenter, UpgradeError,
};
use tether_cloudlink::message::{
    self, AuthFailureReason, Handshake, Role, Tunnel, UnbindFailureReason, encode, limits,
};
use tether_cloudlink::server::{DeviceServices, Output, Request, SessionConfig, TunnelSession};
use tether_cloudlink::status::{
    ConnectionState, DeviceState, FailureReason, ProcessState, TransportFailure, format_duration,
};
use tether_cloudlink::token::{ReplaySet, TokenError, TokenKey, TokenSigner};
use tether_cloudlink::unbind::{UnbindCode, UnbindPolicy};

const EPOCH: u64 = 1_700_000_000;
const OFFERED: &[&str] = &["terminal", "config", "telemetry"];

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// One cloud server: handshake, inventory, the current tunnel of the device.
struct Server {
    address: IpAddr,
    up: bool,
    ack_keepalives: bool,
    hs: Handshaker,
    replay: ReplaySet,
    inventory: HashMap<String, DeviceKey>,
    session: Option<TunnelSession>,
    services: DeviceServices,
    unbind: Option<UnbindCode>,
    next_tunnel: u64,
    nonce: u8,
}

impl Server {
    fn new(domain: &str, last_octet: u8) -> Self {
        Server {
            address: IpAddr::V4(Ipv4Addr::new(10, 1, 1, last_octet)),
            up: true,
            ack_keepalives: true,
            hs: Handshaker::new(
                HandshakeConfig::new(format!("wss://{domain}")),
                TokenSigner::new(TokenKey {
                    id: 1,
                    secret: [last_octet; 32],
                }),
            ),
            replay: ReplaySet::new(1024),
            inventory: HashMap::new(),
            session: None,
            services: DeviceServices::new(),
            unbind: None,
            next_tunnel: 0,
            nonce: 0,
        }
    }

    fn nonce(&mut self) -> [u8; 16] {
        self.nonce = self.nonce.wrapping_add(1);
        [self.nonce; 16]
    }

    fn http(&mut self, now: u64, path: &str, bearer: Option<&str>, body: &[u8]) -> (u16, Vec<u8>) {
        let req = match message::decode::<Handshake>(body, Role::Device) {
            Ok(r) => r,
            Err(e) => {
                let r = Handshaker::bad_request(&e);
                return (r.status, encode(&r.body).into_bytes());
            }
        };
        let nonce = self.nonce();
        let reply = match (&req, path) {
            (Handshake::AuthRequest(_) | Handshake::AuthProof(_), "/cloudlink/v1/auth") => {
                let serial = match &req {
                    Handshake::AuthRequest(r) => r.serial.clone(),
                    Handshake::AuthProof(p) => p.serial.clone(),
                    _ => unreachable!(),
                };
                let key = self.inventory.get(&serial);
                let record = key.map(|k| DeviceRecord {
                    key: Some(k),
                    certificate_allowed: false,
                });
                self.hs
                    .auth(now, &req, record, None, nonce, &mut self.replay)
            }
            (Handshake::RegisterRequest(r), "/cloudlink/v1/register") => {
                let known = self.inventory.contains_key(&r.serial);
                self.hs.register(now, bearer, r, known, nonce)
            }
            _ => panic!("unexpected request {req:?} on {path}"),
        };
        (reply.status, encode(&reply.body).into_bytes())
    }

    fn admit_service(
        &mut self,
        now: u64,
        serial: &str,
        grant: &ServiceGrant,
    ) -> Result<(), UpgradeError> {
        let token = token_from_url(&grant.url).unwrap_or("");
        let presenter = Presenter {
            serial,
            proof: grant.proof.as_deref(),
            cert_serial: None,
        };
        let key = self.inventory.get(serial);
        self.hs
            .admit_subconnection(now, &grant.name, token, presenter, key, &mut self.replay)
            .map(|_| ())
    }
}

/// The in-memory network, the fake clock and the driver of the device.
struct Net {
    now: Duration,
    jitter: Jitter,
    device: Device,
    servers: HashMap<String, Server>,
    /// Domain and attempt of the open main tunnel.
    tunnel: Option<(String, u64)>,
    /// Every action the device took, with its time.
    log: Vec<(Duration, Action)>,
    grants: Vec<ServiceGrant>,
    subconnections: Vec<Result<(), UpgradeError>>,
}

impl Net {
    fn new(cfg: DeviceConfig) -> Self {
        let mut servers = HashMap::new();
        servers.insert("cloud.com".to_string(), Server::new("cloud.com", 1));
        Net {
            now: Duration::ZERO,
            jitter: Jitter(0),
            device: Device::new(cfg),
            servers,
            tunnel: None,
            log: Vec::new(),
            grants: Vec::new(),
            subconnections: Vec::new(),
        }
    }

    fn unix(&self) -> u64 {
        EPOCH + self.now.as_secs()
    }

    fn server(&mut self, domain: &str) -> &mut Server {
        self.servers.get_mut(domain).expect("server")
    }

    fn feed(&mut self, attempt: u64, event: Event) {
        self.device.handle(self.now, self.jitter, attempt, event);
    }

    /// Runs device actions until none are left.
    fn pump(&mut self) {
        while let Some(action) = self.device.poll_action() {
            self.log.push((self.now, action.clone()));
            self.execute(action);
        }
    }

    fn execute(&mut self, action: Action) {
        let unix = self.unix();
        match action {
            Action::Resolve { attempt, domain } => {
                let ev = match self.servers.get(&domain) {
                    Some(s) => Event::Resolved(s.address),
                    None => Event::ResolveFailed,
                };
                self.feed(attempt, ev);
            }
            Action::Post { attempt, request } => {
                let server = self.server(&request.domain);
                let ev = if server.up {
                    let body = encode(&request.body);
                    let (status, body) = server.http(
                        unix,
                        request.path,
                        request.bearer.as_deref(),
                        body.as_bytes(),
                    );
                    Event::HttpResponse { status, body }
                } else {
                    Event::TransportFailed(TransportFailure::Connect)
                };
                self.feed(attempt, ev);
            }
            Action::OpenTunnel {
                attempt,
                url,
                serial,
                proof,
            } => {
                let domain = url
                    .strip_prefix("wss://")
                    .and_then(|u| u.split('/').next())
                    .unwrap_or("")
                    .to_string();
                let now = self.now;
                let server = self.server(&domain);
                if !server.up {
                    return self.feed(attempt, Event::TransportFailed(TransportFailure::Connect));
                }
                let token = token_from_url(&url).unwrap_or("");
                let presenter = Presenter {
                    serial: &serial,
                    proof: proof.as_deref(),
                    cert_serial: None,
                };
                let key = server.inventory.get(&serial).cloned();
                match server.hs.admit_tunnel(
                    unix,
                    token,
                    presenter,
                    key.as_ref(),
                    &mut server.replay,
                ) {
                    Ok(claims) => {
                        server.next_tunnel += 1;
                        let cfg = SessionConfig {
                            keepalive: secs(u64::from(claims.keepalive().unwrap_or(180))),
                            ..SessionConfig::default()
                        };
                        let mut s = TunnelSession::new(now, &serial, server.next_tunnel, cfg);
                        let welcome = s.welcome(now, unix);
                        server.session = Some(s);
                        self.tunnel = Some((domain, attempt));
                        self.feed(attempt, Event::TunnelOpened);
                        self.feed(attempt, Event::Text(encode(&welcome).into_bytes()));
                    }
                    Err(e) => self.feed(attempt, Event::TunnelRejected(e.status())),
                }
            }
            Action::Send { message, .. } => self.device_sends(encode(&message).as_bytes()),
            Action::Ping { attempt } => {
                if let Some((domain, _)) = self.tunnel.clone()
                    && self.server(&domain).up
                {
                    self.feed(attempt, Event::Frame);
                }
            }
            Action::Close { .. } => {
                if let Some((domain, _)) = self.tunnel.take() {
                    let server = self.server(&domain);
                    server.session = None;
                    server.services.clear();
                }
            }
            Action::StartServices { grants, .. } => {
                // Steps 9-11: each module opens its own subconnection with its URL.
                let serial = self.device.config().serial.clone();
                let domain = self.tunnel.clone().map(|t| t.0).unwrap_or_default();
                for (i, g) in grants.iter().enumerate() {
                    let r = self.server(&domain).admit_service(unix, &serial, g);
                    if r.is_ok() {
                        self.server(&domain).services.attach(&g.name, i as u64);
                    }
                    self.subconnections.push(r);
                }
                self.grants = grants;
            }
            Action::StopServices | Action::Notify(_) => {}
        }
    }

    /// A text frame from the device reaches the server's tunnel session.
    fn device_sends(&mut self, bytes: &[u8]) {
        let Some((domain, attempt)) = self.tunnel.clone() else {
            return;
        };
        let now = self.now;
        let unix = self.unix();
        let server = self.server(&domain);
        if !server.up {
            return;
        }
        let Some(session) = server.session.as_mut() else {
            return;
        };
        let out = session.on_text(now, bytes);
        let reply = match out {
            Output::Reply(Tunnel::KeepaliveAck { .. }) if !server.ack_keepalives => None,
            Output::Reply(m) => Some(m),
            Output::Deliver(Request::Subconnections { id, services }) => {
                let serial = session.serial().to_string();
                let mut n = 100u8;
                let mut next = || {
                    n = n.wrapping_add(1);
                    [n; 16]
                };
                Some(
                    server
                        .hs
                        .grant(unix, &serial, id, &services, OFFERED, &mut next),
                )
            }
            Output::Deliver(Request::UnbindCode { id, code }) => {
                let serial = session.serial().to_string();
                let verdict = match server.unbind.as_mut() {
                    Some(c) => c.check(&UnbindPolicy::default(), &serial, &code, unix),
                    None => Err(UnbindFailureReason::InvalidCode),
                };
                Some(Tunnel::UnbindResult {
                    id,
                    ok: verdict.is_ok(),
                    reason: verdict.err(),
                })
            }
            Output::Deliver(Request::CommandAck { .. }) | Output::Nothing => None,
            Output::Close(code) => {
                server.session = None;
                self.tunnel = None;
                self.feed(attempt, Event::Closed(Some(code.code())));
                return;
            }
        };
        if let Some(m) = reply {
            self.feed(attempt, Event::Text(encode(&m).into_bytes()));
        }
    }

    /// The server sends raw bytes to the device on the main tunnel.
    fn server_sends_raw(&mut self, bytes: &[u8]) {
        let (_, attempt) = self.tunnel.clone().expect("tunnel");
        self.feed(attempt, Event::Text(bytes.to_vec()));
        self.pump();
    }

    /// The server process dies: its tunnel drops without a close frame.
    fn crash(&mut self, domain: &str) {
        let server = self.server(domain);
        server.up = false;
        server.session = None;
        if let Some((d, attempt)) = self.tunnel.clone()
            && d == domain
        {
            self.tunnel = None;
            self.feed(attempt, Event::Closed(None));
        }
        self.pump();
    }

    /// Advances the fake clock to `to`, running every timer on the way.
    fn advance_to(&mut self, to: Duration) {
        self.pump();
        while let Some(t) = self.device.poll_timeout() {
            if t > to {
                break;
            }
            self.now = self.now.max(t);
            self.device.handle_timeout(self.now, self.jitter);
            self.pump();
        }
        self.now = to;
    }

    fn state(&self) -> ConnectionState {
        self.device.connection_state()
    }

    fn posts_since(&self, from: Duration) -> Vec<&'static str> {
        self.log
            .iter()
            .filter(|(t, _)| *t >= from)
            .filter_map(|(_, a)| match a {
                Action::Post { request, .. } => Some(match request.body {
                    Handshake::AuthRequest(_) => "auth_request",
                    Handshake::AuthProof(_) => "auth_proof",
                    Handshake::RegisterRequest(_) => "register_request",
                    _ => "other",
                }),
                _ => None,
            })
            .collect()
    }

    fn resolve_times(&self) -> Vec<Duration> {
        self.log
            .iter()
            .filter(|(_, a)| matches!(a, Action::Resolve { .. }))
            .map(|(t, _)| *t)
            .collect()
    }
}

fn config(serial: &str, password: &str) -> DeviceConfig {
    let mut cfg = DeviceConfig::new(serial);
    cfg.server_domain = Some("cloud.com".into());
    cfg.password = Some(password.into());
    cfg
}

/// A pair where the device SN1 (password "pw") is in the inventory.
fn pair() -> Net {
    let mut net = Net::new(config("SN1", "pw"));
    net.server("cloud.com")
        .inventory
        .insert("SN1".into(), DeviceKey::derive("pw", "SN1"));
    net
}

fn establish(net: &mut Net) {
    net.device.start(net.now);
    net.pump();
    assert_eq!(net.state(), ConnectionState::Established);
}

#[test]
fn establishment_runs_every_step_and_fills_the_display_fields() {
    let mut net = pair();
    establish(&mut net);
    let kinds: Vec<&str> = net
        .log
        .iter()
        .map(|(_, a)| match a {
            Action::Resolve { .. } => "resolve",
            Action::Post { request, .. } => match request.body {
                Handshake::AuthRequest(_) => "auth_request",
                Handshake::AuthProof(_) => "auth_proof",
                Handshake::RegisterRequest(_) => "register_request",
                _ => "other",
            },
            Action::OpenTunnel { .. } => "upgrade",
            Action::Send {
                message: Tunnel::SubconnRequest { .. },
                ..
            } => "subconn_request",
            Action::StartServices { .. } => "start_services",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "resolve",
            "auth_request",
            "auth_proof",
            "register_request",
            "upgrade",
            "subconn_request",
            "start_services"
        ]
    );
    // Steps 8-11: one URL per service, every subconnection admitted.
    let names: Vec<&str> = net.grants.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["terminal", "config", "telemetry"]);
    assert!(net.subconnections.iter().all(Result::is_ok));
    assert_eq!(net.server("cloud.com").services.connected().count(), 3);

    net.advance_to(secs(121));
    let s = net.device.status(net.now);
    assert_eq!(s.connection_state.to_string(), "Established");
    assert_eq!(s.device_state.to_string(), "Request_success");
    assert_eq!(
        s.server_address,
        Some(IpAddr::V4(Ipv4Addr::new(10, 1, 1, 1)))
    );
    assert_eq!(s.server_domain.as_deref(), Some("cloud.com"));
    assert_eq!(s.server_port, 443);
    assert_eq!(s.connected_at, Some(Duration::ZERO));
    assert_eq!(format_duration(s.duration.unwrap()), "00d 00h 02m 01s");
    assert_eq!(s.process_state, ProcessState::MessageReceived);
    assert_eq!(s.failure_reason, None);
}

#[test]
fn keepalives_are_sent_every_interval_and_acked() {
    let mut net = pair();
    establish(&mut net);
    net.advance_to(secs(1000));
    let keepalives: Vec<Duration> = net
        .log
        .iter()
        .filter(|(_, a)| {
            matches!(
                a,
                Action::Send {
                    message: Tunnel::Keepalive { .. },
                    ..
                }
            )
        })
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(
        keepalives,
        [secs(180), secs(360), secs(540), secs(720), secs(900)]
    );
    assert_eq!(net.state(), ConnectionState::Established);
}

#[test]
fn unknown_serial_is_refused_and_the_reason_is_shown() {
    let mut net = Net::new(config("SN404", "pw"));
    net.device.start(net.now);
    net.pump();
    let s = net.device.status(net.now);
    assert_eq!(s.connection_state, ConnectionState::Reconnecting);
    assert_eq!(s.device_state, DeviceState::AuthFailed);
    assert_eq!(
        s.failure_reason,
        Some(FailureReason::AuthRejected(
            AuthFailureReason::UnknownSerial
        ))
    );
    assert_eq!(
        tether_cloudlink::status::format_failure(s.failure_reason.as_ref()),
        "Serial number not added on the cloud server"
    );
}

#[test]
fn wrong_secret_is_refused_and_the_reason_is_shown() {
    let mut net = Net::new(config("SN1", "not-the-password"));
    net.server("cloud.com")
        .inventory
        .insert("SN1".into(), DeviceKey::derive("pw", "SN1"));
    net.device.start(net.now);
    net.pump();
    let s = net.device.status(net.now);
    assert_eq!(s.device_state.to_string(), "Auth_failed");
    assert_eq!(
        s.failure_reason,
        Some(FailureReason::AuthRejected(AuthFailureReason::BadProof))
    );
    assert_eq!(
        net.posts_since(Duration::ZERO),
        ["auth_request", "auth_proof"]
    );
}

#[test]
fn keepalive_loss_reregisters_after_exactly_three_missed_intervals() {
    let mut cfg = config("SN1", "pw");
    cfg.keepalive = secs(60);
    let mut net = Net::new(cfg);
    net.server("cloud.com")
        .inventory
        .insert("SN1".into(), DeviceKey::derive("pw", "SN1"));
    establish(&mut net);
    // The server stays reachable (pings answered) but stops answering keepalives.
    net.server("cloud.com").ack_keepalives = false;
    // First unanswered keepalive at 60 s; three intervals later, at 240 s, re-register.
    net.advance_to(secs(240) - Duration::from_millis(1));
    assert_eq!(net.state(), ConnectionState::Established);
    net.server("cloud.com").ack_keepalives = true;
    net.advance_to(secs(240));
    let closed_at = net.log.iter().find_map(|(t, a)| {
        matches!(
            a,
            Action::Close {
                code: CloseCode::KeepaliveTimeout,
                ..
            }
        )
        .then_some(*t)
    });
    assert_eq!(closed_at, Some(secs(240)));
    // The session from authentication is still valid: straight to registration.
    assert_eq!(net.posts_since(secs(240)), ["register_request"]);
    assert_eq!(net.state(), ConnectionState::Established);
    assert_eq!(
        net.device.status(net.now).connected_at,
        Some(secs(240)),
        "a new connection"
    );
}

#[test]
fn server_restart_makes_the_device_reconnect_with_backoff() {
    let mut net = pair();
    establish(&mut net);
    net.advance_to(secs(100));
    net.crash("cloud.com");
    assert_eq!(net.state(), ConnectionState::Reconnecting);
    assert_eq!(
        net.device.status(net.now).failure_reason,
        Some(FailureReason::ConnectionLost)
    );
    net.advance_to(secs(110));
    // Jitter 0 takes the low end of each window [d/2, d]: 1, 2, 4 s after each failure.
    assert_eq!(net.resolve_times()[1..], [secs(101), secs(103), secs(107)]);
    net.server("cloud.com").up = true;
    net.advance_to(secs(120));
    assert_eq!(net.resolve_times().last(), Some(&secs(115)));
    assert_eq!(net.state(), ConnectionState::Established);
    // Success reset the back-off: the next loss waits the first delay again.
    net.crash("cloud.com");
    net.advance_to(secs(130));
    assert_eq!(net.resolve_times()[5], secs(121));
}

#[test]
fn jitter_spreads_reconnect_delays_within_the_window() {
    let mut net = pair();
    establish(&mut net);
    net.jitter = Jitter(u32::MAX);
    net.crash("cloud.com");
    net.advance_to(secs(3));
    let t = net.resolve_times()[1];
    assert!(t > Duration::from_millis(1999) && t < secs(2), "{t:?}");
}

#[test]
fn backup_server_takes_over_when_the_main_one_fails() {
    let mut cfg = config("SN1", "pw");
    cfg.backups = vec![BackupServer {
        domain: "backup.com".into(),
        port: None,
    }];
    let mut net = Net::new(cfg);
    let mut backup = Server::new("backup.com", 2);
    backup
        .inventory
        .insert("SN1".into(), DeviceKey::derive("pw", "SN1"));
    net.servers.insert("backup.com".into(), backup);
    net.server("cloud.com").up = false;
    net.device.start(net.now);
    net.pump();
    assert_eq!(
        net.device.status(net.now).failure_reason,
        Some(FailureReason::Transport(TransportFailure::Connect))
    );
    net.advance_to(secs(5));
    let s = net.device.status(net.now);
    assert_eq!(s.connection_state, ConnectionState::Established);
    assert_eq!(s.server_domain.as_deref(), Some("backup.com"));
    assert_eq!(s.server_index, 1);
    assert_eq!(
        s.server_address,
        Some(IpAddr::V4(Ipv4Addr::new(10, 1, 1, 2)))
    );
}

#[test]
fn stolen_subconnection_token_is_refused_for_another_device_after_expiry_and_on_reuse() {
    let mut net = pair();
    net.server("cloud.com")
        .inventory
        .insert("SN2".into(), DeviceKey::derive("pw2", "SN2"));
    // A establishes; its service modules use their URLs (step 11); the terminal URL leaks.
    establish(&mut net);
    let terminal = net.grants[0].clone();
    let token = token_from_url(&terminal.url).unwrap().to_string();
    let unix = net.unix();
    let server = net.server("cloud.com");
    let key_b = DeviceKey::derive("pw2", "SN2");

    // Device B presents A's token under its own serial, with a valid proof of its own key.
    let b = Presenter {
        serial: "SN2",
        proof: Some(&auth::url_proof(&key_b, &token)),
        cert_serial: None,
    };
    assert_eq!(
        server.hs.admit_subconnection(
            unix,
            "terminal",
            &token,
            b,
            Some(&key_b),
            &mut server.replay
        ),
        Err(UpgradeError::Token(TokenError::WrongDevice))
    );
    // Device B claims to be A: it cannot produce A's proof.
    let key_a = DeviceKey::derive("pw", "SN1");
    let impostor = Presenter {
        serial: "SN1",
        proof: Some(&auth::url_proof(&key_b, &token)),
        cert_serial: None,
    };
    assert_eq!(
        server.hs.admit_subconnection(
            unix,
            "terminal",
            &token,
            impostor,
            Some(&key_a),
            &mut server.replay
        ),
        Err(UpgradeError::BadProof)
    );
    // A itself already used it (step 11): a second use is refused.
    let a = Presenter {
        serial: "SN1",
        proof: terminal.proof.as_deref(),
        cert_serial: None,
    };
    assert_eq!(
        server.hs.admit_subconnection(
            unix,
            "terminal",
            &token,
            a,
            Some(&key_a),
            &mut server.replay
        ),
        Err(UpgradeError::Token(TokenError::Replayed))
    );
    // Used for another service, it is refused too.
    assert_eq!(
        server
            .hs
            .admit_subconnection(unix, "config", &token, a, Some(&key_a), &mut server.replay),
        Err(UpgradeError::Token(TokenError::WrongService))
    );
    // After its 60 s lifetime it is refused even to A, even if never used.
    let fresh = server
        .hs
        .grant(unix, "SN1", 9, &["terminal".into()], OFFERED, &mut || {
            [77; 16]
        });
    let Tunnel::SubconnResponse { services, .. } = fresh else {
        panic!()
    };
    let unused = token_from_url(&services[0].url).unwrap().to_string();
    let proof = auth::url_proof(&key_a, &unused);
    let a = Presenter {
        serial: "SN1",
        proof: Some(&proof),
        cert_serial: None,
    };
    assert_eq!(
        server.hs.admit_subconnection(
            unix + 60,
            "terminal",
            &unused,
            a,
            Some(&key_a),
            &mut server.replay
        ),
        Err(UpgradeError::Token(TokenError::Expired))
    );
    assert_eq!(UpgradeError::Token(TokenError::Expired).status(), 401);
}

#[test]
fn unknown_message_from_the_device_gets_an_error_and_the_tunnel_stays() {
    let mut net = pair();
    establish(&mut net);
    let now = net.now;
    let session = net.server("cloud.com").session.as_mut().unwrap();
    let out = session.on_text(now, br#"{"type":"teleport","to":"mars"}"#);
    assert!(matches!(
        out,
        Output::Reply(Tunnel::Error(ref e))
            if e.code == message::ErrorCode::UnknownType && e.ref_type.as_deref() == Some("teleport")
    ));
    assert_eq!(session.closed(), None);
    // The device accepts the `error` answer without dropping the tunnel.
    let Output::Reply(reply) = out else {
        unreachable!()
    };
    net.server_sends_raw(encode(&reply).as_bytes());
    assert_eq!(net.state(), ConnectionState::Established);
}

#[test]
fn malformed_message_from_the_device_closes_with_4001() {
    let mut net = pair();
    establish(&mut net);
    net.device_sends(br#"{"type":"keepalive","seq":"one"}"#);
    net.pump();
    assert_eq!(
        net.device.status(net.now).failure_reason,
        Some(FailureReason::ClosedByServer(CloseCode::MalformedMessage))
    );
    assert_eq!(CloseCode::MalformedMessage.code(), 4001);
    assert_eq!(net.state(), ConnectionState::Reconnecting);
}

#[test]
fn oversized_message_from_the_device_closes_with_4002() {
    let mut net = pair();
    establish(&mut net);
    let big = format!(
        r#"{{"type":"unbind_code","id":1,"code":"{}"}}"#,
        "A".repeat(limits::TUNNEL_MAX)
    );
    net.device_sends(big.as_bytes());
    net.pump();
    assert_eq!(
        net.device.status(net.now).failure_reason,
        Some(FailureReason::ClosedByServer(CloseCode::MessageTooLarge))
    );
    assert_eq!(CloseCode::MessageTooLarge.code(), 4002);
}

#[test]
fn bad_messages_from_the_server_get_the_right_answer_from_the_device() {
    let mut net = pair();
    establish(&mut net);
    // Unknown type: the device answers with an `error` and keeps the tunnel.
    net.server_sends_raw(br#"{"type":"hologram"}"#);
    assert!(matches!(
        net.log.last(),
        Some((_, Action::Send { message: Tunnel::Error(e), .. }))
            if e.ref_type.as_deref() == Some("hologram")
    ));
    assert_eq!(net.state(), ConnectionState::Established);
    // Malformed: the device closes with 4001.
    net.server_sends_raw(b"[1,2");
    assert!(net.log.iter().any(|(_, a)| matches!(
        a,
        Action::Close {
            code: CloseCode::MalformedMessage,
            ..
        }
    )));
    assert_eq!(net.state(), ConnectionState::Reconnecting);
    // Oversized: after reconnecting, the device closes with 4002.
    net.advance_to(secs(5));
    assert_eq!(net.state(), ConnectionState::Established);
    net.server_sends_raw(&vec![b' '; limits::TUNNEL_MAX + 1]);
    assert!(net.log.iter().any(|(_, a)| matches!(
        a,
        Action::Close {
            code: CloseCode::MessageTooLarge,
            ..
        }
    )));
}

#[test]
fn tunnel_url_is_single_use() {
    let mut net = pair();
    establish(&mut net);
    let url = net
        .log
        .iter()
        .find_map(|(_, a)| match a {
            Action::OpenTunnel { url, proof, .. } => Some((url.clone(), proof.clone())),
            _ => None,
        })
        .unwrap();
    let unix = net.unix();
    let key = DeviceKey::derive("pw", "SN1");
    let server = net.server("cloud.com");
    let p = Presenter {
        serial: "SN1",
        proof: url.1.as_deref(),
        cert_serial: None,
    };
    let token = token_from_url(&url.0).unwrap();
    assert_eq!(
        server
            .hs
            .admit_tunnel(unix, token, p, Some(&key), &mut server.replay),
        Err(UpgradeError::Token(TokenError::Replayed))
    );
}

#[test]
fn reset_tunnel_command_rebuilds_at_once_from_authentication() {
    let mut net = pair();
    establish(&mut net);
    net.advance_to(secs(50));
    let cmd = net
        .server("cloud.com")
        .session
        .as_mut()
        .unwrap()
        .command(message::CommandKind::ResetTunnel);
    net.server_sends_raw(encode(&cmd).as_bytes());
    assert_eq!(net.state(), ConnectionState::Established);
    assert_eq!(
        net.posts_since(secs(50)),
        ["auth_request", "auth_proof", "register_request"]
    );
    assert_eq!(net.device.status(net.now).connected_at, Some(secs(50)));
}

#[test]
fn unbinding_code_travels_over_the_tunnel_and_is_single_use() {
    let mut net = pair();
    establish(&mut net);
    let unix = net.unix();
    let code = UnbindCode::issue(
        &UnbindPolicy::default(),
        "SN1",
        "acct-b",
        unix,
        [9, 8, 7, 6, 5],
    );
    let typed = code.code.display().to_lowercase();
    net.server("cloud.com").unbind = Some(code);
    let id = net.device.submit_unbinding_code(&typed).unwrap();
    net.pump();
    let results: Vec<_> = net
        .log
        .iter()
        .filter_map(|(_, a)| match a {
            Action::Notify(n) => Some(n.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        results,
        [tether_cloudlink::device::Notice::UnbindResult {
            id,
            ok: true,
            reason: None
        }]
    );
    let id2 = net.device.submit_unbinding_code(&typed).unwrap();
    net.pump();
    assert!(matches!(
        net.log.last(),
        Some((_, Action::Notify(tether_cloudlink::device::Notice::UnbindResult { id, ok: false, reason: Some(UnbindFailureReason::AlreadyUsed) }))) if *id == id2
    ));
}

#[test]
fn server_close_unbound_shows_unbound_device_state() {
    let mut net = pair();
    establish(&mut net);
    let (_, attempt) = net.tunnel.take().unwrap();
    net.feed(attempt, Event::Closed(Some(CloseCode::Unbound.code())));
    let s = net.device.status(net.now);
    assert_eq!(s.device_state.to_string(), "Unbound");
    assert_eq!(
        s.failure_reason,
        Some(FailureReason::ClosedByServer(CloseCode::Unbound))
    );
}

#[test]
fn half_open_connection_dies_at_the_device_read_deadline() {
    let mut net = pair();
    establish(&mut net);
    // The server vanishes without a close or RST: pings go unanswered.
    net.server("cloud.com").up = false;
    net.advance_to(secs(75) - Duration::from_millis(1));
    assert_eq!(net.state(), ConnectionState::Established);
    net.advance_to(secs(75));
    assert_eq!(
        net.device.status(net.now).failure_reason,
        Some(FailureReason::ReadTimeout)
    );
}
