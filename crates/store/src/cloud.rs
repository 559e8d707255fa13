//! The cloud-connection inventory as stored: which account each serial number is bound to, the
//! device key derived from its `cloud-management server password`, where its tunnel is
//! (presence), the latest telemetry sample, unbinding codes, binding moves and the audit of
//! configuration pushed through the `config` service.
//!
//! Owns the shapes only; the protocol rules (code alphabet, attempt limits, key derivation) live
//! in `tether-cloudlink` and are applied by the server. The store never sees a password: only
//! the 32-byte device key.

use crate::{AccountId, Timestamp};

/// What an account supplies to add a serial number to its cloud inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCloudDevice {
    pub serial: String,
    pub owner: AccountId,
    /// Free text shown to operators (may be empty).
    pub name: String,
    /// HMAC-SHA256 key derived from the device's server password and serial.
    pub device_key: [u8; 32],
}

/// Where a device's main tunnel is, as last written by the node holding it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloudPresence {
    pub online: bool,
    pub connected_at: Option<Timestamp>,
    pub disconnected_at: Option<Timestamp>,
    pub last_keepalive_at: Option<Timestamp>,
    pub remote_addr: Option<String>,
    /// The server node holding (or last holding) the tunnel.
    pub node_id: Option<String>,
    /// The tunnel id on that node.
    pub tunnel_id: Option<String>,
}

/// A serial number in an account's cloud inventory.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudDevice {
    pub serial: String,
    pub owner: AccountId,
    pub name: String,
    pub device_key: [u8; 32],
    pub created_at: Timestamp,
    /// When the current owner got the binding.
    pub bound_at: Timestamp,
    pub presence: CloudPresence,
    /// The latest telemetry sample (JSON) and when it was received.
    pub telemetry: Option<(Timestamp, serde_json::Value)>,
}

/// A tunnel that just came up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelUp {
    pub node_id: String,
    pub tunnel_id: String,
    pub remote_addr: String,
}

/// An unbinding code to record. `code` is the normalised 8-symbol form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUnbindCode {
    pub serial: String,
    /// The account asking to receive the binding.
    pub account: AccountId,
    pub code: String,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Issuance limits checked in the same transaction as the insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnbindIssueLimits {
    /// Codes one account may obtain since `window_start`.
    pub per_account: u32,
    /// Codes that may be issued for one serial since `window_start`.
    pub per_serial: u32,
    pub window_start: Timestamp,
}

/// The outcome of [`Store::issue_unbind_code`](crate::Store::issue_unbind_code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnbindIssue {
    /// Recorded; any earlier outstanding code of the same account for the serial is void.
    Issued,
    /// The account reached `per_account`.
    AccountLimited,
    /// The serial reached `per_serial`.
    SerialLimited,
}

/// An outstanding unbinding code, handed to the judge under the redeeming transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnbindCodeRecord {
    pub id: i64,
    pub serial: String,
    pub account: AccountId,
    pub code: String,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    pub failed_attempts: u8,
    /// Set by the judge when it accepts the code.
    pub used: bool,
}

/// Decides a submitted code against every outstanding code of the serial: updates
/// `failed_attempts` / `used` in place and returns the index of the accepted record, if any.
pub type UnbindJudge<'a> = &'a (dyn Fn(&mut [UnbindCodeRecord]) -> Option<usize> + Send + Sync);

/// The outcome of [`Store::redeem_unbind_code`](crate::Store::redeem_unbind_code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnbindRedeem {
    /// No code accepted (attempt counters were saved).
    Refused,
    /// The binding moved; the change is recorded.
    Moved { from: AccountId, to: AccountId },
}

/// A recorded move of a binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingChange {
    pub id: i64,
    pub serial: String,
    pub from: Option<AccountId>,
    pub to: AccountId,
    /// Why: `unbinding_code`.
    pub reason: String,
    pub at: Timestamp,
}

/// A configuration push to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewConfigChange {
    pub serial: String,
    /// Who pushed it.
    pub account: AccountId,
    pub at: Timestamp,
    /// `applied` (the device answered), `timeout`, `failed` (the service went away).
    pub status: String,
    /// JSON array of command lines.
    pub commands: serde_json::Value,
    /// JSON array of per-command results (may be empty).
    pub results: serde_json::Value,
}

/// A recorded configuration push.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigChange {
    pub id: i64,
    pub serial: String,
    pub account: Option<AccountId>,
    pub at: Timestamp,
    pub status: String,
    pub commands: serde_json::Value,
    pub results: serde_json::Value,
}
