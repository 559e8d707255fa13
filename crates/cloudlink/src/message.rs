//! Typed messages of every channel and their bounded JSON codec.
//!
//! Owns: the wire vocabulary (one enum per channel, tagged by a `type` field), the size and
//! field limits, and [`decode`], which never panics and tells apart "too large", "malformed",
//! "unknown type" and "wrong direction" so that callers can pick the right close code.
//! Must not touch: what a message *means* to a state machine (see `device.rs`, `server.rs`).
//!
//! Encoding rules (see `docs/cloud-connection-protocol.md` §4): one UTF-8 JSON object per
//! HTTP body or WebSocket text frame; unknown fields are ignored; an unknown `type` is reported
//! as [`DecodeError::UnknownType`] so the receiver can answer with an `error` message.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// The WebSocket subprotocol offered on the main tunnel and every subconnection.
pub const SUBPROTOCOL: &str = "tether-cloudlink.v1";

/// Limits on messages and fields.
pub mod limits {
    /// Largest HTTP request or response body of the handshake (auth, register).
    pub const HANDSHAKE_MAX: usize = 8 * 1024;
    /// Largest text frame on the main tunnel.
    pub const TUNNEL_MAX: usize = 16 * 1024;
    /// Largest text frame on a `terminal` subconnection.
    pub const TERMINAL_MAX: usize = 64 * 1024;
    /// Largest text frame on a `config` subconnection.
    pub const CONFIG_MAX: usize = 1024 * 1024;
    /// Largest text frame on a `telemetry` subconnection.
    pub const TELEMETRY_MAX: usize = 256 * 1024;
    /// Most services a device may request or a server may grant.
    pub const MAX_SERVICES: usize = 16;
    /// Longest serial number, in bytes.
    pub const MAX_SERIAL_LEN: usize = 64;
    /// Longest service name, in bytes.
    pub const MAX_SERVICE_NAME_LEN: usize = 32;
    /// Longest unbinding code as typed (separators included).
    pub const MAX_UNBIND_CODE_LEN: usize = 32;
    /// Most commands in one `apply`.
    pub const MAX_APPLY_COMMANDS: usize = 1024;
}

/// Which channel a message travels on; decides the size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// HTTPS bodies of `POST /cloudlink/v1/auth` and `/register`.
    Handshake,
    /// The main WebSocket tunnel.
    Tunnel,
    /// The `terminal` subconnection.
    Terminal,
    /// The `config` subconnection.
    Config,
    /// The `telemetry` subconnection.
    Telemetry,
}

impl Channel {
    /// Largest accepted message on this channel, in bytes.
    pub fn max_message_size(self) -> usize {
        match self {
            Channel::Handshake => limits::HANDSHAKE_MAX,
            Channel::Tunnel => limits::TUNNEL_MAX,
            Channel::Terminal => limits::TERMINAL_MAX,
            Channel::Config => limits::CONFIG_MAX,
            Channel::Telemetry => limits::TELEMETRY_MAX,
        }
    }
}

/// Who may send a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The managed device.
    Device,
    /// The cloud server.
    Server,
}

/// Who may send a given message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentBy {
    /// Only the device.
    Device,
    /// Only the server.
    Server,
    /// Either side.
    Either,
}

impl SentBy {
    fn allows(self, role: Role) -> bool {
        matches!(
            (self, role),
            (SentBy::Either, _) | (SentBy::Device, Role::Device) | (SentBy::Server, Role::Server)
        )
    }
}

/// A message enum of one channel.
pub trait Message: Serialize + DeserializeOwned {
    /// The channel the enum belongs to.
    const CHANNEL: Channel;
    /// Every `type` value of the enum.
    const TYPES: &'static [&'static str];
    /// The `type` value of this message.
    fn type_name(&self) -> &'static str;
    /// Who may send it.
    fn sent_by(&self) -> SentBy;
    /// Field checks that serde cannot express (lengths, counts, character sets).
    fn validate(&self) -> Result<(), &'static str> {
        Ok(())
    }
}

/// Why bytes did not decode into a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Larger than the channel allows; the bytes were not parsed.
    #[error("message of {size} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// Size received.
        size: usize,
        /// Limit of the channel.
        limit: usize,
    },
    /// Not a JSON object, a missing or ill-typed field, or a field outside its limits.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A JSON object without a string `type` field.
    #[error("message has no type")]
    MissingType,
    /// A well-formed object whose `type` this version does not know (answer with `error`).
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    /// A known type sent by the side that must not send it.
    #[error("message type {0:?} not allowed from this sender")]
    WrongDirection(&'static str),
}

#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(rename = "type", borrow)]
    ty: Option<Cow<'a, str>>,
}

/// Decodes one message of channel `M`, sent by `from`, enforcing every limit.
pub fn decode<M: Message>(bytes: &[u8], from: Role) -> Result<M, DecodeError> {
    let limit = M::CHANNEL.max_message_size();
    if bytes.len() > limit {
        return Err(DecodeError::TooLarge {
            size: bytes.len(),
            limit,
        });
    }
    let peek: Peek<'_> =
        serde_json::from_slice(bytes).map_err(|e| DecodeError::Malformed(short(&e)))?;
    let ty = peek.ty.ok_or(DecodeError::MissingType)?;
    if !M::TYPES.contains(&ty.as_ref()) {
        let mut name: String = ty.chars().take(64).collect();
        name.shrink_to_fit();
        return Err(DecodeError::UnknownType(name));
    }
    let msg: M = serde_json::from_slice(bytes).map_err(|e| DecodeError::Malformed(short(&e)))?;
    msg.validate()
        .map_err(|e| DecodeError::Malformed(e.to_owned()))?;
    if !msg.sent_by().allows(from) {
        return Err(DecodeError::WrongDirection(msg.type_name()));
    }
    Ok(msg)
}

/// Encodes a message as compact JSON.
pub fn encode<M: Message>(msg: &M) -> String {
    // Serialising these plain data types cannot fail: no maps with non-string keys, no
    // non-finite floats are produced by our constructors (NaN becomes `null`).
    serde_json::to_string(msg).unwrap_or_else(|_| String::from("{}"))
}

fn short(e: &serde_json::Error) -> String {
    let mut s = e.to_string();
    s.truncate(120);
    s
}

/// True if `serial` is 1..=64 bytes of `[A-Za-z0-9._-]`.
pub fn valid_serial(serial: &str) -> bool {
    !serial.is_empty()
        && serial.len() <= limits::MAX_SERIAL_LEN
        && serial
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// True if `name` is 1..=32 bytes of `[a-z0-9-]` starting with a letter.
pub fn valid_service_name(name: &str) -> bool {
    name.len() <= limits::MAX_SERVICE_NAME_LEN
        && name.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn check_services(names: &[String]) -> Result<(), &'static str> {
    if names.len() > limits::MAX_SERVICES {
        return Err("too many services");
    }
    if !names.iter().all(|n| valid_service_name(n)) {
        return Err("invalid service name");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Handshake (HTTPS bodies)
// ---------------------------------------------------------------------------------------------

/// How the device proves its identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthMethod {
    /// HMAC-SHA256 proof keyed by the key derived from the server password.
    #[serde(rename = "hmac-sha256")]
    HmacSha256,
    /// A TLS client certificate naming the serial number.
    #[serde(rename = "certificate")]
    Certificate,
}

/// Step 1: the device asks to authenticate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthRequest {
    /// Protocol version the device speaks.
    pub version: u32,
    /// Device serial number.
    pub serial: String,
    /// Proof method.
    pub method: AuthMethod,
    /// Device model, informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Software version, informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software: Option<String>,
}

/// The server's challenge: sign it to prove the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthChallenge {
    /// Protocol version chosen by the server.
    pub version: u32,
    /// Opaque server nonce (ASCII, at most 512 bytes); echo it verbatim.
    pub nonce: String,
    /// Server time of issue, Unix seconds; signed as is, never compared with the device clock.
    pub ts: u64,
    /// Seconds the challenge stays valid.
    pub expires_in: u32,
}

/// The device's answer to a challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthProof {
    /// Protocol version.
    pub version: u32,
    /// Device serial number (same as in the request).
    pub serial: String,
    /// The challenge nonce, verbatim.
    pub nonce: String,
    /// The challenge `ts`, verbatim.
    pub ts: u64,
    /// Lower-case hex HMAC-SHA256 (64 characters).
    pub proof: String,
}

/// Step 2: authentication succeeded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthSuccess {
    /// Protocol version.
    pub version: u32,
    /// Opaque session token for `POST /cloudlink/v1/register` (bearer).
    pub session: String,
    /// Seconds the session token stays valid.
    pub expires_in: u32,
}

/// Why authentication failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuthFailureReason {
    /// The serial number is not in any account's inventory.
    UnknownSerial,
    /// The proof does not match the stored secret.
    BadProof,
    /// The challenge expired before the proof arrived.
    ChallengeExpired,
    /// The challenge is forged, for another serial, or already used.
    ChallengeInvalid,
    /// The requested protocol version is not served; see `supported`.
    UnsupportedVersion,
    /// The requested method is not enabled for this device.
    UnsupportedMethod,
    /// Certificate authentication without a client certificate naming the serial.
    CertificateMismatch,
    /// Too many attempts; honour `retry_after`.
    RateLimited,
    /// The request body is invalid.
    BadRequest,
    /// The server failed; retry later.
    ServerError,
    /// A reason this version does not know.
    #[serde(other)]
    Other,
}

impl AuthFailureReason {
    /// Text for `display cloud-management state`.
    pub fn text(self) -> &'static str {
        match self {
            Self::UnknownSerial => "Serial number not added on the cloud server",
            Self::BadProof => "Wrong cloud-management server password",
            Self::ChallengeExpired => "Authentication challenge expired",
            Self::ChallengeInvalid => "Authentication challenge invalid",
            Self::UnsupportedVersion => "Protocol version not supported by the server",
            Self::UnsupportedMethod => "Authentication method not allowed",
            Self::CertificateMismatch => "Device certificate does not match the serial number",
            Self::RateLimited => "Too many authentication attempts",
            Self::BadRequest => "Authentication request rejected as invalid",
            Self::ServerError => "Cloud server error during authentication",
            Self::Other => "Authentication failed",
        }
    }
}

/// Step 2 (negative): authentication failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthFailure {
    /// Protocol version.
    pub version: u32,
    /// Machine-readable reason.
    pub reason: AuthFailureReason,
    /// Human-readable detail.
    #[serde(default)]
    pub message: String,
    /// Versions the server speaks (with `unsupported_version`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supported: Vec<u32>,
    /// Seconds to wait before retrying (with `rate_limited`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u32>,
}

/// Step 3: the device registers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// Protocol version.
    pub version: u32,
    /// Device serial number.
    pub serial: String,
    /// Keepalive interval the device is configured with, seconds.
    pub keepalive: u32,
    /// Service modules present on the device.
    #[serde(default)]
    pub services: Vec<String>,
}

/// Step 4: the registration response carrying the tunnel URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterResponse {
    /// Protocol version.
    pub version: u32,
    /// `wss://` URL of the main tunnel, with a single-use token.
    pub tunnel_url: String,
    /// Seconds the URL stays valid.
    pub expires_in: u32,
}

/// Why registration failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RegisterFailureReason {
    /// Session token missing, expired or forged: authenticate again.
    SessionInvalid,
    /// Session token is for another serial.
    WrongDevice,
    /// The device left the inventory since authenticating.
    UnknownSerial,
    /// Protocol version not served.
    UnsupportedVersion,
    /// Too many registrations; honour `retry_after`.
    RateLimited,
    /// The server cannot take more tunnels now.
    ServerBusy,
    /// The request body is invalid.
    BadRequest,
    /// The server failed.
    ServerError,
    /// A reason this version does not know.
    #[serde(other)]
    Other,
}

impl RegisterFailureReason {
    /// Text for `display cloud-management state`.
    pub fn text(self) -> &'static str {
        match self {
            Self::SessionInvalid => "Registration session expired",
            Self::WrongDevice => "Registration session belongs to another device",
            Self::UnknownSerial => "Serial number not added on the cloud server",
            Self::UnsupportedVersion => "Protocol version not supported by the server",
            Self::RateLimited => "Too many registration attempts",
            Self::ServerBusy => "Cloud server busy",
            Self::BadRequest => "Registration request rejected as invalid",
            Self::ServerError => "Cloud server error during registration",
            Self::Other => "Registration failed",
        }
    }
}

/// Step 4 (negative): registration failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterFailure {
    /// Protocol version.
    pub version: u32,
    /// Machine-readable reason.
    pub reason: RegisterFailureReason,
    /// Human-readable detail.
    #[serde(default)]
    pub message: String,
    /// Seconds to wait before retrying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u32>,
}

/// Bodies of the HTTPS handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Handshake {
    /// Device → server, `POST /cloudlink/v1/auth`.
    AuthRequest(AuthRequest),
    /// Server → device, reply to `auth_request`.
    AuthChallenge(AuthChallenge),
    /// Device → server, `POST /cloudlink/v1/auth`.
    AuthProof(AuthProof),
    /// Server → device.
    AuthSuccess(AuthSuccess),
    /// Server → device.
    AuthFailure(AuthFailure),
    /// Device → server, `POST /cloudlink/v1/register`.
    RegisterRequest(RegisterRequest),
    /// Server → device.
    RegisterResponse(RegisterResponse),
    /// Server → device.
    RegisterFailure(RegisterFailure),
}

impl Message for Handshake {
    const CHANNEL: Channel = Channel::Handshake;
    const TYPES: &'static [&'static str] = &[
        "auth_request",
        "auth_challenge",
        "auth_proof",
        "auth_success",
        "auth_failure",
        "register_request",
        "register_response",
        "register_failure",
    ];
    fn type_name(&self) -> &'static str {
        match self {
            Self::AuthRequest(_) => "auth_request",
            Self::AuthChallenge(_) => "auth_challenge",
            Self::AuthProof(_) => "auth_proof",
            Self::AuthSuccess(_) => "auth_success",
            Self::AuthFailure(_) => "auth_failure",
            Self::RegisterRequest(_) => "register_request",
            Self::RegisterResponse(_) => "register_response",
            Self::RegisterFailure(_) => "register_failure",
        }
    }
    fn sent_by(&self) -> SentBy {
        match self {
            Self::AuthRequest(_) | Self::AuthProof(_) | Self::RegisterRequest(_) => SentBy::Device,
            _ => SentBy::Server,
        }
    }
    fn validate(&self) -> Result<(), &'static str> {
        let serial = match self {
            Self::AuthRequest(m) => &m.serial,
            Self::AuthProof(m) => {
                if m.nonce.len() > 512 || m.proof.len() > 128 {
                    return Err("nonce or proof too long");
                }
                &m.serial
            }
            Self::RegisterRequest(m) => {
                check_services(&m.services)?;
                &m.serial
            }
            _ => return Ok(()),
        };
        if valid_serial(serial) {
            Ok(())
        } else {
            Err("invalid serial number")
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Main tunnel
// ---------------------------------------------------------------------------------------------

/// One granted subconnection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceUrl {
    /// Service name (`terminal`, `config`, `telemetry`, ...).
    pub name: String,
    /// `wss://` URL with a single-use token bound to this device and service.
    pub url: String,
    /// Seconds the URL stays valid.
    pub expires_in: u32,
}

/// Why an unbinding code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum UnbindFailureReason {
    /// No outstanding code matches.
    InvalidCode,
    /// The code expired.
    Expired,
    /// The code was already used.
    AlreadyUsed,
    /// Too many wrong codes; the code is void.
    TooManyAttempts,
    /// Too many submissions from this device; wait.
    RateLimited,
    /// A reason this version does not know.
    #[serde(other)]
    Other,
}

/// A server-initiated command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CommandKind {
    /// Tear the tunnel down and establish it again now.
    ResetTunnel,
    /// The intended configuration changed; the config service will be used to apply it.
    ConfigChanged,
    /// The service list changed; request subconnection URLs again.
    RefreshServices,
    /// A command this version does not know (answer `command_ack` with `ok: false`).
    #[serde(other)]
    Other,
}

/// Machine-readable codes of `error` messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The `type` is unknown to the receiver.
    UnknownType,
    /// The message is valid but not acceptable now.
    NotAllowed,
    /// The request is invalid.
    BadRequest,
    /// Too many requests of this kind.
    RateLimited,
    /// The receiver failed.
    Internal,
    /// A code this version does not know.
    #[serde(other)]
    Other,
}

/// An `error` message, valid on every WebSocket channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine-readable code.
    pub code: ErrorCode,
    /// Human-readable detail.
    #[serde(default)]
    pub message: String,
    /// The `type` of the offending message, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_type: Option<String>,
    /// The `id` of the offending message, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_id: Option<u32>,
}

/// Messages of the main tunnel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Tunnel {
    /// Server → device, first frame after the upgrade (step 6).
    Welcome {
        /// Protocol version.
        version: u32,
        /// Opaque tunnel id, for logs.
        tunnel_id: String,
        /// Keepalive interval to use, seconds.
        keepalive: u32,
        /// WebSocket ping interval, seconds.
        ping_interval: u32,
        /// Read deadline: close if nothing is received for this long, seconds.
        read_timeout: u32,
        /// Server time, Unix seconds (informational).
        server_time: u64,
    },
    /// Device → server, every keepalive interval.
    Keepalive {
        /// Sequence number, +1 per keepalive, wraps.
        seq: u32,
    },
    /// Server → device, answer to `keepalive`.
    KeepaliveAck {
        /// The acknowledged `seq`.
        seq: u32,
    },
    /// Device → server, step 7.
    SubconnRequest {
        /// Request id.
        id: u32,
        /// Services wanted; empty means all the server offers.
        services: Vec<String>,
    },
    /// Server → device, step 8.
    SubconnResponse {
        /// The request id.
        id: u32,
        /// Granted services, one URL each.
        services: Vec<ServiceUrl>,
        /// Requested services that the server does not offer.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        unavailable: Vec<String>,
    },
    /// Device → server: an unbinding code entered on the device.
    UnbindCode {
        /// Request id.
        id: u32,
        /// The code as entered.
        code: String,
    },
    /// Server → device: verdict on an unbinding code.
    UnbindResult {
        /// The request id.
        id: u32,
        /// True if the binding moved.
        ok: bool,
        /// Why not, when `ok` is false.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<UnbindFailureReason>,
    },
    /// Server → device: do something.
    Command {
        /// Command id.
        id: u32,
        /// What to do.
        command: CommandKind,
    },
    /// Device → server: the command was accepted or refused.
    CommandAck {
        /// The command id.
        id: u32,
        /// Accepted?
        ok: bool,
        /// Detail when refused.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// Either side: a message could not be handled.
    Error(ErrorBody),
}

impl Message for Tunnel {
    const CHANNEL: Channel = Channel::Tunnel;
    const TYPES: &'static [&'static str] = &[
        "welcome",
        "keepalive",
        "keepalive_ack",
        "subconn_request",
        "subconn_response",
        "unbind_code",
        "unbind_result",
        "command",
        "command_ack",
        "error",
    ];
    fn type_name(&self) -> &'static str {
        match self {
            Self::Welcome { .. } => "welcome",
            Self::Keepalive { .. } => "keepalive",
            Self::KeepaliveAck { .. } => "keepalive_ack",
            Self::SubconnRequest { .. } => "subconn_request",
            Self::SubconnResponse { .. } => "subconn_response",
            Self::UnbindCode { .. } => "unbind_code",
            Self::UnbindResult { .. } => "unbind_result",
            Self::Command { .. } => "command",
            Self::CommandAck { .. } => "command_ack",
            Self::Error(_) => "error",
        }
    }
    fn sent_by(&self) -> SentBy {
        match self {
            Self::Keepalive { .. }
            | Self::SubconnRequest { .. }
            | Self::UnbindCode { .. }
            | Self::CommandAck { .. } => SentBy::Device,
            Self::Error(_) => SentBy::Either,
            _ => SentBy::Server,
        }
    }
    fn validate(&self) -> Result<(), &'static str> {
        match self {
            Self::SubconnRequest { services, .. } => check_services(services),
            Self::SubconnResponse { services, .. } => {
                if services.len() > limits::MAX_SERVICES {
                    Err("too many services")
                } else {
                    Ok(())
                }
            }
            Self::UnbindCode { code, .. } if code.len() > limits::MAX_UNBIND_CODE_LEN => {
                Err("unbinding code too long")
            }
            _ => Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Subconnections
// ---------------------------------------------------------------------------------------------

/// Messages of the `terminal` subconnection. `data` is standard base64 of raw bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Terminal {
    /// Server → device: start a CLI session.
    Open {
        /// Session id chosen by the server, unique on this subconnection.
        session: u32,
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
    /// Device → server: the session is ready.
    Opened {
        /// Session id.
        session: u32,
    },
    /// Server → device: keystrokes.
    Input {
        /// Session id.
        session: u32,
        /// Base64 bytes.
        data: String,
    },
    /// Device → server: output.
    Output {
        /// Session id.
        session: u32,
        /// Base64 bytes.
        data: String,
    },
    /// Server → device: window size changed.
    Resize {
        /// Session id.
        session: u32,
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
    /// Either side: the session ended.
    Close {
        /// Session id.
        session: u32,
        /// Why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Either side.
    Error(ErrorBody),
}

impl Message for Terminal {
    const CHANNEL: Channel = Channel::Terminal;
    const TYPES: &'static [&'static str] = &[
        "open", "opened", "input", "output", "resize", "close", "error",
    ];
    fn type_name(&self) -> &'static str {
        match self {
            Self::Open { .. } => "open",
            Self::Opened { .. } => "opened",
            Self::Input { .. } => "input",
            Self::Output { .. } => "output",
            Self::Resize { .. } => "resize",
            Self::Close { .. } => "close",
            Self::Error(_) => "error",
        }
    }
    fn sent_by(&self) -> SentBy {
        match self {
            Self::Opened { .. } | Self::Output { .. } => SentBy::Device,
            Self::Close { .. } | Self::Error(_) => SentBy::Either,
            _ => SentBy::Server,
        }
    }
}

/// The outcome of one command of an `apply`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandResult {
    /// The command line as sent.
    pub command: String,
    /// Accepted by the device?
    pub ok: bool,
    /// CLI output or error text.
    #[serde(default)]
    pub output: String,
}

/// Messages of the `config` subconnection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Config {
    /// Server → device: send the running configuration.
    GetRunning {
        /// Request id.
        id: u32,
    },
    /// Device → server: the running configuration as `display current-configuration` text.
    Running {
        /// Request id.
        id: u32,
        /// Configuration text.
        text: String,
    },
    /// Server → device: run these commands from system view, in order.
    Apply {
        /// Request id.
        id: u32,
        /// Command lines.
        commands: Vec<String>,
        /// Stop at the first failing command.
        #[serde(default)]
        stop_on_error: bool,
    },
    /// Device → server: one result per command run.
    ApplyResult {
        /// Request id.
        id: u32,
        /// Results, in order; shorter than `commands` if stopped.
        results: Vec<CommandResult>,
    },
    /// Either side.
    Error(ErrorBody),
}

impl Message for Config {
    const CHANNEL: Channel = Channel::Config;
    const TYPES: &'static [&'static str] =
        &["get_running", "running", "apply", "apply_result", "error"];
    fn type_name(&self) -> &'static str {
        match self {
            Self::GetRunning { .. } => "get_running",
            Self::Running { .. } => "running",
            Self::Apply { .. } => "apply",
            Self::ApplyResult { .. } => "apply_result",
            Self::Error(_) => "error",
        }
    }
    fn sent_by(&self) -> SentBy {
        match self {
            Self::GetRunning { .. } | Self::Apply { .. } => SentBy::Server,
            Self::Running { .. } | Self::ApplyResult { .. } => SentBy::Device,
            Self::Error(_) => SentBy::Either,
        }
    }
    fn validate(&self) -> Result<(), &'static str> {
        match self {
            Self::Apply { commands, .. } if commands.len() > limits::MAX_APPLY_COMMANDS => {
                Err("too many commands")
            }
            _ => Ok(()),
        }
    }
}

/// Counters of one interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceCounters {
    /// Interface name, e.g. `GigabitEthernet1/0/1`.
    pub name: String,
    /// Operational state up?
    pub up: bool,
    /// Octets received.
    pub rx_bytes: u64,
    /// Octets sent.
    pub tx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Transmit errors.
    pub tx_errors: u64,
}

/// Messages of the `telemetry` subconnection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Telemetry {
    /// Server → device: sample every `interval` seconds (0 stops).
    Subscribe {
        /// Seconds between samples, 0 or 10..=3600.
        interval: u32,
    },
    /// Device → server: one sample.
    Sample {
        /// Sample sequence number.
        seq: u64,
        /// Device uptime in seconds when sampled (the device clock may be unset).
        uptime: u64,
        /// CPU use, per mille (0..=1000).
        cpu_permille: u16,
        /// Memory in use, bytes.
        memory_used: u64,
        /// Memory total, bytes.
        memory_total: u64,
        /// Interface counters.
        interfaces: Vec<InterfaceCounters>,
    },
    /// Either side.
    Error(ErrorBody),
}

impl Message for Telemetry {
    const CHANNEL: Channel = Channel::Telemetry;
    const TYPES: &'static [&'static str] = &["subscribe", "sample", "error"];
    fn type_name(&self) -> &'static str {
        match self {
            Self::Subscribe { .. } => "subscribe",
            Self::Sample { .. } => "sample",
            Self::Error(_) => "error",
        }
    }
    fn sent_by(&self) -> SentBy {
        match self {
            Self::Subscribe { .. } => SentBy::Server,
            Self::Sample { .. } => SentBy::Device,
            Self::Error(_) => SentBy::Either,
        }
    }
    fn validate(&self) -> Result<(), &'static str> {
        match self {
            Self::Subscribe { interval } if *interval != 0 && !(10..=3600).contains(interval) => {
                Err("interval out of range")
            }
            Self::Sample { cpu_permille, .. } if *cpu_permille > 1000 => {
                Err("cpu_permille out of range")
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalive_round_trips_as_small_json() {
        let m = Tunnel::Keepalive { seq: 7 };
        let s = encode(&m);
        assert_eq!(s, r#"{"type":"keepalive","seq":7}"#);
        assert_eq!(decode::<Tunnel>(s.as_bytes(), Role::Device), Ok(m));
    }

    #[test]
    fn oversized_message_is_rejected_before_parsing() {
        let big = vec![b' '; limits::TUNNEL_MAX + 1];
        assert_eq!(
            decode::<Tunnel>(&big, Role::Device),
            Err(DecodeError::TooLarge {
                size: limits::TUNNEL_MAX + 1,
                limit: limits::TUNNEL_MAX
            })
        );
    }

    #[test]
    fn unknown_type_is_distinguished_from_malformed() {
        assert_eq!(
            decode::<Tunnel>(br#"{"type":"teleport","x":1}"#, Role::Device),
            Err(DecodeError::UnknownType("teleport".into()))
        );
        assert!(matches!(
            decode::<Tunnel>(br#"{"type":"keepalive","seq":"x"}"#, Role::Device),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            decode::<Tunnel>(b"not json", Role::Device),
            Err(DecodeError::Malformed(_))
        ));
        assert_eq!(
            decode::<Tunnel>(br#"{"seq":1}"#, Role::Device),
            Err(DecodeError::MissingType)
        );
    }

    #[test]
    fn wrong_direction_is_rejected() {
        assert_eq!(
            decode::<Tunnel>(br#"{"type":"keepalive_ack","seq":1}"#, Role::Device),
            Err(DecodeError::WrongDirection("keepalive_ack"))
        );
    }

    #[test]
    fn unknown_fields_are_ignored() {
        assert_eq!(
            decode::<Tunnel>(
                br#"{"type":"keepalive","seq":1,"future":true}"#,
                Role::Device
            ),
            Ok(Tunnel::Keepalive { seq: 1 })
        );
    }

    #[test]
    fn unknown_enum_values_decode_as_other() {
        let m = decode::<Handshake>(
            br#"{"type":"auth_failure","version":1,"reason":"moon_phase"}"#,
            Role::Server,
        );
        assert!(matches!(
            m,
            Ok(Handshake::AuthFailure(AuthFailure {
                reason: AuthFailureReason::Other,
                ..
            }))
        ));
    }

    #[test]
    fn invalid_serial_and_service_names_are_malformed() {
        assert!(matches!(
            decode::<Handshake>(
                br#"{"type":"auth_request","version":1,"serial":"a b","method":"hmac-sha256"}"#,
                Role::Device
            ),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            decode::<Tunnel>(
                br#"{"type":"subconn_request","id":1,"services":["Bad/Name"]}"#,
                Role::Device
            ),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn every_channel_has_its_own_limit() {
        assert!(Channel::Config.max_message_size() > Channel::Tunnel.max_message_size());
        let text = format!(
            r#"{{"type":"running","id":1,"text":"{}"}}"#,
            "x".repeat(limits::TUNNEL_MAX)
        );
        assert!(decode::<Config>(text.as_bytes(), Role::Device).is_ok());
    }

    #[test]
    fn telemetry_and_terminal_messages_round_trip() {
        let s = Telemetry::Sample {
            seq: 1,
            uptime: 60,
            cpu_permille: 125,
            memory_used: 1,
            memory_total: 2,
            interfaces: vec![],
        };
        assert_eq!(
            decode::<Telemetry>(encode(&s).as_bytes(), Role::Device),
            Ok(s)
        );
        let t = Terminal::Resize {
            session: 1,
            cols: 80,
            rows: 24,
        };
        assert_eq!(
            decode::<Terminal>(encode(&t).as_bytes(), Role::Server),
            Ok(t)
        );
    }
}
