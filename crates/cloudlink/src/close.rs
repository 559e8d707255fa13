//! WebSocket close codes of the cloud-connection protocol and what a device does on each.
//!
//! Owns: the numbers (standard 1000/1001 plus the private range 4000-4099), their reason
//! texts, and the device's reaction. Must not touch: when a side decides to close (see
//! `device.rs`, `server.rs`).

use crate::message::DecodeError;

/// A close code sent in a WebSocket close frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseCode {
    /// 1000: orderly close, nothing wrong.
    Normal,
    /// 1001: the closing side is going away (process exit).
    GoingAway,
    /// 4000: a message was valid JSON but not allowed in this state or from this sender.
    ProtocolError,
    /// 4001: a message was not valid JSON or broke a field rule.
    MalformedMessage,
    /// 4002: a message exceeded the channel's size limit.
    MessageTooLarge,
    /// 4003: the peer's protocol version is not supported.
    UnsupportedVersion,
    /// 4004: the device's authentication is no longer valid (password changed, key rotated).
    AuthExpired,
    /// 4005: a newer connection for the same device (or service) replaced this one.
    Replaced,
    /// 4006: the device was removed from its account or its binding moved.
    Unbound,
    /// 4007: no keepalive (server) or no keepalive ack (device) for too long.
    KeepaliveTimeout,
    /// 4008: the peer sent too many messages or errors.
    RateLimited,
    /// 4009: the server is shutting down; reconnect with jittered back-off.
    ServerShutdown,
    /// 4010: an operator asked for the tunnel to be rebuilt; reconnect at once.
    ResetRequested,
    /// 4011: the microservice behind a subconnection is gone.
    ServiceUnavailable,
    /// 4012: the closing side failed internally.
    InternalError,
    /// 4013: nothing was received before the read deadline.
    ReadTimeout,
    /// Any other code received from a peer.
    Other(u16),
}

/// What a device does after its main tunnel closed with a given code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaction {
    /// Start again from authentication at once, without back-off.
    ReconnectNow,
    /// Wait the next back-off delay, then start from authentication.
    ReconnectWithBackoff,
}

impl CloseCode {
    /// The number on the wire.
    pub fn code(self) -> u16 {
        match self {
            Self::Normal => 1000,
            Self::GoingAway => 1001,
            Self::ProtocolError => 4000,
            Self::MalformedMessage => 4001,
            Self::MessageTooLarge => 4002,
            Self::UnsupportedVersion => 4003,
            Self::AuthExpired => 4004,
            Self::Replaced => 4005,
            Self::Unbound => 4006,
            Self::KeepaliveTimeout => 4007,
            Self::RateLimited => 4008,
            Self::ServerShutdown => 4009,
            Self::ResetRequested => 4010,
            Self::ServiceUnavailable => 4011,
            Self::InternalError => 4012,
            Self::ReadTimeout => 4013,
            Self::Other(n) => n,
        }
    }

    /// The code for a number received on the wire.
    pub fn from_code(n: u16) -> Self {
        match n {
            1000 => Self::Normal,
            1001 => Self::GoingAway,
            4000 => Self::ProtocolError,
            4001 => Self::MalformedMessage,
            4002 => Self::MessageTooLarge,
            4003 => Self::UnsupportedVersion,
            4004 => Self::AuthExpired,
            4005 => Self::Replaced,
            4006 => Self::Unbound,
            4007 => Self::KeepaliveTimeout,
            4008 => Self::RateLimited,
            4009 => Self::ServerShutdown,
            4010 => Self::ResetRequested,
            4011 => Self::ServiceUnavailable,
            4012 => Self::InternalError,
            4013 => Self::ReadTimeout,
            other => Self::Other(other),
        }
    }

    /// Short reason text for the close frame (under the 123-byte limit of RFC 6455).
    pub fn reason(self) -> &'static str {
        match self {
            Self::Normal => "normal closure",
            Self::GoingAway => "going away",
            Self::ProtocolError => "protocol error",
            Self::MalformedMessage => "malformed message",
            Self::MessageTooLarge => "message too large",
            Self::UnsupportedVersion => "unsupported protocol version",
            Self::AuthExpired => "authentication expired",
            Self::Replaced => "replaced by a newer connection",
            Self::Unbound => "device unbound",
            Self::KeepaliveTimeout => "keepalive timeout",
            Self::RateLimited => "rate limited",
            Self::ServerShutdown => "server shutting down",
            Self::ResetRequested => "reset requested",
            Self::ServiceUnavailable => "service unavailable",
            Self::InternalError => "internal error",
            Self::ReadTimeout => "read timeout",
            Self::Other(_) => "closed",
        }
    }

    /// How a device reacts when its main tunnel is closed with this code.
    pub fn reaction(self) -> Reaction {
        match self {
            Self::ResetRequested | Self::AuthExpired => Reaction::ReconnectNow,
            _ => Reaction::ReconnectWithBackoff,
        }
    }

    /// The close code for a message that failed to decode, or `None` when the right answer
    /// is an `error` message and the connection stays up (unknown type).
    pub fn for_decode_error(e: &DecodeError) -> Option<Self> {
        match e {
            DecodeError::TooLarge { .. } => Some(Self::MessageTooLarge),
            DecodeError::Malformed(_) | DecodeError::MissingType => Some(Self::MalformedMessage),
            DecodeError::WrongDirection(_) => Some(Self::ProtocolError),
            DecodeError::UnknownType(_) => None,
        }
    }
}

impl std::fmt::Display for CloseCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.code(), self.reason())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_numbers() {
        for n in (1000..=1001).chain(4000..=4013) {
            assert_eq!(CloseCode::from_code(n).code(), n);
            assert!(!matches!(CloseCode::from_code(n), CloseCode::Other(_)));
        }
        assert_eq!(CloseCode::from_code(4999), CloseCode::Other(4999));
    }

    #[test]
    fn reasons_fit_in_a_close_frame() {
        for n in (1000..=1001).chain(4000..=4013) {
            assert!(CloseCode::from_code(n).reason().len() <= 123);
        }
    }

    #[test]
    fn decode_errors_map_to_close_codes_except_unknown_type() {
        assert_eq!(
            CloseCode::for_decode_error(&DecodeError::TooLarge { size: 2, limit: 1 }),
            Some(CloseCode::MessageTooLarge)
        );
        assert_eq!(
            CloseCode::for_decode_error(&DecodeError::Malformed(String::new())),
            Some(CloseCode::MalformedMessage)
        );
        assert_eq!(
            CloseCode::for_decode_error(&DecodeError::WrongDirection("welcome")),
            Some(CloseCode::ProtocolError)
        );
        assert_eq!(
            CloseCode::for_decode_error(&DecodeError::UnknownType("x".into())),
            None
        );
    }

    #[test]
    fn only_reset_and_auth_expiry_skip_backoff() {
        assert_eq!(CloseCode::ResetRequested.reaction(), Reaction::ReconnectNow);
        assert_eq!(CloseCode::AuthExpired.reaction(), Reaction::ReconnectNow);
        assert_eq!(
            CloseCode::ServerShutdown.reaction(),
            Reaction::ReconnectWithBackoff
        );
        assert_eq!(
            CloseCode::Replaced.reaction(),
            Reaction::ReconnectWithBackoff
        );
    }
}
