//! Server-side rules of one main tunnel, of the tunnels of a node, and of the services of a
//! device.
//!
//! Owns: message order on the tunnel (`welcome` first, then device messages), the keepalive
//! deadline that declares a device gone, the read deadline, error budgets and rate limits,
//! replacement of an older tunnel by a newer one for the same serial, and which subconnection
//! holds each service. Must not touch: sockets, storage, token issuance (see `handshake.rs`).
//!
//! A [`TunnelSession`] is kept small (under 256 bytes) because one exists per idle
//! device: the memory budget is 8 KiB per idle tunnel, buffers included.

use crate::close::CloseCode;
use crate::message::{
    self, CommandKind, DecodeError, ErrorBody, ErrorCode, PROTOCOL_VERSION, Role, Tunnel,
    UnbindFailureReason,
};
use crate::unbind::RateWindow;
use std::collections::HashMap;
use std::time::Duration;

/// Per-tunnel limits and timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// Keepalive interval negotiated at registration (default 180 s).
    pub keepalive: Duration,
    /// Missed keepalive intervals before the device is declared gone (3).
    pub missed_keepalives: u32,
    /// Slack added to the keepalive deadline for network delay (10 s).
    pub grace: Duration,
    /// WebSocket ping interval the device is told to use (30 s).
    pub ping_interval: Duration,
    /// Read deadline the device is told to use (75 s).
    pub device_read_timeout: Duration,
    /// Server read deadline: close if nothing arrives for this long (90 s).
    pub read_timeout: Duration,
    /// Error replies tolerated before closing with `rate_limited` (8).
    pub max_errors: u8,
    /// Least time between two `subconn_request`s (5 s).
    pub subconn_min_interval: Duration,
    /// `unbind_code` submissions allowed per hour (5).
    pub unbind_per_hour: u32,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            keepalive: Duration::from_secs(180),
            missed_keepalives: 3,
            grace: Duration::from_secs(10),
            ping_interval: Duration::from_secs(30),
            device_read_timeout: Duration::from_secs(75),
            read_timeout: Duration::from_secs(90),
            max_errors: 8,
            subconn_min_interval: Duration::from_secs(5),
            unbind_per_hour: 5,
        }
    }
}

/// A device request the application must answer (it needs the store or the token signer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Step 7: answer with `Handshaker::grant`.
    Subconnections {
        /// Request id.
        id: u32,
        /// Requested services.
        services: Vec<String>,
    },
    /// An unbinding code: judge with `UnbindCode::check`, answer `unbind_result`.
    UnbindCode {
        /// Request id.
        id: u32,
        /// Code as typed.
        code: String,
    },
    /// The device answered a command.
    CommandAck {
        /// Command id.
        id: u32,
        /// Accepted?
        ok: bool,
    },
}

/// What to do after a device frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Nothing to send.
    Nothing,
    /// Send this message to the device.
    Reply(Tunnel),
    /// Hand this request to the application.
    Deliver(Request),
    /// Close the tunnel with this code.
    Close(CloseCode),
}

/// The rules of one main tunnel.
#[derive(Debug, Clone)]
pub struct TunnelSession {
    serial: Box<str>,
    id: u64,
    cfg: SessionConfig,
    last_rx: Duration,
    last_keepalive: Duration,
    last_subconn: Option<Duration>,
    unbind: RateWindow,
    next_command: u32,
    errors: u8,
    welcomed: bool,
    closed: Option<CloseCode>,
}

impl TunnelSession {
    /// A session for an admitted upgrade.
    pub fn new(now: Duration, serial: &str, id: u64, cfg: SessionConfig) -> Self {
        TunnelSession {
            serial: serial.into(),
            id,
            cfg,
            last_rx: now,
            last_keepalive: now,
            last_subconn: None,
            unbind: RateWindow::new(),
            next_command: 0,
            errors: 0,
            welcomed: false,
            closed: None,
        }
    }

    /// The device serial number.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The tunnel id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Why the session closed, once it has.
    pub fn closed(&self) -> Option<CloseCode> {
        self.closed
    }

    /// Step 6: the first frame to send. Starts the keepalive deadline.
    pub fn welcome(&mut self, now: Duration, server_time: u64) -> Tunnel {
        self.welcomed = true;
        self.last_keepalive = now;
        self.last_rx = now;
        let secs = |d: Duration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
        Tunnel::Welcome {
            version: PROTOCOL_VERSION,
            tunnel_id: format!("{:x}", self.id),
            keepalive: secs(self.cfg.keepalive),
            ping_interval: secs(self.cfg.ping_interval),
            read_timeout: secs(self.cfg.device_read_timeout),
            server_time,
        }
    }

    /// A server command to send.
    pub fn command(&mut self, command: CommandKind) -> Tunnel {
        self.next_command = self.next_command.wrapping_add(1);
        Tunnel::Command {
            id: self.next_command,
            command,
        }
    }

    /// Marks the session closed by the server for `code` (replacement, unbinding, reset,
    /// shutdown) and returns the code to send.
    pub fn close(&mut self, code: CloseCode) -> CloseCode {
        self.closed.get_or_insert(code);
        code
    }

    /// A ping, pong or other control frame arrived.
    pub fn on_frame(&mut self, now: Duration) {
        self.last_rx = now;
    }

    /// A binary frame arrived: version 1 does not use them.
    pub fn on_binary(&mut self, now: Duration) -> Output {
        self.last_rx = now;
        Output::Close(self.close(CloseCode::ProtocolError))
    }

    /// A text frame arrived.
    pub fn on_text(&mut self, now: Duration, bytes: &[u8]) -> Output {
        if self.closed.is_some() {
            return Output::Nothing;
        }
        self.last_rx = now;
        if !self.welcomed {
            return Output::Close(self.close(CloseCode::ProtocolError));
        }
        let msg = match message::decode::<Tunnel>(bytes, Role::Device) {
            Ok(m) => m,
            Err(DecodeError::UnknownType(t)) => {
                return self.error(
                    ErrorCode::UnknownType,
                    "unknown message type",
                    Some(t),
                    None,
                );
            }
            Err(e) => {
                let code = CloseCode::for_decode_error(&e).unwrap_or(CloseCode::ProtocolError);
                return Output::Close(self.close(code));
            }
        };
        match msg {
            Tunnel::Keepalive { seq } => {
                self.last_keepalive = now;
                Output::Reply(Tunnel::KeepaliveAck { seq })
            }
            Tunnel::SubconnRequest { id, services } => {
                if self
                    .last_subconn
                    .is_some_and(|t| now < t + self.cfg.subconn_min_interval)
                {
                    return self.error(
                        ErrorCode::RateLimited,
                        "subconnection requests too frequent",
                        Some("subconn_request".into()),
                        Some(id),
                    );
                }
                self.last_subconn = Some(now);
                Output::Deliver(Request::Subconnections { id, services })
            }
            Tunnel::UnbindCode { id, code } => {
                if self
                    .unbind
                    .allow(now.as_secs(), self.cfg.unbind_per_hour, 3600)
                {
                    Output::Deliver(Request::UnbindCode { id, code })
                } else {
                    Output::Reply(Tunnel::UnbindResult {
                        id,
                        ok: false,
                        reason: Some(UnbindFailureReason::RateLimited),
                    })
                }
            }
            Tunnel::CommandAck { id, ok, .. } => Output::Deliver(Request::CommandAck { id, ok }),
            Tunnel::Error(_) => Output::Nothing,
            // `decode` only lets device-sent types through.
            _ => Output::Close(self.close(CloseCode::ProtocolError)),
        }
    }

    fn error(
        &mut self,
        code: ErrorCode,
        text: &str,
        ref_type: Option<String>,
        ref_id: Option<u32>,
    ) -> Output {
        self.errors = self.errors.saturating_add(1);
        if self.errors > self.cfg.max_errors {
            return Output::Close(self.close(CloseCode::RateLimited));
        }
        Output::Reply(Tunnel::Error(ErrorBody {
            code,
            message: text.to_owned(),
            ref_type,
            ref_id,
        }))
    }

    /// The instant at which the device is declared gone if no keepalive arrives.
    pub fn keepalive_deadline(&self) -> Duration {
        self.last_keepalive
            + self.cfg.keepalive * self.cfg.missed_keepalives.max(1)
            + self.cfg.grace
    }

    /// When [`TunnelSession::handle_timeout`] must run next.
    pub fn poll_timeout(&self) -> Option<Duration> {
        if self.closed.is_some() {
            return None;
        }
        Some(
            self.keepalive_deadline()
                .min(self.last_rx + self.cfg.read_timeout),
        )
    }

    /// Checks the deadlines; returns the close code if the device is gone.
    pub fn handle_timeout(&mut self, now: Duration) -> Option<CloseCode> {
        if self.closed.is_some() {
            return None;
        }
        if now >= self.keepalive_deadline() {
            return Some(self.close(CloseCode::KeepaliveTimeout));
        }
        if now >= self.last_rx + self.cfg.read_timeout {
            return Some(self.close(CloseCode::ReadTimeout));
        }
        None
    }
}

/// The current tunnel of each serial on this node. A newer tunnel replaces an older one: the
/// caller closes the replaced one with [`CloseCode::Replaced`].
#[derive(Debug, Default, Clone)]
pub struct TunnelRegistry {
    current: HashMap<Box<str>, u64>,
}

impl TunnelRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `id` as the tunnel of `serial`; returns the tunnel it replaces.
    pub fn admit(&mut self, serial: &str, id: u64) -> Option<u64> {
        self.current
            .insert(serial.into(), id)
            .filter(|&old| old != id)
    }

    /// Forgets `id` if it is still the tunnel of `serial` (a replaced tunnel's late cleanup
    /// must not remove its successor). Returns true if removed.
    pub fn release(&mut self, serial: &str, id: u64) -> bool {
        if self.current.get(serial) == Some(&id) {
            self.current.remove(serial);
            true
        } else {
            false
        }
    }

    /// The tunnel of `serial`.
    pub fn current(&self, serial: &str) -> Option<u64> {
        self.current.get(serial).copied()
    }

    /// Number of devices with a tunnel.
    pub fn len(&self) -> usize {
        self.current.len()
    }

    /// True if no device has a tunnel.
    pub fn is_empty(&self) -> bool {
        self.current.is_empty()
    }
}

/// Which subconnection holds each service of one device. One per service: a newer
/// subconnection replaces the older (close it with [`CloseCode::Replaced`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DeviceServices {
    attached: Vec<(Box<str>, u64)>,
}

impl DeviceServices {
    /// No services attached.
    pub fn new() -> Self {
        Self::default()
    }

    /// Attaches subconnection `id` for `service`; returns the one it replaces.
    pub fn attach(&mut self, service: &str, id: u64) -> Option<u64> {
        match self.attached.iter_mut().find(|(s, _)| &**s == service) {
            Some((_, old)) => Some(std::mem::replace(old, id)).filter(|&o| o != id),
            None => {
                self.attached.push((service.into(), id));
                None
            }
        }
    }

    /// Detaches `id` if it still holds `service`.
    pub fn detach(&mut self, service: &str, id: u64) -> bool {
        let before = self.attached.len();
        self.attached
            .retain(|(s, held)| !(&**s == service && *held == id));
        self.attached.len() != before
    }

    /// The subconnection holding `service`.
    pub fn holder(&self, service: &str) -> Option<u64> {
        self.attached
            .iter()
            .find(|(s, _)| &**s == service)
            .map(|(_, id)| *id)
    }

    /// Attached service names (shown as `Connected`).
    pub fn connected(&self) -> impl Iterator<Item = &str> {
        self.attached.iter().map(|(s, _)| &**s)
    }

    /// Detaches everything (the main tunnel went away).
    pub fn clear(&mut self) {
        self.attached.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::encode;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn session() -> TunnelSession {
        let mut s = TunnelSession::new(secs(0), "SN1", 1, SessionConfig::default());
        s.welcome(secs(0), 0);
        s
    }

    #[test]
    fn session_is_small() {
        assert!(std::mem::size_of::<TunnelSession>() <= 256);
    }

    #[test]
    fn device_message_before_welcome_is_a_protocol_error() {
        let mut s = TunnelSession::new(secs(0), "SN1", 1, SessionConfig::default());
        let out = s.on_text(secs(1), encode(&Tunnel::Keepalive { seq: 1 }).as_bytes());
        assert_eq!(out, Output::Close(CloseCode::ProtocolError));
    }

    #[test]
    fn keepalive_is_acked_and_moves_the_deadline() {
        let mut s = session();
        assert_eq!(s.keepalive_deadline(), secs(550));
        let out = s.on_text(secs(180), br#"{"type":"keepalive","seq":4}"#);
        assert_eq!(out, Output::Reply(Tunnel::KeepaliveAck { seq: 4 }));
        assert_eq!(s.keepalive_deadline(), secs(730));
    }

    #[test]
    fn device_is_gone_after_three_missed_keepalives_plus_grace() {
        let mut s = session();
        for t in (30..550).step_by(30) {
            s.on_frame(secs(t));
            assert_eq!(s.handle_timeout(secs(t)), None);
        }
        s.on_frame(secs(549));
        assert_eq!(s.handle_timeout(secs(549)), None);
        assert_eq!(
            s.handle_timeout(secs(550)),
            Some(CloseCode::KeepaliveTimeout)
        );
    }

    #[test]
    fn silence_past_the_read_deadline_closes() {
        let mut s = session();
        assert_eq!(s.poll_timeout(), Some(secs(90)));
        assert_eq!(s.handle_timeout(secs(90)), Some(CloseCode::ReadTimeout));
    }

    #[test]
    fn unknown_type_gets_an_error_then_too_many_close() {
        let mut s = session();
        for _ in 0..8 {
            assert!(matches!(
                s.on_text(secs(1), br#"{"type":"bogus"}"#),
                Output::Reply(Tunnel::Error(ErrorBody {
                    code: ErrorCode::UnknownType,
                    ..
                }))
            ));
        }
        assert_eq!(
            s.on_text(secs(1), br#"{"type":"bogus"}"#),
            Output::Close(CloseCode::RateLimited)
        );
    }

    #[test]
    fn malformed_oversized_and_server_only_messages_close_with_their_codes() {
        let mut s = session();
        assert_eq!(
            s.on_text(secs(1), b"{"),
            Output::Close(CloseCode::MalformedMessage)
        );
        let mut s = session();
        let big = vec![b'x'; message::limits::TUNNEL_MAX + 1];
        assert_eq!(
            s.on_text(secs(1), &big),
            Output::Close(CloseCode::MessageTooLarge)
        );
        let mut s = session();
        assert_eq!(
            s.on_text(secs(1), br#"{"type":"keepalive_ack","seq":1}"#),
            Output::Close(CloseCode::ProtocolError)
        );
    }

    #[test]
    fn subconnection_requests_are_rate_limited() {
        let mut s = session();
        let req = br#"{"type":"subconn_request","id":1,"services":[]}"#;
        assert!(matches!(s.on_text(secs(1), req), Output::Deliver(_)));
        assert!(matches!(
            s.on_text(secs(2), req),
            Output::Reply(Tunnel::Error(ErrorBody {
                code: ErrorCode::RateLimited,
                ..
            }))
        ));
        assert!(matches!(s.on_text(secs(6), req), Output::Deliver(_)));
    }

    #[test]
    fn unbinding_submissions_are_rate_limited() {
        let mut s = session();
        let req = br#"{"type":"unbind_code","id":1,"code":"ABCDEFGH"}"#;
        for _ in 0..5 {
            assert!(matches!(s.on_text(secs(1), req), Output::Deliver(_)));
        }
        assert!(matches!(
            s.on_text(secs(1), req),
            Output::Reply(Tunnel::UnbindResult { ok: false, .. })
        ));
    }

    #[test]
    fn newer_tunnel_replaces_older_and_late_release_keeps_newer() {
        let mut r = TunnelRegistry::new();
        assert_eq!(r.admit("SN1", 1), None);
        assert_eq!(r.admit("SN1", 2), Some(1));
        assert!(!r.release("SN1", 1));
        assert_eq!(r.current("SN1"), Some(2));
        assert!(r.release("SN1", 2));
        assert!(r.is_empty());
    }

    #[test]
    fn one_subconnection_per_service() {
        let mut d = DeviceServices::new();
        assert_eq!(d.attach("terminal", 1), None);
        assert_eq!(d.attach("config", 2), None);
        assert_eq!(d.attach("terminal", 3), Some(1));
        assert!(!d.detach("terminal", 1));
        assert_eq!(d.holder("terminal"), Some(3));
        assert_eq!(d.connected().count(), 2);
    }
}
