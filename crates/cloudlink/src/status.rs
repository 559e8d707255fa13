//! What `display cloud-management state` shows: the device-side state names, failure
//! reasons as typed values with display text, and the snapshot the CLI renders.
//!
//! Owns: vocabulary and formatting of the display fields. Must not touch: transitions
//! (see `device.rs`).

use crate::close::CloseCode;
use crate::message::{AuthFailureReason, RegisterFailureReason};
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// `Cloud connection state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// No server configured, or not started.
    Idle,
    /// Resolving the server domain name.
    Resolving,
    /// Steps 1-2.
    Authenticating,
    /// Steps 3-4.
    Registering,
    /// Steps 5-6.
    Handshaking,
    /// The main tunnel is up (after step 6).
    Established,
    /// Waiting before the next attempt.
    Reconnecting,
}

impl fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Idle => "Idle",
            Self::Resolving => "Resolving",
            Self::Authenticating => "Authenticating",
            Self::Registering => "Registering",
            Self::Handshaking => "Handshaking",
            Self::Established => "Established",
            Self::Reconnecting => "Reconnecting",
        })
    }
}

/// `Device state`: the last verdict of the cloud on this device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceState {
    /// No verdict yet.
    None,
    /// The server refused authentication.
    AuthFailed,
    /// The server refused registration or the tunnel upgrade.
    RegisterFailed,
    /// Registered and connected (attested H3C value).
    RequestSuccess,
    /// The server reported the device removed or moved to another account.
    Unbound,
}

impl fmt::Display for DeviceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "N/A",
            Self::AuthFailed => "Auth_failed",
            Self::RegisterFailed => "Register_failed",
            Self::RequestSuccess => "Request_success",
            Self::Unbound => "Unbound",
        })
    }
}

/// `Process state`: the last thing that happened on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessState {
    /// Nothing in progress.
    Idle,
    /// A DNS query is outstanding.
    Resolving,
    /// A request was sent; waiting for the answer.
    WaitingResponse,
    /// A message was sent on the tunnel.
    MessageSent,
    /// A message was received (attested H3C value).
    MessageReceived,
    /// Waiting out a back-off delay.
    WaitingRetry,
}

impl fmt::Display for ProcessState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Idle => "Idle",
            Self::Resolving => "Resolving domain name",
            Self::WaitingResponse => "Waiting for response",
            Self::MessageSent => "Message sent",
            Self::MessageReceived => "Message received",
            Self::WaitingRetry => "Waiting to retry",
        })
    }
}

/// How a transport attempt failed below the protocol (reported by the driver).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportFailure {
    /// TCP connection refused or unreachable.
    Connect,
    /// TLS handshake or certificate verification failed.
    Tls,
    /// No answer in time.
    Timeout,
    /// An HTTP status other than the ones the protocol defines for the step.
    HttpStatus(u16),
}

/// `Failure reason`: why the last attempt or connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureReason {
    /// No server domain is configured (neither CLI nor DHCP option 253).
    NoServer,
    /// DNS failed for the server domain.
    DnsFailed,
    /// The transport failed.
    Transport(TransportFailure),
    /// The server refused authentication.
    AuthRejected(AuthFailureReason),
    /// The server refused registration.
    RegisterRejected(RegisterFailureReason),
    /// The server refused the WebSocket upgrade with this HTTP status.
    UpgradeRejected(u16),
    /// The server broke the protocol (unexpected or undecodable message).
    ProtocolError,
    /// No response to three keepalives in a row.
    KeepaliveLost,
    /// Nothing received before the read deadline (half-open connection).
    ReadTimeout,
    /// The server closed the tunnel with this code.
    ClosedByServer(CloseCode),
    /// The tunnel dropped without a close frame.
    ConnectionLost,
    /// `reset cloud-management tunnel` or a server `reset_tunnel` command.
    Reset,
    /// The server domain or password changed (CLI or DHCP options 253/252).
    ConfigChanged,
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoServer => f.write_str("Cloud server domain name not configured"),
            Self::DnsFailed => f.write_str("Failed to resolve the cloud server domain name"),
            Self::Transport(TransportFailure::Connect) => {
                f.write_str("Failed to connect to the cloud server")
            }
            Self::Transport(TransportFailure::Tls) => {
                f.write_str("TLS handshake with the cloud server failed")
            }
            Self::Transport(TransportFailure::Timeout) => {
                f.write_str("Cloud server did not respond in time")
            }
            Self::Transport(TransportFailure::HttpStatus(s)) => {
                write!(f, "Unexpected HTTP status {s} from the cloud server")
            }
            Self::AuthRejected(r) => f.write_str(r.text()),
            Self::RegisterRejected(r) => f.write_str(r.text()),
            Self::UpgradeRejected(s) => write!(f, "Tunnel handshake rejected (HTTP {s})"),
            Self::ProtocolError => f.write_str("Protocol error"),
            Self::KeepaliveLost => f.write_str("No keepalive response in 3 intervals"),
            Self::ReadTimeout => f.write_str("Connection timed out"),
            Self::ClosedByServer(c) => write!(f, "Closed by the cloud server: {}", c.reason()),
            Self::ConnectionLost => f.write_str("Connection lost"),
            Self::Reset => f.write_str("Connection reset by command"),
            Self::ConfigChanged => f.write_str("Cloud server settings changed"),
        }
    }
}

/// Everything `display cloud-management state` needs. Times are on the caller's monotonic
/// clock; the CLI converts `connected_at` to wall time as `wall_now - (now - connected_at)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// `Cloud connection state`.
    pub connection_state: ConnectionState,
    /// `Device state`.
    pub device_state: DeviceState,
    /// `Cloud server address`: the address in use or last used.
    pub server_address: Option<IpAddr>,
    /// `Cloud server domain name`: the domain in use (DHCP option 253 wins over the CLI).
    pub server_domain: Option<String>,
    /// `Cloud server port`.
    pub server_port: u16,
    /// `Connected at`, monotonic.
    pub connected_at: Option<Duration>,
    /// `Duration` since `connected_at`.
    pub duration: Option<Duration>,
    /// `Process state`.
    pub process_state: ProcessState,
    /// `Failure reason`; `None` shows as `N/A`.
    pub failure_reason: Option<FailureReason>,
    /// Index of the server in use: 0 the main server, 1.. the backups in order.
    pub server_index: usize,
}

/// Formats a duration as `00d 00h 02m 01s`.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    format!(
        "{:02}d {:02}h {:02}m {:02}s",
        s / 86_400,
        s / 3600 % 24,
        s / 60 % 60,
        s % 60
    )
}

/// Formats an optional failure reason, `N/A` when absent.
pub fn format_failure(r: Option<&FailureReason>) -> String {
    r.map_or_else(|| "N/A".to_owned(), ToString::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attested_values_render_as_in_the_guide() {
        assert_eq!(ConnectionState::Established.to_string(), "Established");
        assert_eq!(DeviceState::RequestSuccess.to_string(), "Request_success");
        assert_eq!(
            ProcessState::MessageReceived.to_string(),
            "Message received"
        );
        assert_eq!(format_failure(None), "N/A");
        assert_eq!(format_duration(Duration::from_secs(121)), "00d 00h 02m 01s");
    }

    #[test]
    fn failure_reasons_have_operator_text() {
        let r = FailureReason::AuthRejected(AuthFailureReason::UnknownSerial);
        assert_eq!(r.to_string(), "Serial number not added on the cloud server");
        let r = FailureReason::ClosedByServer(CloseCode::Replaced);
        assert!(r.to_string().contains("replaced"));
    }
}
